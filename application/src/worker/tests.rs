use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU32, Ordering},
};

use chrono::{DateTime, TimeDelta};
use futures::executor::block_on;
use serde_json::json;
use twofa_domain::{Clock as _, NewJob, QueueCounts};
use twofa_memory::{ManualClock, MemoryJobQueue, SeededSecretGenerator};

use super::*;

/// Answers with the scripted results in order, then `Ok`; counts its runs.
struct Scripted {
    results: Mutex<Vec<Result<(), JobFailure>>>,
    runs: AtomicU32,
}

impl Scripted {
    fn new(results: Vec<Result<(), JobFailure>>) -> Arc<Self> {
        Arc::new(Self {
            results: Mutex::new(results.into_iter().rev().collect()),
            runs: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl JobHandler for Scripted {
    fn kind(&self) -> &'static str {
        "test.job"
    }

    async fn handle(&self, _payload: &serde_json::Value) -> Result<(), JobFailure> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.results.lock().unwrap().pop().unwrap_or(Ok(()))
    }
}

struct Setup {
    clock: Arc<ManualClock>,
    queue: Arc<MemoryJobQueue>,
}

fn setup() -> Setup {
    let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .to_utc();
    let clock = Arc::new(ManualClock::new(start));
    let queue = Arc::new(MemoryJobQueue::new(
        clock.clone(),
        Arc::new(SeededSecretGenerator::new(1)),
    ));
    Setup { clock, queue }
}

fn worker(setup: &Setup, handler: Arc<dyn JobHandler>) -> Worker {
    let retry = RetryPolicy::new(
        Duration::from_secs(5),
        Duration::from_hours(1),
        Arc::new(SeededSecretGenerator::new(2)),
    );
    Worker::new(
        setup.queue.clone(),
        setup.clock.clone(),
        retry,
        Duration::from_secs(30),
    )
    .with_handler(handler)
}

fn enqueue(setup: &Setup, kind: &str, max_attempts: u32) -> JobId {
    block_on(
        setup
            .queue
            .enqueue(NewJob::new(kind, json!({}), max_attempts)),
    )
    .unwrap()
}

fn retryable() -> Result<(), JobFailure> {
    Err(JobFailure::Retryable(anyhow::anyhow!(
        "503 from the provider"
    )))
}

#[test]
fn an_empty_queue_is_idle() {
    let setup = setup();
    let worker = worker(&setup, Scripted::new(vec![]));
    assert_eq!(block_on(worker.step()).unwrap(), StepOutcome::Idle);
}

#[test]
fn a_job_that_succeeds_is_done_and_leaves_the_queue() {
    let setup = setup();
    let handler = Scripted::new(vec![]);
    let worker = worker(&setup, handler.clone());
    let id = enqueue(&setup, "test.job", 3);
    assert_eq!(block_on(worker.step()).unwrap(), StepOutcome::Done { id });
    assert_eq!(handler.runs.load(Ordering::Relaxed), 1);
    assert_eq!(
        block_on(setup.queue.counts()).unwrap(),
        QueueCounts::default()
    );
}

#[test]
fn a_retryable_failure_runs_again_after_the_back_off() {
    let setup = setup();
    let handler = Scripted::new(vec![retryable()]);
    let worker = worker(&setup, handler.clone());
    let id = enqueue(&setup, "test.job", 3);
    let StepOutcome::Retried { id: retried, at } = block_on(worker.step()).unwrap() else {
        panic!("expected a retry");
    };
    assert_eq!(retried, id);
    let wait = at - setup.clock.now();
    assert!(
        wait >= TimeDelta::seconds(4) && wait <= TimeDelta::seconds(6),
        "{wait}"
    );
    assert_eq!(
        block_on(worker.step()).unwrap(),
        StepOutcome::Idle,
        "not before its time"
    );
    setup.clock.set(at);
    assert_eq!(block_on(worker.step()).unwrap(), StepOutcome::Done { id });
    assert_eq!(handler.runs.load(Ordering::Relaxed), 2);
}

#[test]
fn a_permanent_failure_goes_to_the_dead_letter_at_once() {
    let setup = setup();
    let handler = Scripted::new(vec![Err(JobFailure::Permanent(anyhow::anyhow!(
        "invalid number"
    )))]);
    let worker = worker(&setup, handler.clone());
    let id = enqueue(&setup, "test.job", 5);
    let outcome = block_on(worker.step()).unwrap();
    assert_eq!(
        outcome,
        StepOutcome::Dead {
            id,
            reason: "invalid number".to_owned()
        }
    );
    assert_eq!(block_on(setup.queue.counts()).unwrap().dead, 1);
}

#[test]
fn the_last_retryable_failure_goes_to_the_dead_letter() {
    let setup = setup();
    let handler = Scripted::new(vec![retryable(), retryable()]);
    let worker = worker(&setup, handler.clone());
    let id = enqueue(&setup, "test.job", 2);
    let StepOutcome::Retried { at, .. } = block_on(worker.step()).unwrap() else {
        panic!("expected a retry");
    };
    setup.clock.set(at);
    let StepOutcome::Dead { id: dead, reason } = block_on(worker.step()).unwrap() else {
        panic!("expected the dead letter");
    };
    assert_eq!(dead, id);
    assert!(reason.contains("503"), "{reason}");
    assert_eq!(block_on(setup.queue.counts()).unwrap().dead, 1);
}

#[test]
fn an_unknown_kind_goes_to_the_dead_letter_naming_the_kind() {
    let setup = setup();
    let worker = worker(&setup, Scripted::new(vec![]));
    let id = enqueue(&setup, "mystery.kind", 5);
    let StepOutcome::Dead { id: dead, reason } = block_on(worker.step()).unwrap() else {
        panic!("expected the dead letter");
    };
    assert_eq!(dead, id);
    assert!(reason.contains("mystery.kind"), "{reason}");
}

#[test]
fn a_job_whose_runs_all_died_mid_way_is_buried_without_running_again() {
    let setup = setup();
    let handler = Scripted::new(vec![]);
    let worker = worker(&setup, handler.clone());
    let id = enqueue(&setup, "test.job", 1);
    // A worker claims it and dies: the lease expires, the job comes back as attempt 2 of 1.
    block_on(setup.queue.claim(Duration::from_secs(30)))
        .unwrap()
        .unwrap();
    setup.clock.advance(TimeDelta::seconds(31));
    let StepOutcome::Dead { id: dead, .. } = block_on(worker.step()).unwrap() else {
        panic!("expected the dead letter");
    };
    assert_eq!(dead, id);
    assert_eq!(handler.runs.load(Ordering::Relaxed), 0);
}

/// Outlives its lease: another claimer takes the job while it runs.
struct Slow {
    clock: Arc<ManualClock>,
    queue: Arc<MemoryJobQueue>,
}

#[async_trait]
impl JobHandler for Slow {
    fn kind(&self) -> &'static str {
        "test.job"
    }

    async fn handle(&self, _payload: &serde_json::Value) -> Result<(), JobFailure> {
        self.clock.advance(TimeDelta::seconds(31));
        self.queue
            .claim(Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        Ok(())
    }
}

#[test]
fn a_job_taken_over_after_its_lease_expired_records_nothing() {
    let setup = setup();
    let slow = Arc::new(Slow {
        clock: setup.clock.clone(),
        queue: setup.queue.clone(),
    });
    let worker = worker(&setup, slow);
    let id = enqueue(&setup, "test.job", 3);
    assert_eq!(
        block_on(worker.step()).unwrap(),
        StepOutcome::LeaseLost { id }
    );
    assert_eq!(
        block_on(setup.queue.counts()).unwrap().running,
        1,
        "the other claim stands"
    );
}

#[test]
fn successes_run_by_execute_are_recorded_done_together_and_a_stale_one_is_lease_lost() {
    let setup = setup();
    let handler = Scripted::new(vec![]);
    let worker = worker(&setup, handler.clone());
    let first = enqueue(&setup, "test.job", 3);
    let second = enqueue(&setup, "test.job", 3);
    let jobs = block_on(worker.claim_batch(10)).unwrap();
    for job in &jobs {
        assert_eq!(block_on(worker.execute(job)).unwrap(), Executed::Succeeded);
    }
    assert_eq!(handler.runs.load(Ordering::Relaxed), 2);
    assert_eq!(
        block_on(setup.queue.counts()).unwrap().running,
        2,
        "not recorded until completed"
    );
    block_on(setup.queue.complete(&jobs[1])).unwrap();
    assert_eq!(
        block_on(worker.complete_batch(&jobs)).unwrap(),
        [
            StepOutcome::Done { id: first },
            StepOutcome::LeaseLost { id: second }
        ]
    );
    assert_eq!(
        block_on(setup.queue.counts()).unwrap(),
        QueueCounts::default()
    );
}
