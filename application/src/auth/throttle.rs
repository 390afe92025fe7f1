//! Throttling of the account flows: per-client limits keyed on a canonical address (IPv6 by its
//! /64), and login failure counting per (account, address) with exponential back-off and a
//! hard per-account limit (NIST SP 800-63B 5.2.2).
//!
//! The ladder is keyed on the account when the login names one (so spelling it as username or
//! as e-mail shares one budget) and on the login text otherwise (so an unknown login costs the
//! same counter work); the hard limit on the account alike. An attempt that ends unanswered by
//! a verdict (503: the hashing pool full, a store down) is taken back: it is not a failure.
//!
//! The back-off is a ladder of windows: the base limit (`5/15m`) is the first rung; each rung
//! above allows twice the attempts over four times the window (`10/1h`, `20/4h`), so each
//! further run of failures waits four times longer. Attempts made while refused count too,
//! so hammering climbs the ladder. Every rung's window ends on its own, so no attacker can
//! lock an account out for good; a success (or a password reset) clears them.

use std::{net::IpAddr, sync::Arc, time::Duration};

use twofa_domain::{Decision, Limit, NewAuditEvent, PortError, RateLimiter, UserId};

use serde_json::json;

use super::{RequestInfo, Throttled, audit_events::user_event};

/// Rungs of the per-(account, address) ladder.
const RUNGS: u32 = 3;

/// How long a client an account signed in from stays known.
pub(crate) const KNOWN_CLIENT_FOR: Duration = Duration::from_hours(24 * 30);

/// The "limit" whose window marks a known client: one hit opens it, and it is never reached.
const KNOWN_CLIENT: Limit = Limit {
    max: u32::MAX,
    window: KNOWN_CLIENT_FOR,
};

/// The key part naming a client: its address, canonical (an IPv4-mapped IPv6 address is the
/// IPv4 one), an IPv6 client by its /64 (one allocation is one client), `unknown` off TCP.
pub fn client_key(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

/// Counts one attempt of `scope` from `client` against `limit`.
pub(crate) async fn hit_per_client<E: From<Throttled> + From<PortError>>(
    limiter: &dyn RateLimiter,
    scope: &str,
    ip: Option<IpAddr>,
    limit: Limit,
) -> Result<(), E> {
    let key = twofa_domain::per_address_key(scope, &client_key(ip));
    match limiter.hit(&key, limit).await? {
        Decision::Allowed { .. } => Ok(()),
        Decision::Limited { retry_after } => Err(Throttled {
            limit: limit.max,
            retry_after,
        }
        .into()),
    }
}

/// The login failure limits over their counters: where [`LoginAttempts`] come from.
pub(crate) struct LoginThrottle {
    limiter: Arc<dyn RateLimiter>,
    per_account_ip: Limit,
    per_account: Limit,
}

impl LoginThrottle {
    /// Failures of one account from one address (`per_account_ip`, the ladder's first rung)
    /// and from all addresses (`per_account`, the hard limit), counted by `limiter`.
    pub(crate) fn new(
        limiter: Arc<dyn RateLimiter>,
        per_account_ip: Limit,
        per_account: Limit,
    ) -> Self {
        Self {
            limiter,
            per_account_ip,
            per_account,
        }
    }

    /// `security.login.throttled` for `user`, when the failure of the attempt `counted` is the
    /// one that brings the account to its hard limit (once per window; the 429s that follow
    /// stay out of the trail).
    pub(crate) fn throttled_event(
        &self,
        counted: Counted,
        user: UserId,
        request: &RequestInfo,
    ) -> Option<NewAuditEvent> {
        counted.reaches_hard_limit.then(|| {
            user_event(
                "security.login.throttled",
                Some(user),
                false,
                request,
                json!({
                    "limit": self.per_account.max,
                    "windowSeconds": self.per_account.window.as_secs(),
                }),
            )
        })
    }

    /// The limiter the counters live in (for the per-client limits beside them).
    pub(crate) fn limiter(&self) -> &dyn RateLimiter {
        self.limiter.as_ref()
    }

    /// The counters of a login from `ip`: keyed on the account `found` (its id) when the login
    /// named one, else on the login text as typed (canonical and hashed).
    pub(crate) fn login_attempts(
        &self,
        found: Option<UserId>,
        login: &str,
        ip: Option<IpAddr>,
    ) -> LoginAttempts<'_> {
        let subject = found.map_or_else(|| login_subject(login), account_subject);
        LoginAttempts::new(
            self.limiter.as_ref(),
            (self.per_account_ip, self.per_account),
            &subject,
            ip,
            subject.clone(),
        )
    }

    /// The counters of the account with id `user` from `ip`: the same counters a login naming
    /// the account from `ip` uses (a password change counts on them, a reset clears them).
    pub(crate) fn account_attempts(&self, user: UserId, ip: Option<IpAddr>) -> LoginAttempts<'_> {
        self.login_attempts(Some(user), "", ip)
    }
}

