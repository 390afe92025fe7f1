//! The `DeviceRepository` contract against every adapter: memory; SQLite (a fresh file per store)
//! and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL stores' two
//! handles are two connection pools on one database, as two processes would hold; devices
//! belong to accounts (a foreign key), so the contract's users exist first.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_domain::{DeviceRepository, UserRepository as _};
use twofa_memory::{ManualClock, MemoryDeviceRepository};
use twofa_sql::{SqlDeviceRepository, SqlUserRepository};
use twofa_tests::contract::{
    create_users,
    device_repository::{DeviceRepositoryBackend, device, token},
    user,
};
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl DeviceRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn DeviceRepository>, Arc<dyn DeviceRepository>) {
        let store: Arc<dyn DeviceRepository> = Arc::new(MemoryDeviceRepository::new(clock));
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
impl DeviceRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn DeviceRepository>, Arc<dyn DeviceRepository>) {
        let (url, first) = self.fresh(clock.clone()).await;
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlDeviceRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlDeviceRepository::new(second.connection().clone(), clock)),
        )
    }
}

/// The foreign key on both databases: a device for no account is refused, and deleting an
/// account deletes its devices.
async fn devices_follow_their_account(engine: Sql) {
    let clock = twofa_tests::contract::clock();
    let (_, database) = engine.fresh(clock.clone()).await;
    let users = SqlUserRepository::new(database.connection().clone(), clock.clone());
    let devices = SqlDeviceRepository::new(database.connection().clone(), clock);
    let expires_at = twofa_tests::contract::start() + TimeDelta::days(30);
    assert!(
        devices.add(device(9, 99, expires_at)).await.is_err(),
        "no account 99"
    );
    devices.add(device(1, 1, expires_at)).await.expect("added");
    devices.add(device(2, 2, expires_at)).await.expect("added");
    assert!(users.delete(user(1)).await.expect("deleted"));
    assert_eq!(
        devices
            .use_token(user(1), &token(1))
            .await
            .expect("answers"),
        None
    );
    assert!(
        devices
            .use_token(user(2), &token(2))
            .await
            .expect("answers")
            .is_some()
    );
}

#[tokio::test]
async fn sqlite_devices_follow_their_account() {
    devices_follow_their_account(Sql::Sqlite).await;
}

#[tokio::test]
async fn postgres_devices_follow_their_account() {
    devices_follow_their_account(Sql::Postgres).await;
}

mod memory {
    twofa_tests::device_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::device_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::device_repository_contract!(super::Sql::Postgres);
}
