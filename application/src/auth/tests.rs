//! The account and session use cases over `twofa-memory`, with a manual clock.

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
    FakePasswordHasher, ManualClock, MemoryAuditLog, MemoryDatabase, MemoryJobQueue,
    MemoryRateLimiter, MemorySessionCache, MemoryUnitOfWork, MemoryUserRepository,
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
    let limiter = Arc::new(MemoryRateLimiter::new(clock.clone()));
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
            session_cache: Arc::new(MemorySessionCache::new(clock.clone())),
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
        accounts,
    }
}

fn from(ip: &str) -> RequestInfo {
    RequestInfo {
        ip: Some(ip.parse::<IpAddr>().unwrap()),
        user_agent: Some("test-agent".to_owned()),
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

#[test]
fn register_creates_the_account_starts_a_session_and_mails_the_verification_link() {
    let h = harness();
    let signed_in = h.register("Jane@Example.com", "jane");
    assert_eq!(signed_in.user.email.as_str(), "Jane@Example.com");
    assert!(!signed_in.user.email_verified);
    assert_eq!(signed_in.tokens.expires_in, 900);
    let principal = h.principal(&signed_in.tokens).unwrap();
    assert_eq!(principal.user_id, signed_in.user.id);
    assert_eq!(principal.amr, vec!["pwd".to_owned()]);

    let mails = h.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to.as_str(), "Jane@Example.com");
    assert_eq!(mails[0].template, "verify_email");
    assert!(
        mails[0].params["link"]
            .as_str()
            .unwrap()
            .starts_with("https://auth.example.com/verify-email?token=")
    );
    assert_eq!(h.actions(), vec![("user.registered".to_owned(), true)]);
}

#[test]
fn register_names_every_invalid_field_and_writes_nothing() {
    let h = harness();
    let result = block_on(h.accounts.register.execute(RegisterInput {
        email: "not-an-address".to_owned(),
        username: "!".to_owned(),
        password: "password".to_owned(),
        request: from("203.0.113.1"),
    }));
    let Err(RegisterError::Invalid(fields)) = result else {
        panic!("expected Invalid, got {result:?}");
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field).collect();
    assert_eq!(names, ["email", "username", "password"]);
    assert!(block_on(h.users.list(None, 10, None)).unwrap().is_empty());
    assert!(h.mails().is_empty());
    assert!(h.actions().is_empty());
}

#[test]
fn register_refuses_a_taken_email_or_username_in_any_case() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let again = |email: &str, username: &str| {
        block_on(h.accounts.register.execute(RegisterInput {
            email: email.to_owned(),
            username: username.to_owned(),
            password: PASSWORD.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    assert!(matches!(
        again("JANE@example.com", "other"),
        Err(RegisterError::Conflict(twofa_domain::UniqueField::Email))
    ));
    assert!(matches!(
        again("other@example.com", "JANE"),
        Err(RegisterError::Conflict(twofa_domain::UniqueField::Username))
    ));
}

#[test]
fn a_wrong_password_and_an_unknown_user_get_the_same_answer_at_the_same_cost() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let wrong = h.login("jane", "not the password", "203.0.113.9");
    let dummies_before = h.hasher.dummy_verifications();
    let unknown = h.login("nobody", "not the password", "203.0.113.9");
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
    assert!(matches!(unknown, Err(LoginError::InvalidCredentials)));
    assert_eq!(h.hasher.dummy_verifications(), dummies_before + 1);
    let failures: Vec<_> = h
        .actions()
        .into_iter()
        .filter(|(action, _)| action == "user.login.failed")
        .collect();
    assert_eq!(failures.len(), 2);
}

#[test]
fn a_disabled_account_answers_and_counts_like_a_wrong_password() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    block_on(h.users.set_active(jane.user.id, false)).unwrap();
    for _ in 0..5 {
        assert!(matches!(
            h.login("jane", PASSWORD, "203.0.113.9"),
            Err(LoginError::InvalidCredentials)
        ));
    }
    // The right password is no way to tell: the sixth attempt is throttled all the same.
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "203.0.113.9")).is_some());
    assert!(
        h.actions()
            .contains(&("user.login.failed".to_owned(), false))
    );
}

