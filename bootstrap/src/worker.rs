//! The background worker loop (`--mode worker`, and inside `--mode all`).
//!
//! No job kind exists yet: the durable queue and its handlers arrive with the worker issue.
//! Until then the loop holds its place in the process's lifecycle (started with the process,
//! stopped by the same cancellation token, drained within the shutdown timeout) so the modes
//! and deployments are already the production ones.

use tokio_util::sync::CancellationToken;

/// Runs until `shutdown` is cancelled.
pub async fn run(shutdown: CancellationToken) {
    tracing::info!("worker started; no job kinds are registered yet");
    shutdown.cancelled().await;
    tracing::info!("worker stopped");
}
