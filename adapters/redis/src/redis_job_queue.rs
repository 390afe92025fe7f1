//! `RedisJobQueue`: the `JobQueue` port over Redis, each operation one Lua script, so it is
//! atomic however many processes share the queue.
//!
//! Keys, under the queue's prefix (which carries a `{…}` hash tag, see `QueueKeys`):
//! - `job:<id>`: a hash per job: `kind`, `payload` (JSON), `state` (`pending`, `running`,
//!   `done`, `dead`), `attempts`, `max_attempts`, `run_at`, `lease_until`, `lease_token`,
//!   `idempotency_key`, `created_at`, `finished_at`, `last_error`;
//! - `due`: pending jobs scored by `run_at`; equal scores order by member, the hyphenated
//!   UUID v7, which is enqueue order to the millisecond;
//! - `inflight`: running jobs scored by `lease_until`; one whose lease ran out is claimable
//!   again, as if it fell due when the lease ended;
//! - `finished`: done and dead jobs scored by `finished_at`, for the purge;
//! - `dead`: the dead letter, a set of ids;
//! - `idem:<key>`: the id of the job holding an idempotency key, deleted with that job.
//!
//! Times are Unix milliseconds read from the queue's `Clock` and passed to every script
//! (never Redis `TIME`), so a manual clock drives delays and leases in tests. Sub-millisecond
//! parts are dropped.
//!
//! A call that times out may still have run on the server: a claim then goes unreported and
//! its lease runs out, and an enqueue retried by the caller is deduplicated only by an
//! idempotency key. The queue is as durable as the Redis under it: run it with persistence
//! (AOF) and `maxmemory-policy noeviction`, or an evicted key loses a job.

mod queue_keys;

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{Script, ScriptInvocation};
use twofa_domain::{
    ClaimedJob, Clock, JobId, JobQueue, NewJob, QueueCounts, QueueError, SecretGenerator,
    UnfinishedJob, UnfinishedState, time_ordered_id,
};

use self::queue_keys::QueueKeys;
use crate::{RedisCallError, RedisConnection};

static ENQUEUE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/enqueue.lua")));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/claim.lua")));
static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/renew.lua")));
static RETRY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/retry.lua")));
static FINISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/finish.lua")));
static COUNTS: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/counts.lua")));
static UNFINISHED: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/unfinished.lua")));
static PURGE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/purge.lua")));

/// Jobs one purge script deletes, so that a large purge does not stall Redis.
const PURGE_BATCH: u64 = 500;

/// What the claim script answers: id, kind, payload, attempt, `max_attempts`, `created_at`.
type ClaimReply = Option<(String, String, String, u32, u32, i64)>;

/// What the unfinished script answers per job: id, kind, state, time, attempts, last error.
type UnfinishedReply = Vec<(String, String, String, i64, u32, String)>;

/// A reliable queue in Redis: leases, delays, retries, a dead letter and idempotency keys.
pub struct RedisJobQueue {
    connection: RedisConnection,
    keys: QueueKeys,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
}

impl std::fmt::Debug for RedisJobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisJobQueue")
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

impl RedisJobQueue {
    /// The queue whose keys start with `key_prefix`, keeping time with `clock`; job ids and
    /// lease tokens come from `ids`.
    ///
    /// `key_prefix` should carry a hash tag (`{twofa}:jobs:`) so that every key of the queue
    /// is in one Redis Cluster slot; one without is put inside a hash tag (`twofa:jobs:` is
    /// used as `{twofa:jobs:}`). Handles built with the same prefix share one queue.
    pub fn new(
        connection: RedisConnection,
        key_prefix: String,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            connection,
            keys: QueueKeys::new(key_prefix),
            clock,
            ids,
        }
    }

    /// The prefix of the queue's keys, with its hash tag.
    pub fn key_prefix(&self) -> &str {
        self.keys.prefix()
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, QueueError> {
        self.connection.invoke(script).await.map_err(queue_error)
    }

    /// Runs a script that answers 1 when the claim it was given still holds, 0 when not.
    async fn with_claim(&self, script: &ScriptInvocation<'_>) -> Result<(), QueueError> {
        match self.invoke::<i64>(script).await? {
            1 => Ok(()),
            0 => Err(QueueError::LeaseLost),
            other => Err(QueueError::Unexpected(anyhow!(
                "a lease script answered {other}"
            ))),
        }
    }

    /// Ends `job` as `state` (`done` or `dead`, with `error`).
    async fn finish(
        &self,
        job: &ClaimedJob,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), QueueError> {
        let mut script = FINISH.prepare_invoke();
        script
            .key(self.keys.job(job.id))
            .key(self.keys.inflight())
            .key(self.keys.finished())
            .key(self.keys.dead())
            .arg(job.id.to_string())
            .arg(&job.lease_token)
            .arg(state)
            .arg(millis(self.clock.now()));
        if let Some(error) = error {
            script.arg(error);
        }
        self.with_claim(&script).await
    }
}

