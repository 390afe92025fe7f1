//! The background worker loop (`--mode worker`, and inside `--mode all`): a claimer that takes
//! as many due jobs as there are idle slots of `jobs.concurrency` (at most `jobs.claim_batch`)
//! in one claim and starts each at once in a slot of its own, which renews its lease while it
//! runs, polling when nothing is due; and a scheduler that enqueues the maintenance purge once
//! per interval across all workers. No claimed job waits behind another. A completer records
//! the jobs that succeeded done, as many at once as have finished (at most `jobs.claim_batch`).
//!
//! On shutdown the claimer stops, the slots finish the jobs in hand and the completer records
//! them (bounded by `server.shutdown_timeout`); a job cut off by the bound, or by a crash, is
//! not lost: its lease runs out and another worker takes it.

use std::{sync::Arc, time::Duration};

use futures::FutureExt as _;
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use twofa_application::{Executed, StepOutcome, Worker, jobs::ScheduleMaintenance};
use twofa_domain::{ClaimedJob, JobQueue, QueueError, error_chain};
use twofa_sql::SqlJobOutbox;

/// The worker's loop and what it needs.
pub struct WorkerLoop {
    /// Claims and runs jobs.
    pub worker: Arc<Worker>,
    /// Enqueues the periodic maintenance.
    pub scheduler: Arc<ScheduleMaintenance>,
    /// Slots running jobs at once.
    pub concurrency: usize,
    /// The most jobs one claim takes (one round trip on the SQL queue) for idle slots.
    pub claim_batch: usize,
    /// How long an idle slot waits before looking again.
    pub poll_interval: Duration,
    /// How often the scheduler runs (at most a minute, so a new interval starts promptly).
    pub schedule_every: Duration,
    /// With a job queue outside the database (`jobs.backend = "redis"`): the relay of the jobs
    /// a crash left in the database's outbox between a commit and its hand-over.
    pub relay: Option<OutboxRelay>,
}

/// Hands the jobs left in the database's `job_outbox` to the job queue.
pub struct OutboxRelay {
    /// The outbox.
    pub outbox: SqlJobOutbox,
    /// The queue the jobs belong in.
    pub queue: Arc<dyn JobQueue>,
    /// How often to look.
    pub every: Duration,
    /// Only rows at least this old are relayed: a younger one is still being handed over by
    /// the process that committed it.
    pub older_than: Duration,
}

impl WorkerLoop {
    /// Runs until `shutdown` is cancelled, then drains.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(concurrency = self.concurrency, "worker started");
        let mut tasks = JoinSet::new();
        tasks.spawn(run_slots(
            self.worker.clone(),
            Slots {
                concurrency: self.concurrency.max(1),
                claim_batch: self.claim_batch.max(1),
                poll_interval: self.poll_interval,
            },
            shutdown.clone(),
        ));
        tasks.spawn(run_scheduler(
            self.scheduler.clone(),
            self.schedule_every,
            shutdown.clone(),
        ));
        if let Some(relay) = self.relay {
            tasks.spawn(run_relay(relay, shutdown.clone()));
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!("worker stopped");
    }
}

/// How the claimer fills the slots.
#[derive(Debug, Clone, Copy)]
struct Slots {
    concurrency: usize,
    claim_batch: usize,
    poll_interval: Duration,
}

