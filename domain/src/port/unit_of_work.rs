//! The `UnitOfWork` port: a state change, its audit event and the jobs it causes commit
//! together or not at all (the transactional outbox).

use async_trait::async_trait;

use crate::{NewAuditEvent, NewJob, PortError, QueueError};

/// Starts transactions.
///
/// # Errors
/// `PortError::Unavailable` when the store is down.
#[async_trait]
pub trait UnitOfWork: Send + Sync + 'static {
    /// A new transaction; dropping it without `commit` rolls everything back.
    async fn begin(&self) -> Result<Box<dyn Transaction>, PortError>;
}

/// One transaction. Repositories join it as the flows that need them arrive.
///
/// # Errors
/// What the underlying store answers. A job enqueued here exists only if `commit` succeeds;
/// with the SQL queue it is written in the same transaction, with another queue it is handed
/// over after the commit and before `commit` returns.
#[async_trait]
pub trait Transaction: Send {
    /// Enqueues a job that exists only if this transaction commits. (Its id is not known
    /// before the commit: an idempotency key may map it to an existing job.)
    async fn enqueue(&mut self, job: NewJob) -> Result<(), QueueError>;

    /// Records an audit event that exists only if this transaction commits.
    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), PortError>;

    /// Makes everything done in the transaction durable.
    async fn commit(self: Box<Self>) -> Result<(), PortError>;
}
