//! The `BackupCodeRepository` contract against every adapter: memory; SQLite (a fresh file per store)
//! and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL stores' two
//! handles are two connection pools on one database, as two processes would hold; codes
//! belong to accounts (a foreign key), so the contract's users exist first.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{BackupCodeRepository, UserRepository as _};
use twofa_memory::{ManualClock, MemoryBackupCodeRepository};
use twofa_sql::{SqlBackupCodeRepository, SqlUserRepository};
use twofa_tests::contract::{
    backup_code_repository::{BackupCodeRepositoryBackend, digest},
    create_users, user,
};
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl BackupCodeRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn BackupCodeRepository>, Arc<dyn BackupCodeRepository>) {
        let store: Arc<dyn BackupCodeRepository> = Arc::new(MemoryBackupCodeRepository::new(clock));
        (store.clone(), store)
    }
}

/// A database engine; each `open` gets a new, empty, migrated database on it.
#[derive(Debug, Clone, Copy)]
enum Sql {
    Sqlite,
    Postgres,
}

impl Sql {
    /// A new, migrated database with the contract's accounts; its URL and a handle on it.
    async fn fresh(self, clock: Arc<ManualClock>) -> (String, twofa_sql::SqlDatabase) {
        let url = match self {
            Self::Sqlite => SqlEngine::Sqlite,
            Self::Postgres => SqlEngine::Postgres,
        }
        .fresh_url()
        .await;
        let database = connect_sql(&url).await;
        database.migrate().await.expect("the migrations apply");
        create_users(&SqlUserRepository::new(
            database.connection().clone(),
            clock,
        ))
        .await;
        (url, database)
    }
}

#[async_trait]
impl BackupCodeRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn BackupCodeRepository>, Arc<dyn BackupCodeRepository>) {
        let (url, first) = self.fresh(clock.clone()).await;
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlBackupCodeRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlBackupCodeRepository::new(
                second.connection().clone(),
                clock,
            )),
        )
    }
}

/// The foreign key on both databases: codes for no account are refused, and deleting an
/// account deletes its codes.
async fn codes_follow_their_account(engine: Sql) {
    let clock = twofa_tests::contract::clock();
    let (_, database) = engine.fresh(clock.clone()).await;
    let users = SqlUserRepository::new(database.connection().clone(), clock.clone());
    let codes = SqlBackupCodeRepository::new(database.connection().clone(), clock);
    assert!(
        codes.replace(user(99), vec![digest(1)]).await.is_err(),
        "no account 99"
    );
    codes
        .replace(user(1), vec![digest(1), digest(2)])
        .await
        .expect("replaced");
    codes
        .replace(user(2), vec![digest(1)])
        .await
        .expect("replaced");
    assert!(users.delete(user(1)).await.expect("deleted"));
    assert_eq!(codes.remaining(user(1)).await.expect("answers"), 0);
    assert_eq!(codes.remaining(user(2)).await.expect("answers"), 1);
}

#[tokio::test]
async fn sqlite_codes_follow_their_account() {
    codes_follow_their_account(Sql::Sqlite).await;
}

#[tokio::test]
async fn postgres_codes_follow_their_account() {
    codes_follow_their_account(Sql::Postgres).await;
}

mod memory {
    twofa_tests::backup_code_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::backup_code_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::backup_code_repository_contract!(super::Sql::Postgres);
}
