//! twofa's use cases: one module each, every one a struct with an `execute` method, written
//! against the domain's ports and nothing else.
//!
//! What belongs here: the order of steps of each flow (rate-limit, load, verify, record) and
//! the decisions between them. What must not: I/O technology (no runtime, database driver, web
//! framework or configuration loader: the dependency guard checks), or a port's implementation.

pub mod admin;
pub mod api_keys;
pub mod audit_trail;
pub mod auth;
pub mod check_health;
pub mod jobs;
pub mod two_factor;
pub mod webhook_events;
pub mod webhooks;
pub mod worker;

pub use check_health::{CheckHealth, DependencyHealth, HealthReport, HealthStatus, QueueHealth};
pub use worker::{Executed, JobFailure, JobHandler, RetryPolicy, StepOutcome, Worker};
