//! `MemoryUnitOfWork`: transactions over a [`MemoryDatabase`], staged and applied on commit.

use std::sync::Arc;

use async_trait::async_trait;
use futures::lock::OwnedMutexGuard;
use twofa_domain::{
    ApiKeyRepository, AuditLog, BackupCodeRepository, DeviceRepository, FactorRepository, JobQueue,
    NewAuditEvent, NewJob, OneTimeTokenRepository, PortError, QueueError, SessionRepository,
    Transaction, UnitOfWork, UserRepository, WebhookRepository,
};

use crate::{
    MemoryApiKeyRepository, MemoryBackupCodeRepository, MemoryDatabase, MemoryDeviceRepository,
    MemoryFactorRepository, MemoryOneTimeTokenRepository, MemorySessionRepository,
    MemoryUserRepository, MemoryWebhookRepository,
    memory_database::{Scope, StagedTables},
};

/// Transactions over one [`MemoryDatabase`], its audit log and its job queue.
///
/// A transaction takes the database's writer lock in `begin` and holds it until it commits or
/// is dropped, so memory transactions run one at a time, like SQLite writers (see
/// [`MemoryDatabase`]: a plain write, or a second `begin`, awaited by the task holding an open
/// transaction waits forever). Its repositories write to copies of the tables they touch,
/// taken on their first write, and read those copies (so they see the transaction's own
/// writes), else the committed tables. Audit events and jobs are kept in the transaction.
///
/// `commit` locks the committed tables, appends the events, then enqueues the jobs, then swaps
/// the copies in, and only then lets readers at the tables again: nobody reads the tables
/// between a job becoming claimable and the change it belongs to. If an append or an enqueue
/// fails, no table changes and `commit` answers the error; the events appended and the jobs
/// enqueued before the failure stay (an audit log and a queue behind `dyn` ports cannot take
/// them back). Events go first because an event without its change misleads less than a job
/// acting on a change that never happened. The memory audit log and job queue never fail.
/// A dropped transaction changes nothing.
pub struct MemoryUnitOfWork {
    database: MemoryDatabase,
    queue: Arc<dyn JobQueue>,
    audit: Arc<dyn AuditLog>,
}

impl MemoryUnitOfWork {
    /// Transactions over `database`, recording their events in `audit` and their jobs in
    /// `queue` on commit.
    pub fn new(
        database: &MemoryDatabase,
        queue: Arc<dyn JobQueue>,
        audit: Arc<dyn AuditLog>,
    ) -> Self {
        Self {
            database: database.clone(),
            queue,
            audit,
        }
    }
}

#[async_trait]
impl UnitOfWork for MemoryUnitOfWork {
    async fn begin(&self) -> Result<Box<dyn Transaction>, PortError> {
        let writer = self.database.lock_writer().await;
        let staged = Arc::new(StagedTables::new(self.database.clone()));
        Ok(Box::new(MemoryTransaction {
            users: MemoryUserRepository::over(Scope::Transaction(staged.clone())),
            sessions: MemorySessionRepository::over(Scope::Transaction(staged.clone())),
            one_time_tokens: MemoryOneTimeTokenRepository::over(Scope::Transaction(staged.clone())),
            factors: MemoryFactorRepository::over(Scope::Transaction(staged.clone())),
            backup_codes: MemoryBackupCodeRepository::over(Scope::Transaction(staged.clone())),
            devices: MemoryDeviceRepository::over(Scope::Transaction(staged.clone())),
            api_keys: MemoryApiKeyRepository::over(Scope::Transaction(staged.clone())),
            webhooks: MemoryWebhookRepository::over(Scope::Transaction(staged.clone())),
            staged,
            database: self.database.clone(),
            queue: self.queue.clone(),
            audit: self.audit.clone(),
            jobs: Vec::new(),
            events: Vec::new(),
            writer,
        }))
    }
}

/// One open transaction: it holds the writer lock until it commits or is dropped.
struct MemoryTransaction {
    users: MemoryUserRepository,
    sessions: MemorySessionRepository,
    one_time_tokens: MemoryOneTimeTokenRepository,
    factors: MemoryFactorRepository,
    backup_codes: MemoryBackupCodeRepository,
    devices: MemoryDeviceRepository,
    api_keys: MemoryApiKeyRepository,
    webhooks: MemoryWebhookRepository,
    staged: Arc<StagedTables>,
    database: MemoryDatabase,
    queue: Arc<dyn JobQueue>,
    audit: Arc<dyn AuditLog>,
    jobs: Vec<NewJob>,
    events: Vec<NewAuditEvent>,
    writer: OwnedMutexGuard<()>,
}

/// A queue failure as `commit` answers it.
fn queue_failure(error: QueueError) -> PortError {
    match error {
        QueueError::Unavailable(source) => PortError::Unavailable {
            dependency: "job queue",
            source,
        },
        QueueError::LeaseLost => PortError::Unexpected(QueueError::LeaseLost.into()),
        QueueError::Unexpected(source) => PortError::Unexpected(source),
    }
}

#[async_trait]
impl Transaction for MemoryTransaction {
    fn users(&self) -> &dyn UserRepository {
        &self.users
    }

    fn sessions(&self) -> &dyn SessionRepository {
        &self.sessions
    }

    fn one_time_tokens(&self) -> &dyn OneTimeTokenRepository {
        &self.one_time_tokens
    }

    fn factors(&self) -> &dyn FactorRepository {
        &self.factors
    }

    fn backup_codes(&self) -> &dyn BackupCodeRepository {
        &self.backup_codes
    }

    fn devices(&self) -> &dyn DeviceRepository {
        &self.devices
    }

    fn api_keys(&self) -> &dyn ApiKeyRepository {
        &self.api_keys
    }

    fn webhooks(&self) -> &dyn WebhookRepository {
        &self.webhooks
    }

    async fn enqueue(&mut self, job: NewJob) -> Result<(), QueueError> {
        self.jobs.push(job);
        Ok(())
    }

    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), PortError> {
        self.events.push(event);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), PortError> {
        let Self {
            staged,
            database,
            queue,
            audit,
            jobs,
            events,
            writer,
            ..
        } = *self;
        let copies = staged.take().await;
        let mut tables = database.tables().await;
        for event in events {
            audit.append(event).await?;
        }
        for job in jobs {
            queue.enqueue(job).await.map_err(queue_failure)?;
        }
        tables.apply(copies);
        drop(tables);
        drop(writer);
        Ok(())
    }
}
