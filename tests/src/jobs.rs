//! The app's job queue in tests: [`TestApp::run_pending_jobs`] steps the worker until the
//! queue is idle.

use twofa_application::StepOutcome;

use crate::TestApp;

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
}
