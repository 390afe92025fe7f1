//! The `ApiKeyRepository` contract against every adapter: memory; SQLite (a fresh file per
//! store) and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL stores'
//! two handles are two connection pools on one database, as two processes would hold; keys
//! belong to accounts (a foreign key), so the contract's users exist first.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{ApiKeyRepository, UserRepository as _};
use twofa_memory::{ManualClock, MemoryApiKeyRepository};
use twofa_sql::{SqlApiKeyRepository, SqlUserRepository};
use twofa_tests::contract::{
    api_key_repository::{ApiKeyRepositoryBackend, key_hash, key_id, new_key},
    create_users, user,
};
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl ApiKeyRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn ApiKeyRepository>, Arc<dyn ApiKeyRepository>) {
        let store: Arc<dyn ApiKeyRepository> = Arc::new(MemoryApiKeyRepository::new(clock));
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
impl ApiKeyRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn ApiKeyRepository>, Arc<dyn ApiKeyRepository>) {
        let (url, first) = self.fresh(clock.clone()).await;
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlApiKeyRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlApiKeyRepository::new(second.connection().clone(), clock)),
        )
    }
}

/// The foreign key on both databases: a key for no account is refused, and deleting an
/// account deletes its keys.
async fn api_keys_follow_their_account(engine: Sql) {
    let clock = twofa_tests::contract::clock();
    let (_, database) = engine.fresh(clock.clone()).await;
    let users = SqlUserRepository::new(database.connection().clone(), clock.clone());
    let keys = SqlApiKeyRepository::new(database.connection().clone(), clock);
    assert!(keys.add(new_key(9, 99)).await.is_err(), "no account 99");
    keys.add(new_key(1, 1)).await.expect("added");
    keys.add(new_key(2, 2)).await.expect("added");
    assert!(users.delete(user(1)).await.expect("deleted"));
    assert_eq!(
        keys.find_by_hash(&key_hash(1)).await.expect("answers"),
        None
    );
    assert!(keys.list(user(1)).await.expect("answers").is_empty());
    assert!(
        keys.get(user(2), key_id(2))
            .await
            .expect("answers")
            .is_some()
    );
}

#[tokio::test]
async fn sqlite_api_keys_follow_their_account() {
    api_keys_follow_their_account(Sql::Sqlite).await;
}

#[tokio::test]
async fn postgres_api_keys_follow_their_account() {
    api_keys_follow_their_account(Sql::Postgres).await;
}

mod memory {
    twofa_tests::api_key_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::api_key_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::api_key_repository_contract!(super::Sql::Postgres);
}
