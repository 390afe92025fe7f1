//! The `RateLimiter` port: counts attempts per key in a window, shared between instances.

use std::time::Duration;

use async_trait::async_trait;

use crate::PortError;

/// `max` attempts per `window` (written `N/window` in the configuration: `"30/1m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Attempts allowed in a window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

/// Why a limit did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Not `N/window`.
    #[error("write a limit as N/window, e.g. \"30/1m\"")]
    NotNOverWindow,
    /// N is not a whole number of at least 1.
    #[error("the count must be a whole number of at least 1")]
    BadCount,
    /// The window is not a duration such as `1m`, `15m`, `1h`.
    #[error("the window must be a duration such as 1m, 15m or 1h")]
    BadWindow,
}

impl std::str::FromStr for Limit {
    type Err = LimitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (count, window) = text.split_once('/').ok_or(LimitError::NotNOverWindow)?;
        let max: u32 = count.trim().parse().map_err(|_| LimitError::BadCount)?;
        if max == 0 {
            return Err(LimitError::BadCount);
        }
        let window = window.trim();
        let split = window
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(LimitError::BadWindow)?;
        let (amount, unit) = window.split_at(split);
        let amount: u64 = if amount.is_empty() {
            1
        } else {
            amount.parse().map_err(|_| LimitError::BadWindow)?
        };
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(LimitError::BadWindow),
        };
        if amount == 0 {
            return Err(LimitError::BadWindow);
        }
        Ok(Self {
            max,
            window: Duration::from_secs(amount.saturating_mul(seconds)),
        })
    }
}

/// A decision on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Within the limit.
    Allowed {
        /// Attempts left in this window (`RateLimit-Remaining`).
        remaining: u32,
        /// Until the window resets (`RateLimit-Reset`).
        reset: Duration,
    },
    /// Over the limit: refuse with 429.
    Limited {
        /// `Retry-After`.
        retry_after: Duration,
    },
}

/// Counts attempts per key.
///
/// # Errors
/// `PortError::Unavailable` when the shared store is down; callers then fall back to
/// per-process counters (never to no limit).
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one attempt on `key` and decides it against `limit`, atomically: of many
    /// concurrent attempts, exactly `limit.max` per window are allowed.
    async fn hit(&self, key: &str, limit: Limit) -> Result<Decision, PortError>;

    /// Decides against `limit` without counting (is `key` already over it?).
    async fn check(&self, key: &str, limit: Limit) -> Result<Decision, PortError>;

    /// Forgets `key`'s count (a successful login clears its failures).
    async fn clear(&self, key: &str) -> Result<(), PortError>;

    /// Takes back one attempt `hit` counted on `key` in its open window (an attempt answered
    /// 503 is not a failure): the count drops by one, never below zero, and the window does
    /// not move. Nothing happens when no window is open.
    async fn forgive(&self, key: &str) -> Result<(), PortError>;
}

/// The key of a per-address request window: `{scope}:ip:{client}` (`login:ip:203.0.113.7`).
///
/// Such a window only paces the requests of one address; a bounded store that runs out of
/// room may drop it before its end. Every other key (failure counters, back-off rungs,
/// markers of known clients, cooldowns) is kept until its window ends.
pub fn per_address_key(scope: &str, client: &str) -> String {
    format!("{scope}:ip:{client}")
}

/// Whether `key` was built by [`per_address_key`]: a scope without `:`, then `ip:`.
pub fn is_per_address_key(key: &str) -> bool {
    key.split_once(':')
        .is_some_and(|(scope, rest)| !scope.is_empty() && rest.starts_with("ip:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_the_configuration_form() {
        assert_eq!(
            "30/1m".parse(),
            Ok(Limit {
                max: 30,
                window: Duration::from_mins(1)
            })
        );
        assert_eq!(
            "5/15m".parse(),
            Ok(Limit {
                max: 5,
                window: Duration::from_mins(15)
            })
        );
        assert_eq!(
            "100/1h".parse(),
            Ok(Limit {
                max: 100,
                window: Duration::from_hours(1)
            })
        );
        assert_eq!(
            "10/h".parse(),
            Ok(Limit {
                max: 10,
                window: Duration::from_hours(1)
            })
        );
    }

    #[test]
    fn per_address_keys_are_told_from_every_other_key() {
        assert!(is_per_address_key(&per_address_key("login", "203.0.113.7")));
        assert!(is_per_address_key(&per_address_key(
            "register",
            "2001:db8::/64"
        )));
        assert!(!is_per_address_key("login-attempts:user:42:203.0.113.7:r0"));
        assert!(!is_per_address_key("login-attempts:login:abc:ip:x"));
        assert!(!is_per_address_key("login-known:user:42:203.0.113.7"));
        assert!(!is_per_address_key(":ip:203.0.113.7"));
    }

    #[test]
    fn malformed_limits_are_refused() {
        assert_eq!("30".parse::<Limit>(), Err(LimitError::NotNOverWindow));
        assert_eq!("0/1m".parse::<Limit>(), Err(LimitError::BadCount));
        assert_eq!("x/1m".parse::<Limit>(), Err(LimitError::BadCount));
        assert_eq!("5/1y".parse::<Limit>(), Err(LimitError::BadWindow));
        assert_eq!("5/0m".parse::<Limit>(), Err(LimitError::BadWindow));
        assert_eq!("5/m5".parse::<Limit>(), Err(LimitError::BadWindow));
    }
}
