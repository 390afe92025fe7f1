//! `SqlJobQueue`: the `JobQueue` port over the `jobs` table (the transactional outbox).
//!
//! A job is a row in one of four states: `pending` (waiting for `run_at`), `running` (leased by
//! a worker until `lease_until`, proven by `lease_token`; its `run_at` is the lease's end too, so
//! one partial index orders every claimable job), `done` and `dead`. A claim is one
//! `UPDATE … WHERE id IN (SELECT … LIMIT 1) RETURNING …`; on PostgreSQL the sub-select takes the
//! row `FOR UPDATE SKIP LOCKED`, so concurrent workers in different processes never take the
//! same job; SQLite serialises writers, so the same statement is atomic there without a lock
//! clause. A batch claim is the same statement with `id IN (SELECT … LIMIT n)`. Every other
//! change to a claimed job is conditional on its lease token (one token per claim statement).

mod statements;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, sea_query::InsertStatement};
use twofa_domain::{
    ClaimedJob, Clock, JobId, JobQueue, NewJob, QueueCounts, QueueError, SecretGenerator,
    UnfinishedJob, UnfinishedState, time_ordered_id,
};

use crate::{db_error::queue_error, insert_batch::InsertBatch};

/// The `JobQueue` port over the `jobs` table, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlJobQueue {
    connection: DatabaseConnection,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
}

impl SqlJobQueue {
    /// A queue over `connection`'s `jobs` table, keeping time with `clock` (never the
    /// database's `now()`), drawing ids and lease tokens from `ids`.
    pub fn new(
        connection: DatabaseConnection,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            connection,
            clock,
            ids,
        }
    }

    /// Applies `change` to the job `job` holds a valid claim on; `LeaseLost` when it no longer
    /// does (the lease expired and the job was claimed again, or it is finished).
    async fn change_claimed(
        &self,
        doing: &'static str,
        job: &ClaimedJob,
        change: statements::ClaimedChange<'_>,
    ) -> Result<(), QueueError> {
        let update = statements::change_claimed(job, change, self.clock.now());
        let result = self
            .connection
            .execute(&update)
            .await
            .map_err(|error| queue_error(doing, error))?;
        if result.rows_affected() == 0 {
            return Err(QueueError::LeaseLost);
        }
        Ok(())
    }
}

/// Writes `job` through `connection` (the pool, or a transaction for the outbox), enqueued at
/// `now`; with an idempotency key already used, writes nothing and returns that job's id.
pub(crate) async fn enqueue_on<C: ConnectionTrait>(
    connection: &C,
    now: DateTime<Utc>,
    ids: &dyn SecretGenerator,
    job: NewJob,
) -> Result<JobId, QueueError> {
    const DOING: &str = "enqueueing a job";
    let id = JobId::from_uuid(time_ordered_id(now, ids));
    let key = job.idempotency_key.clone();
    let insert = statements::insert(id, job, now)
        .map_err(|error| QueueError::Unexpected(error.context(DOING)))?;
    let inserted = connection
        .execute(&insert)
        .await
        .map_err(|error| queue_error(DOING, error))?
        .rows_affected();
    let Some(key) = key.filter(|_| inserted == 0) else {
        return Ok(id);
    };
    let rows = connection
        .query_all(&statements::id_by_key(&key))
        .await
        .map_err(|error| queue_error(DOING, error))?;
    let row = rows.first().ok_or_else(|| {
        QueueError::Unexpected(anyhow::anyhow!(
            "the job holding this idempotency key was deleted while enqueueing"
        ))
    })?;
    let existing = row
        .try_get::<uuid::Uuid>("", "id")
        .map_err(|error| queue_error(DOING, error))?;
    Ok(JobId::from_uuid(existing))
}

/// `now + lease`, saturating at the end of time.
/// The jobs a unit of work enqueues into `jobs`, written by one multi-row `INSERT … ON
/// CONFLICT (idempotency_key) DO NOTHING` when it commits (one round trip however many jobs a
/// change causes). Each job gets its id when enqueued; one whose key is already taken is
/// skipped, as `enqueue` skips it.
pub(crate) struct JobBatch(InsertBatch);

impl Default for JobBatch {
    fn default() -> Self {
        Self(InsertBatch::new(|| {
            let mut insert = statements::insert_into();
            insert.on_conflict(statements::skip_known_keys());
            insert
        }))
    }
}

