//! `RedisConnection`: one multiplexed, self-reconnecting connection shared by the process.

use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use twofa_domain::{DependencyProbe, ProbeError};

use crate::RedisCallError;

/// How to reach Redis (`redis.*`).
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:port/db` (or `rediss://`).
    pub url: String,
    /// The longest any call may take (`redis.timeout`).
    pub timeout: Duration,
}

/// A connection that is opened on first use and reopened after Redis comes back, so the
/// process starts, and keeps running, while Redis is down.
#[derive(Clone)]
pub struct RedisConnection {
    manager: ConnectionManager,
    timeout: Duration,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Prepares the connection; nothing is sent until the first command.
    ///
    /// # Errors
    /// When the URL is not a Redis URL. Redis being down is not an error here.
    pub fn open(settings: &RedisSettings) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.url.as_str())
            .context("redis.url is not a valid Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .context("cannot set up the Redis connection")?;
        Ok(Self {
            manager,
            timeout: settings.timeout,
        })
    }

    /// The health probe of this connection.
    pub fn probe(&self) -> RedisProbe {
        RedisProbe {
            connection: self.clone(),
        }
    }

    /// Runs `command`, bounded by `redis.timeout`.
    ///
    /// # Errors
    /// `ProbeError::TimedOut` when Redis did not answer in time, `Failed` when it answered with
    /// an error or the connection is down.
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, ProbeError> {
        let mut manager = self.manager.clone();
        match tokio::time::timeout(self.timeout, command.query_async::<T>(&mut manager)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(ProbeError::Failed(error.into())),
            Err(_) => Err(ProbeError::TimedOut(self.timeout)),
        }
    }

    /// Runs a Lua script (`EVALSHA`, loading it first when Redis does not know it yet),
    /// bounded by `redis.timeout` as a whole.
    ///
    /// # Errors
    /// `RedisCallError::Unavailable` when Redis did not answer in time or the connection is
    /// down, `Failed` when the script raised an error or its reply does not convert to `T`.
    pub async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisCallError> {
        let mut manager = self.manager.clone();
        match tokio::time::timeout(self.timeout, script.invoke_async::<T>(&mut manager)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(RedisCallError::Unavailable(anyhow::anyhow!(
                "no answer from Redis within {:?}",
                self.timeout
            ))),
        }
    }
}

/// `PING`, bounded by `redis.timeout`.
#[derive(Debug, Clone)]
pub struct RedisProbe {
    connection: RedisConnection,
}

#[async_trait]
impl DependencyProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), ProbeError> {
        let pong: String = self.connection.query(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(ProbeError::Failed(anyhow::anyhow!(
                "unexpected PING answer"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_redis_url_is_refused_with_the_key_named() {
        let error = RedisConnection::open(&RedisSettings {
            url: "http://localhost".into(),
            timeout: Duration::from_secs(1),
        })
        .unwrap_err();
        assert!(error.to_string().contains("redis.url"));
    }

    #[tokio::test]
    async fn a_redis_that_is_not_there_is_down_at_once_not_hung() {
        // Port 1 on loopback: nothing listens there, the connection is refused.
        let connection = RedisConnection::open(&RedisSettings {
            url: "redis://127.0.0.1:1".into(),
            timeout: Duration::from_millis(500),
        })
        .unwrap();
        let outcome =
            tokio::time::timeout(Duration::from_secs(5), connection.probe().check()).await;
        assert!(matches!(outcome, Ok(Err(_))), "{outcome:?}");
    }
}
