//! The account and session use cases over `twofa-memory`, with a manual clock: the harness
//! here, the cases by flow in `tests/`.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use futures::executor::block_on;
use twofa_domain::{
    AccessClaims, AuditLog, AuditQuery, EmailAddress, EmailMessage, EmailRenderer, JobQueue, Limit,
    NewAuditEvent, NewJob, RenderError, SendError, SessionId, TokenError, TokenSigner, Transaction,
    UnitOfWork, UserId, UserRepository,
};
use twofa_memory::{
    DEFAULT_MAX_KEYS, FakePasswordHasher, ManualClock, MemoryAuditLog, MemoryDatabase,
    MemoryJobQueue, MemoryRateLimiter, MemorySessionCache, MemoryUnitOfWork, MemoryUserRepository,
    RecordingEmailSender, SeededSecretGenerator,
};

use super::*;
use crate::{
    jobs::{
        MAIL_EMAIL_VERIFICATION, MAIL_PASSWORD_RESET, MailEmailVerification,
        MailEmailVerificationPayload, MailPasswordReset, Mailer,
    },
    webhook_events::{WEBHOOK_EVENT, WebhookEventPayload, WebhookEvents},
    worker::{JobFailure, JobHandler as _},
};

/// Signs claims as readable text: the use cases only need sign and verify to agree.
#[derive(Default)]
struct FakeSigner {
    issued: Mutex<Vec<(String, AccessClaims)>>,
}

impl TokenSigner for FakeSigner {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let token = format!("fake.{}", claims.token_id);
        self.issued
            .lock()
            .unwrap()
            .push((token.clone(), claims.clone()));
        Ok(token)
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let issued = self.issued.lock().unwrap();
        let (_, claims) = issued
            .iter()
            .find(|(issued, _)| issued == token)
            .ok_or(TokenError::Invalid)?;
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims.clone())
    }

    fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [] })
    }
}

/// Renders a link e-mail as its template (the subject) and its link (the text).
struct LinkRenderer;

impl EmailRenderer for LinkRenderer {
    fn render(
        &self,
        to: EmailAddress,
        template: &str,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<EmailMessage, RenderError> {
        let link = params
            .get("link")
            .and_then(|link| link.as_str())
            .ok_or_else(|| RenderError::MissingParameter {
                template: template.to_owned(),
                parameter: "link".to_owned(),
            })?;
        Ok(EmailMessage {
            to,
            subject: template.to_owned(),
            text: link.to_owned(),
            html: None,
        })
    }
}

/// The harness's challenge store: the memory store, where a test can make wrong codes land on a
/// challenge just before the next take of it, as racing requests' would between two of one
/// request's steps.
struct InterleavedChallengeStore {
    inner: Arc<twofa_memory::MemoryChallengeStore>,
    /// Which key, and how many failures to count on it just before its next take.
    failures_before_take: Mutex<Option<(KeyFilter, u32)>>,
}

type KeyFilter = Box<dyn Fn(&str) -> bool + Send>;

impl InterleavedChallengeStore {
    fn over(inner: Arc<twofa_memory::MemoryChallengeStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            failures_before_take: Mutex::new(None),
        })
    }

    /// Counts `failures` wrong codes on the next key `which` accepts to be taken, just before
    /// its take.
    fn fail_before_next_take(&self, which: impl Fn(&str) -> bool + Send + 'static, failures: u32) {
        *self.failures_before_take.lock().unwrap() = Some((Box::new(which), failures));
    }
}

