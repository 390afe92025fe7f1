//! `TimeLimitedJobQueue`: bounds every call of a queue by a time limit, so a stalled database
//! answers `QueueError::Unavailable` at once instead of hanging a health check or a worker.
//!
//! A call cut off by the limit may still complete on the server: a claim then holds a lease no
//! worker knows of, and the lease returns the job when it runs out, so nothing is lost.

use std::{future::Future, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{ClaimedJob, JobId, JobQueue, NewJob, QueueCounts, QueueError, UnfinishedJob};

/// `inner`, with every call bounded by `limit` (`database.timeout`).
pub struct TimeLimitedJobQueue<Q> {
    inner: Q,
    limit: Duration,
}

impl<Q: JobQueue> TimeLimitedJobQueue<Q> {
    /// Bounds `inner`'s calls by `limit`.
    pub fn new(inner: Q, limit: Duration) -> Self {
        Self { inner, limit }
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, QueueError>>,
    ) -> Result<T, QueueError> {
        tokio::time::timeout(self.limit, call)
            .await
            .unwrap_or_else(|_| {
                Err(QueueError::Unavailable(anyhow::anyhow!(
                    "no answer from the database within {:?}",
                    self.limit
                )))
            })
    }
}

#[async_trait]
impl<Q: JobQueue> JobQueue for TimeLimitedJobQueue<Q> {
    async fn enqueue(&self, job: NewJob) -> Result<JobId, QueueError> {
        self.bounded(self.inner.enqueue(job)).await
    }

    async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>, QueueError> {
        self.bounded(self.inner.claim(lease)).await
    }

    async fn claim_batch(
        &self,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        self.bounded(self.inner.claim_batch(lease, max)).await
    }

    async fn renew(&self, job: &ClaimedJob, lease: Duration) -> Result<DateTime<Utc>, QueueError> {
        self.bounded(self.inner.renew(job, lease)).await
    }

    async fn complete_batch(&self, jobs: &[ClaimedJob]) -> Result<Vec<JobId>, QueueError> {
        self.bounded(self.inner.complete_batch(jobs)).await
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<(), QueueError> {
        self.bounded(self.inner.complete(job)).await
    }

    async fn retry(
        &self,
        job: &ClaimedJob,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        self.bounded(self.inner.retry(job, at, error)).await
    }

    async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), QueueError> {
        self.bounded(self.inner.bury(job, error)).await
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        self.bounded(self.inner.counts()).await
    }

    async fn unfinished(&self, limit: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
        self.bounded(self.inner.unfinished(limit)).await
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, QueueError> {
        self.bounded(self.inner.purge(before)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Never answers, except a batch claim, which finds nothing at once (so a wrapper that
    /// forwards it as one call, not as single claims, answers).
    struct Stalled;

    #[async_trait]
    impl JobQueue for Stalled {
        async fn enqueue(&self, _job: NewJob) -> Result<JobId, QueueError> {
            std::future::pending().await
        }
        async fn claim(&self, _lease: Duration) -> Result<Option<ClaimedJob>, QueueError> {
            std::future::pending().await
        }
        async fn claim_batch(
            &self,
            _lease: Duration,
            _max: usize,
        ) -> Result<Vec<ClaimedJob>, QueueError> {
            Ok(Vec::new())
        }
        async fn renew(
            &self,
            _job: &ClaimedJob,
            _lease: Duration,
        ) -> Result<DateTime<Utc>, QueueError> {
            std::future::pending().await
        }
        async fn complete(&self, _job: &ClaimedJob) -> Result<(), QueueError> {
            std::future::pending().await
        }
        async fn retry(
            &self,
            _job: &ClaimedJob,
            _at: DateTime<Utc>,
            _error: &str,
        ) -> Result<(), QueueError> {
            std::future::pending().await
        }
        async fn bury(&self, _job: &ClaimedJob, _error: &str) -> Result<(), QueueError> {
            std::future::pending().await
        }
        async fn counts(&self) -> Result<QueueCounts, QueueError> {
            std::future::pending().await
        }
        async fn unfinished(&self, _limit: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
            std::future::pending().await
        }
        async fn purge(&self, _before: DateTime<Utc>) -> Result<u64, QueueError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_store_is_unavailable_after_the_limit_not_hung() {
        let queue: Arc<dyn JobQueue> =
            Arc::new(TimeLimitedJobQueue::new(Stalled, Duration::from_secs(2)));
        assert!(matches!(
            queue.counts().await,
            Err(QueueError::Unavailable(_))
        ));
        assert!(matches!(
            queue.claim(Duration::from_secs(30)).await,
            Err(QueueError::Unavailable(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_claim_is_passed_on_as_one_call() {
        let queue = TimeLimitedJobQueue::new(Stalled, Duration::from_secs(2));
        assert!(
            queue
                .claim_batch(Duration::from_secs(30), 16)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
