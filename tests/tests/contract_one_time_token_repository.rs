//! The `OneTimeTokenRepository` contract against every adapter: memory; SQLite (a fresh file
//! per store) and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL
//! stores' two handles are two connection pools on one database, as two processes would hold;
//! tokens belong to accounts (a foreign key), so the contract's users exist first.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_domain::{
    EmailAddress, NewOneTimeToken, NewUser, OneTimeTokenHash, OneTimeTokenRepository, PasswordHash,
    TokenPurpose, UserRepository, Username,
};
use twofa_memory::{ManualClock, memory_one_time_token_repository::MemoryOneTimeTokenRepository};
use twofa_sql::{SqlUserRepository, sql_one_time_token_repository::SqlOneTimeTokenRepository};
use twofa_tests::contract::one_time_token_repository::{OneTimeTokenRepositoryBackend, user};
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl OneTimeTokenRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (
        Arc<dyn OneTimeTokenRepository>,
        Arc<dyn OneTimeTokenRepository>,
    ) {
        let tokens: Arc<dyn OneTimeTokenRepository> =
            Arc::new(MemoryOneTimeTokenRepository::new(clock));
        (tokens.clone(), tokens)
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

/// Creates the accounts `user(1)`–`user(3)` the contract's tokens belong to.
async fn create_users(users: &dyn UserRepository) {
    for n in 1..=3 {
        let user = NewUser::new(
            user(n),
            EmailAddress::parse(&format!("user{n}@example.com")).expect("a valid address"),
            Username::parse(&format!("user{n}")).expect("a valid username"),
            PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        );
        users.create(user).await.expect("the account is created");
    }
}

#[async_trait]
impl OneTimeTokenRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (
        Arc<dyn OneTimeTokenRepository>,
        Arc<dyn OneTimeTokenRepository>,
    ) {
        let url = self.fresh_url().await;
        let first = connect_sql(&url).await;
        first.migrate().await.expect("the migrations apply");
        create_users(&SqlUserRepository::new(
            first.connection().clone(),
            clock.clone(),
        ))
        .await;
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlOneTimeTokenRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlOneTimeTokenRepository::new(
                second.connection().clone(),
                clock,
            )),
        )
    }
}

/// The foreign key on both databases: a token for no account is refused, and deleting an
/// account deletes its tokens (a live one no longer answers).
async fn tokens_follow_their_account(engine: Sql) {
    let clock = twofa_tests::contract::clock();
    let url = engine.fresh_url().await;
    let database = connect_sql(&url).await;
    database.migrate().await.expect("the migrations apply");
    let users = SqlUserRepository::new(database.connection().clone(), clock.clone());
    create_users(&users).await;
    let tokens = SqlOneTimeTokenRepository::new(database.connection().clone(), clock);
    let token = |n: u8, owner: u128| NewOneTimeToken {
        hash: OneTimeTokenHash::from_bytes([n; 32]),
        purpose: TokenPurpose::VerifyEmail,
        user_id: user(owner),
        expires_at: twofa_tests::contract::start() + TimeDelta::hours(24),
    };
    assert!(tokens.issue(token(9, 99)).await.is_err(), "no account 99");
    tokens.issue(token(1, 1)).await.expect("issued");
    tokens.issue(token(2, 2)).await.expect("issued");
    assert!(users.delete(user(1)).await.expect("deleted"));
    for (n, owner) in [(1, None), (2, Some(user(2)))] {
        let hash = OneTimeTokenHash::from_bytes([n; 32]);
        let consumed = tokens.consume(TokenPurpose::VerifyEmail, &hash).await;
        assert_eq!(consumed.expect("answers"), owner, "token {n}");
    }
}

#[tokio::test]
async fn sqlite_tokens_follow_their_account() {
    tokens_follow_their_account(Sql::Sqlite).await;
}

#[tokio::test]
async fn postgres_tokens_follow_their_account() {
    tokens_follow_their_account(Sql::Postgres).await;
}

mod memory {
    twofa_tests::one_time_token_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::one_time_token_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::one_time_token_repository_contract!(super::Sql::Postgres);
}
