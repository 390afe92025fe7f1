//! The `UserRepository` contract against every adapter: memory; SQLite (a fresh file per
//! store) and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL stores'
//! two handles are two connection pools on one database, as two processes would hold.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::UserRepository;
use twofa_memory::{ManualClock, MemoryUserRepository};
use twofa_sql::SqlUserRepository;
use twofa_tests::contract::user_repository::UserRepositoryBackend;
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl UserRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn UserRepository>, Arc<dyn UserRepository>) {
        let users: Arc<dyn UserRepository> = Arc::new(MemoryUserRepository::new(clock));
        (users.clone(), users)
    }
}

/// A database engine; each `open` gets a new, empty, migrated database on it.
#[derive(Debug, Clone, Copy)]
enum Sql {
    Sqlite,
    Postgres,
}

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
}

#[async_trait]
impl UserRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn UserRepository>, Arc<dyn UserRepository>) {
        let url = self.fresh_url().await;
        let first = connect_sql(&url).await;
        first.migrate().await.expect("the migrations apply");
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlUserRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlUserRepository::new(second.connection().clone(), clock)),
        )
    }
}

mod memory {
    twofa_tests::user_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::user_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::user_repository_contract!(super::Sql::Postgres);
}