/// The counter subject of an account.
fn account_subject(user: UserId) -> String {
    format!("user:{user}")
}

/// What counting one attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) struct Counted {
    /// This attempt is the last the account's hard limit allows in its window: should it fail,
    /// the account is held back from here on (`security.login.throttled`, once per window).
    pub(crate) reaches_hard_limit: bool,
}

/// The login attempt counters of one account from one client. Each attempt is counted before
/// the password is checked (one atomic hit per counter), so concurrent guesses cannot slip
/// past a limit between a check and a count; a success clears the counters, so what remains
/// are consecutive failures.
///
/// Both the ladder and the hard limit are keyed on the account when it exists, and on the
/// login text as typed (canonical and hashed) when it does not. The hard limit does not hold back
/// a client the account signed in from within 30 days, so no one can keep the owner out of a
/// familiar address by failing from elsewhere.
pub(crate) struct LoginAttempts<'a> {
    limiter: &'a dyn RateLimiter,
    per_account_ip: Limit,
    per_account: Limit,
    ladder: String,
    account: String,
    client: String,
    is_known_client: bool,
}

impl<'a> LoginAttempts<'a> {
    /// The counters of attempts on `ladder_subject` from `ip` (the per-address ladder) and on
    /// `account` (the hard limit).
    fn new(
        limiter: &'a dyn RateLimiter,
        (per_account_ip, per_account): (Limit, Limit),
        ladder_subject: &str,
        ip: Option<IpAddr>,
        account: String,
    ) -> Self {
        Self {
            limiter,
            per_account_ip,
            per_account,
            ladder: format!("{ladder_subject}:{}", client_key(ip)),
            account,
            client: client_key(ip),
            is_known_client: false,
        }
    }

    /// The key marking this client as one the account signed in from.
    fn known_client_key(&self) -> String {
        format!("login-known:{}:{}", self.account, self.client)
    }

    /// Looks up whether the account signed in from this client within [`KNOWN_CLIENT_FOR`]:
    /// such a client is not held back by the account's hard limit (its own ladder still
    /// holds), so failures from elsewhere cannot lock the owner out of a familiar address.
    pub(crate) async fn recognise_client(&mut self) -> Result<(), PortError> {
        let decision = self
            .limiter
            .check(&self.known_client_key(), KNOWN_CLIENT)
            .await?;
        self.is_known_client = match decision {
            Decision::Allowed { remaining, .. } => remaining < KNOWN_CLIENT.max,
            Decision::Limited { .. } => true,
        };
        Ok(())
    }

    /// Remembers this client as one the account signed in from (a success).
    pub(crate) async fn remember_client(&self) -> Result<(), PortError> {
        self.limiter
            .hit(&self.known_client_key(), KNOWN_CLIENT)
            .await?;
        Ok(())
    }

