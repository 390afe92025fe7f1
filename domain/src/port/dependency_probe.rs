//! The `DependencyProbe` port: one cheap round trip to a dependency, for health and readiness.

use async_trait::async_trait;

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The dependency did not answer within the probe's time limit.
    #[error("no answer within {0:?}")]
    TimedOut(std::time::Duration),
    /// The dependency answered with an error, or the connection failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A named dependency that can be asked whether it is up.
///
/// # Errors
/// `check` MUST return within the adapter's configured timeout, with `ProbeError::TimedOut`
/// when it did not hear back, and MUST NOT panic or hang when the dependency is down.
#[async_trait]
pub trait DependencyProbe: Send + Sync + 'static {
    /// The name reported in health checks: `database`, `redis`, …
    fn name(&self) -> &'static str;

    /// One round trip (`SELECT 1`, `PING`).
    async fn check(&self) -> Result<(), ProbeError>;
}
