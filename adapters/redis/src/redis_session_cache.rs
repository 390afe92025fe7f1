//! `RedisSessionCache`: the `SessionCache` port over Redis, shared by every instance, so that a
//! session ended through one instance fails at once on all of them.
//!
//! Semantics are the port's, as `twofa_memory::memory_session_cache` states them: an answer is
//! held for its ttl; a `Live` one never past its session's `expires_at`; `put_if_absent`
//! writes only where nothing is held; `end` replaces whatever is.
//!
//! Keys: `<prefix><session id>` (the hyphenated UUID), a string per session:
//! - `ended` for `CachedSession::Ended`;
//! - `live:<user id>:<expires_at in Unix microseconds>` for `CachedSession::Live` (the
//!   microsecond is what the SQL stores keep; anything finer is dropped, never rounded up).
//!
//! Any other value is not one this adapter writes: reading it is `PortError::Unexpected`.
//!
//! Each call is one command on one key, so the prefix needs no `{…}` hash tag (one in it does
//! no harm): `GET`; `SET … PX <ttl> NX` for `put_if_absent` (Redis decides atomically whether
//! an answer is held, so a lookup racing an `end` cannot put `Live` back); `SET … PX <ttl>`
//! for `end`. Expiry is Redis's own: a ttl is sent in milliseconds, rounded up (never `PX 0`,
//! which Redis refuses) and at most a century. A `Live` answer's ttl is cut at its session's
//! `expires_at` by the cache's `Clock` (one already expired is not stored), and `get` also
//! refuses a `Live` answer whose `expires_at` has passed by that clock, so an instance whose
//! clock runs ahead of the writer's never answers `Live` for an expired session.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{CachedSession, Clock, PortError, ProbeError, SessionCache, SessionId, UserId};

use crate::{RedisCallError, RedisConnection};

/// The value of an `Ended` answer.
const ENDED: &str = "ended";
/// What the value of a `Live` answer starts with.
const LIVE_PREFIX: &str = "live:";

/// Short-lived answers about sessions in Redis, shared by every handle built with the same
/// prefix.
pub struct RedisSessionCache {
    connection: RedisConnection,
    key_prefix: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisSessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionCache")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisSessionCache {
    /// The cache whose keys start with `key_prefix` (`{twofa}:sessions:`), keeping time with
    /// `clock` (to cut a `Live` answer's ttl at its session's end). Handles built with the same
    /// prefix share their answers.
    pub fn new(connection: RedisConnection, key_prefix: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            connection,
            key_prefix,
            clock,
        }
    }

    /// The prefix of the cache's keys.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    fn key(&self, id: SessionId) -> String {
        format!("{}{id}", self.key_prefix)
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, PortError> {
        self.connection
            .query(command)
            .await
            .map_err(|error| port_error(call_error(error)))
    }
}

#[async_trait]
impl SessionCache for RedisSessionCache {
    async fn get(&self, id: SessionId) -> Result<Option<CachedSession>, PortError> {
        let key = self.key(id);
        let value: Option<String> = self.query(redis::cmd("GET").arg(&key)).await?;
        let Some(value) = value else {
            return Ok(None);
        };
        let answer = decode(&value)
            .with_context(|| format!("{key} does not hold a cached session answer"))?;
        Ok(match answer {
            CachedSession::Live { expires_at, .. } if expires_at <= self.clock.now() => None,
            CachedSession::Live { .. } | CachedSession::Ended => Some(answer),
        })
    }

    async fn put_if_absent(
        &self,
        id: SessionId,
        answer: CachedSession,
        ttl: Duration,
    ) -> Result<(), PortError> {
        let ttl = match answer {
            CachedSession::Live { expires_at, .. } => {
                let left = (expires_at - self.clock.now()).to_std().unwrap_or_default();
                ttl.min(left)
            }
            CachedSession::Ended => ttl,
        };
        if ttl.is_zero() {
            return Ok(());
        }
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(id))
            .arg(encode(answer))
            .arg("PX")
            .arg(ttl_millis(ttl))
            .arg("NX");
        // `OK` when written, nil when an answer was already held: both are success.
        self.query::<()>(&command).await
    }

    async fn end(&self, id: SessionId, ttl: Duration) -> Result<(), PortError> {
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(id))
            .arg(ENDED)
            .arg("PX")
            .arg(ttl_millis(ttl));
        self.query::<()>(&command).await
    }

    async fn forget(&self, id: SessionId) -> Result<(), PortError> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(id));
        self.query::<()>(&command).await
    }
}

