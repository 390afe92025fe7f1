//! `AppState`: what the handlers reach through `Data<&Arc<AppState>>`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use twofa_application::CheckHealth;
use twofa_domain::{Clock, TokenSigner};

/// The use cases and facts the handlers need.
pub struct AppState {
    /// `twofa X.Y.Z`'s version, reported by `/api/health`.
    pub version: &'static str,
    /// When this process started, for `uptime`.
    pub started_at: DateTime<Utc>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Probes the database and, when configured, Redis.
    pub check_health: CheckHealth,
    /// Signs and verifies access tokens; publishes the JWKS.
    pub token_signer: Arc<dyn TokenSigner>,
}
