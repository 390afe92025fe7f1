//! The app's job queue in tests: [`TestApp::run_pending_jobs`] steps the worker until the
//! queue is idle, and an app that stops or is dropped fails the test when jobs remain.
//!
//! Left behind means: a job waiting (due or not: one waiting for its retry has failed),
//! running or dead. Not counted: the maintenance purge (`maintenance.purge`) while it waits or
//! runs, which a worker loop enqueues by itself on a timer; a dead purge still counts.

use std::{fmt::Write as _, sync::atomic::Ordering};

use chrono::{DateTime, Utc};
use twofa::{backends::Backends, settings::JobsBackend};
use twofa_application::{StepOutcome, jobs::PURGE_EXPIRED};
use twofa_domain::{Clock as _, UnfinishedJob, UnfinishedState};

use crate::TestApp;

/// The most jobs the check reads.
const LIMIT: u32 = 100;

impl TestApp {
    /// Steps the app's worker until the queue is idle: no job due, none running (a job run by
    /// another worker over the same queue is waited for, up to 30 s). Answers the steps'
    /// outcomes, in order.
    ///
    /// # Panics
    /// When the app runs no worker (`--mode api`), the queue cannot be reached, or jobs are
    /// still running after 30 s.
    pub async fn run_pending_jobs(&self) -> Vec<StepOutcome> {
        let worker = self
            .worker
            .as_ref()
            .expect("an app in --mode api runs no jobs: run them from a worker app");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut outcomes = Vec::new();
        // Idle once is not enough: a job that just finished elsewhere may have queued another.
        let mut is_quiet = false;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the queue did not settle within 30 s; steps so far: {outcomes:?}"
            );
            let outcome = worker.step().await.expect("the worker reaches its queue");
            if outcome != StepOutcome::Idle {
                outcomes.push(outcome);
                is_quiet = false;
                continue;
            }
            let counts = self
                .queue
                .counts()
                .await
                .expect("the queue counts its jobs");
            if counts.running == 0 {
                if is_quiet {
                    return outcomes;
                }
                is_quiet = true;
                continue;
            }
            is_quiet = false;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Lets this app end with jobs in its queue, for the tests where leaving them is the point
    /// (a dead letter, a worker that is not there).
    pub fn allow_leftover_jobs(&self) {
        self.is_leftover_allowed.store(true, Ordering::Relaxed);
    }

    /// Panics with the leftover report of `jobs`, unless there is nothing to report.
    fn fail_on_leftovers(&self, jobs: &[UnfinishedJob]) {
        let now = twofa_crypto::SystemClock.now();
        if let Some(report) = report(jobs, now) {
            panic!(
                "{report}\n(app at {}, jobs in {:?})",
                self.address, self.settings.jobs.backend
            );
        }
    }

    /// The queue's unfinished jobs, read without the test's runtime (a `Drop` cannot await):
    /// a memory queue directly (its calls do no I/O), any other through a connection of its
    /// own on a thread of its own.
    fn unfinished_jobs_blocking(&self) -> Vec<UnfinishedJob> {
        if self.settings.jobs.backend == JobsBackend::Memory {
            return futures::executor::block_on(self.queue.unfinished(LIMIT))
                .expect("the memory queue lists its jobs");
        }
        let settings = self.settings.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the check");
            runtime.block_on(async {
                let backends = Backends::connect(&settings)
                    .await
                    .expect("the check opens the app's stores");
                let jobs = backends.queue.unfinished(LIMIT).await;
                backends.close().await;
                jobs.expect("the queue lists its jobs")
            })
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Fails the test when jobs remain in the queue, unless [`TestApp::allow_leftover_jobs`]
    /// was called.
    pub(crate) async fn check_no_leftover_jobs(&self) {
        if self.is_leftover_allowed.load(Ordering::Relaxed) {
            return;
        }
        let jobs = self
            .queue
            .unfinished(LIMIT)
            .await
            .expect("the queue lists its jobs");
        self.fail_on_leftovers(&jobs);
    }
}

impl Drop for TestApp {
    /// Fails the test when jobs remain in the queue, as `stop` does, unless the test is
    /// failing already, the app was stopped, or [`TestApp::allow_leftover_jobs`] was called.
    fn drop(&mut self) {
        if std::thread::panicking()
            || self.is_queue_checked
            || self.is_leftover_allowed.load(Ordering::Relaxed)
        {
            return;
        }
        let jobs = self.unfinished_jobs_blocking();
        self.fail_on_leftovers(&jobs);
    }
}

/// The message failing the test, or `None` when nothing was left.
fn report(jobs: &[UnfinishedJob], now: DateTime<Utc>) -> Option<String> {
    let left: Vec<&UnfinishedJob> = jobs.iter().filter(|job| !is_housekeeping(job)).collect();
    if left.is_empty() {
        return None;
    }
    let count = |is: fn(&UnfinishedState, DateTime<Utc>) -> bool| {
        left.iter().filter(|job| is(&job.state, now)).count()
    };
    let due =
        count(|state, now| matches!(state, UnfinishedState::Pending { due_at } if *due_at <= now));
    let later =
        count(|state, now| matches!(state, UnfinishedState::Pending { due_at } if *due_at > now));
    let running = count(|state, _| matches!(state, UnfinishedState::Running { .. }));
    let dead = count(|state, _| matches!(state, UnfinishedState::Dead));
    let mut message = format!(
        "Unprocessed or failed jobs remain in the queue: {due} pending and due, {later} \
         pending for later (a retry), {running} running, {dead} dead{}:",
        if jobs.len() >= LIMIT as usize {
            " (the first ones only)"
        } else {
            ""
        }
    );
    for job in left {
        let state = match job.state {
            UnfinishedState::Pending { due_at } if due_at <= now => "pending".to_owned(),
            UnfinishedState::Pending { due_at } => format!("pending until {due_at}"),
            UnfinishedState::Running { lease_until } => format!("running until {lease_until}"),
            UnfinishedState::Dead => "dead".to_owned(),
        };
        let _ = write!(
            message,
            "\n    {} {}: {state}, {} attempt(s)",
            job.kind, job.id, job.attempts
        );
        if let Some(error) = &job.last_error {
            let _ = write!(message, ", last error: {error}");
        }
    }
    message.push_str(
        "\nRun them before the test ends (`app.run_pending_jobs().await`), or call \
         `app.allow_leftover_jobs()` where leaving them is the point.",
    );
    Some(message)
}

/// The purge a worker loop schedules by itself, unless it died.
fn is_housekeeping(job: &UnfinishedJob) -> bool {
    job.kind == PURGE_EXPIRED && job.state != UnfinishedState::Dead
}