/// What `RedisConnection::query` reports, split back into "unreachable" and "answered with an
/// error" (its `Failed` carries the driver's error, which says which it was).
fn call_error(error: ProbeError) -> RedisCallError {
    match error {
        ProbeError::TimedOut(timeout) => {
            RedisCallError::Unavailable(anyhow::anyhow!("no answer from Redis within {timeout:?}"))
        }
        ProbeError::Failed(cause) => match cause.downcast::<redis::RedisError>() {
            Ok(error) => RedisCallError::from(error),
            Err(other) => RedisCallError::Failed(other),
        },
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

/// The value stored for `answer`.
fn encode(answer: CachedSession) -> String {
    match answer {
        CachedSession::Live {
            user_id,
            expires_at,
        } => format!("{LIVE_PREFIX}{user_id}:{}", expires_at.timestamp_micros()),
        CachedSession::Ended => ENDED.to_owned(),
    }
}

/// The answer `value` holds.
fn decode(value: &str) -> anyhow::Result<CachedSession> {
    if value == ENDED {
        return Ok(CachedSession::Ended);
    }
    let (user_id, expires_at) = value
        .strip_prefix(LIVE_PREFIX)
        .and_then(|live| live.split_once(':'))
        .context("neither `ended` nor `live:<user id>:<expiry>`")?;
    let user_id: UserId = user_id.parse().context("the user id is not a UUID")?;
    let expires_at = expires_at
        .parse()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .context("the expiry is not a time in Unix microseconds")?;
    Ok(CachedSession::Live {
        user_id,
        expires_at,
    })
}

/// `ttl` in milliseconds, rounded up, at least 1 (Redis refuses `PX 0`) and at most a century
/// (Redis refuses an expiry that overflows once added to its clock).
fn ttl_millis(ttl: Duration) -> i64 {
    const CENTURY_MS: i64 = 100 * 366 * 86_400_000;
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    i64::try_from(millis)
        .unwrap_or(i64::MAX)
        .clamp(1, CENTURY_MS)
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn live() -> CachedSession {
        CachedSession::Live {
            user_id: "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap(),
            expires_at: DateTime::parse_from_rfc3339("2026-12-25T10:00:00.123456Z")
                .unwrap()
                .to_utc(),
        }
    }

    #[test]
    fn answers_round_trip_through_their_value() {
        assert_eq!(
            encode(live()),
            "live:67e55044-10b1-426f-9247-bb680e5fe0c8:1798192800123456"
        );
        assert_eq!(decode(&encode(live())).unwrap(), live());
        assert_eq!(encode(CachedSession::Ended), "ended");
        assert_eq!(decode("ended").unwrap(), CachedSession::Ended);
    }

    #[test]
    fn an_expiry_finer_than_a_microsecond_is_rounded_down() {
        let precise = DateTime::parse_from_rfc3339("2026-12-25T10:00:00.123456789Z")
            .unwrap()
            .to_utc();
        let answer = CachedSession::Live {
            user_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            expires_at: precise,
        };
        let CachedSession::Live { expires_at, .. } = decode(&encode(answer)).unwrap() else {
            panic!("a live answer decodes as live");
        };
        assert!(expires_at < precise);
        assert_eq!(
            precise - expires_at,
            chrono::TimeDelta::nanoseconds(789),
            "{expires_at}"
        );
    }

    #[test]
    fn values_this_adapter_does_not_write_are_refused() {
        for value in [
            "",
            "Ended",
            "live",
            "live:",
            "live:not-a-uuid:1798192800123456",
            "live:67e55044-10b1-426f-9247-bb680e5fe0c8",
            "live:67e55044-10b1-426f-9247-bb680e5fe0c8:",
            "live:67e55044-10b1-426f-9247-bb680e5fe0c8:soon",
            "live:67e55044-10b1-426f-9247-bb680e5fe0c8:99999999999999999999",
            "{\"live\":true}",
        ] {
            assert!(decode(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn ttls_round_up_to_a_millisecond_and_never_to_zero() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_mins(15)), 900_000);
        assert_eq!(ttl_millis(Duration::MAX), 100 * 366 * 86_400_000);
    }

    #[test]
    fn a_refused_connection_is_unavailability_and_a_wrong_reply_is_unexpected() {
        let refused = ProbeError::Failed(
            redis::RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused)).into(),
        );
        assert!(matches!(
            port_error(call_error(refused)),
            PortError::Unavailable {
                dependency: "redis",
                ..
            }
        ));
        let timed_out = ProbeError::TimedOut(Duration::from_millis(300));
        assert!(matches!(
            port_error(call_error(timed_out)),
            PortError::Unavailable { .. }
        ));
        let wrong_type = ProbeError::Failed(
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "not a string"))
                .into(),
        );
        assert!(matches!(
            port_error(call_error(wrong_type)),
            PortError::Unexpected(_)
        ));
    }
}
