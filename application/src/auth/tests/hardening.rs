//! What an attacker's probe of the account flows found (issue 13), each as a rule: 503s are not
//! failures, one back-off per account however the login is spelled, a reset clears it, one
//! `security.login.throttled` per lockout, refused refresh tokens on the trail, and no session
//! answered as ended while the cache may still serve it as live.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use twofa_domain::{CachedSession, PortError, SessionCache};

use super::*;

fn count(h: &Harness, action: &str) -> usize {
    h.actions().iter().filter(|(a, _)| a == action).count()
}

#[test]
fn logins_answered_503_because_the_hashing_pool_is_full_are_not_failures() {
    let h = harness();
    h.register("jane@example.com", "jane");
    for _ in 0..8 {
        h.hasher.overload_next();
        assert!(matches!(
            h.login("jane", PASSWORD, "203.0.113.9"),
            Err(LoginError::Overloaded { .. })
        ));
    }
    // Five failures would back the address off; eight 503s leave the owner free to sign in.
    assert!(h.login("jane", PASSWORD, "203.0.113.9").is_ok());
    assert_eq!(count(&h, "user.login.failed"), 0);
}

#[test]
fn a_password_change_answered_503_is_not_a_failure() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let jane = h.signed_in("jane");
    let principal = h.principal(&jane.tokens).unwrap();
    let change = |current: &str| {
        block_on(h.accounts.change_password.execute(ChangePasswordInput {
            principal: principal.clone(),
            current_password: current.to_owned(),
            new_password: "a brand new passphrase".to_owned(),
            request: from("203.0.113.1"),
        }))
    };
    for _ in 0..8 {
        h.hasher.overload_next();
        assert!(matches!(
            change(PASSWORD),
            Err(ChangePasswordError::Overloaded { .. })
        ));
    }
    change(PASSWORD).unwrap();
}

#[test]
fn the_back_off_is_one_budget_whether_the_login_is_the_username_or_the_email() {
    let h = harness();
    h.register("jane@example.com", "jane");
    for login in [
        "jane",
        "jane",
        "Jane@Example.com",
        "jane",
        "jane@example.com",
    ] {
        assert!(matches!(
            h.login(login, "wrong password", "203.0.113.9"),
            Err(LoginError::InvalidCredentials)
        ));
    }
    assert!(
        is_rate_limited(&h.login("jane@example.com", "wrong password", "203.0.113.9")).is_some()
    );
    assert!(is_rate_limited(&h.login("JANE", PASSWORD, "203.0.113.9")).is_some());
}

#[test]
fn unknown_logins_still_cost_the_same_counter_work() {
    let h = harness();
    for _ in 0..5 {
        assert!(matches!(
            h.login("nobody@example.com", "wrong password", "203.0.113.9"),
            Err(LoginError::InvalidCredentials)
        ));
    }
    assert!(is_rate_limited(&h.login("nobody@example.com", "x", "203.0.113.9")).is_some());
}

