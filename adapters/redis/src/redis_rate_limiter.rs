//! `RedisRateLimiter`: the `RateLimiter` port over Redis, shared by every instance, each
//! operation one Lua script so that a count and its window change together atomically.
//!
//! Semantics are the port's, as `twofa_memory::memory_rate_limiter` states them: a fixed
//! window per key opened by its first hit; a limited hit is counted but never moves the
//! window; `check` answers what the next hit would get.
//!
//! Keys: `<prefix><key>`, a hash per key with an open window:
//! - `end`: the end of the window, Unix milliseconds by the limiter's `Clock` (passed to every
//!   script, never Redis `TIME`, so a manual clock drives windows in tests and `reset` is
//!   computed from our clock);
//! - `count`: the attempts made in the window, limited ones included.
//!
//! A hash whose `end` has passed is a closed window, replaced by the next hit. Each hash also
//! gets a `PEXPIRE` of its window plus a second when it is opened, as a safety net so that
//! Redis forgets idle keys; the window itself is decided by `end` only. Every script touches
//! one key, so the prefix needs no `{…}` hash tag (one in it does no harm).
//!
//! Times are milliseconds: sub-millisecond parts of the clock and of windows are dropped (a
//! window rounds up to a whole millisecond). A call that times out may still have been
//! counted on the server: an attempt counted twice errs on the side of limiting.

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{Script, ScriptInvocation};
use twofa_domain::{Clock, Decision, Limit, PortError, RateLimiter};

use crate::{RedisCallError, RedisConnection};

static HIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/rate_hit.lua")));
static CHECK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/rate_check.lua")));
static CLEAR: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/rate_clear.lua")));
static FORGIVE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/rate_forgive.lua")));

/// How long Redis keeps a hash past the end of its window (clock drift between us and Redis).
const EXPIRY_MARGIN_MS: i64 = 1000;

/// Fixed windows per key in Redis, shared by every handle built with the same prefix.
pub struct RedisRateLimiter {
    connection: RedisConnection,
    key_prefix: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// The limiter whose keys start with `key_prefix` (`twofa:rate:`), keeping time with
    /// `clock`. Handles built with the same prefix share their counts.
    pub fn new(connection: RedisConnection, key_prefix: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            connection,
            key_prefix,
            clock,
        }
    }

    /// The prefix of the limiter's keys.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, PortError> {
        self.connection.invoke(script).await.map_err(port_error)
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
        let now = millis(self.clock.now());
        let window = window_millis(limit.window);
        let mut script = HIT.prepare_invoke();
        script
            .key(self.key(key))
            .arg(now)
            .arg(now.saturating_add(window))
            .arg(window.saturating_add(EXPIRY_MARGIN_MS));
        let (count, end): (u64, i64) = self.invoke(&script).await?;
        let left = time_left(now, end, limit.window);
        Ok(match remaining(count, limit.max) {
            Some(remaining) => Decision::Allowed {
                remaining,
                reset: left,
            },
            None => Decision::Limited { retry_after: left },
        })
    }

    async fn check(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
        let now = millis(self.clock.now());
        let mut script = CHECK.prepare_invoke();
        script.key(self.key(key)).arg(now);
        let window: Option<(u64, i64)> = self.invoke(&script).await?;
        Ok(match window {
            None => Decision::Allowed {
                remaining: limit.max,
                reset: limit.window,
            },
            Some((count, end)) => {
                let left = time_left(now, end, limit.window);
                match remaining(count, limit.max) {
                    Some(remaining) if remaining > 0 => Decision::Allowed {
                        remaining,
                        reset: left,
                    },
                    Some(_) | None => Decision::Limited { retry_after: left },
                }
            }
        })
    }

    async fn clear(&self, key: &str) -> Result<(), PortError> {
        let mut script = CLEAR.prepare_invoke();
        script.key(self.key(key));
        let _deleted: i64 = self.invoke(&script).await?;
        Ok(())
    }

    async fn forgive(&self, key: &str) -> Result<(), PortError> {
        let mut script = FORGIVE.prepare_invoke();
        script.key(self.key(key)).arg(millis(self.clock.now()));
        let _left: i64 = self.invoke(&script).await?;
        Ok(())
    }
}

fn port_error(error: RedisCallError) -> PortError {
    match error {
        RedisCallError::Unavailable(source) => PortError::Unavailable {
            dependency: "redis",
            source,
        },
        RedisCallError::Failed(source) => PortError::Unexpected(source),
    }
}

/// Attempts left after `count` of `max`, or `None` when `count` is over `max`.
fn remaining(count: u64, max: u32) -> Option<u32> {
    u64::from(max)
        .checked_sub(count)
        .and_then(|left| u32::try_from(left).ok())
}

/// `at` in Unix milliseconds, rounded down.
fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// `window` in milliseconds, rounded up, at least 1 and at most a century (so that an end
/// stays exact in a Lua number).
fn window_millis(window: Duration) -> i64 {
    const CENTURY_MS: i64 = 100 * 366 * 86_400_000;
    let nanos = window.as_nanos().div_ceil(1_000_000);
    i64::try_from(nanos)
        .unwrap_or(i64::MAX)
        .clamp(1, CENTURY_MS)
}

/// From `now` to `end` (ms), never past `window` (the clock went back) nor below zero.
fn time_left(now: i64, end: i64, window: Duration) -> Duration {
    let left = u64::try_from(end.saturating_sub(now)).unwrap_or_default();
    Duration::from_millis(left).min(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_over_the_limit_has_nothing_remaining() {
        assert_eq!(remaining(0, 3), Some(3));
        assert_eq!(remaining(3, 3), Some(0));
        assert_eq!(remaining(4, 3), None);
        assert_eq!(remaining(u64::MAX, u32::MAX), None);
    }

    #[test]
    fn windows_round_up_to_a_millisecond() {
        assert_eq!(window_millis(Duration::from_nanos(1)), 1);
        assert_eq!(window_millis(Duration::from_micros(1500)), 2);
        assert_eq!(window_millis(Duration::from_mins(1)), 60_000);
        assert_eq!(window_millis(Duration::MAX), 100 * 366 * 86_400_000);
    }

    #[test]
    fn time_left_stays_within_the_window() {
        let window = Duration::from_mins(1);
        assert_eq!(time_left(0, 30_000, window), Duration::from_secs(30));
        assert_eq!(time_left(0, 90_000, window), window);
        assert_eq!(time_left(10, 5, window), Duration::ZERO);
    }
}
