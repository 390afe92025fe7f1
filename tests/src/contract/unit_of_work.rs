//! The `UnitOfWork` contract: a transaction's jobs and audit events exist after its commit,
//! and a rolled-back (dropped) transaction leaves neither.

#![expect(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use twofa_domain::{
    Actor, AuditLog, AuditQuery, JobQueue, NewAuditEvent, NewJob, QueueCounts, UnitOfWork,
};
use twofa_memory::ManualClock;

/// The stores a unit of work writes to, opened together.
pub struct Stores {
    /// Begins transactions.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// Where committed jobs land.
    pub queue: Arc<dyn JobQueue>,
    /// Where committed events land.
    pub audit: Arc<dyn AuditLog>,
}

/// A backend under test.
#[async_trait]
pub trait UnitOfWorkBackend: Send + Sync {
    /// New, empty stores keeping time with `clock`.
    async fn open(&self, clock: Arc<ManualClock>) -> Stores;
}

fn registered() -> NewAuditEvent {
    NewAuditEvent::new("user.registered", Actor::system(), true)
}

fn welcome() -> NewJob {
    NewJob::new("email.send", json!({"template": "verify_email"}), 5)
}

/// A committed transaction's job and event both exist.
pub async fn a_commit_keeps_the_job_and_the_event(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    tx.audit(registered()).await.unwrap();
    tx.enqueue(welcome()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stores.queue.counts().await.unwrap().pending, 1);
    let job = stores
        .queue
        .claim(std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, "email.send");
    let events = stores.audit.query(&AuditQuery::all()).await.unwrap();
    assert_eq!(events.items.len(), 1);
    assert_eq!(events.items[0].event.action, "user.registered");
}

/// A job cannot outlive the transaction that enqueued it: a rolled-back change leaves no job
/// and no event.
pub async fn a_rollback_leaves_no_job_and_no_event(backend: &dyn UnitOfWorkBackend) {
    let stores = backend.open(super::clock()).await;
    let mut tx = stores.unit_of_work.begin().await.unwrap();
    tx.audit(registered()).await.unwrap();
    tx.enqueue(welcome()).await.unwrap();
    drop(tx);
    assert_eq!(stores.queue.counts().await.unwrap(), QueueCounts::default());
    assert!(
        stores
            .queue
            .claim(std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        stores
            .audit
            .query(&AuditQuery::all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Instantiates every case for `$backend` (an expression implementing `UnitOfWorkBackend`).
#[macro_export]
macro_rules! unit_of_work_contract {
    ($backend:expr) => {
        $crate::unit_of_work_contract!(@cases $backend;
            a_commit_keeps_the_job_and_the_event,
            a_rollback_leaves_no_job_and_no_event,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::unit_of_work::$case(&$backend).await;
            }
        )*
    };
}