/// Waits for an idle slot, claims as many jobs as slots are idle (one claim), starts each in
/// its slot, and goes on; pauses when nothing is due and backs off when the queue fails. On
/// shutdown it stops claiming and waits for the running jobs.
async fn run_slots(worker: Arc<Worker>, slots: Slots, shutdown: CancellationToken) {
    let idle = Arc::new(Semaphore::new(slots.concurrency));
    let mut running = JoinSet::new();
    let (succeeded, completions) = mpsc::unbounded_channel();
    let completer = tokio::spawn(run_completer(
        worker.clone(),
        completions,
        slots.claim_batch,
    ));
    let mut failures: u32 = 0;
    loop {
        let first = tokio::select! {
            permit = idle.clone().acquire_owned() => permit,
            () = shutdown.cancelled() => break,
        };
        let Ok(first) = first else { break };
        let mut permits = vec![first];
        while permits.len() < slots.claim_batch {
            let Ok(permit) = idle.clone().try_acquire_owned() else {
                break;
            };
            permits.push(permit);
        }
        // Finished slots are reaped as the claimer goes, so the set stays small.
        while running.try_join_next().is_some() {}
        match worker.claim_batch(permits.len()).await {
            Ok(jobs) if jobs.is_empty() => {
                failures = 0;
                drop(permits);
                pause(slots.poll_interval, &shutdown).await;
            }
            Ok(jobs) => {
                failures = 0;
                for (job, permit) in jobs.into_iter().zip(permits) {
                    let worker = worker.clone();
                    let succeeded = succeeded.clone();
                    running.spawn(async move {
                        if run_with_renewal(&worker, &job).await {
                            // The completer records it; a closed channel cannot happen before
                            // this task ends, and the lease would return the job anyway.
                            let _ = succeeded.send(job);
                        }
                        drop(permit);
                    });
                }
            }
            Err(error) => {
                drop(permits);
                failures = failures.saturating_add(1);
                tracing::warn!(
                    error = error_chain(&error),
                    "cannot claim jobs; backing off"
                );
                let backoff = slots.poll_interval.saturating_mul(1 << failures.min(5));
                pause(backoff.min(Duration::from_secs(30)), &shutdown).await;
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
    }
    while running.join_next().await.is_some() {}
    drop(succeeded);
    let _ = completer.await;
}

/// Runs `job`, renewing its lease every third of the lease until the handler returns; true
/// when it succeeded and is still to be recorded done. A handler that panics does not take the
/// slot down: the panic is logged, renewal stops, and the lease returns the job (which goes to
/// the dead letter once its attempts are spent).
async fn run_with_renewal(worker: &Worker, job: &ClaimedJob) -> bool {
    let every = (worker.lease() / 3).max(Duration::from_millis(100));
    let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let run = std::panic::AssertUnwindSafe(worker.execute(job)).catch_unwind();
    tokio::pin!(run);
    loop {
        tokio::select! {
            executed = &mut run => {
                match executed {
                    Ok(Ok(Executed::Succeeded)) => return true,
                    Ok(Ok(Executed::Recorded(outcome))) => log_outcome(job, Ok(outcome)),
                    Ok(Err(error)) => log_outcome(job, Err(error)),
                    Err(_panic) => tracing::error!(
                        job_id = %job.id,
                        kind = %job.kind,
                        "the job's handler panicked; its lease will return it"
                    ),
                }
                return false;
            }
            _ = renewals.tick() => {
                if let Err(error) = worker.queue().renew(job, worker.lease()).await {
                    tracing::warn!(job_id = %job.id, error = error_chain(&error), "cannot renew the lease");
                }
            }
        }
    }
}

/// Records the jobs the slots ran successfully as done, as many at once as have finished
/// (at most `batch`), until every slot has ended (the channel closes).
async fn run_completer(
    worker: Arc<Worker>,
    mut succeeded: mpsc::UnboundedReceiver<ClaimedJob>,
    batch: usize,
) {
    let mut jobs = Vec::with_capacity(batch);
    while succeeded.recv_many(&mut jobs, batch).await > 0 {
        match worker.complete_batch(&jobs).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.iter().zip(outcomes) {
                    log_outcome(job, Ok(outcome));
                }
            }
            Err(error) => {
                tracing::error!(
                    jobs = jobs.len(),
                    error = error_chain(&error),
                    "cannot record jobs done; their leases will return them"
                );
            }
        }
        jobs.clear();
    }
}

