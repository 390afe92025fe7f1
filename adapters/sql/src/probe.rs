//! `SqlProbe`: the database's health probe.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use twofa_domain::{DependencyProbe, ProbeError};

/// One `SELECT 1`-like round trip, bounded by the database timeout.
#[derive(Debug, Clone)]
pub struct SqlProbe {
    connection: DatabaseConnection,
    timeout: Duration,
}

impl SqlProbe {
    pub(crate) fn new(connection: DatabaseConnection, timeout: Duration) -> Self {
        Self {
            connection,
            timeout,
        }
    }
}

#[async_trait]
impl DependencyProbe for SqlProbe {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), ProbeError> {
        match tokio::time::timeout(self.timeout, self.connection.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ProbeError::Failed(error.into())),
            Err(_) => Err(ProbeError::TimedOut(self.timeout)),
        }
    }
}