#[test]
fn login_accepts_the_email_or_the_username_in_any_case() {
    let h = harness();
    let jane = h.register("jane@example.com", "Jane");
    assert_eq!(h.signed_in("JANE@example.com").user.id, jane.user.id);
    assert_eq!(h.signed_in("jane").user.id, jane.user.id);
    assert!(
        h.actions()
            .contains(&("user.login.succeeded".to_owned(), true))
    );
}

#[test]
fn the_sixth_rapid_failure_for_an_account_from_one_address_is_throttled() {
    let h = harness();
    h.register("jane@example.com", "jane");
    for _ in 0..5 {
        assert!(matches!(
            h.login("jane", "wrong password", "203.0.113.9"),
            Err(LoginError::InvalidCredentials)
        ));
    }
    // Even the right password waits: the back-off is decided before the password is checked.
    let sixth = h.login("jane", PASSWORD, "203.0.113.9");
    let throttled = is_rate_limited(&sixth).expect("the sixth attempt is throttled");
    assert_eq!(throttled.retry_after, Duration::from_mins(15));
    // Another address is not held back by this one's failures.
    assert!(h.login("jane", PASSWORD, "198.51.100.4").is_ok());
}

#[test]
fn unknown_logins_are_throttled_like_known_ones() {
    let h = harness();
    for _ in 0..5 {
        assert!(h.login("nobody", "wrong password", "203.0.113.9").is_err());
    }
    assert!(is_rate_limited(&h.login("nobody", "wrong password", "203.0.113.9")).is_some());
}

#[test]
fn each_further_run_of_failures_backs_off_four_times_longer() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let fail = || h.login("jane", "wrong password", "203.0.113.9");
    for _ in 0..5 {
        assert!(matches!(fail(), Err(LoginError::InvalidCredentials)));
    }
    // The sixth attempt is refused, and counts: hammering climbs the ladder.
    assert_eq!(
        is_rate_limited(&fail()).unwrap().retry_after,
        Duration::from_mins(15)
    );
    h.advance(TimeDelta::minutes(15));
    // The first rung's window ended; the second (10 per hour) holds 6 of its 10 attempts.
    for _ in 0..4 {
        assert!(matches!(fail(), Err(LoginError::InvalidCredentials)));
    }
    let throttled = is_rate_limited(&fail()).expect("the second run is throttled");
    assert_eq!(throttled.retry_after, Duration::from_mins(45));
    // The right password after the wait works, and clears the counters.
    h.advance(TimeDelta::minutes(45));
    assert!(h.login("jane", PASSWORD, "203.0.113.9").is_ok());
    for _ in 0..5 {
        assert!(matches!(fail(), Err(LoginError::InvalidCredentials)));
    }
}

#[test]
fn concurrent_guesses_cannot_slip_past_the_limit() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let guesses = (0..20).map(|_| {
        h.accounts.login.execute(LoginInput {
            login: "jane".to_owned(),
            password: "wrong password".to_owned(),
            request: from("203.0.113.9"),
        })
    });
    let answers = block_on(futures::future::join_all(guesses));
    let checked = answers
        .iter()
        .filter(|answer| matches!(answer, Err(LoginError::InvalidCredentials)))
        .count();
    assert_eq!(checked, 5);
}

#[test]
fn rotating_ipv6_addresses_inside_one_slash_64_does_not_reset_the_back_off() {
    let h = harness();
    h.register("jane@example.com", "jane");
    for n in 1..=5 {
        h.login("jane", "wrong password", &format!("2001:db8:1:2::{n:x}"))
            .unwrap_err();
    }
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "2001:db8:1:2:ffff::1")).is_some());
    assert!(h.login("jane", PASSWORD, "2001:db8:1:3::1").is_ok());
}