fn log_outcome(job: &ClaimedJob, outcome: Result<StepOutcome, QueueError>) {
    match outcome {
        Ok(StepOutcome::Done { .. }) => {
            tracing::info!(job_id = %job.id, kind = %job.kind, "job done");
        }
        Ok(StepOutcome::Retried { at, .. }) => {
            tracing::info!(job_id = %job.id, kind = %job.kind, retry_at = %at, "job will retry");
        }
        Ok(StepOutcome::Dead { reason, .. }) => {
            tracing::error!(job_id = %job.id, kind = %job.kind, %reason, "job dead");
        }
        Ok(StepOutcome::LeaseLost { .. }) => {
            tracing::warn!(job_id = %job.id, kind = %job.kind, "lease lost; another worker has the job");
        }
        Ok(StepOutcome::Idle) => {}
        Err(error) => {
            tracing::error!(job_id = %job.id, error = error_chain(&error), "cannot record the job's outcome; its lease will return it");
        }
    }
}

async fn run_scheduler(
    scheduler: Arc<ScheduleMaintenance>,
    every: Duration,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        if let Err(error) = scheduler.execute().await {
            tracing::warn!(error = error_chain(&error), "cannot schedule maintenance");
        }
        pause(every, &shutdown).await;
    }
}

async fn run_relay(relay: OutboxRelay, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match relay
            .outbox
            .relay(relay.queue.as_ref(), relay.older_than)
            .await
        {
            Ok(0) => {}
            Ok(relayed) => {
                tracing::warn!(relayed, "handed jobs left in the outbox to the job queue");
            }
            Err(error) => {
                tracing::warn!(error = error_chain(&error), "cannot relay the job outbox");
            }
        }
        pause(relay.every, &shutdown).await;
    }
}

