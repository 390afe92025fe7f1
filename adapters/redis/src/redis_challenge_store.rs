//! `RedisChallengeStore`: the `ChallengeStore` port over Redis, shared by every instance, so
//! that a challenge issued by one instance is answered on any other, and taken once only.
//!
//! Semantics are the port's, as `twofa_memory::memory_challenge_store` states them.
//!
//! Keys: `<prefix><key>` (the caller's key as given), a hash per entry:
//! - `v`: the value;
//! - `f`: the wrong answers counted since the `put`.
//!
//! Expiry is Redis's own: `put` sets a `PEXPIRE` of the ttl (in milliseconds, rounded up, at
//! most a century), and nothing else changes it, so failures keep the entry's ttl. Each write
//! is one Lua script over one key, hence atomic across instances: `put` (DEL, HSET,
//! PEXPIRE), `take` (compare and DEL) and `fail` (HINCRBY if it exists). Since every script
//! touches one key, keys need no `{…}` hash tag of their own to stay within one Redis
//! Cluster slot (the `{twofa}` in the default prefix does no harm). `get` is one `HMGET`,
//! `remove` one `DEL`.
//!
//! The value comparison of `take` runs in Redis and is not constant-time; callers store
//! digests (a challenge token's hash, a code's keyed hash), never the secret, so its timing
//! says nothing usable about a secret. A hash under the prefix that this adapter did not
//! write (another type, a value without `f` as a number) is `PortError::Unexpected`.

use std::{sync::LazyLock, time::Duration};

use anyhow::Context as _;
use async_trait::async_trait;
use redis::{Script, ScriptInvocation};
use twofa_domain::{ChallengeStore, PortError, StoredEntry};

use crate::{RedisCallError, RedisConnection};

static PUT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/challenge_put.lua")));
static TAKE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/challenge_take.lua")));
static FAIL: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/challenge_fail.lua")));

/// Challenges and pending codes in Redis, shared by every handle built with the same prefix.
pub struct RedisChallengeStore {
    connection: RedisConnection,
    key_prefix: String,
}

impl std::fmt::Debug for RedisChallengeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChallengeStore")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisChallengeStore {
    /// The store whose keys start with `key_prefix` (`{twofa}:challenges:`). Handles built
    /// with the same prefix share their entries.
    pub fn new(connection: RedisConnection, key_prefix: String) -> Self {
        Self {
            connection,
            key_prefix,
        }
    }

    /// The prefix of the store's keys.
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
        Ok(self.connection.invoke(script).await?)
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, PortError> {
        self.connection
            .query(command)
            .await
            .map_err(|error| RedisCallError::from(error).into())
    }
}

#[async_trait]
impl ChallengeStore for RedisChallengeStore {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), PortError> {
        if ttl.is_zero() {
            // Nothing is live for no time: what was there goes, as with any put.
            return self.remove(key).await;
        }
        let mut script = PUT.prepare_invoke();
        script.key(self.key(key)).arg(value).arg(ttl_millis(ttl));
        let _stored: i64 = self.invoke(&script).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredEntry>, PortError> {
        let key = self.key(key);
        let mut command = redis::cmd("HMGET");
        command.arg(&key).arg("v").arg("f");
        let (value, failures): (Option<String>, Option<String>) = self.query(&command).await?;
        match (value, failures) {
            (None, None) => Ok(None),
            (Some(value), Some(failures)) => {
                let failures = failures
                    .parse()
                    .with_context(|| format!("{key} holds a failure count that is no u32"))?;
                Ok(Some(StoredEntry { value, failures }))
            }
            (Some(_), None) | (None, Some(_)) => {
                Err(anyhow::anyhow!("{key} does not hold a challenge entry (`v` and `f`)").into())
            }
        }
    }

    async fn take(&self, key: &str, expected: &str, max_failures: u32) -> Result<bool, PortError> {
        let mut script = TAKE.prepare_invoke();
        script.key(self.key(key)).arg(expected).arg(max_failures);
        let taken: i64 = self.invoke(&script).await?;
        Ok(taken == 1)
    }

    async fn fail(&self, key: &str) -> Result<Option<u32>, PortError> {
        let mut script = FAIL.prepare_invoke();
        script.key(self.key(key));
        self.invoke(&script).await
    }

    async fn remove(&self, key: &str) -> Result<(), PortError> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(key));
        self.query::<()>(&command).await
    }
}

/// `ttl` in milliseconds, rounded up, at least 1 (Redis refuses `PEXPIRE 0` as an expiry in
/// the future) and at most a century (Redis refuses an expiry that overflows its clock).
fn ttl_millis(ttl: Duration) -> i64 {
    const CENTURY_MS: i64 = 100 * 366 * 86_400_000;
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    i64::try_from(millis)
        .unwrap_or(i64::MAX)
        .clamp(1, CENTURY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RedisSettings;

    #[test]
    fn ttls_round_up_to_a_millisecond_and_stay_within_a_century() {
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_mins(5)), 300_000);
        assert_eq!(ttl_millis(Duration::MAX), 100 * 366 * 86_400_000);
    }

    #[tokio::test]
    async fn keys_are_the_callers_under_the_prefix() {
        let connection = RedisConnection::open(&RedisSettings {
            url: "redis://127.0.0.1:1".into(),
            timeout: Duration::from_millis(100),
        })
        .unwrap();
        let store = RedisChallengeStore::new(connection, "{twofa}:challenges:".into());
        assert_eq!(store.key("login:ab12"), "{twofa}:challenges:login:ab12");
        assert_eq!(store.key_prefix(), "{twofa}:challenges:");
    }

    #[tokio::test]
    async fn a_redis_that_is_not_there_makes_every_call_unavailable_at_once() {
        // Port 1 on loopback: nothing listens there, the connection is refused.
        let connection = RedisConnection::open(&RedisSettings {
            url: "redis://127.0.0.1:1".into(),
            timeout: Duration::from_millis(300),
        })
        .unwrap();
        let store = RedisChallengeStore::new(connection, "{twofa}:challenges:".into());
        let ttl = Duration::from_mins(5);
        let put = tokio::time::timeout(Duration::from_secs(3), store.put("k", "v", ttl)).await;
        let get = tokio::time::timeout(Duration::from_secs(3), store.get("k")).await;
        let take = tokio::time::timeout(Duration::from_secs(3), store.take("k", "v", 5)).await;
        let fail = tokio::time::timeout(Duration::from_secs(3), store.fail("k")).await;
        let remove = tokio::time::timeout(Duration::from_secs(3), store.remove("k")).await;
        let unavailable = |outcome: &Result<_, _>| {
            matches!(
                outcome,
                Ok(Err(PortError::Unavailable {
                    dependency: "redis",
                    ..
                }))
            )
        };
        assert!(unavailable(&put.map(|o| o.map(drop))), "put");
        assert!(unavailable(&get.map(|o| o.map(drop))), "get");
        assert!(unavailable(&take.map(|o| o.map(drop))), "take");
        assert!(unavailable(&fail.map(|o| o.map(drop))), "fail");
        assert!(unavailable(&remove), "remove");
    }
}