#[test]
fn the_per_account_limit_holds_across_addresses_and_ends_with_its_window() {
    let mut limits = limits();
    limits.failures_per_account = "8/1h".parse().unwrap();
    let h = harness_with(limits, FakePasswordHasher::new());
    h.register("jane@example.com", "jane");
    for n in 0..8 {
        h.login("jane", "wrong password", &format!("198.51.100.{n}"))
            .unwrap_err();
    }
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "192.0.2.77")).is_some());
    h.advance(TimeDelta::hours(1));
    assert!(h.login("jane", PASSWORD, "192.0.2.77").is_ok());
}

#[test]
fn the_per_address_login_limit_counts_every_attempt() {
    let mut limits = limits();
    limits.login_per_ip = Limit {
        max: 3,
        window: Duration::from_mins(1),
    };
    let h = harness_with(limits, FakePasswordHasher::new());
    h.register("jane@example.com", "jane");
    for _ in 0..3 {
        assert!(h.login("jane", PASSWORD, "203.0.113.9").is_ok());
    }
    let throttled = is_rate_limited(&h.login("jane", PASSWORD, "203.0.113.9")).unwrap();
    assert_eq!(throttled.limit, 3);
}

#[test]
fn a_full_hashing_pool_is_overloaded_not_a_failure() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.hasher.overload_next();
    assert!(matches!(
        h.login("jane", PASSWORD, "203.0.113.9"),
        Err(LoginError::Overloaded { .. })
    ));
    assert!(
        !h.actions()
            .iter()
            .any(|(action, _)| action == "user.login.failed")
    );
}

#[test]
fn a_login_under_outdated_parameters_stores_a_hash_under_the_current_ones() {
    let h = harness_with(limits(), FakePasswordHasher::with_tag("m19456t2p1"));
    let jane = h.register("jane@example.com", "jane");
    let old = block_on(h.users.find_by_id(jane.user.id))
        .unwrap()
        .unwrap()
        .password_hash;
    // The same store, read by a hasher configured with stronger parameters.
    let stronger = harness_with(limits(), FakePasswordHasher::with_tag("m65536t3p1"));
    block_on(stronger.users.create(twofa_domain::NewUser::new(
        jane.user.id,
        jane.user.email.clone(),
        jane.user.username.clone(),
        old.clone(),
    )))
    .unwrap();
    stronger.signed_in("jane");
    let upgraded = block_on(stronger.users.find_by_id(jane.user.id))
        .unwrap()
        .unwrap()
        .password_hash;
    assert_ne!(upgraded, old);
    assert!(upgraded.as_phc().contains("m65536t3p1"));
    stronger.signed_in("jane");
}