#[test]
fn a_password_reset_clears_the_back_off_that_login_reads() {
    let h = harness();
    h.register("jane@example.com", "jane");
    for _ in 0..5 {
        assert!(h.login("jane", "wrong password", "203.0.113.1").is_err());
    }
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "203.0.113.1")).is_some());
    let _ = h.mails();
    block_on(h.accounts.forgot_password.execute(ForgotPasswordInput {
        email: "jane@example.com".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let token = h.mailed_token("reset-password");
    block_on(h.accounts.reset_password.execute(ResetPasswordInput {
        token,
        new_password: "a brand new passphrase".to_owned(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    assert!(
        h.login("jane", "a brand new passphrase", "203.0.113.1")
            .is_ok()
    );
}

#[test]
fn an_account_reaching_its_hard_limit_writes_one_throttled_event() {
    let h = harness();
    let jane = h.register("jane@example.com", "jane");
    // From 120 addresses, so that no address's own back-off stops the run first.
    for n in 0..120 {
        let _ = h.login("jane", "wrong password", &format!("198.51.100.{n}"));
    }
    assert_eq!(count(&h, "user.login.failed"), 100);
    assert_eq!(count(&h, "security.login.throttled"), 1);
    let page = block_on(h.audit.query(&AuditQuery {
        limit: 200,
        ..AuditQuery::all()
    }))
    .unwrap();
    let throttled = page
        .items
        .iter()
        .find(|event| event.event.action == "security.login.throttled")
        .unwrap();
    assert_eq!(throttled.event.user_id, Some(jane.user.id));
    // The 429s that follow stay out of the trail; a new window's run writes its own.
    h.advance(TimeDelta::hours(1));
    for n in 0..100 {
        let _ = h.login("jane", "wrong password", &format!("192.0.2.{n}"));
    }
    assert_eq!(count(&h, "security.login.throttled"), 2);
}

#[test]
fn a_refresh_token_of_an_ended_session_is_refused_on_the_trail() {
    let h = harness();
    h.register("jane@example.com", "jane");
    let jane = h.signed_in("jane");
    block_on(h.accounts.logout.execute(LogoutInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }))
    .unwrap();
    let refreshed = block_on(h.accounts.refresh.execute(RefreshSessionInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }));
    assert!(matches!(refreshed, Err(CredentialsError::Unauthorized)));
    let logout = block_on(h.accounts.logout.execute(LogoutInput {
        refresh_token: jane.tokens.refresh_token.clone(),
        request: from("203.0.113.1"),
    }));
    assert!(matches!(logout, Err(CredentialsError::Unauthorized)));
    assert_eq!(count(&h, "security.refresh_token_refused"), 2);
}

/// A session cache that refuses writes while `is_down` is set (reads still answer, as a
/// Redis replica that lost its primary does).
struct UnwritableCache {
    inner: MemorySessionCache,
    is_down: AtomicBool,
}

impl UnwritableCache {
    fn refuse(&self) -> Result<(), PortError> {
        if self.is_down.load(Ordering::SeqCst) {
            Err(PortError::Unavailable {
                dependency: "redis",
                source: anyhow::anyhow!("READONLY"),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionCache for UnwritableCache {
    async fn get(&self, id: SessionId) -> Result<Option<CachedSession>, PortError> {
        self.inner.get(id).await
    }

    async fn put_if_absent(
        &self,
        id: SessionId,
        answer: CachedSession,
        ttl: Duration,
    ) -> Result<(), PortError> {
        self.refuse()?;
        self.inner.put_if_absent(id, answer, ttl).await
    }

    async fn end(&self, id: SessionId, ttl: Duration) -> Result<(), PortError> {
        self.refuse()?;
        self.inner.end(id, ttl).await
    }

    async fn forget(&self, id: SessionId) -> Result<(), PortError> {
        self.refuse()?;
        self.inner.forget(id).await
    }
}

#[test]
fn a_logout_the_cache_cannot_record_is_not_answered_as_done() {
    let cache = Arc::new(Mutex::new(None::<Arc<UnwritableCache>>));
    let h = harness_over(limits(), FakePasswordHasher::new(), DEFAULT_MAX_KEYS, {
        let cache = cache.clone();
        move |clock| {
            let built = Arc::new(UnwritableCache {
                inner: MemorySessionCache::new(clock),
                is_down: AtomicBool::new(false),
            });
            *cache.lock().unwrap() = Some(built.clone());
            built
        }
    });
    let cache = cache.lock().unwrap().clone().unwrap();
    h.register("jane@example.com", "jane");
    let jane = h.signed_in("jane");
    // Cached as live by a first request.
    h.principal(&jane.tokens).unwrap();
    cache.is_down.store(true, Ordering::SeqCst);
    let logout = || {
        block_on(h.accounts.logout.execute(LogoutInput {
            refresh_token: jane.tokens.refresh_token.clone(),
            request: from("203.0.113.1"),
        }))
    };
    assert!(matches!(
        logout(),
        Err(CredentialsError::Fault(Fault::Unavailable(_)))
    ));
    // Nothing was committed: the session is as live in the store as in the cache.
    assert!(h.principal(&jane.tokens).is_ok());
    assert_eq!(count(&h, "user.logout"), 0);
    cache.is_down.store(false, Ordering::SeqCst);
    logout().unwrap();
    assert!(matches!(
        h.principal(&jane.tokens),
        Err(CredentialsError::Unauthorized)
    ));
}

#[test]
fn a_flood_of_new_addresses_erases_no_lockout_and_lets_no_one_through() {
    let h = harness_over(limits(), FakePasswordHasher::new(), 1000, |clock| {
        Arc::new(MemorySessionCache::new(clock))
    });
    let jane = h.register("jane@example.com", "jane");
    for n in 0..100 {
        let _ = h.login("jane", "wrong password", &format!("198.51.100.{n}"));
    }
    let hard_limit = format!("login-attempts:user:{}", jane.user.id);
    let limit: Limit = "100/1h".parse().unwrap();
    let is_held = || {
        matches!(
            block_on(h.limiter.check(&hard_limit, limit)).unwrap(),
            twofa_domain::Decision::Limited { .. }
        )
    };
    assert!(is_held());
    // Junk logins from 3,000 distinct addresses: far more keys than the limiter holds.
    let mut refused = 0;
    for n in 0..3000_u32 {
        let ip = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff);
        match h.login(&format!("junk{n}"), "wrong password", &ip) {
            Err(LoginError::RateLimited(_)) => refused += 1,
            Err(LoginError::InvalidCredentials) => {}
            other => panic!("a junk login got {other:?}"),
        }
    }
    assert!(refused > 0, "a full limiter refuses new keys");
    assert!(is_held(), "the account's lockout outlived the flood");
    // The owner from a fresh address is still held back by the hard limit.
    assert!(is_rate_limited(&h.login("jane", PASSWORD, "192.0.2.77")).is_some());
}