    /// Each counter with its limit: the ladder for this address, then the account's own
    /// (unless this is a client the account signed in from).
    fn counters(&self) -> impl Iterator<Item = (String, Limit)> + '_ {
        (0..RUNGS)
            .map(|rung| {
                let limit = rung_limit(self.per_account_ip, rung);
                (format!("login-attempts:{}:r{rung}", self.ladder), limit)
            })
            .chain((!self.is_known_client).then(|| (self.account_key(), self.per_account)))
    }

    /// Counts this attempt on every counter; refused, with the longest wait among them, when
    /// any is over its limit.
    pub(crate) async fn attempt<E: From<Throttled> + From<PortError>>(&self) -> Result<Counted, E> {
        let mut refusal: Option<Throttled> = None;
        let mut counted = Counted {
            reaches_hard_limit: false,
        };
        for (key, limit) in self.counters() {
            match self.limiter.hit(&key, limit).await? {
                Decision::Limited { retry_after } => {
                    let is_longer = refusal.is_none_or(|r| retry_after > r.retry_after);
                    if is_longer {
                        refusal = Some(Throttled {
                            limit: limit.max,
                            retry_after,
                        });
                    }
                }
                Decision::Allowed { remaining, .. } => {
                    if remaining == 0 && self.is_account_counter(&key) {
                        counted.reaches_hard_limit = true;
                    }
                }
            }
        }
        refusal.map_or(Ok(counted), |throttled| Err(throttled.into()))
    }

    /// Whether `key` is the account's own counter (the hard limit), for an account that exists.
    fn is_account_counter(&self, key: &str) -> bool {
        self.account.starts_with("user:") && key == self.account_key()
    }

    fn account_key(&self) -> String {
        format!("login-attempts:{}", self.account)
    }

    /// Takes this attempt back from every counter it was counted on: it was answered 503 (the
    /// hashing pool was full, a store was down), and such an attempt is not a failure.
    pub(crate) async fn forgive(&self) {
        for (key, _) in self.counters() {
            if let Err(error) = self.limiter.forgive(&key).await {
                tracing::warn!(error = %twofa_domain::error_chain(&error), "could not take back an attempt answered 503");
            }
        }
    }

    /// Forgets the attempts (a success, or a password reset), the account's own included.
    pub(crate) async fn clear(&self) -> Result<(), PortError> {
        for (key, _) in self.counters() {
            self.limiter.clear(&key).await?;
        }
        if self.is_known_client {
            self.limiter.clear(&self.account_key()).await?;
        }
        Ok(())
    }
}

/// The ladder subject of a login text: its canonical form, hashed (a password typed into the
/// login field must not sit in a shared store's keys).
pub(crate) fn login_subject(login: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(twofa_domain::canonical_login(login).as_bytes());
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    format!("login:{text}")
}

/// Rung `n` of the ladder over `base`: `base.max * 2^n` failures per `base.window * 4^n`.
fn rung_limit(base: Limit, rung: u32) -> Limit {
    let window_factor = 4_u32.saturating_pow(rung);
    Limit {
        max: base.max.saturating_mul(2_u32.saturating_pow(rung)),
        window: base
            .window
            .checked_mul(window_factor)
            .unwrap_or(Duration::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_clients_are_keyed_by_their_address_in_one_spelling() {
        assert_eq!(
            client_key(Some("203.0.113.7".parse().unwrap())),
            "203.0.113.7"
        );
        assert_eq!(
            client_key(Some("::ffff:203.0.113.7".parse().unwrap())),
            "203.0.113.7"
        );
        assert_eq!(client_key(None), "unknown");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_slash_64() {
        let a = client_key(Some("2001:db8:0:1::1".parse().unwrap()));
        let b = client_key(Some("2001:0DB8:0000:0001:ffff:1:2:3".parse().unwrap()));
        let other = client_key(Some("2001:db8:0:2::1".parse().unwrap()));
        assert_eq!(a, "2001:db8:0:1::/64");
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[test]
    fn a_login_subject_is_canonical_and_keeps_no_text() {
        assert_eq!(
            login_subject(" Jane@Example.com"),
            login_subject("jane@example.com")
        );
        assert_ne!(login_subject("jane"), login_subject("john"));
        assert!(!login_subject("hunter2-password").contains("hunter2"));
    }

    #[test]
    fn each_rung_allows_twice_the_failures_over_four_times_the_window() {
        let base: Limit = "5/15m".parse().unwrap();
        assert_eq!(rung_limit(base, 0), base);
        assert_eq!(rung_limit(base, 1), "10/1h".parse().unwrap());
        assert_eq!(rung_limit(base, 2), "20/4h".parse().unwrap());
    }
}
