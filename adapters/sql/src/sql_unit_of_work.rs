//! `SqlUnitOfWork`: the `UnitOfWork` port over a database transaction, so a state change, its
//! audit event and the jobs it causes commit together or not at all.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use twofa_domain::{
    ApiKeyRepository, BackupCodeRepository, Clock, DeviceRepository, FactorRepository, JobQueue,
    NewAuditEvent, NewJob, OneTimeTokenRepository, PortError, QueueError, SecretGenerator,
    SessionRepository, Transaction, UnitOfWork, UserRepository, WebhookRepository, error_chain,
};

use crate::{
    SqlApiKeyRepository, SqlBackupCodeRepository, SqlDeviceRepository, SqlFactorRepository,
    SqlOneTimeTokenRepository, SqlSessionRepository, SqlUserRepository, SqlWebhookRepository,
    db_error::{port_error, queue_error},
    deferred_inserts::{DeferredInserts, write_all},
    executor::Executor,
    sql_audit_log::AuditBatch,
    sql_job_outbox::{self, OutboxEntry},
    sql_job_queue::JobBatch,
};

/// Where the jobs a transaction enqueues go.
///
/// Either way nothing committed is lost: a job exists exactly when its change committed, and
/// what happens to it after the hand-over is the queue's own durability.
#[derive(Clone)]
pub enum JobsTarget {
    /// Into the `jobs` table, inside the transaction: the transactional outbox
    /// (`jobs.backend = "sql"`). A job exists exactly when its transaction committed.
    Sql,
    /// Into another queue (`jobs.backend = "redis"` or `"memory"`): each job is written to the
    /// `job_outbox` table inside the transaction, and after the database commit succeeds it is
    /// handed to this queue (idempotency key: the job's own, else `outbox:<row id>`) and its
    /// row deleted. A rolled-back transaction hands over nothing. A hand-over that fails after
    /// the commit (or a crash between the commit and the hand-over) leaves the row, is logged,
    /// and does not fail `commit`: the change is durable, and [`crate::SqlJobOutbox::relay`]
    /// re-sends the job later; the key makes a repeated hand-over enqueue nothing twice.
    After(Arc<dyn JobQueue>),
}

/// The `UnitOfWork` port over PostgreSQL or SQLite transactions.
#[derive(Clone)]
pub struct SqlUnitOfWork {
    connection: DatabaseConnection,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
    jobs: JobsTarget,
}

impl SqlUnitOfWork {
    /// Transactions on `connection`, stamping rows with `clock`, drawing ids from `ids`, and
    /// sending enqueued jobs to `jobs`.
    ///
    /// `begin` opens a database transaction (`BEGIN IMMEDIATE` on SQLite, so a transaction that
    /// reads before it writes cannot fail to upgrade its lock) and hands out the SQL
    /// repositories bound to it; audit events are inserted into `audit_events` inside it, and
    /// jobs into `jobs` (`JobsTarget::Sql`) or `job_outbox` (`JobsTarget::After`) inside it.
    /// `commit` commits (then hands the outbox's jobs over); dropping the transaction without
    /// committing rolls it back.
    pub fn new(
        connection: DatabaseConnection,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
        jobs: JobsTarget,
    ) -> Self {
        Self {
            connection,
            clock,
            ids,
            jobs,
        }
    }
}

#[async_trait]
impl UnitOfWork for SqlUnitOfWork {
    async fn begin(&self) -> Result<Box<dyn Transaction>, PortError> {
        let transaction = Executor::Pool(self.connection.clone())
            .begin_immediate()
            .await
            .map_err(|error| port_error("beginning a transaction", error))?;
        let transaction = Arc::new(transaction);
        let deferred = DeferredInserts::default();
        let executor = Executor::Transaction(transaction.clone(), deferred.clone());
        Ok(Box::new(SqlTransaction {
            users: SqlUserRepository::on(executor.clone(), self.clock.clone()),
            sessions: SqlSessionRepository::on(executor.clone(), self.clock.clone()),
            one_time_tokens: SqlOneTimeTokenRepository::on(executor.clone(), self.clock.clone()),
            factors: SqlFactorRepository::on(executor.clone(), self.clock.clone()),
            backup_codes: SqlBackupCodeRepository::on(executor.clone(), self.clock.clone()),
            devices: SqlDeviceRepository::on(executor.clone(), self.clock.clone()),
            api_keys: SqlApiKeyRepository::on(executor.clone(), self.clock.clone()),
            webhooks: SqlWebhookRepository::on(executor, self.clock.clone()),
            transaction,
            deferred,
            connection: self.connection.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            jobs: self.jobs.clone(),
            outboxed: Vec::new(),
            audit_batch: AuditBatch::default(),
            job_batch: JobBatch::default(),
        }))
    }
}

