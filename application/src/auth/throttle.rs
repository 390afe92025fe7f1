//! Throttling of the account flows: per-client limits keyed on a canonical address (IPv6 by its
//! /64), and login failure counting per (account, address) with exponential back-off and a
//! hard per-account limit (NIST SP 800-63B 5.2.2).
//!
//! The back-off is a ladder of windows: the base limit (`5/15m`) is the first rung; each rung
//! above allows twice the failures over four times the window (`10/1h`, `20/4h`), so each
//! further run of failures waits four times longer. Every rung's window ends on its own, so
//! no attacker can lock an account out for good; a success (or a password reset) clears them.

use std::{net::IpAddr, time::Duration};

use twofa_domain::{Decision, Limit, RateLimiter};

use super::{AuthError, Throttled};

/// Rungs of the per-(account, address) ladder.
const RUNGS: u32 = 3;

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
pub(crate) async fn hit_per_client(
    limiter: &dyn RateLimiter,
    scope: &str,
    ip: Option<IpAddr>,
    limit: Limit,
) -> Result<(), AuthError> {
    let key = format!("{scope}:ip:{}", client_key(ip));
    match limiter.hit(&key, limit).await? {
        Decision::Allowed { .. } => Ok(()),
        Decision::Limited { retry_after } => Err(AuthError::RateLimited(Throttled {
            limit: limit.max,
            retry_after,
        })),
    }
}

/// The failure counters of one account (named by `account`: a user id, or for an unknown
/// login its canonical text, so unknown and known logins are throttled alike) from one client.
pub(crate) struct LoginFailures<'a> {
    limiter: &'a dyn RateLimiter,
    per_account_ip: Limit,
    per_account: Limit,
    account: String,
    client: String,
}

impl<'a> LoginFailures<'a> {
    pub(crate) fn new(
        limiter: &'a dyn RateLimiter,
        per_account_ip: Limit,
        per_account: Limit,
        account: String,
        ip: Option<IpAddr>,
    ) -> Self {
        Self {
            limiter,
            per_account_ip,
            per_account,
            account,
            client: client_key(ip),
        }
    }

    /// Each counter with its limit: the ladder for this address, then the account's own.
    fn counters(&self) -> impl Iterator<Item = (String, Limit)> + '_ {
        (0..RUNGS)
            .map(|rung| {
                let limit = rung_limit(self.per_account_ip, rung);
                let key = format!("login-failures:{}:{}:r{rung}", self.account, self.client);
                (key, limit)
            })
            .chain(std::iter::once((
                format!("login-failures:{}", self.account),
                self.per_account,
            )))
    }

    /// Refuses while any counter is over its limit, with the longest wait among them.
    pub(crate) async fn check(&self) -> Result<(), AuthError> {
        let mut refusal: Option<Throttled> = None;
        for (key, limit) in self.counters() {
            if let Decision::Limited { retry_after } = self.limiter.check(&key, limit).await? {
                let longer = refusal.is_none_or(|r| retry_after > r.retry_after);
                if longer {
                    refusal = Some(Throttled {
                        limit: limit.max,
                        retry_after,
                    });
                }
            }
        }
        refusal.map_or(Ok(()), |throttled| Err(AuthError::RateLimited(throttled)))
    }

    /// Counts one failure on every counter.
    pub(crate) async fn failed(&self) -> Result<(), AuthError> {
        for (key, limit) in self.counters() {
            self.limiter.hit(&key, limit).await?;
        }
        Ok(())
    }

    /// Forgets the failures (a success).
    pub(crate) async fn clear(&self) -> Result<(), AuthError> {
        for (key, _) in self.counters() {
            self.limiter.clear(&key).await?;
        }
        Ok(())
    }
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
    fn each_rung_allows_twice_the_failures_over_four_times_the_window() {
        let base: Limit = "5/15m".parse().unwrap();
        assert_eq!(rung_limit(base, 0), base);
        assert_eq!(rung_limit(base, 1), "10/1h".parse().unwrap());
        assert_eq!(rung_limit(base, 2), "20/4h".parse().unwrap());
    }
}
