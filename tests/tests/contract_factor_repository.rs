//! The `FactorRepository` contract against every adapter: memory; SQLite (a fresh file per store)
//! and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL stores' two
//! handles are two connection pools on one database, as two processes would hold; factors
//! belong to accounts (a foreign key), so the contract's users exist first.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{FactorRepository, UserRepository as _};
use twofa_memory::{ManualClock, MemoryFactorRepository};
use twofa_sql::{SqlFactorRepository, SqlUserRepository};
use twofa_tests::contract::{
    create_users,
    factor_repository::{FactorRepositoryBackend, factor_id, totp},
    user,
};
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl FactorRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn FactorRepository>, Arc<dyn FactorRepository>) {
        let store: Arc<dyn FactorRepository> = Arc::new(MemoryFactorRepository::new(clock));
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
impl FactorRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn FactorRepository>, Arc<dyn FactorRepository>) {
        let (url, first) = self.fresh(clock.clone()).await;
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlFactorRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlFactorRepository::new(second.connection().clone(), clock)),
        )
    }
}

/// The foreign key on both databases: a factor for no account is refused, and deleting an
/// account deletes its factors.
async fn factors_follow_their_account(engine: Sql) {
    let clock = twofa_tests::contract::clock();
    let (_, database) = engine.fresh(clock.clone()).await;
    let users = SqlUserRepository::new(database.connection().clone(), clock.clone());
    let factors = SqlFactorRepository::new(database.connection().clone(), clock);
    assert!(
        factors.add_pending(totp(9, 99, "k1")).await.is_err(),
        "no account 99"
    );
    factors.add_pending(totp(1, 1, "k1")).await.expect("added");
    assert!(factors.enable(factor_id(1), None).await.expect("enabled"));
    factors.add_pending(totp(2, 2, "k1")).await.expect("added");
    assert!(users.delete(user(1)).await.expect("deleted"));
    assert_eq!(
        factors.find(user(1), factor_id(1)).await.expect("answers"),
        None
    );
    assert!(
        factors
            .find(user(2), factor_id(2))
            .await
            .expect("answers")
            .is_some()
    );
}

#[tokio::test]
async fn sqlite_factors_follow_their_account() {
    factors_follow_their_account(Sql::Sqlite).await;
}

#[tokio::test]
async fn postgres_factors_follow_their_account() {
    factors_follow_their_account(Sql::Postgres).await;
}

mod memory {
    twofa_tests::factor_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::factor_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::factor_repository_contract!(super::Sql::Postgres);
}