#[test]
fn refresh_rotates_and_keeps_the_session() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.advance(TimeDelta::minutes(1));
    let next = block_on(h.accounts.refresh.execute(RefreshSessionInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_ne!(next.tokens.refresh_token, jane.tokens.refresh_token);
    assert_ne!(next.tokens.access_token, jane.tokens.access_token);
    assert_eq!(next.tokens.session_id, jane.tokens.session_id);
    assert_eq!(
        h.principal(&next.tokens).unwrap().session_id,
        jane.tokens.session_id
    );
}

#[test]
fn a_rotated_token_within_the_grace_refreshes_the_same_session_again() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let refresh = |token: &str| {
        block_on(h.accounts.refresh.execute(RefreshSessionInput {
            refresh_token: token.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    let first = refresh(&jane.tokens.refresh_token).unwrap();
    h.advance(TimeDelta::seconds(5));
    let second = refresh(&jane.tokens.refresh_token).unwrap();
    assert_eq!(second.tokens.session_id, first.tokens.session_id);
    assert!(refresh(&first.tokens.refresh_token).is_ok());
}

#[test]
fn reusing_a_rotated_token_ends_the_whole_session_and_is_recorded() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let refresh = |token: &str| {
        block_on(h.accounts.refresh.execute(RefreshSessionInput {
            refresh_token: token.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    let next = refresh(&jane.tokens.refresh_token).unwrap();
    h.advance(TimeDelta::seconds(11));
    assert!(matches!(
        refresh(&jane.tokens.refresh_token),
        Err(CredentialsError::Unauthorized)
    ));
    // The whole family is dead: the newest refresh token and every access token.
    assert!(matches!(
        refresh(&next.tokens.refresh_token),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(matches!(
        h.principal(&next.tokens),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(
        h.actions()
            .contains(&("security.refresh_token_reuse".to_owned(), false))
    );
}

#[test]
fn malformed_and_unknown_refresh_tokens_are_unauthorized() {
    let h = harness();
    for token in ["", "short", &"A".repeat(43)] {
        assert!(matches!(
            block_on(h.accounts.refresh.execute(RefreshSessionInput {
                refresh_token: token.to_owned(),
                request: from("203.0.113.1"),
            })),
            Err(CredentialsError::Unauthorized)
        ));
    }
}

#[test]
fn logout_ends_that_session_only_and_its_access_token_fails_at_once() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let other = h.signed_in("jane");
    assert!(h.principal(&jane.tokens).is_ok());
    block_on(h.accounts.logout.execute(LogoutInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert!(matches!(
        h.principal(&jane.tokens),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(h.principal(&other.tokens).is_ok());
    assert!(matches!(
        block_on(h.accounts.logout.execute(LogoutInput {
            refresh_token: jane.tokens.refresh_token.clone(),
            request: from("203.0.113.1"),
        })),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(h.actions().contains(&("user.logout".to_owned(), true)));
}

#[test]
fn an_access_token_fails_after_it_expires() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.advance(TimeDelta::minutes(15));
    assert!(matches!(
        h.principal(&jane.tokens),
        Err(CredentialsError::Unauthorized)
    ));
}

#[test]
fn sessions_are_listed_newest_first_with_the_current_one_marked_and_revoked_by_id() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.advance(TimeDelta::seconds(1));
    let second = h.signed_in("jane");
    let me = h.principal(&second.tokens).unwrap();
    let page = block_on(h.accounts.list_sessions.execute(ListSessionsInput {
        principal: me.clone(),
        limit: 50,
        after: None,
    }))
    .unwrap();
    let listed: Vec<(SessionId, bool)> = page.items.iter().map(|(s, c)| (s.id, *c)).collect();
    assert_eq!(
        listed,
        vec![
            (second.tokens.session_id, true),
            (jane.tokens.session_id, false)
        ]
    );
    let first_page = block_on(h.accounts.list_sessions.execute(ListSessionsInput {
        principal: me.clone(),
        limit: 1,
        after: None,
    }))
    .unwrap();
    assert_eq!(first_page.next, Some(second.tokens.session_id));
    let rest = block_on(h.accounts.list_sessions.execute(ListSessionsInput {
        principal: me.clone(),
        limit: 1,
        after: first_page.next,
    }))
    .unwrap();
    assert_eq!(rest.items[0].0.id, jane.tokens.session_id);
    assert_eq!(rest.next, None);

    block_on(h.accounts.revoke_session.execute(RevokeSessionInput {
        principal: me.clone(),
        session_id: jane.tokens.session_id,
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert!(h.principal(&jane.tokens).is_err());
    assert!(h.principal(&second.tokens).is_ok());
    assert!(matches!(
        block_on(h.accounts.revoke_session.execute(RevokeSessionInput {
            principal: me.clone(),
            session_id: jane.tokens.session_id,
            request: from("203.0.113.1"),
        })),
        Err(RevokeSessionError::NotFound)
    ));
}

#[test]
fn another_users_session_is_not_found() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let john = h.register("john@example.com", "john");
    let me = h.principal(&john.tokens).unwrap();
    assert!(matches!(
        block_on(h.accounts.revoke_session.execute(RevokeSessionInput {
            principal: me.clone(),
            session_id: jane.tokens.session_id,
            request: from("203.0.113.1"),
        })),
        Err(RevokeSessionError::NotFound)
    ));
    assert!(h.principal(&jane.tokens).is_ok());
}

#[test]
fn revoke_all_sessions_ends_every_session_including_the_current_one() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let other = h.signed_in("jane");
    let me = h.principal(&jane.tokens).unwrap();
    block_on(
        h.accounts
            .revoke_all_sessions
            .execute(RevokeAllSessionsInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    assert!(h.principal(&jane.tokens).is_err());
    assert!(h.principal(&other.tokens).is_err());
    assert!(
        block_on(h.accounts.refresh.execute(RefreshSessionInput {
            refresh_token: other.tokens.refresh_token.clone(),
            request: from("203.0.113.1"),
        }))
        .is_err()
    );
}

#[test]
fn a_password_change_keeps_the_calling_session_and_ends_the_others() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let other = h.signed_in("jane");
    let me = h.principal(&jane.tokens).unwrap();
    let change = |current: &str, new: &str| {
        block_on(h.accounts.change_password.execute(ChangePasswordInput {
            principal: me.clone(),
            current_password: current.to_owned(),
            new_password: new.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    assert!(matches!(
        change("wrong password", "a brand new passphrase"),
        Err(ChangePasswordError::InvalidCredentials)
    ));
    let Err(ChangePasswordError::Invalid(fields)) = change(PASSWORD, "short") else {
        panic!("a short password is refused");
    };
    assert_eq!(fields[0].field, "newPassword");
    change(PASSWORD, "a brand new passphrase").unwrap();
    assert!(h.principal(&jane.tokens).is_ok());
    assert!(h.principal(&other.tokens).is_err());
    assert!(matches!(
        h.login("jane", PASSWORD, "203.0.113.1"),
        Err(LoginError::InvalidCredentials)
    ));
    assert!(
        h.login("jane", "a brand new passphrase", "203.0.113.1")
            .is_ok()
    );
    assert!(
        h.actions()
            .contains(&("user.password.changed".to_owned(), false))
    );
    assert!(
        h.actions()
            .contains(&("user.password.changed".to_owned(), true))
    );
}

#[test]
fn forgot_password_answers_alike_and_mails_only_an_existing_account() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.mails();
    let forgot = |email: &str| {
        block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
            email: email.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    forgot("nobody@example.com").unwrap();
    assert!(h.mails().is_empty());
    forgot("JANE@example.com").unwrap();
    let token = h.mailed_token("reset-password");
    assert_eq!(token.len(), 43);
    // A second request within the cooldown is answered alike and mails nothing.
    forgot("jane@example.com").unwrap();
    assert!(h.mails().is_empty());
}

#[test]
fn a_password_reset_ends_every_session_and_its_link_works_once() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.mails();
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let token = h.mailed_token("reset-password");
    let reset = |password: &str| {
        block_on(h.accounts.reset_password.execute(ResetPasswordInput {
            token: token.clone(),
            new_password: password.to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    // A refused password does not use the link up.
    assert!(matches!(
        reset("password"),
        Err(EmailTokenError::Invalid(_))
    ));
    reset("a brand new passphrase").unwrap();
    assert!(h.principal(&jane.tokens).is_err());
    assert!(matches!(
        reset("another new passphrase"),
        Err(EmailTokenError::InvalidToken)
    ));
    assert!(
        h.login("jane", "a brand new passphrase", "203.0.113.1")
            .is_ok()
    );
    assert!(
        h.actions()
            .contains(&("user.password.reset".to_owned(), true))
    );
}

#[test]
fn a_reset_link_expires_after_an_hour() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.mails();
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let token = h.mailed_token("reset-password");
    h.advance(TimeDelta::hours(1));
    assert!(matches!(
        block_on(h.accounts.reset_password.execute(ResetPasswordInput {
            token: token.clone(),
            new_password: "a brand new passphrase".to_owned(),
            request: from("203.0.113.1"),
        })),
        Err(EmailTokenError::InvalidToken)
    ));
}

#[test]
fn the_verification_link_verifies_the_address_once() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let token = h.mailed_token("verify-email");
    let verify = || {
        block_on(h.accounts.verify_email.execute(VerifyEmailInput {
            token: token.clone(),
            request: from("203.0.113.1"),
        }))
    };
    verify().unwrap();
    let me = h.principal(&jane.tokens).unwrap();
    assert!(block_on(h.accounts.me.execute(&me)).unwrap().email_verified);
    assert!(matches!(verify(), Err(EmailTokenError::InvalidToken)));
    assert!(
        h.actions()
            .contains(&("user.email.verified".to_owned(), true))
    );
}

#[test]
fn a_verification_link_expires_after_a_day_and_an_earlier_one_stays_valid() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let first = h.mailed_token("verify-email");
    let me = h.principal(&jane.tokens).unwrap();
    h.advance(TimeDelta::minutes(1));
    block_on(
        h.accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    let second = h.mailed_token("verify-email");
    assert_ne!(first, second);
    h.advance(TimeDelta::hours(24) - TimeDelta::minutes(1));
    assert!(matches!(
        block_on(h.accounts.verify_email.execute(VerifyEmailInput {
            token: first,
            request: from("203.0.113.1"),
        })),
        Err(EmailTokenError::InvalidToken)
    ));
    block_on(h.accounts.verify_email.execute(VerifyEmailInput {
        token: second,
        request: from("203.0.113.1"),
    }))
    .unwrap();
}

#[test]
fn send_verification_waits_for_the_cooldown_that_register_started() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.mails();
    let me = h.principal(&jane.tokens).unwrap();
    let send = || {
        block_on(
            h.accounts
                .send_verification
                .execute(SendVerificationEmailInput {
                    principal: me.clone(),
                    request: from("203.0.113.1"),
                }),
        )
    };
    let Err(SendVerificationError::RateLimited(throttled)) = send() else {
        panic!("the cooldown holds");
    };
    assert_eq!(throttled.retry_after, Duration::from_mins(1));
    assert!(h.mails().is_empty());
    h.advance(TimeDelta::minutes(1));
    send().unwrap();
    assert_eq!(h.mails().len(), 1);
}

#[test]
fn a_verified_address_is_mailed_nothing() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let token = h.mailed_token("verify-email");
    block_on(h.accounts.verify_email.execute(VerifyEmailInput {
        token,
        request: from("203.0.113.1"),
    }))
    .unwrap();
    h.advance(TimeDelta::minutes(5));
    let me = h.principal(&jane.tokens).unwrap();
    block_on(
        h.accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    assert!(h.mails().is_empty());
}

#[test]
fn audit_details_keep_no_secret() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.login("jane", "wrong password", "203.0.113.9")
        .unwrap_err();
    let page = block_on(h.audit.query(&AuditQuery {
        limit: 200,
        ..AuditQuery::all()
    }))
    .unwrap();
    let text = format!("{:?}", page.items);
    assert!(!text.contains(PASSWORD));
    assert!(!text.contains("wrong password"));
    assert!(!text.contains(&jane.tokens.refresh_token));
    assert!(!text.contains("jane@example.com"));
}

#[test]
fn logout_with_a_token_rotated_past_the_grace_ends_the_session_as_reuse() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let next = block_on(h.accounts.refresh.execute(RefreshSessionInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    h.advance(TimeDelta::seconds(11));
    assert!(matches!(
        block_on(h.accounts.logout.execute(LogoutInput {
            refresh_token: jane.tokens.refresh_token.clone(),
            request: from("203.0.113.1"),
        })),
        Err(CredentialsError::Unauthorized)
    ));
    assert!(h.principal(&next.tokens).is_err());
    assert!(
        h.actions()
            .contains(&("security.refresh_token_reuse".to_owned(), false))
    );
}

#[test]
fn send_verification_after_the_cooldown_sends_and_starts_it_again() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    h.mails();
    h.advance(TimeDelta::minutes(1));
    let me = h.principal(&jane.tokens).unwrap();
    // The cooldown runs from the last e-mail actually sent: none is held back here.
    block_on(
        h.accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal: me.clone(),
                request: from("203.0.113.1"),
            }),
    )
    .unwrap();
    assert_eq!(h.mails().len(), 1);
    assert!(matches!(
        block_on(
            h.accounts
                .send_verification
                .execute(SendVerificationEmailInput {
                    principal: me.clone(),
                    request: from("203.0.113.1"),
                })
        ),
        Err(SendVerificationError::RateLimited(_))
    ));
}

#[test]
fn secrets_are_redacted_from_debug_output() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    let shown = format!("{jane:?}");
    assert!(!shown.contains(&jane.tokens.refresh_token));
    assert!(!shown.contains(&jane.tokens.access_token));
    let input = LoginInput {
        login: "jane".to_owned(),
        password: PASSWORD.to_owned(),
        request: RequestInfo::default(),
    };
    assert!(!format!("{input:?}").contains(PASSWORD));
    let me = h.principal(&jane.tokens).unwrap();
    let token = jane.tokens.refresh_token.clone();
    let request = RequestInfo::default;
    for shown in [
        format!(
            "{:?}",
            RefreshSessionInput {
                refresh_token: token.clone(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            LogoutInput {
                refresh_token: token.clone(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            VerifyEmailInput {
                token: token.clone(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            ResetPasswordInput {
                token: token.clone(),
                new_password: PASSWORD.to_owned(),
                request: request(),
            }
        ),
        format!(
            "{:?}",
            ChangePasswordInput {
                principal: me,
                current_password: PASSWORD.to_owned(),
                new_password: token.clone(),
                request: request(),
            }
        ),
    ] {
        assert!(!shown.contains(&token), "{shown}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}

#[test]
fn an_unknown_reset_token_is_refused_before_any_hashing() {
    let h = harness();
    // Were the new password hashed, this overloaded pool would answer first.
    h.hasher.overload_next();
    assert!(matches!(
        block_on(h.accounts.reset_password.execute(ResetPasswordInput {
            token: "A".repeat(43),
            new_password: "a brand new passphrase".to_owned(),
            request: from("203.0.113.1"),
        })),
        Err(EmailTokenError::InvalidToken)
    ));
}

#[test]
fn forgot_password_does_the_same_work_for_any_address() {
    let h = harness();
    h.register("jane@example.com", "jane");
    h.mails();
    let pending = || block_on(h.queue.counts()).unwrap().pending;
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "nobody@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(pending(), 1);
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert_eq!(pending(), 2);
    // Only the worker tells them apart: one e-mail, to the account's address.
    let mails = h.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to.as_str(), "jane@example.com");
    assert!(
        h.actions()
            .contains(&("user.password.reset_requested".to_owned(), true))
    );
}

#[test]
fn failures_from_elsewhere_do_not_lock_the_owner_out_of_a_familiar_address() {
    let mut limits = limits();
    limits.failures_per_account = "8/1h".parse().unwrap();
    let h = harness_with(limits, FakePasswordHasher::new());
    h.register("jane@example.com", "jane");
    h.signed_in("jane"); // from 203.0.113.1
    for n in 0..8 {
        h.login("jane", "wrong password", &format!("198.51.100.{n}"))
            .unwrap_err();
    }
    // A new address is held back by the account's hard limit...
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "192.0.2.77")).is_some());
    // ...the owner's familiar one is not.
    assert!(h.login("jane", PASSWORD, "203.0.113.1").is_ok());
    // And the success cleared the account's count for everyone.
    assert!(h.login("jane", PASSWORD, "192.0.2.78").is_ok());
}