#[async_trait]
impl JobQueue for RedisJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<JobId, QueueError> {
        let now = self.clock.now();
        let id = JobId::from_uuid(time_ordered_id(now, self.ids.as_ref()));
        let payload =
            serde_json::to_string(&job.payload).context("cannot encode the job's payload")?;
        let mut script = ENQUEUE.prepare_invoke();
        script.key(self.keys.job(id)).key(self.keys.due());
        if let Some(key) = &job.idempotency_key {
            script.key(self.keys.idempotency(key));
        }
        script
            .arg(id.to_string())
            .arg(&job.kind)
            .arg(payload)
            .arg(job.max_attempts)
            .arg(millis(job.run_at.unwrap_or(now)))
            .arg(millis(now))
            .arg(job.idempotency_key.as_deref().unwrap_or_default());
        let holder: String = self.invoke(&script).await?;
        parse_id(&holder)
    }

    async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>, QueueError> {
        let now = millis(self.clock.now());
        let lease_until = lease_end(now, lease);
        let token = self.ids.hex(16);
        let mut script = CLAIM.prepare_invoke();
        script
            .key(self.keys.due())
            .key(self.keys.inflight())
            .arg(now)
            .arg(lease_until)
            .arg(&token)
            .arg(self.keys.job_prefix());
        let reply: ClaimReply = self.invoke(&script).await?;
        let Some((id, kind, payload, attempt, max_attempts, created_at)) = reply else {
            return Ok(None);
        };
        Ok(Some(ClaimedJob {
            id: parse_id(&id)?,
            kind,
            payload: serde_json::from_str(&payload)
                .with_context(|| format!("job {id} has an unreadable payload"))?,
            attempt,
            max_attempts,
            lease_token: token,
            lease_until: from_millis(lease_until)?,
            created_at: from_millis(created_at)?,
        }))
    }

    async fn renew(&self, job: &ClaimedJob, lease: Duration) -> Result<DateTime<Utc>, QueueError> {
        let until = lease_end(millis(self.clock.now()), lease);
        let mut script = RENEW.prepare_invoke();
        script
            .key(self.keys.job(job.id))
            .key(self.keys.inflight())
            .arg(job.id.to_string())
            .arg(&job.lease_token)
            .arg(until);
        self.with_claim(&script).await?;
        from_millis(until)
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<(), QueueError> {
        self.finish(job, "done", None).await
    }

    async fn retry(
        &self,
        job: &ClaimedJob,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        let mut script = RETRY.prepare_invoke();
        script
            .key(self.keys.job(job.id))
            .key(self.keys.inflight())
            .key(self.keys.due())
            .arg(job.id.to_string())
            .arg(&job.lease_token)
            .arg(millis(at))
            .arg(error);
        self.with_claim(&script).await
    }

    async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), QueueError> {
        self.finish(job, "dead", Some(error)).await
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let mut script = COUNTS.prepare_invoke();
        script
            .key(self.keys.due())
            .key(self.keys.inflight())
            .key(self.keys.dead())
            .arg(millis(self.clock.now()));
        let (pending, running, dead) = self.invoke(&script).await?;
        Ok(QueueCounts {
            pending,
            running,
            dead,
        })
    }

    async fn unfinished(&self, limit: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = millis(self.clock.now());
        let mut script = UNFINISHED.prepare_invoke();
        script
            .key(self.keys.due())
            .key(self.keys.inflight())
            .key(self.keys.dead())
            .arg(limit)
            .arg(self.keys.job_prefix());
        let reply: UnfinishedReply = self.invoke(&script).await?;
        reply
            .into_iter()
            .map(|(id, kind, state, at, attempts, last_error)| {
                let state = match state.as_str() {
                    "running" if at > now => UnfinishedState::Running {
                        lease_until: from_millis(at)?,
                    },
                    "running" | "pending" => UnfinishedState::Pending {
                        due_at: from_millis(at)?,
                    },
                    _ => UnfinishedState::Dead,
                };
                Ok(UnfinishedJob {
                    id: parse_id(&id)?,
                    kind,
                    state,
                    attempts,
                    last_error: Some(last_error).filter(|error| !error.is_empty()),
                })
            })
            .collect()
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, QueueError> {
        let mut script = PURGE.prepare_invoke();
        script
            .key(self.keys.finished())
            .key(self.keys.dead())
            .arg(millis(before))
            .arg(PURGE_BATCH)
            .arg(self.keys.job_prefix())
            .arg(self.keys.idempotency_prefix());
        let mut purged = 0;
        loop {
            let batch: u64 = self.invoke(&script).await?;
            purged += batch;
            if batch < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }
}

fn queue_error(error: RedisCallError) -> QueueError {
    match error {
        RedisCallError::Unavailable(cause) => QueueError::Unavailable(cause),
        RedisCallError::Failed(cause) => QueueError::Unexpected(cause),
    }
}

fn parse_id(id: &str) -> Result<JobId, QueueError> {
    id.parse()
        .with_context(|| format!("`{id}` is not a job id"))
        .map_err(QueueError::Unexpected)
}

/// `at` in Unix milliseconds, rounded down.
fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The end of a lease of `lease` from `now` (ms), at the latest instant chrono represents.
fn lease_end(now: i64, lease: Duration) -> i64 {
    let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    now.saturating_add(lease)
        .min(DateTime::<Utc>::MAX_UTC.timestamp_millis())
}

fn from_millis(at: i64) -> Result<DateTime<Utc>, QueueError> {
    DateTime::from_timestamp_millis(at)
        .ok_or_else(|| QueueError::Unexpected(anyhow!("{at} ms is not a representable instant")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_ends_its_length_after_now_to_the_millisecond() {
        let now = millis(DateTime::from_timestamp_millis(1_795_600_000_123).unwrap());
        assert_eq!(
            lease_end(now, Duration::from_micros(30_000_999)),
            1_795_600_030_123
        );
    }

    #[test]
    fn an_endless_lease_ends_at_the_last_representable_instant() {
        let until = lease_end(1_795_600_000_000, Duration::MAX);
        assert_eq!(
            from_millis(until).unwrap().timestamp_millis(),
            DateTime::<Utc>::MAX_UTC.timestamp_millis()
        );
    }
}