/// One database transaction and the repositories bound to it; sea-orm rolls it back when it
/// is dropped uncommitted.
struct SqlTransaction {
    transaction: Arc<DatabaseTransaction>,
    /// New rows the repositories left for the commit.
    deferred: DeferredInserts,
    users: SqlUserRepository,
    sessions: SqlSessionRepository,
    one_time_tokens: SqlOneTimeTokenRepository,
    factors: SqlFactorRepository,
    backup_codes: SqlBackupCodeRepository,
    devices: SqlDeviceRepository,
    api_keys: SqlApiKeyRepository,
    webhooks: SqlWebhookRepository,
    /// The pool, for deleting handed-over outbox rows after the commit.
    connection: DatabaseConnection,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
    jobs: JobsTarget,
    /// Jobs written to the outbox (`JobsTarget::After`), handed over after the commit.
    outboxed: Vec<OutboxEntry>,
    /// Audit events appended, written just before the commit (or when the batch fills).
    audit_batch: AuditBatch,
    /// Jobs enqueued into `jobs` (`JobsTarget::Sql`), written just before the commit (or when
    /// the batch fills).
    job_batch: JobBatch,
}

#[async_trait]
impl Transaction for SqlTransaction {
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
        let now = self.clock.now();
        let ids = self.ids.as_ref();
        match &self.jobs {
            JobsTarget::Sql => {
                self.job_batch.push(now, ids, job)?;
                if self.job_batch.is_full() {
                    self.job_batch
                        .write_on(self.transaction.as_ref())
                        .await
                        .map_err(|error| queue_error("enqueueing jobs", error))?;
                }
            }
            JobsTarget::After(_) => {
                let entry =
                    sql_job_outbox::write_on(self.transaction.as_ref(), now, ids, job).await?;
                self.outboxed.push(entry);
            }
        }
        Ok(())
    }

    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), PortError> {
        self.audit_batch
            .push(self.clock.now(), self.ids.as_ref(), event)?;
        if self.audit_batch.is_full() {
            self.audit_batch.write_on(self.transaction.as_ref()).await?;
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), PortError> {
        let mut this = *self;
        // The deferred rows, then the change's events and jobs (one multi-row insert each):
        // one statement on PostgreSQL, inside the transaction.
        let mut inserts = this.deferred.take();
        inserts.extend(this.audit_batch.take());
        inserts.extend(this.job_batch.take());
        write_all(this.transaction.as_ref(), inserts)
            .await
            .map_err(|error| port_error("writing a change's rows, events and jobs", error))?;
        let Self {
            transaction,
            users,
            sessions,
            one_time_tokens,
            factors,
            backup_codes,
            devices,
            api_keys,
            webhooks,
            connection,
            jobs,
            outboxed,
            ..
        } = this;
        drop((
            users,
            sessions,
            one_time_tokens,
            factors,
            backup_codes,
            devices,
            api_keys,
            webhooks,
        ));
        let transaction = Arc::try_unwrap(transaction).map_err(|_| {
            PortError::Unexpected(anyhow::anyhow!(
                "committing a transaction: a repository bound to it is still in use"
            ))
        })?;
        transaction
            .commit()
            .await
            .map_err(|error| port_error("committing a transaction", error))?;
        if let JobsTarget::After(queue) = jobs {
            hand_over(&connection, queue.as_ref(), outboxed).await;
        }
        Ok(())
    }
}

/// Hands each committed job in `outboxed` to `queue` and deletes its outbox row. Failures are
/// logged, not answered: the change is durable and the outbox keeps what was not handed over
/// (from the first job the queue refused on) for the relay.
async fn hand_over(
    connection: &DatabaseConnection,
    queue: &dyn JobQueue,
    outboxed: Vec<OutboxEntry>,
) {
    let total = outboxed.len();
    for (handed, entry) in outboxed.into_iter().enumerate() {
        if let Err(error) = sql_job_outbox::enqueue(queue, &entry).await {
            tracing::warn!(
                kind = %entry.job.kind,
                outbox_id = %entry.id,
                left_in_outbox = total - handed,
                error = %error_chain(&error),
                "the job queue refused a committed job; the outbox keeps it for the relay"
            );
            return;
        }
        if let Err(error) = sql_job_outbox::delete(connection, entry.id).await {
            tracing::warn!(
                kind = %entry.job.kind,
                outbox_id = %entry.id,
                error = %error_chain(&error),
                "a handed-over job stays in the outbox; the relay's idempotency key stops a second enqueue"
            );
        }
    }
}
