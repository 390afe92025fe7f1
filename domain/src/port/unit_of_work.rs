//! The `UnitOfWork` port: a state change, its audit event and the jobs it causes commit
//! together or not at all (the transactional outbox).
//!
//! A use case opens one transaction, makes its changes through the repositories the
//! transaction hands out, records its events and jobs, and commits once:
//!
//! ```ignore
//! let mut transaction = unit_of_work.begin().await?;
//! let user = transaction.users().create(new_user).await?;
//! transaction.audit(registered(&user)).await?;
//! transaction.enqueue(welcome_mail(&user)).await?;
//! transaction.commit().await?;
//! ```

use async_trait::async_trait;

use crate::{
    ApiKeyRepository, BackupCodeRepository, DeviceRepository, FactorRepository, NewAuditEvent,
    NewJob, OneTimeTokenRepository, PortError, QueueError, SessionRepository, UserRepository,
    WebhookRepository,
};

/// Starts transactions.
///
/// # Errors
/// `PortError::Unavailable` when the store is down.
#[async_trait]
pub trait UnitOfWork: Send + Sync + 'static {
    /// A new transaction; dropping it without `commit` rolls everything back.
    async fn begin(&self) -> Result<Box<dyn Transaction>, PortError>;
}

/// One transaction: the repositories bound to it, the audit trail and the job queue.
///
/// Implementations MUST make every write done through the repositories it hands out, every
/// event and every job visible to others only once `commit` succeeds, and none of them if the
/// transaction is dropped uncommitted or `commit` fails. Reads through its repositories see
/// the transaction's own writes. Each repository keeps its port's contract inside the
/// transaction (a conditional write such as `rotate` or `consume` is still atomic against
/// other transactions).
///
/// # Errors
/// What the underlying store answers. A job enqueued here exists only if `commit` succeeds;
/// with the SQL queue it is written in the same transaction; with another queue it is written
/// to the database's outbox in the same transaction and handed to that queue after the commit
/// (see the adapter for what survives a crash between the two).
#[async_trait]
pub trait Transaction: Send + Sync {
    /// Accounts, inside this transaction.
    fn users(&self) -> &dyn UserRepository;

    /// Sessions and refresh tokens, inside this transaction.
    fn sessions(&self) -> &dyn SessionRepository;

    /// E-mail verification and password reset tokens, inside this transaction.
    fn one_time_tokens(&self) -> &dyn OneTimeTokenRepository;

    /// Second factors, inside this transaction.
    fn factors(&self) -> &dyn FactorRepository;

    /// Backup codes, inside this transaction.
    fn backup_codes(&self) -> &dyn BackupCodeRepository;

    /// Trusted devices, inside this transaction.
    fn devices(&self) -> &dyn DeviceRepository;

    /// API keys, inside this transaction.
    fn api_keys(&self) -> &dyn ApiKeyRepository;

    /// Webhook endpoints and their deliveries, inside this transaction.
    fn webhooks(&self) -> &dyn WebhookRepository;

    /// Enqueues a job that exists only if this transaction commits. (Its id is not known
    /// before the commit: an idempotency key may map it to an existing job.)
    async fn enqueue(&mut self, job: NewJob) -> Result<(), QueueError>;

    /// Records an audit event that exists only if this transaction commits.
    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), PortError>;

    /// Makes everything done in the transaction durable.
    async fn commit(self: Box<Self>) -> Result<(), PortError>;
}
