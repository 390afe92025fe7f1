//! The `WebhookRepository` contract against every adapter: memory; SQLite (a fresh file per
//! store) and PostgreSQL (a fresh database per store, from `./scripts/test`). The SQL stores'
//! two handles are two connection pools on one database, as two processes would hold; a
//! user's endpoints belong to the account (a foreign key), so the contract's users exist first.

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{UserRepository as _, WebhookRepository};
use twofa_memory::{ManualClock, MemoryWebhookRepository};
use twofa_sql::{SqlUserRepository, SqlWebhookRepository};
use twofa_tests::contract::{
    create_users, user,
    webhook_repository::{
        WebhookRepositoryBackend, delivery_id, endpoint_id, new_delivery, new_endpoint,
    },
};
use twofa_tests::{SqlEngine, connect_sql};

struct Memory;

#[async_trait]
impl WebhookRepositoryBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn WebhookRepository>, Arc<dyn WebhookRepository>) {
        let store: Arc<dyn WebhookRepository> = Arc::new(MemoryWebhookRepository::new(clock));
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
impl WebhookRepositoryBackend for Sql {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn WebhookRepository>, Arc<dyn WebhookRepository>) {
        let (url, first) = self.fresh(clock.clone()).await;
        let second = connect_sql(&url).await;
        (
            Arc::new(SqlWebhookRepository::new(
                first.connection().clone(),
                clock.clone(),
            )),
            Arc::new(SqlWebhookRepository::new(
                second.connection().clone(),
                clock,
            )),
        )
    }
}

/// The foreign keys on both databases: an endpoint for no account is refused, and deleting an
/// account deletes its endpoints and their deliveries, leaving other accounts' and the global
/// ones.
async fn endpoints_follow_their_account(engine: Sql) {
    let clock = twofa_tests::contract::clock();
    let (_, database) = engine.fresh(clock.clone()).await;
    let users = SqlUserRepository::new(database.connection().clone(), clock.clone());
    let webhooks = SqlWebhookRepository::new(database.connection().clone(), clock);
    assert!(
        webhooks
            .add_endpoint(new_endpoint(9, 99, &["*"]))
            .await
            .is_err(),
        "no account 99"
    );
    for (n, owner_n) in [(1, 1), (2, 2), (3, 0)] {
        webhooks
            .add_endpoint(new_endpoint(n, owner_n, &["*"]))
            .await
            .expect("added");
        webhooks
            .add_delivery(new_delivery(n, n, n))
            .await
            .expect("added");
    }
    assert!(users.delete(user(1)).await.expect("deleted"));
    assert_eq!(
        webhooks
            .find_endpoint(endpoint_id(1))
            .await
            .expect("answers"),
        None
    );
    assert_eq!(
        webhooks
            .find_delivery(delivery_id(1))
            .await
            .expect("answers"),
        None
    );
    assert!(
        webhooks
            .list_endpoints(Some(user(1)))
            .await
            .expect("answers")
            .is_empty()
    );
    for n in [2, 3] {
        assert!(
            webhooks
                .find_endpoint(endpoint_id(n))
                .await
                .expect("answers")
                .is_some()
        );
        assert!(
            webhooks
                .find_delivery(delivery_id(n))
                .await
                .expect("answers")
                .is_some()
        );
    }
}

#[tokio::test]
async fn sqlite_endpoints_follow_their_account() {
    endpoints_follow_their_account(Sql::Sqlite).await;
}

#[tokio::test]
async fn postgres_endpoints_follow_their_account() {
    endpoints_follow_their_account(Sql::Postgres).await;
}

mod memory {
    twofa_tests::webhook_repository_contract!(super::Memory);
}

mod sqlite {
    twofa_tests::webhook_repository_contract!(super::Sql::Sqlite);
}

mod postgres {
    twofa_tests::webhook_repository_contract!(super::Sql::Postgres);
}
