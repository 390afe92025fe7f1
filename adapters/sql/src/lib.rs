//! twofa's SQL adapters over SeaORM, for PostgreSQL (production) and SQLite (the embedded
//! default): the connection, migrations at start-up, the health probe, the job queue (the
//! transactional outbox), the audit log, the unit of work, and (as the flows arrive) the
//! repositories.
//!
//! What belongs here: SQL and its translation into the domain's types and port errors (a
//! driver error never crosses into the core). What must not: business rules, or anything that
//! differs by backend beyond what SQL dialects force.

mod database;
mod db_error;
mod probe;
mod sql_audit_log;
mod sql_job_queue;
pub mod sql_one_time_token_repository;
pub mod sql_session_repository;
mod sql_unit_of_work;
mod sql_user_repository;
mod time_limited_job_queue;

pub use database::{SqlDatabase, SqlSettings};
pub use probe::SqlProbe;
pub use sql_audit_log::SqlAuditLog;
pub use sql_job_queue::SqlJobQueue;
pub use sql_one_time_token_repository::SqlOneTimeTokenRepository;
pub use sql_session_repository::SqlSessionRepository;
pub use sql_unit_of_work::{JobsTarget, SqlUnitOfWork};
pub use sql_user_repository::SqlUserRepository;
pub use time_limited_job_queue::TimeLimitedJobQueue;
