//! The background worker loop (`--mode worker`, and inside `--mode all`): `jobs.concurrency`
//! slots, each claiming a job, running it while renewing its lease, and polling when idle; and
//! a scheduler that enqueues the maintenance purge once per interval across all workers.
//!
//! On shutdown the slots stop claiming and finish the job in hand (bounded by
//! `server.shutdown_timeout`); a job cut off by the bound, or by a crash, is not lost: its lease
//! runs out and another worker takes it.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use twofa_application::{StepOutcome, Worker, jobs::ScheduleMaintenance};
use twofa_domain::ClaimedJob;

/// The worker's loop and what it needs.
pub struct WorkerLoop {
    /// Claims and runs jobs.
    pub worker: Arc<Worker>,
    /// Enqueues the periodic maintenance.
    pub scheduler: Arc<ScheduleMaintenance>,
    /// Slots running jobs at once.
    pub concurrency: usize,
    /// How long an idle slot waits before looking again.
    pub poll_interval: Duration,
    /// How often the scheduler runs (at most a minute, so a new interval starts promptly).
    pub schedule_every: Duration,
}

impl WorkerLoop {
    /// Runs until `shutdown` is cancelled, then drains.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(concurrency = self.concurrency, "worker started");
        let mut tasks = JoinSet::new();
        for _ in 0..self.concurrency {
            tasks.spawn(run_slot(
                self.worker.clone(),
                self.poll_interval,
                shutdown.clone(),
            ));
        }
        tasks.spawn(run_scheduler(
            self.scheduler.clone(),
            self.schedule_every,
            shutdown.clone(),
        ));
        while tasks.join_next().await.is_some() {}
        tracing::info!("worker stopped");
    }
}

async fn run_slot(worker: Arc<Worker>, poll_interval: Duration, shutdown: CancellationToken) {
    let mut failures: u32 = 0;
    while !shutdown.is_cancelled() {
        match worker.claim().await {
            Ok(Some(job)) => {
                failures = 0;
                run_with_renewal(&worker, &job).await;
            }
            Ok(None) => {
                failures = 0;
                pause(poll_interval, &shutdown).await;
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "cannot claim jobs; backing off");
                let backoff = poll_interval.saturating_mul(1 << failures.min(5));
                pause(backoff.min(Duration::from_secs(30)), &shutdown).await;
            }
        }
    }
}

/// Runs `job`, renewing its lease every third of the lease until the handler returns.
async fn run_with_renewal(worker: &Worker, job: &ClaimedJob) {
    let every = (worker.lease() / 3).max(Duration::from_millis(100));
    let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let run = worker.run(job);
    tokio::pin!(run);
    loop {
        tokio::select! {
            outcome = &mut run => {
                log_outcome(job, outcome);
                return;
            }
            _ = renewals.tick() => {
                if let Err(error) = worker.queue().renew(job, worker.lease()).await {
                    tracing::warn!(job_id = %job.id, %error, "cannot renew the lease");
                }
            }
        }
    }
}

fn log_outcome(job: &ClaimedJob, outcome: Result<StepOutcome, twofa_domain::QueueError>) {
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
            tracing::error!(job_id = %job.id, %error, "cannot record the job's outcome; its lease will return it");
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
            tracing::warn!(%error, "cannot schedule maintenance");
        }
        pause(every, &shutdown).await;
    }
}

/// Waits `duration`, or less if shutdown is requested.
async fn pause(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = shutdown.cancelled() => {}
    }
}