#[async_trait::async_trait]
impl ChallengeStore for InterleavedChallengeStore {
    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), twofa_domain::PortError> {
        self.inner.put(key, value, ttl).await
    }

    async fn get(
        &self,
        key: &str,
    ) -> Result<Option<twofa_domain::StoredEntry>, twofa_domain::PortError> {
        self.inner.get(key).await
    }

    async fn take(
        &self,
        key: &str,
        expected: &str,
        max_failures: u32,
    ) -> Result<bool, twofa_domain::PortError> {
        let armed = {
            let mut armed = self.failures_before_take.lock().unwrap();
            match armed.as_ref() {
                Some((which, _)) if which(key) => armed.take(),
                _ => None,
            }
        };
        if let Some((_, failures)) = armed {
            for _ in 0..failures {
                self.inner.fail(key).await?;
            }
        }
        self.inner.take(key, expected, max_failures).await
    }

    async fn fail(&self, key: &str) -> Result<Option<u32>, twofa_domain::PortError> {
        self.inner.fail(key).await
    }

    async fn remove(&self, key: &str) -> Result<(), twofa_domain::PortError> {
        self.inner.remove(key).await
    }
}

/// What one committed transaction carried: its audit events' actions, its jobs' kinds and the
/// webhook events of its `webhook.event` jobs, each in the order recorded.
#[derive(Debug, Clone, Default)]
struct Committed {
    actions: Vec<String>,
    /// The kinds of its jobs.
    jobs: Vec<String>,
    webhook_events: Vec<WebhookEventPayload>,
}

impl Committed {
    fn webhook_types(&self) -> Vec<&str> {
        self.webhook_events
            .iter()
            .map(|event| event.event_type.as_str())
            .collect()
    }
}

/// The harness's unit of work: the memory one, keeping what each committed transaction
/// carried, so a test can tell an event and its webhook job were committed together.
struct RecordingUnitOfWork {
    inner: MemoryUnitOfWork,
    committed: Arc<Mutex<Vec<Committed>>>,
}

impl RecordingUnitOfWork {
    fn over(
        database: &MemoryDatabase,
        queue: Arc<MemoryJobQueue>,
        audit: Arc<MemoryAuditLog>,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryUnitOfWork::new(database, queue, audit),
            committed: Arc::new(Mutex::new(Vec::new())),
        })
    }
}

#[async_trait::async_trait]
impl UnitOfWork for RecordingUnitOfWork {
    async fn begin(&self) -> Result<Box<dyn Transaction>, twofa_domain::PortError> {
        Ok(Box::new(RecordingTransaction {
            inner: self.inner.begin().await?,
            carried: Committed::default(),
            committed: self.committed.clone(),
        }))
    }
}

struct RecordingTransaction {
    inner: Box<dyn Transaction>,
    carried: Committed,
    committed: Arc<Mutex<Vec<Committed>>>,
}

#[async_trait::async_trait]
impl Transaction for RecordingTransaction {
    fn users(&self) -> &dyn UserRepository {
        self.inner.users()
    }

    fn sessions(&self) -> &dyn SessionRepository {
        self.inner.sessions()
    }

    fn one_time_tokens(&self) -> &dyn OneTimeTokenRepository {
        self.inner.one_time_tokens()
    }

    fn factors(&self) -> &dyn FactorRepository {
        self.inner.factors()
    }

    fn backup_codes(&self) -> &dyn BackupCodeRepository {
        self.inner.backup_codes()
    }

    fn devices(&self) -> &dyn DeviceRepository {
        self.inner.devices()
    }

    fn api_keys(&self) -> &dyn twofa_domain::ApiKeyRepository {
        self.inner.api_keys()
    }

    fn webhooks(&self) -> &dyn twofa_domain::WebhookRepository {
        self.inner.webhooks()
    }

    async fn enqueue(&mut self, job: NewJob) -> Result<(), twofa_domain::QueueError> {
        self.carried.jobs.push(job.kind.clone());
        if job.kind == WEBHOOK_EVENT {
            let events = WebhookEvents::from_payload(&job.payload)
                .expect("a webhook.event job carries webhook events");
            self.carried.webhook_events.extend(events.events);
        }
        self.inner.enqueue(job).await
    }

    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), twofa_domain::PortError> {
        self.carried.actions.push(event.action.clone());
        self.inner.audit(event).await
    }

    async fn commit(self: Box<Self>) -> Result<(), twofa_domain::PortError> {
        let Self {
            inner,
            carried,
            committed,
        } = *self;
        inner.commit().await?;
        committed.lock().unwrap().push(carried);
        Ok(())
    }
}

