//! `Worker`: the step function of the background worker. One step claims one job, runs its
//! handler and records the outcome; the loop around it (concurrency, lease renewal, polling,
//! shutdown) lives in the binary, and tests drive `step` directly.

pub mod retry_policy;

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{ClaimedJob, Clock, JobId, JobQueue, QueueError};

pub use retry_policy::RetryPolicy;

/// Why a handler did not finish its job.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// Worth running again later (a timeout, a 5xx, a 429).
    #[error("{0:#}")]
    Retryable(anyhow::Error),
    /// Running again will not help (a bad payload, a rejected address): straight to the dead
    /// letter.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

/// Runs the jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The job kind it runs: `email.send`, …
    fn kind(&self) -> &'static str;

    /// Runs one job.
    ///
    /// # Errors
    /// `JobFailure::Retryable` or `JobFailure::Permanent`.
    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure>;

    /// Runs one claimed job: its payload by [`JobHandler::handle`], unless the handler needs
    /// the job's id or enqueue time too.
    ///
    /// # Errors
    /// `JobFailure::Retryable` or `JobFailure::Permanent`.
    async fn run(&self, job: &ClaimedJob) -> Result<(), JobFailure> {
        self.handle(&job.payload).await
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// No job was due.
    Idle,
    /// The job ran to completion.
    Done {
        /// The job.
        id: JobId,
    },
    /// The job failed and runs again at `at`.
    Retried {
        /// The job.
        id: JobId,
        /// When it runs again.
        at: DateTime<Utc>,
    },
    /// The job went to the dead letter.
    Dead {
        /// The job.
        id: JobId,
        /// Why.
        reason: String,
    },
    /// The lease expired while the job ran and another worker has it now; nothing recorded.
    LeaseLost {
        /// The job.
        id: JobId,
    },
}

/// What [`Worker::execute`] did with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executed {
    /// The handler succeeded; the job is still to be recorded done.
    Succeeded,
    /// A failure, recorded as this outcome.
    Recorded(StepOutcome),
}

/// Claims jobs and runs them with the handler registered for their kind.
pub struct Worker {
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    retry: RetryPolicy,
    lease: Duration,
}

impl Worker {
    /// A worker over `queue` leasing each job for `lease`, with no handler yet.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
        lease: Duration,
    ) -> Self {
        Self {
            queue,
            clock,
            handlers: HashMap::new(),
            retry,
            lease,
        }
    }

    /// Registers the handler of its kind (a later one for the same kind replaces it).
    #[must_use]
    pub fn with_handler(mut self, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(handler.kind(), handler);
        self
    }

    /// The queue this worker takes jobs from.
    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.queue
    }

    /// How long a claim lasts unless renewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Claims one job and runs it.
    ///
    /// # Errors
    /// `QueueError` when the queue cannot be reached.
    pub async fn step(&self) -> Result<StepOutcome, QueueError> {
        match self.queue.claim(self.lease).await? {
            Some(job) => self.run(&job).await,
            None => Ok(StepOutcome::Idle),
        }
    }

    /// Claims up to `max` due jobs at once (one round trip on the SQL queue).
    ///
    /// # Errors
    /// `QueueError` when the queue cannot be reached.
    pub async fn claim_batch(&self, max: usize) -> Result<Vec<ClaimedJob>, QueueError> {
        self.queue.claim_batch(self.lease, max).await
    }

    /// Runs a claimed job and records its outcome in the queue.
    ///
    /// # Errors
    /// `QueueError` when the outcome cannot be recorded (a lost lease is an outcome, not an
    /// error).
    pub async fn run(&self, job: &ClaimedJob) -> Result<StepOutcome, QueueError> {
        match self.execute(job).await? {
            Executed::Succeeded => self.record(
                job,
                StepOutcome::Done { id: job.id },
                self.queue.complete(job).await,
            ),
            Executed::Recorded(outcome) => Ok(outcome),
        }
    }

    /// Runs a claimed job and records a failure's outcome (retry or dead letter); a success
    /// is left to record, so several can be recorded at once with [`Worker::complete_batch`].
    ///
    /// # Errors
    /// `QueueError` when a failure's outcome cannot be recorded.
    #[tracing::instrument(name = "job", skip_all, fields(job_id = %job.id, kind = %job.kind, attempt = job.attempt))]
    pub async fn execute(&self, job: &ClaimedJob) -> Result<Executed, QueueError> {
        if job.attempt > job.max_attempts {
            let reason = format!(
                "{} runs did not finish (the worker stopped during each)",
                job.max_attempts
            );
            return self.bury(job, reason).await.map(Executed::Recorded);
        }
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            return self
                .bury(job, format!("no handler for job kind `{}`", job.kind))
                .await
                .map(Executed::Recorded);
        };
        let outcome = match handler.run(job).await {
            Ok(()) => return Ok(Executed::Succeeded),
            Err(JobFailure::Permanent(error)) => self.bury(job, format!("{error:#}")).await,
            Err(JobFailure::Retryable(error)) if job.attempt >= job.max_attempts => {
                self.bury(job, format!("attempts spent; last error: {error:#}"))
                    .await
            }
            Err(JobFailure::Retryable(error)) => {
                let at = self.clock.now() + self.retry.delay_before(job.attempt + 1);
                tracing::warn!(error = format!("{error:#}"), retry_at = %at, "job failed; will retry");
                let outcome = self.queue.retry(job, at, &format!("{error:#}")).await;
                self.record(job, StepOutcome::Retried { id: job.id, at }, outcome)
            }
        };
        outcome.map(Executed::Recorded)
    }

    /// Records jobs that [`Worker::execute`] ran successfully as done, in one call to the
    /// queue; each job's outcome (`LeaseLost` for a stale claim), in order. Outcomes are
    /// returned, not logged: the caller logs each once, with the job's kind.
    ///
    /// # Errors
    /// `QueueError` when the queue cannot be reached (the leases then return the jobs).
    pub async fn complete_batch(
        &self,
        jobs: &[ClaimedJob],
    ) -> Result<Vec<StepOutcome>, QueueError> {
        let lost = self.queue.complete_batch(jobs).await?;
        Ok(jobs
            .iter()
            .map(|job| {
                if lost.contains(&job.id) {
                    StepOutcome::LeaseLost { id: job.id }
                } else {
                    StepOutcome::Done { id: job.id }
                }
            })
            .collect())
    }

    async fn bury(&self, job: &ClaimedJob, reason: String) -> Result<StepOutcome, QueueError> {
        tracing::error!(reason = %reason, "job moved to the dead letter");
        let outcome = self.queue.bury(job, &reason).await;
        self.record(job, StepOutcome::Dead { id: job.id, reason }, outcome)
    }

    #[expect(
        clippy::unused_self,
        reason = "a method, so every outcome is recorded the same way"
    )]
    fn record(
        &self,
        job: &ClaimedJob,
        outcome: StepOutcome,
        recorded: Result<(), QueueError>,
    ) -> Result<StepOutcome, QueueError> {
        match recorded {
            Ok(()) => Ok(outcome),
            Err(QueueError::LeaseLost) => Ok(StepOutcome::LeaseLost { id: job.id }),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests;
