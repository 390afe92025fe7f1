//! The `JobQueue` port: the durable outbox of work done after a request is answered (e-mail,
//! SMS, webhook deliveries, maintenance). An acknowledged job is never lost: a worker that dies
//! mid-job stops renewing its lease, and the job goes back to the queue.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

crate::uuid_id!(
    /// The identity of a job: time-ordered (UUID v7).
    JobId
);

/// A job to run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Which handler runs it: `email.send`, `sms.send`, `maintenance.purge`, …
    pub kind: String,
    /// The handler's input. Never a signing secret; codes only where the message needs them.
    pub payload: serde_json::Value,
    /// Not before this instant; `None` is now.
    pub run_at: Option<DateTime<Utc>>,
    /// A second enqueue with the same key, while the first job is kept, enqueues nothing and
    /// returns the first job's id.
    pub idempotency_key: Option<String>,
    /// Runs before the job goes to the dead letter.
    pub max_attempts: u32,
}

impl NewJob {
    /// A job of `kind` with `payload`, to run now, with at most `max_attempts` runs.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value, max_attempts: u32) -> Self {
        Self {
            kind: kind.into(),
            payload,
            run_at: None,
            idempotency_key: None,
            max_attempts,
        }
    }

    /// Runs no earlier than `at`.
    #[must_use]
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Enqueued at most once per `key`.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A job a worker holds under a lease.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    /// The job.
    pub id: JobId,
    /// Its handler.
    pub kind: String,
    /// Its input.
    pub payload: serde_json::Value,
    /// This run's number, 1 for the first (a lease that expired counts as a run).
    pub attempt: u32,
    /// Runs allowed in all.
    pub max_attempts: u32,
    /// Proves this claim: `renew`, `complete`, `retry` and `bury` with a stale token (the lease
    /// expired and another worker claimed the job) answer `QueueError::LeaseLost`.
    pub lease_token: String,
    /// When the lease runs out unless renewed.
    pub lease_until: DateTime<Utc>,
    /// When the job was enqueued.
    pub created_at: DateTime<Utc>,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Waiting to run (due now or delayed).
    pub pending: u64,
    /// Claimed by a worker whose lease has not expired.
    pub running: u64,
    /// In the dead letter: attempts spent, or failed permanently.
    pub dead: u64,
}

/// A job that is not done, as [`JobQueue::unfinished`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedJob {
    /// The job.
    pub id: JobId,
    /// Its handler.
    pub kind: String,
    /// Where it stands.
    pub state: UnfinishedState,
    /// Runs so far (a lease that expired counts as a run).
    pub attempts: u32,
    /// The error of its last failed run, if one failed.
    pub last_error: Option<String>,
}

/// Where an unfinished job stands; the states [`QueueCounts`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnfinishedState {
    /// Waiting to run, claimable from `due_at` on. A running job whose lease ran out is
    /// pending, due since its lease ended.
    Pending {
        /// When it is (or was) due.
        due_at: DateTime<Utc>,
    },
    /// Claimed by a worker whose lease runs until `lease_until`.
    Running {
        /// When the lease runs out unless renewed.
        lease_until: DateTime<Utc>,
    },
    /// In the dead letter.
    Dead,
}

/// What a queue may answer.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The claim's lease expired and the job went back to the queue (or to another worker);
    /// this worker must drop it without reporting an outcome.
    #[error("the lease on this job was lost")]
    LeaseLost,
    /// The store behind the queue did not answer.
    #[error("the job queue is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A durable queue with leases, delays, retries, a dead letter and idempotency keys.
///
/// Adapters keep time with the `Clock` they were built with, so tests drive delays and lease
/// expiry with a manual clock.
///
/// # Errors
/// Every method answers `QueueError::Unavailable` when its store is down (never hangs past the
/// store's timeout), and the methods taking a `ClaimedJob` answer `QueueError::LeaseLost` when
/// the claim is stale. Implementations MUST let exactly one of several concurrent `claim`s take
/// a job, across processes.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Adds a job; with an idempotency key already used, adds nothing and returns that job's id.
    async fn enqueue(&self, job: NewJob) -> Result<JobId, QueueError>;

    /// Takes the next due job (oldest `run_at` first, then enqueue order), or one whose lease
    /// expired, and leases it for `lease`. `None` when nothing is due.
    async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>, QueueError>;

    /// Takes up to `max` jobs, the ones that many [`JobQueue::claim`]s in a row would take,
    /// each leased for `lease` from now; empty when nothing is due. The batch comes oldest
    /// first (by `run_at` or by enqueue order: the adapter's choice). An adapter that can take
    /// several in one round trip overrides this; the default claims one at a time.
    async fn claim_batch(
        &self,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        let mut jobs = Vec::new();
        while jobs.len() < max {
            let Some(job) = self.claim(lease).await? else {
                break;
            };
            jobs.push(job);
        }
        Ok(jobs)
    }

    /// Extends the lease to now + `lease`; returns the new expiry.
    async fn renew(&self, job: &ClaimedJob, lease: Duration) -> Result<DateTime<Utc>, QueueError>;

    /// The job is done; it is kept (for idempotency) until purged.
    async fn complete(&self, job: &ClaimedJob) -> Result<(), QueueError>;

    /// Each of `jobs` is done, as [`JobQueue::complete`] would record it; returns the ids of
    /// those whose claim was stale (each would have answered `LeaseLost`), which are left as
    /// they are. An adapter that can complete several in one round trip overrides this; the
    /// default completes one at a time.
    async fn complete_batch(&self, jobs: &[ClaimedJob]) -> Result<Vec<JobId>, QueueError> {
        let mut lost = Vec::new();
        for job in jobs {
            match self.complete(job).await {
                Ok(()) => {}
                Err(QueueError::LeaseLost) => lost.push(job.id),
                Err(error) => return Err(error),
            }
        }
        Ok(lost)
    }

    /// The run failed; the job runs again at `at`.
    async fn retry(
        &self,
        job: &ClaimedJob,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError>;

    /// The job goes to the dead letter with `error`; it is not claimed again.
    async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), QueueError>;

    /// Jobs per state.
    async fn counts(&self) -> Result<QueueCounts, QueueError>;

    /// The jobs that are not done (pending, running or dead), each once, at most `limit` of
    /// them (which ones, when there are more, is the adapter's choice), in no promised order.
    /// For inspection: tests that check nothing was left behind, an operator's dead letter.
    async fn unfinished(&self, limit: u32) -> Result<Vec<UnfinishedJob>, QueueError>;

    /// Deletes done and dead jobs that finished before `before`; returns how many.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, QueueError>;
}