struct Harness {
    clock: Arc<ManualClock>,
    verification_mailer: MailEmailVerification,
    reset_mailer: MailPasswordReset,
    /// What the link jobs sent.
    sender: Arc<RecordingEmailSender>,
    /// How many of `sender`'s e-mails a look has seen.
    mails_seen: Mutex<usize>,
    /// The payload of every job the worker ran, as JSON text.
    payloads: Mutex<Vec<String>>,
    /// What each committed transaction carried, oldest first.
    committed: Arc<Mutex<Vec<Committed>>>,
    users: Arc<MemoryUserRepository>,
    hasher: Arc<FakePasswordHasher>,
    queue: Arc<MemoryJobQueue>,
    audit: Arc<MemoryAuditLog>,
    limiter: Arc<MemoryRateLimiter>,
    accounts: Accounts,
    second_factors: crate::two_factor::SecondFactors,
    api_keys: crate::api_keys::ApiKeys,
    challenges: Arc<twofa_memory::MemoryChallengeStore>,
    /// The store the use cases see: `challenges`, with racing failures on demand.
    interleaved: Arc<InterleavedChallengeStore>,
    code_sender: crate::jobs::SendSecondFactorCode,
    sms: Arc<twofa_memory::RecordingSmsSender>,
}

const PASSWORD: &str = "correct horse battery";

fn limits() -> AuthLimits {
    AuthLimits {
        login_per_ip: "30/1m".parse().unwrap(),
        register_per_ip: "10/1h".parse().unwrap(),
        forgot_per_ip: "5/1h".parse().unwrap(),
        verify_per_ip: "30/1m".parse().unwrap(),
        failures_per_account_ip: "5/15m".parse().unwrap(),
        failures_per_account: "100/1h".parse().unwrap(),
        per_api_key: "5/1m".parse().unwrap(),
    }
}

fn link_policy() -> EmailLinkPolicy {
    EmailLinkPolicy {
        public_url: "https://auth.example.com/".to_owned(),
        verification_ttl: Duration::from_hours(24),
        reset_ttl: Duration::from_hours(1),
        email_max_attempts: 8,
    }
}

/// The second factors' settings of the harness: the defaults of `config.toml`.
fn two_factor_policy() -> crate::two_factor::TwoFactorPolicy {
    let limit = |max, window| Limit { max, window };
    crate::two_factor::TwoFactorPolicy {
        totp: twofa_domain::TotpPolicy::default(),
        issuer: "twofa".to_owned(),
        otp_ttl: Duration::from_mins(5),
        sends: crate::two_factor::SendCaps {
            per_ip: limit(10, Duration::from_hours(1)),
            per_user: limit(20, Duration::from_hours(1)),
            per_destination: limit(10, Duration::from_hours(1)),
            cooldown: limit(1, Duration::from_secs(30)),
        },
        trust_ttl: Duration::from_hours(24 * 30),
        require_verified_email: true,
        failures_per_factor: limit(10, Duration::from_mins(15)),
        failures_per_account: limit(30, Duration::from_hours(1)),
        send_max_attempts: 8,
    }
}

fn harness() -> Harness {
    harness_with(limits(), FakePasswordHasher::new())
}

fn harness_with(limits: AuthLimits, hasher: FakePasswordHasher) -> Harness {
    harness_over(limits, hasher, DEFAULT_MAX_KEYS, |clock| {
        Arc::new(MemorySessionCache::new(clock))
    })
}