/// Waits `duration`, or less if shutdown is requested.
async fn pause(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = shutdown.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    use async_trait::async_trait;
    use chrono::{DateTime, TimeDelta};
    use twofa_application::{JobFailure, JobHandler, RetryPolicy};
    use twofa_domain::{JobId, JobQueue, NewJob};
    use twofa_memory::{ManualClock, MemoryJobQueue, SeededSecretGenerator};

    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    /// `boom` panics; `ok` counts; `slow` waits until released.
    struct Handlers {
        kind: &'static str,
        done: Arc<AtomicU32>,
        entered: Arc<tokio::sync::Notify>,
        release: Arc<tokio::sync::Notify>,
        finished: Arc<AtomicBool>,
    }

    #[async_trait]
    impl JobHandler for Handlers {
        fn kind(&self) -> &'static str {
            self.kind
        }

        async fn handle(&self, _payload: &serde_json::Value) -> Result<(), JobFailure> {
            match self.kind {
                "boom" => panic!("a handler bug"),
                "slow" => {
                    self.entered.notify_one();
                    self.release.notified().await;
                    self.finished.store(true, Ordering::SeqCst);
                }
                _ => {
                    self.done.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ok(())
        }
    }

    struct Setup {
        clock: Arc<ManualClock>,
        queue: Arc<MemoryJobQueue>,
        done: Arc<AtomicU32>,
        entered: Arc<tokio::sync::Notify>,
        release: Arc<tokio::sync::Notify>,
        finished: Arc<AtomicBool>,
    }

    fn setup() -> (Setup, WorkerLoop) {
        let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Arc::new(ManualClock::new(start));
        let queue = Arc::new(MemoryJobQueue::new(
            clock.clone(),
            Arc::new(SeededSecretGenerator::new(1)),
        ));
        let setup = Setup {
            clock: clock.clone(),
            queue: queue.clone(),
            done: Arc::new(AtomicU32::new(0)),
            entered: Arc::new(tokio::sync::Notify::new()),
            release: Arc::new(tokio::sync::Notify::new()),
            finished: Arc::new(AtomicBool::new(false)),
        };
        let retry = RetryPolicy::new(LEASE, LEASE, Arc::new(SeededSecretGenerator::new(2)));
        let mut worker = Worker::new(queue.clone(), clock.clone(), retry, LEASE);
        for kind in ["boom", "ok", "slow"] {
            worker = worker.with_handler(Arc::new(Handlers {
                kind,
                done: setup.done.clone(),
                entered: setup.entered.clone(),
                release: setup.release.clone(),
                finished: setup.finished.clone(),
            }));
        }
        let worker_loop = WorkerLoop {
            relay: None,
            worker: Arc::new(worker),
            scheduler: Arc::new(ScheduleMaintenance::new(
                queue,
                clock,
                Duration::from_hours(1),
            )),
            concurrency: 1,
            claim_batch: 4,
            poll_interval: Duration::from_millis(100),
            schedule_every: Duration::from_mins(1),
        };
        (setup, worker_loop)
    }

    async fn enqueue(setup: &Setup, kind: &str) -> JobId {
        setup
            .queue
            .enqueue(NewJob::new(kind, serde_json::json!({}), 3))
            .await
            .unwrap()
    }

    /// Claims every job due now and returns their ids (what another worker would take).
    async fn take_all(queue: &MemoryJobQueue) -> Vec<JobId> {
        let mut taken = Vec::new();
        while let Some(job) = queue.claim(LEASE).await.unwrap() {
            taken.push(job.id);
        }
        taken
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_handler_does_not_take_its_slot_down() {
        let (setup, worker_loop) = setup();
        enqueue(&setup, "boom").await;
        enqueue(&setup, "ok").await;
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(worker_loop.run(shutdown.clone()));
        // A minute of the worker's (paused, auto-advancing) time is plenty to reach the job.
        for _ in 0..1200 {
            if setup.done.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        running.await.unwrap();
        assert_eq!(
            setup.done.load(Ordering::SeqCst),
            1,
            "the one slot went on to the next job"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_job_keeps_its_lease_while_it_runs() {
        let (setup, worker_loop) = setup();
        let slow = enqueue(&setup, "slow").await;
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(worker_loop.run(shutdown.clone()));
        setup.entered.notified().await;
        setup.clock.advance(TimeDelta::seconds(20));
        // A renewal is due every third of the lease (10 s of the worker's timer).
        tokio::time::sleep(Duration::from_secs(11)).await;
        setup.clock.advance(TimeDelta::seconds(20));
        // 40 s after the claim: without renewal the job would be another worker's now.
        assert!(
            !take_all(&setup.queue).await.contains(&slow),
            "the lease was renewed"
        );
        setup.release.notify_one();
        shutdown.cancel();
        running.await.unwrap();
        assert!(setup.finished.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_does_not_wait_behind_a_slow_one_while_a_slot_is_idle() {
        let (setup, mut worker_loop) = setup();
        worker_loop.concurrency = 2;
        enqueue(&setup, "slow").await;
        enqueue(&setup, "ok").await;
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(worker_loop.run(shutdown.clone()));
        setup.entered.notified().await;
        // The slow job holds one slot; the other runs the next job meanwhile.
        for _ in 0..1200 {
            if setup.done.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            setup.done.load(Ordering::SeqCst),
            1,
            "ran beside the slow job"
        );
        assert!(!setup.finished.load(Ordering::SeqCst));
        setup.release.notify_one();
        shutdown.cancel();
        running.await.unwrap();
        assert!(setup.finished.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn one_slot_claims_one_job_at_a_time() {
        let (setup, worker_loop) = setup();
        let slow = enqueue(&setup, "slow").await;
        let next = enqueue(&setup, "ok").await;
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(worker_loop.run(shutdown.clone()));
        setup.entered.notified().await;
        // With its only slot busy, the worker holds no claim on the next job.
        let taken = take_all(&setup.queue).await;
        assert!(taken.contains(&next) && !taken.contains(&slow), "{taken:?}");
        setup.release.notify_one();
        shutdown.cancel();
        running.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_lets_the_job_in_hand_finish() {
        let (setup, worker_loop) = setup();
        enqueue(&setup, "slow").await;
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(worker_loop.run(shutdown.clone()));
        setup.entered.notified().await;
        shutdown.cancel();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!running.is_finished(), "the loop waits for the job in hand");
        setup.release.notify_one();
        running.await.unwrap();
        assert!(setup.finished.load(Ordering::SeqCst));
        let counts = setup.queue.counts().await.unwrap();
        assert_eq!(
            (counts.running, counts.dead),
            (0, 0),
            "done, not abandoned: {counts:?}"
        );
    }
}
