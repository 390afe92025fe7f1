//! twofa's SQL adapters over SeaORM, for PostgreSQL (production) and SQLite (the embedded
//! default): the connection, migrations at start-up, the health probe, the job queue (the
//! transactional outbox), the job outbox for other queues, the audit log, the unit of work,
//! and the repositories (accounts, sessions, one-time tokens, second factors, backup codes,
//! trusted devices, API keys, webhook endpoints and deliveries; over the pool, or bound to a
//! unit of work's transaction).
//!
//! A unit of work's change, its audit events and its jobs commit together. With the SQL queue
//! a job is written into `jobs` in the transaction, so it exists exactly when its change
//! committed. With another queue (Redis, memory) it is written into the database's
//! `job_outbox` in the transaction and handed to that queue after the commit;
//! [`SqlJobOutbox::relay`] re-sends what a crash or a failed hand-over left behind, so nothing
//! committed is lost (after the hand-over, durability is that queue's own). On PostgreSQL
//! every pooled connection has `statement_timeout = database.timeout`, so no statement waits
//! forever on a stalled server; a statement it cancels is "unavailable".
//!
//! What belongs here: SQL and its translation into the domain's types and port errors (a
//! driver error never crosses into the core). What must not: business rules, or anything that
//! differs by backend beyond what SQL dialects force.

mod database;
mod db_error;
mod deferred_inserts;
mod executor;
mod insert_batch;
mod probe;
mod sql_api_key_repository;
mod sql_audit_log;
mod sql_backup_code_repository;
mod sql_device_repository;
mod sql_factor_repository;
mod sql_job_outbox;
mod sql_job_queue;
pub mod sql_one_time_token_repository;
pub mod sql_session_repository;
mod sql_unit_of_work;
mod sql_user_repository;
mod sql_webhook_repository;
mod time_limited_job_queue;
mod user_lock;

pub use database::{SqlDatabase, SqlSettings};
pub use probe::SqlProbe;
pub use sql_api_key_repository::SqlApiKeyRepository;
pub use sql_audit_log::SqlAuditLog;
pub use sql_backup_code_repository::SqlBackupCodeRepository;
pub use sql_device_repository::SqlDeviceRepository;
pub use sql_factor_repository::SqlFactorRepository;
pub use sql_job_outbox::SqlJobOutbox;
pub use sql_job_queue::SqlJobQueue;
pub use sql_one_time_token_repository::SqlOneTimeTokenRepository;
pub use sql_session_repository::SqlSessionRepository;
pub use sql_unit_of_work::{JobsTarget, SqlUnitOfWork};
pub use sql_user_repository::SqlUserRepository;
pub use sql_webhook_repository::SqlWebhookRepository;
pub use time_limited_job_queue::TimeLimitedJobQueue;
