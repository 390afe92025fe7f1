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
    AccessClaims, AuditLog, AuditQuery, JobQueue, Limit, SessionId, TokenError, TokenSigner,
    UserRepository,
};
use twofa_memory::{
    DEFAULT_MAX_KEYS, FakePasswordHasher, ManualClock, MemoryAuditLog, MemoryDatabase,
    MemoryJobQueue, MemoryRateLimiter, MemorySessionCache, MemoryUnitOfWork, MemoryUserRepository,
    SeededSecretGenerator,
};

use super::*;
use crate::{
    jobs::{MAIL_PASSWORD_RESET, MailPasswordReset, SEND_EMAIL, SendEmailPayload},
    worker::JobHandler as _,
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

struct Harness {
    clock: Arc<ManualClock>,
    reset_mailer: MailPasswordReset,
    users: Arc<MemoryUserRepository>,
    hasher: Arc<FakePasswordHasher>,
    queue: Arc<MemoryJobQueue>,
    audit: Arc<MemoryAuditLog>,
    limiter: Arc<MemoryRateLimiter>,
    accounts: Accounts,
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
    let unit_of_work = Arc::new(MemoryUnitOfWork::new(
        &database,
        queue.clone(),
        audit.clone(),
    ));
    let reset_mailer = MailPasswordReset::new(
        users.clone(),
        unit_of_work.clone(),
        EmailLinks::new(clock.clone(), ids.clone(), link_policy()),
    );
    let accounts = Accounts::new(
        &AuthPorts {
            users: users.clone(),
            sessions: database.sessions(),
            session_cache: cache(clock.clone()),
            one_time_tokens: database.one_time_tokens(),
            hasher: hasher.clone(),
            signer: Arc::new(FakeSigner::default()),
            limiter: limiter.clone(),
            unit_of_work,
            clock: clock.clone(),
            ids,
        },
        &AuthPolicy {
            access_ttl: Duration::from_mins(15),
            refresh_ttl: Duration::from_hours(24 * 30),
            refresh_reuse_grace: Duration::from_secs(10),
            links: link_policy(),
            email_cooldown: Duration::from_mins(1),
            limits,
        },
    );
    Harness {
        clock,
        reset_mailer,
        users,
        hasher,
        queue,
        audit,
        limiter,
        accounts,
    }
}

fn from(ip: &str) -> RequestInfo {
    RequestInfo {
        ip: Some(ip.parse::<IpAddr>().unwrap()),
        user_agent: Some("test-agent".to_owned()),
        cut_off: CutOff::default(),
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

    /// The e-mails waiting in the queue, oldest first, once the reset requests queued before
    /// them have run (as the worker runs them).
    fn mails(&self) -> Vec<SendEmailPayload> {
        let mut mails = Vec::new();
        while let Some(job) = block_on(self.queue.claim(Duration::from_secs(30))).unwrap() {
            match job.kind.as_str() {
                SEND_EMAIL => mails.push(serde_json::from_value(job.payload.clone()).unwrap()),
                MAIL_PASSWORD_RESET => block_on(self.reset_mailer.handle(&job.payload)).unwrap(),
                other => panic!("unexpected job {other}"),
            }
            block_on(self.queue.complete(&job)).unwrap();
        }
        mails
    }

    /// The token of the only link mailed since the last look.
    fn mailed_token(&self, path: &str) -> String {
        let mails = self.mails();
        assert_eq!(mails.len(), 1, "{mails:?}");
        let link = mails[0].params["link"].as_str().unwrap().to_owned();
        let prefix = format!("https://auth.example.com/{path}?token=");
        link.strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{link} does not start with {prefix}"))
            .to_owned()
    }

    fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }
}

fn is_rate_limited(result: &Result<LoginOutcome, LoginError>) -> Option<Throttled> {
    match result {
        Err(LoginError::RateLimited(throttled)) => Some(*throttled),
        _ => None,
    }
}

mod email;
mod hardening;
mod login;
mod passwords;
mod redaction;
mod register;
mod sessions;
