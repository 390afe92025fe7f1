//! `Recording`: a job queue that keeps what it was handed, and can be told to fail.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{ClaimedJob, JobId, JobQueue, NewJob, QueueCounts, QueueError, UnfinishedJob};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Takes every job (a second job with a key it holds is a no-op, as the port says).
    Accept,
    /// Refuses every job: down.
    Refuse,
    /// Takes the job, then answers an error (a reply lost after the write).
    AcceptThenFail,
}

/// A queue that records what it was handed.
pub(crate) struct Recording {
    mode: Mutex<Mode>,
    /// Every enqueue call, accepted or not.
    calls: Mutex<Vec<NewJob>>,
    /// The jobs it holds, one per idempotency key.
    held: Mutex<Vec<NewJob>>,
}

impl Recording {
    pub(crate) fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode: Mutex::new(mode),
            calls: Mutex::new(Vec::new()),
            held: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub(crate) fn held(&self) -> Vec<NewJob> {
        self.held.lock().unwrap().clone()
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// The idempotency keys of every enqueue call.
    pub(crate) fn keys(&self) -> Vec<Option<String>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|job| job.idempotency_key.clone())
            .collect()
    }
}

pub(crate) fn unused() -> QueueError {
    QueueError::Unexpected(anyhow::anyhow!("not used by these tests"))
}

#[async_trait]
impl JobQueue for Recording {
    async fn enqueue(&self, job: NewJob) -> Result<JobId, QueueError> {
        let mode = *self.mode.lock().unwrap();
        self.calls.lock().unwrap().push(job.clone());
        if mode == Mode::Refuse {
            return Err(QueueError::Unavailable(anyhow::anyhow!("queue down")));
        }
        {
            let mut held = self.held.lock().unwrap();
            let is_known = job.idempotency_key.is_some()
                && held
                    .iter()
                    .any(|kept| kept.idempotency_key == job.idempotency_key);
            if !is_known {
                held.push(job);
            }
        }
        if mode == Mode::AcceptThenFail {
            return Err(QueueError::Unavailable(anyhow::anyhow!("reply lost")));
        }
        Ok(JobId::from_uuid(uuid::Uuid::nil()))
    }
    async fn claim(&self, _lease: Duration) -> Result<Option<ClaimedJob>, QueueError> {
        Err(unused())
    }
    async fn renew(
        &self,
        _job: &ClaimedJob,
        _lease: Duration,
    ) -> Result<DateTime<Utc>, QueueError> {
        Err(unused())
    }
    async fn complete(&self, _job: &ClaimedJob) -> Result<(), QueueError> {
        Err(unused())
    }
    async fn retry(
        &self,
        _job: &ClaimedJob,
        _at: DateTime<Utc>,
        _e: &str,
    ) -> Result<(), QueueError> {
        Err(unused())
    }
    async fn bury(&self, _job: &ClaimedJob, _error: &str) -> Result<(), QueueError> {
        Err(unused())
    }
    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        Err(unused())
    }
    async fn unfinished(&self, _limit: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
        Err(unused())
    }
    async fn purge(&self, _before: DateTime<Utc>) -> Result<u64, QueueError> {
        Err(unused())
    }
}
