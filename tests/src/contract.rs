//! Contract suites: one per port, run against every adapter of it (memory always; SQLite,
//! PostgreSQL and Redis in the services run). Each suite is a macro that instantiates one
//! `#[tokio::test]` per case for a backend, so a failure names the case and the backend.

pub mod audit_log;
pub mod challenge_store;
pub mod job_queue;
pub mod one_time_token_repository;
pub mod rate_limiter;
pub mod session_cache;
pub mod session_repository;
pub mod unit_of_work;
pub mod user_repository;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use twofa_memory::ManualClock;

/// The instant every contract test starts at.
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

/// A manual clock at `start()`.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start()))
}