/// A harness whose limiter tracks at most `limiter_keys` keys and whose session cache is the
/// one `cache` builds over the harness's clock.
fn harness_over(
    limits: AuthLimits,
    hasher: FakePasswordHasher,
    limiter_keys: usize,
    cache: impl FnOnce(Arc<ManualClock>) -> Arc<dyn SessionCache>,
) -> Harness {
    let clock = Arc::new(ManualClock::new(
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc(),
    ));
    let ids = Arc::new(SeededSecretGenerator::new(7));
    let database = MemoryDatabase::new(clock.clone());
    let users = database.users();
    let hasher = Arc::new(hasher);
    let queue = Arc::new(MemoryJobQueue::new(clock.clone(), ids.clone()));
    let audit = Arc::new(MemoryAuditLog::new(clock.clone(), ids.clone()));
    let limiter = Arc::new(MemoryRateLimiter::with_max_keys(
        clock.clone(),
        limiter_keys,
    ));
    let unit_of_work = RecordingUnitOfWork::over(&database, queue.clone(), audit.clone());
    let sender = Arc::new(RecordingEmailSender::new());
    let mailer = Mailer::new(Arc::new(LinkRenderer), sender.clone());
    let verification_mailer = MailEmailVerification::new(
        users.clone(),
        unit_of_work.clone(),
        EmailLinks::new(clock.clone(), ids.clone(), link_policy()),
        mailer.clone(),
    );
    let reset_mailer = MailPasswordReset::new(
        users.clone(),
        unit_of_work.clone(),
        EmailLinks::new(clock.clone(), ids.clone(), link_policy()),
        mailer.clone(),
    );
    let challenges = Arc::new(twofa_memory::MemoryChallengeStore::new(clock.clone()));
    let interleaved = InterleavedChallengeStore::over(challenges.clone());
    let cipher = Arc::new(twofa_crypto::AesGcmSecretCipher::new(
        twofa_crypto::CipherKey::from_bytes([7; 32]),
        [],
        ids.clone(),
    ));
    let factors = database.factors();
    let sms = Arc::new(twofa_memory::RecordingSmsSender::new());
    let code_sender = crate::jobs::SendSecondFactorCode::new(
        factors.clone(),
        challenges.clone(),
        cipher.clone(),
        ids.clone(),
        sms.clone(),
        mailer,
        Duration::from_mins(5),
    );
    let ports = AuthPorts {
        users: users.clone(),
        sessions: database.sessions(),
        session_cache: cache(clock.clone()),
        one_time_tokens: database.one_time_tokens(),
        hasher: hasher.clone(),
        signer: Arc::new(FakeSigner::default()),
        limiter: limiter.clone(),
        unit_of_work: unit_of_work.clone(),
        clock: clock.clone(),
        ids,
        factors,
        backup_codes: database.backup_codes(),
        devices: database.devices(),
        api_keys: database.api_keys(),
        challenges: interleaved.clone(),
        cipher,
    };
    let policy = AuthPolicy {
        access_ttl: Duration::from_mins(15),
        refresh_ttl: Duration::from_hours(24 * 30),
        refresh_reuse_grace: Duration::from_secs(10),
        links: link_policy(),
        email_cooldown: Duration::from_mins(1),
        limits,
        two_factor: two_factor_policy(),
    };
    let accounts = Accounts::new(&ports, &policy);
    Harness {
        clock,
        verification_mailer,
        reset_mailer,
        sender,
        mails_seen: Mutex::new(0),
        payloads: Mutex::new(Vec::new()),
        committed: unit_of_work.committed.clone(),
        users,
        hasher,
        queue,
        audit,
        limiter,
        accounts,
        second_factors: crate::two_factor::SecondFactors::new(&ports, &policy),
        api_keys: crate::api_keys::ApiKeys::new(&ports, &policy),
        challenges,
        interleaved,
        code_sender,
        sms,
    }
}

fn from(ip: &str) -> RequestInfo {
    RequestInfo {
        ip: Some(ip.parse::<IpAddr>().unwrap()),
        user_agent: Some("test-agent".to_owned()),
        cut_off: CutOff::default(),
        api_key: None,
    }
}

impl Harness {
    fn register(&self, email: &str, username: &str) -> SignedIn {
        block_on(self.accounts.register.execute(RegisterInput {
            email: email.to_owned(),
            username: username.to_owned(),
            password: PASSWORD.to_owned(),
            request: from("203.0.113.1"),
        }))
        .unwrap()
    }

    fn login(&self, login: &str, password: &str, ip: &str) -> Result<LoginOutcome, LoginError> {
        block_on(self.accounts.login.execute(LoginInput {
            login: login.to_owned(),
            password: password.to_owned(),
            device_token: None,
            request: from(ip),
        }))
    }

