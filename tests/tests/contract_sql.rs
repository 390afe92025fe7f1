//! The port contracts against the SQL adapters: on SQLite (a fresh file per store) and on
//! PostgreSQL (a fresh database per store, from `./scripts/test`). The job queue's two handles
//! are two connection pools on the same database, as two processes would hold.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_crypto::OsSecretGenerator;
use twofa_domain::{AuditLog, JobQueue, SecretGenerator};
use twofa_memory::{ManualClock, MemoryJobQueue};
use twofa_sql::{
    JobsTarget, SqlApiKeyRepository, SqlBackupCodeRepository, SqlDatabase, SqlDeviceRepository,
    SqlFactorRepository, SqlOneTimeTokenRepository, SqlSessionRepository, SqlUserRepository,
    SqlWebhookRepository,
};
use twofa_tests::contract::{
    audit_log::AuditBackend,
    job_queue::QueueBackend,
    unit_of_work::{Stores, UnitOfWorkBackend},
};
use twofa_tests::{SqlEngine, connect_sql};

/// A database engine; each `open` gets a new, empty, migrated database on it.
#[derive(Debug, Clone, Copy)]
enum Sql {
    Sqlite,
    Postgres,
}

/// The unit of work over `Sql`, its jobs handed to an in-memory queue after the commit
/// (`JobsTarget::After`, as with `jobs.backend = "redis"`).
#[derive(Debug, Clone, Copy)]
struct HandOver(Sql);

impl Sql {
    /// The URL of a new, empty database.
    async fn fresh_url(self) -> String {
        match self {
            Self::Sqlite => SqlEngine::Sqlite,
            Self::Postgres => SqlEngine::Postgres,
        }
        .fresh_url()
        .await
    }

    /// A new, migrated database.
    async fn fresh(self) -> (String, SqlDatabase) {
        let url = self.fresh_url().await;
        let database = connect_sql(&url).await;
        database.migrate().await.expect("the migrations apply");
        (url, database)
    }
}

/// The OS generator: two handles must never draw the same lease token.
fn ids() -> Arc<dyn SecretGenerator> {
    Arc::new(OsSecretGenerator)
}

#[async_trait]
impl QueueBackend for Sql {
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn JobQueue>, Arc<dyn JobQueue>) {
        let (url, first) = self.fresh().await;
        let second = connect_sql(&url).await;
        (
            Arc::new(first.job_queue(clock.clone(), ids())),
            Arc::new(second.job_queue(clock, ids())),
        )
    }
}

#[async_trait]
impl AuditBackend for Sql {
    async fn open(&self, clock: Arc<ManualClock>) -> Arc<dyn AuditLog> {
        let (_, database) = self.fresh().await;
        Arc::new(database.audit_log(clock, ids()))
    }
}

#[async_trait]
impl UnitOfWorkBackend for Sql {
    async fn open(&self, clock: Arc<ManualClock>) -> Stores {
        let (_, database) = self.fresh().await;
        Stores {
            unit_of_work: Arc::new(database.unit_of_work(clock.clone(), ids(), JobsTarget::Sql)),
            queue: Arc::new(database.job_queue(clock.clone(), ids())),
            audit: Arc::new(database.audit_log(clock.clone(), ids())),
            users: Arc::new(SqlUserRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            sessions: Arc::new(SqlSessionRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            one_time_tokens: Arc::new(SqlOneTimeTokenRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            factors: Arc::new(SqlFactorRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            backup_codes: Arc::new(SqlBackupCodeRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            devices: Arc::new(SqlDeviceRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            api_keys: Arc::new(SqlApiKeyRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            webhooks: Arc::new(SqlWebhookRepository::new(
                database.connection().clone(),
                clock,
            )),
        }
    }
}

#[async_trait]
impl UnitOfWorkBackend for HandOver {
    async fn open(&self, clock: Arc<ManualClock>) -> Stores {
        let (_, database) = self.0.fresh().await;
        let queue: Arc<dyn JobQueue> = Arc::new(MemoryJobQueue::new(clock.clone(), ids()));
        Stores {
            unit_of_work: Arc::new(database.unit_of_work(
                clock.clone(),
                ids(),
                JobsTarget::After(queue.clone()),
            )),
            queue,
            audit: Arc::new(database.audit_log(clock.clone(), ids())),
            users: Arc::new(SqlUserRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            sessions: Arc::new(SqlSessionRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            one_time_tokens: Arc::new(SqlOneTimeTokenRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            factors: Arc::new(SqlFactorRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            backup_codes: Arc::new(SqlBackupCodeRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            devices: Arc::new(SqlDeviceRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            api_keys: Arc::new(SqlApiKeyRepository::new(
                database.connection().clone(),
                clock.clone(),
            )),
            webhooks: Arc::new(SqlWebhookRepository::new(
                database.connection().clone(),
                clock,
            )),
        }
    }
}

mod sqlite_job_queue {
    twofa_tests::job_queue_contract!(super::Sql::Sqlite);
}

mod postgres_job_queue {
    twofa_tests::job_queue_contract!(super::Sql::Postgres);
}

mod sqlite_audit_log {
    twofa_tests::audit_log_contract!(super::Sql::Sqlite);
}

mod postgres_audit_log {
    twofa_tests::audit_log_contract!(super::Sql::Postgres);
}

mod sqlite_unit_of_work {
    twofa_tests::unit_of_work_contract!(super::Sql::Sqlite);
}

mod postgres_unit_of_work {
    twofa_tests::unit_of_work_contract!(super::Sql::Postgres);
}

mod sqlite_unit_of_work_handing_jobs_over {
    twofa_tests::unit_of_work_contract!(super::HandOver(super::Sql::Sqlite));
}

mod postgres_unit_of_work_handing_jobs_over {
    twofa_tests::unit_of_work_contract!(super::HandOver(super::Sql::Postgres));
}
