//! `MemoryJobQueue`: the `JobQueue` port in process memory (tests, and `jobs.backend =
//! "memory"`, which loses pending jobs on exit and is refused in production).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{
    ClaimedJob, Clock, JobId, JobQueue, NewJob, QueueCounts, QueueError, SecretGenerator,
    UnfinishedJob, UnfinishedState, time_ordered_id,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
    Dead,
}

#[derive(Debug, Clone)]
struct Entry {
    kind: String,
    payload: serde_json::Value,
    state: State,
    attempts: u32,
    max_attempts: u32,
    run_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
    lease_token: Option<String>,
    idempotency_key: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl Entry {
    fn is_claimable(&self, now: DateTime<Utc>) -> bool {
        match self.state {
            State::Pending => self.run_at <= now,
            State::Running => self.lease_until.is_some_and(|until| until <= now),
            State::Done | State::Dead => false,
        }
    }
}

#[derive(Debug, Default)]
struct Jobs {
    by_id: BTreeMap<JobId, Entry>,
    by_key: HashMap<String, JobId>,
}

/// Jobs in a map behind a mutex: every operation is atomic.
pub struct MemoryJobQueue {
    jobs: Mutex<Jobs>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
}

impl MemoryJobQueue {
    /// An empty queue keeping time with `clock`.
    pub fn new(clock: Arc<dyn Clock>, ids: Arc<dyn SecretGenerator>) -> Self {
        Self {
            jobs: Mutex::new(Jobs::default()),
            clock,
            ids,
        }
    }

    fn jobs(&self) -> MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry `job` holds a valid claim on.
    fn claimed<'a>(jobs: &'a mut Jobs, job: &ClaimedJob) -> Result<&'a mut Entry, QueueError> {
        jobs.by_id
            .get_mut(&job.id)
            .filter(|e| {
                e.state == State::Running && e.lease_token.as_deref() == Some(&job.lease_token)
            })
            .ok_or(QueueError::LeaseLost)
    }
}

fn lease_delta(lease: Duration) -> TimeDelta {
    TimeDelta::from_std(lease).unwrap_or(TimeDelta::MAX)
}

#[async_trait]
impl JobQueue for MemoryJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<JobId, QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs();
        if let Some(existing) = job
            .idempotency_key
            .as_ref()
            .and_then(|k| jobs.by_key.get(k))
        {
            return Ok(*existing);
        }
        let id = JobId::from_uuid(time_ordered_id(now, self.ids.as_ref()));
        if let Some(key) = &job.idempotency_key {
            jobs.by_key.insert(key.clone(), id);
        }
        jobs.by_id.insert(
            id,
            Entry {
                kind: job.kind,
                payload: job.payload,
                state: State::Pending,
                attempts: 0,
                max_attempts: job.max_attempts,
                run_at: job.run_at.unwrap_or(now),
                lease_until: None,
                lease_token: None,
                idempotency_key: job.idempotency_key,
                last_error: None,
                created_at: now,
                finished_at: None,
            },
        );
        Ok(id)
    }

    async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>, QueueError> {
        let now = self.clock.now();
        let token = self.ids.hex(16);
        let mut jobs = self.jobs();
        let next = jobs
            .by_id
            .iter()
            .filter(|(_, entry)| entry.is_claimable(now))
            .min_by_key(|(id, entry)| (entry.run_at, **id))
            .map(|(id, _)| *id);
        let Some(id) = next else { return Ok(None) };
        let Some(entry) = jobs.by_id.get_mut(&id) else {
            return Ok(None);
        };
        entry.state = State::Running;
        entry.attempts += 1;
        entry.lease_until = Some(now + lease_delta(lease));
        entry.lease_token = Some(token.clone());
        Ok(Some(ClaimedJob {
            id,
            kind: entry.kind.clone(),
            payload: entry.payload.clone(),
            attempt: entry.attempts,
            max_attempts: entry.max_attempts,
            lease_token: token,
            lease_until: now + lease_delta(lease),
            created_at: entry.created_at,
        }))
    }

    async fn renew(&self, job: &ClaimedJob, lease: Duration) -> Result<DateTime<Utc>, QueueError> {
        let until = self.clock.now() + lease_delta(lease);
        let mut jobs = self.jobs();
        Self::claimed(&mut jobs, job)?.lease_until = Some(until);
        Ok(until)
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<(), QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs();
        let entry = Self::claimed(&mut jobs, job)?;
        entry.state = State::Done;
        entry.lease_token = None;
        entry.finished_at = Some(now);
        Ok(())
    }

    async fn retry(
        &self,
        job: &ClaimedJob,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        let mut jobs = self.jobs();
        let entry = Self::claimed(&mut jobs, job)?;
        entry.state = State::Pending;
        entry.run_at = at;
        entry.last_error = Some(error.to_owned());
        entry.lease_token = None;
        entry.lease_until = None;
        Ok(())
    }

    async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), QueueError> {
        let now = self.clock.now();
        let mut jobs = self.jobs();
        let entry = Self::claimed(&mut jobs, job)?;
        entry.state = State::Dead;
        entry.last_error = Some(error.to_owned());
        entry.lease_token = None;
        entry.finished_at = Some(now);
        Ok(())
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let now = self.clock.now();
        let jobs = self.jobs();
        let mut counts = QueueCounts::default();
        for entry in jobs.by_id.values() {
            match entry.state {
                State::Pending => counts.pending += 1,
                State::Running if entry.is_claimable(now) => counts.pending += 1,
                State::Running => counts.running += 1,
                State::Dead => counts.dead += 1,
                State::Done => {}
            }
        }
        Ok(counts)
    }

    async fn unfinished(&self, limit: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
        let now = self.clock.now();
        let jobs = self.jobs();
        let listed = jobs.by_id.iter().filter_map(|(id, entry)| {
            let state = match (entry.state, entry.lease_until) {
                (State::Pending, _) => UnfinishedState::Pending {
                    due_at: entry.run_at,
                },
                (State::Running, Some(until)) if until <= now => {
                    UnfinishedState::Pending { due_at: until }
                }
                (State::Running, until) => UnfinishedState::Running {
                    lease_until: until.unwrap_or(now),
                },
                (State::Dead, _) => UnfinishedState::Dead,
                (State::Done, _) => return None,
            };
            Some(UnfinishedJob {
                id: *id,
                kind: entry.kind.clone(),
                state,
                attempts: entry.attempts,
                last_error: entry.last_error.clone(),
            })
        });
        Ok(listed
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, QueueError> {
        let mut jobs = self.jobs();
        let finished: Vec<(JobId, Option<String>)> = jobs
            .by_id
            .iter()
            .filter(|(_, e)| matches!(e.state, State::Done | State::Dead))
            .filter(|(_, e)| e.finished_at.is_some_and(|at| at < before))
            .map(|(id, e)| (*id, e.idempotency_key.clone()))
            .collect();
        for (id, key) in &finished {
            jobs.by_id.remove(id);
            if let Some(key) = key {
                jobs.by_key.remove(key);
            }
        }
        Ok(u64::try_from(finished.len()).unwrap_or(u64::MAX))
    }
}