    fn signed_in(&self, login: &str) -> SignedIn {
        match self.login(login, PASSWORD, "203.0.113.1").unwrap() {
            LoginOutcome::SignedIn(signed_in) => signed_in,
            LoginOutcome::TwoFactorRequired(_) => panic!("no second factor exists yet"),
        }
    }

    fn principal(&self, tokens: &TokenPair) -> Result<Principal, CredentialsError> {
        block_on(self.accounts.authenticate.execute(&tokens.access_token))
    }

    fn actions(&self) -> Vec<(String, bool)> {
        let page = block_on(self.audit.query(&AuditQuery {
            limit: 200,
            ..AuditQuery::all()
        }))
        .unwrap();
        page.items
            .into_iter()
            .rev()
            .map(|event| (event.event.action, event.event.success))
            .collect()
    }

    /// Runs the jobs waiting in the queue, as the worker runs them, completing each that
    /// succeeds (a failed one is left running, for the test to look at); their outcomes.
    fn run_jobs(&self) -> Vec<Result<(), JobFailure>> {
        let mut outcomes = Vec::new();
        while let Some(job) = block_on(self.queue.claim(Duration::from_secs(30))).unwrap() {
            self.payloads.lock().unwrap().push(job.payload.to_string());
            let outcome = match job.kind.as_str() {
                MAIL_EMAIL_VERIFICATION => block_on(self.verification_mailer.handle(&job.payload)),
                MAIL_PASSWORD_RESET => block_on(self.reset_mailer.handle(&job.payload)),
                crate::jobs::SEND_SECOND_FACTOR_CODE => {
                    block_on(self.code_sender.handle(&job.payload))
                }
                // No endpoint is registered here, so the fan-out has nothing to deliver: the
                // job only has to be one its handler reads.
                WEBHOOK_EVENT => WebhookEvents::from_payload(&job.payload)
                    .map(drop)
                    .map_err(|error| JobFailure::Permanent(error.into())),
                other => panic!("unexpected job {other}"),
            };
            if outcome.is_ok() {
                block_on(self.queue.complete(&job)).unwrap();
            }
            outcomes.push(outcome);
        }
        outcomes
    }

    /// The webhook event types of every `webhook.event` job run so far, once the jobs waiting
    /// have run, in the order run.
    fn webhook_event_types(&self) -> Vec<String> {
        self.run_jobs();
        self.payloads
            .lock()
            .unwrap()
            .iter()
            .filter_map(|payload| serde_json::from_str::<serde_json::Value>(payload).ok())
            .flat_map(|value| {
                value["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|event| event["type"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The e-mails sent since the last look, oldest first, once the jobs queued before them
    /// have run.
    fn mails(&self) -> Vec<EmailMessage> {
        for outcome in self.run_jobs() {
            outcome.unwrap();
        }
        let sent = self.sender.sent();
        let mut seen = self.mails_seen.lock().unwrap();
        let new = sent[*seen..].to_vec();
        *seen = sent.len();
        new
    }

    /// The token of the only link mailed since the last look.
    fn mailed_token(&self, path: &str) -> String {
        let mails = self.mails();
        assert_eq!(mails.len(), 1, "{mails:?}");
        token_of(&mails[0], path)
    }

    fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }
}

/// The token of the link to `path` that `mail` carries.
fn token_of(mail: &EmailMessage, path: &str) -> String {
    let prefix = format!("https://auth.example.com/{path}?token=");
    mail.text
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{} does not start with {prefix}", mail.text))
        .to_owned()
}

fn is_rate_limited(result: &Result<LoginOutcome, LoginError>) -> Option<Throttled> {
    match result {
        Err(LoginError::RateLimited(throttled)) => Some(*throttled),
        _ => None,
    }
}

mod account_webhooks;
mod api_keys;
mod email;
mod hardening;
mod login;
mod passwords;
mod redaction;
mod register;
mod sessions;
mod two_factor;
