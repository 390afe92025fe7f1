//! The `SessionRepository` contract against every adapter: memory; SQLite (a fresh file per
//! store) and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL stores'
//! two handles are two connection pools on one database, as two processes would hold; the
//! accounts the sessions belong to are created first (`sessions.user_id` references them).

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{
    EmailAddress, NewUser, PasswordHash, SessionRepository, UserRepository as _, Username,
};
use twofa_memory::{ManualClock, memory_session_repository::MemorySessionRepository};
use twofa_sql::{SqlUserRepository, sql_session_repository::SqlSessionRepository};
use twofa_tests::contract::session_repository::{SessionRepositoryBackend, user};
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl SessionRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn SessionRepository>, Arc<dyn SessionRepository>) {
        let sessions: Arc<dyn SessionRepository> = Arc::new(MemorySessionRepository::new(clock));
        (sessions.clone(), sessions)
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
impl SessionRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn SessionRepository>, Arc<dyn SessionRepository>) {
        let url = self.fresh_url().await;
        let first = connect_sql(&url).await;
        first.migrate().await.expect("the migrations apply");
        let users = SqlUserRepository::new(first.connection().clone(), clock.clone());
        for n in 1..=3 {
            let new = NewUser::new(
                user(n),
                EmailAddress::parse(&format!("user{n}@example.com")).expect("an address"),
                Username::parse(&format!("user{n}")).expect("a username"),
                PasswordHash::from_phc("$argon2id$fake".to_owned()),
            );
            users.create(new).await.expect("the account is created");
        }
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlSessionRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlSessionRepository::new(
                second.connection().clone(),
                clock,
            )),
        )
    }
}

mod memory {
    twofa_tests::session_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::session_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::session_repository_contract!(super::Sql::Postgres);
}
