//! Throttling of the account flows: per-client limits keyed on a canonical address (IPv6 by its
//! /64), and login failure counting per (account, address) with exponential back-off and a
//! hard per-account limit (NIST SP 800-63B 5.2.2).
//!
//! The back-off is a ladder of windows: the base limit (`5/15m`) is the first rung; each rung
//! above allows twice the attempts over four times the window (`10/1h`, `20/4h`), so each
//! further run of failures waits four times longer. Attempts made while refused count too,
//! so hammering climbs the ladder. Every rung's window ends on its own, so no attacker can
//! lock an account out for good; a success (or a password reset) clears them.

use std::{net::IpAddr, sync::Arc, time::Duration};

use twofa_domain::{Decision, Limit, PortError, RateLimiter};

use super::Throttled;

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
    let key = format!("{scope}:ip:{}", client_key(ip));
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

    /// The limiter the counters live in (for the per-client limits beside them).
    pub(crate) fn limiter(&self) -> &dyn RateLimiter {
        self.limiter.as_ref()
    }

    /// The counters of attempts on `ladder_subject` from `ip` and on `account`.
    pub(crate) fn attempts(
        &self,
        ladder_subject: &str,
        ip: Option<IpAddr>,
        account: String,
    ) -> LoginAttempts<'_> {
        LoginAttempts::new(
            self.limiter.as_ref(),
            (self.per_account_ip, self.per_account),
            ladder_subject,
            ip,
            account,
        )
    }

    /// The counters of the account with id `user` from `ip`, keyed on the account (a password
    /// change or reset, where no login text was typed).
    pub(crate) fn account_attempts(
        &self,
        user: twofa_domain::UserId,
        ip: Option<IpAddr>,
    ) -> LoginAttempts<'_> {
        let account = format!("user:{user}");
        self.attempts(&account, ip, account.clone())
    }
}

/// The login attempt counters of one account from one client. Each attempt is counted before
/// the password is checked (one atomic hit per counter), so concurrent guesses cannot slip
/// past a limit between a check and a count; a success clears the counters, so what remains
/// are consecutive failures.
///
/// The ladder is keyed on the login text as typed (canonical and hashed: unknown and known
/// logins are throttled alike, and a 429 does not tell which e-mail address belongs to which
/// username); the hard limit on the account when it exists. The hard limit does not hold back
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
            .chain(
                (!self.is_known_client)
                    .then(|| (format!("login-attempts:{}", self.account), self.per_account)),
            )
    }

    /// Counts this attempt on every counter; refused, with the longest wait among them, when
    /// any is over its limit.
    pub(crate) async fn attempt<E: From<Throttled> + From<PortError>>(&self) -> Result<(), E> {
        let mut refusal: Option<Throttled> = None;
        for (key, limit) in self.counters() {
            if let Decision::Limited { retry_after } = self.limiter.hit(&key, limit).await? {
                let is_longer = refusal.is_none_or(|r| retry_after > r.retry_after);
                if is_longer {
                    refusal = Some(Throttled {
                        limit: limit.max,
                        retry_after,
                    });
                }
            }
        }
        refusal.map_or(Ok(()), |throttled| Err(throttled.into()))
    }

    /// Forgets the attempts (a success, or a password reset), the account's own included.
    pub(crate) async fn clear(&self) -> Result<(), PortError> {
        for (key, _) in self.counters() {
            self.limiter.clear(&key).await?;
        }
        if self.is_known_client {
            self.limiter
                .clear(&format!("login-attempts:{}", self.account))
                .await?;
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