impl JobBatch {
    /// Adds `job`, enqueued at `now`.
    pub(crate) fn push(
        &mut self,
        now: DateTime<Utc>,
        ids: &dyn SecretGenerator,
        job: NewJob,
    ) -> Result<JobId, QueueError> {
        const DOING: &str = "enqueueing a job";
        let id = JobId::from_uuid(time_ordered_id(now, ids));
        let row = statements::row(id, job, now)
            .map_err(|error| QueueError::Unexpected(error.context(DOING)))?;
        self.0
            .push(row)
            .map_err(|error| QueueError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
        Ok(id)
    }

    /// Whether it holds `InsertBatch::MAX_ROWS` jobs and should be written now.
    pub(crate) fn is_full(&self) -> bool {
        self.0.is_full()
    }

    /// The `INSERT` of the jobs waiting, if any; the batch is empty after.
    pub(crate) fn take(&mut self) -> Option<InsertStatement> {
        self.0.take()
    }

    /// Writes the jobs through `connection` and empties the batch.
    pub(crate) async fn write_on<C: ConnectionTrait>(
        &mut self,
        connection: &C,
    ) -> Result<(), sea_orm::DbErr> {
        self.0.write_on(connection).await
    }
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|lease| now.checked_add_signed(lease))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The claimed job in `row` (the columns `statements::claim` returns).
fn claimed_job(
    row: &QueryResult,
    lease_token: String,
    lease_until: DateTime<Utc>,
) -> Result<ClaimedJob, QueueError> {
    const DOING: &str = "reading a claimed job";
    let get_err = |error| queue_error(DOING, error);
    let payload: String = row.try_get("", "payload").map_err(get_err)?;
    let payload = serde_json::from_str(&payload)
        .map_err(|error| QueueError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
    let attempts: i32 = row.try_get("", "attempts").map_err(get_err)?;
    let max_attempts: i32 = row.try_get("", "max_attempts").map_err(get_err)?;
    Ok(ClaimedJob {
        id: JobId::from_uuid(row.try_get("", "id").map_err(get_err)?),
        kind: row.try_get("", "kind").map_err(get_err)?,
        payload,
        attempt: u32::try_from(attempts).unwrap_or(0),
        max_attempts: u32::try_from(max_attempts).unwrap_or(0),
        lease_token,
        lease_until,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
    })
}

/// The unfinished job in `row` (the columns `statements::unfinished` returns), as of `now`.
fn unfinished_job(row: &QueryResult, now: DateTime<Utc>) -> Result<UnfinishedJob, QueueError> {
    let get_err = |error| queue_error("listing unfinished jobs", error);
    let state: String = row.try_get("", "state").map_err(get_err)?;
    let lease_until: Option<DateTime<Utc>> = row.try_get("", "lease_until").map_err(get_err)?;
    let state = match (state.as_str(), lease_until) {
        ("running", Some(until)) if until <= now => UnfinishedState::Pending { due_at: until },
        ("running", until) => UnfinishedState::Running {
            lease_until: until.unwrap_or(now),
        },
        ("dead", _) => UnfinishedState::Dead,
        _ => UnfinishedState::Pending {
            due_at: row.try_get("", "run_at").map_err(get_err)?,
        },
    };
    let attempts: i32 = row.try_get("", "attempts").map_err(get_err)?;
    Ok(UnfinishedJob {
        id: JobId::from_uuid(row.try_get("", "id").map_err(get_err)?),
        kind: row.try_get("", "kind").map_err(get_err)?,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error: row.try_get("", "last_error").map_err(get_err)?,
    })
}

fn count(row: &QueryResult, column: &str) -> Result<u64, QueueError> {
    let value: i64 = row
        .try_get("", column)
        .map_err(|error| queue_error("counting jobs", error))?;
    Ok(u64::try_from(value).unwrap_or(0))
}

#[async_trait]
impl JobQueue for SqlJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<JobId, QueueError> {
        enqueue_on(&self.connection, self.clock.now(), self.ids.as_ref(), job).await
    }

    async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>, QueueError> {
        Ok(self.claim_batch(lease, 1).await?.into_iter().next())
    }

    async fn claim_batch(
        &self,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        const DOING: &str = "claiming jobs";
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let lease_until = lease_end(now, lease);
        let lease_token = self.ids.hex(16);
        let claim = statements::claim(
            self.connection.get_database_backend(),
            now,
            lease_until,
            &lease_token,
            u64::try_from(max).unwrap_or(u64::MAX),
        );
        // `query_all` steps the statement to its end, so SQLite's write lock is released at once.
        let rows = self
            .connection
            .query_all(&claim)
            .await
            .map_err(|error| queue_error(DOING, error))?;
        let mut jobs = rows
            .iter()
            .map(|row| claimed_job(row, lease_token.clone(), lease_until))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING follows no order; ids are time-ordered, so this is enqueue order (and a
        // batch of due jobs is run oldest first).
        jobs.sort_by_key(|job| (job.created_at, job.id.as_uuid()));
        Ok(jobs)
    }

    async fn complete_batch(&self, jobs: &[ClaimedJob]) -> Result<Vec<JobId>, QueueError> {
        const DOING: &str = "completing jobs";
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let update = statements::complete_batch(jobs, self.clock.now());
        let rows = self
            .connection
            .query_all(&update)
            .await
            .map_err(|error| queue_error(DOING, error))?;
        let done = rows
            .iter()
            .map(|row| row.try_get::<uuid::Uuid>("", "id"))
            .collect::<Result<std::collections::HashSet<_>, _>>()
            .map_err(|error| queue_error(DOING, error))?;
        Ok(jobs
            .iter()
            .map(|job| job.id)
            .filter(|id| !done.contains(&id.as_uuid()))
            .collect())
    }

    async fn renew(&self, job: &ClaimedJob, lease: Duration) -> Result<DateTime<Utc>, QueueError> {
        let until = lease_end(self.clock.now(), lease);
        self.change_claimed(
            "renewing a lease",
            job,
            statements::ClaimedChange::Renew { until },
        )
        .await?;
        Ok(until)
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<(), QueueError> {
        self.change_claimed("completing a job", job, statements::ClaimedChange::Complete)
            .await
    }

    async fn retry(
        &self,
        job: &ClaimedJob,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        self.change_claimed(
            "retrying a job",
            job,
            statements::ClaimedChange::Retry { at, error },
        )
        .await
    }

    async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), QueueError> {
        self.change_claimed(
            "burying a job",
            job,
            statements::ClaimedChange::Bury { error },
        )
        .await
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let rows = self
            .connection
            .query_all(&statements::counts(self.clock.now()))
            .await
            .map_err(|error| queue_error("counting jobs", error))?;
        let Some(row) = rows.first() else {
            return Ok(QueueCounts::default());
        };
        Ok(QueueCounts {
            pending: count(row, "pending")?,
            running: count(row, "running")?,
            dead: count(row, "dead")?,
        })
    }

    async fn unfinished(&self, limit: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
        let now = self.clock.now();
        let rows = self
            .connection
            .query_all(&statements::unfinished(limit))
            .await
            .map_err(|error| queue_error("listing unfinished jobs", error))?;
        rows.iter().map(|row| unfinished_job(row, now)).collect()
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, QueueError> {
        let result = self
            .connection
            .execute(&statements::purge(before))
            .await
            .map_err(|error| queue_error("purging finished jobs", error))?;
        Ok(result.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    };

    use serde_json::json;

    use super::*;
    use crate::{SqlDatabase, SqlSettings};

    struct SetClock(Mutex<DateTime<Utc>>);

    impl Clock for SetClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    struct Counting(AtomicU64);

    impl SecretGenerator for Counting {
        fn fill_bytes(&self, buf: &mut [u8]) {
            let n = self.0.fetch_add(1, Ordering::Relaxed).to_be_bytes();
            for (i, byte) in buf.iter_mut().enumerate() {
                *byte = n[i % n.len()];
            }
        }
    }

    /// SQLite keeps timestamps as RFC 3339 text with as many fraction digits as needed; the
    /// text must still compare in time order.
    #[tokio::test]
    async fn sub_second_run_times_order_and_fall_due_exactly_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let database = SqlDatabase::connect(&SqlSettings {
            url,
            max_connections: 2,
            timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
        database.migrate().await.unwrap();
        let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Arc::new(SetClock(Mutex::new(start)));
        let queue = database.job_queue(clock.clone(), Arc::new(Counting(AtomicU64::new(1))));
        for (kind, delay) in [
            ("a", TimeDelta::seconds(1)),
            ("b", TimeDelta::milliseconds(500)),
            ("c", TimeDelta::nanoseconds(1)),
            ("d", TimeDelta::seconds(1) + TimeDelta::microseconds(250)),
        ] {
            let job = NewJob::new(kind, json!({}), 1).run_at(start + delay);
            queue.enqueue(job).await.unwrap();
        }
        let lease = Duration::from_secs(30);
        assert!(queue.claim(lease).await.unwrap().is_none());
        *clock.0.lock().unwrap() = start + TimeDelta::nanoseconds(1);
        assert_eq!(queue.claim(lease).await.unwrap().unwrap().kind, "c");
        *clock.0.lock().unwrap() = start + TimeDelta::seconds(2);
        for kind in ["b", "a", "d"] {
            assert_eq!(queue.claim(lease).await.unwrap().unwrap().kind, kind);
        }
    }
}
