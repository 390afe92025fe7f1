//! `SqlUnitOfWork`: the `UnitOfWork` port over a database transaction, so a state change, its
//! audit event and the jobs it causes commit together or not at all.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, SqliteTransactionMode, TransactionOptions,
    TransactionTrait as _,
};
use twofa_domain::{
    Clock, JobQueue, NewAuditEvent, NewJob, PortError, QueueError, SecretGenerator, Transaction,
    UnitOfWork,
};

use crate::{db_error::port_error, sql_audit_log, sql_job_queue};

/// Where the jobs a transaction enqueues go.
#[derive(Clone)]
pub enum JobsTarget {
    /// Into the `jobs` table, inside the transaction: the transactional outbox
    /// (`jobs.backend = "sql"`). A job exists exactly when its transaction committed.
    Sql,
    /// Into another queue (`jobs.backend = "redis"` or `"memory"`): the jobs are kept in the
    /// transaction and handed to this queue right after the database commit succeeds, before
    /// `commit` returns. A rolled-back transaction hands over nothing; a queue that fails after
    /// the commit makes `commit` answer an error although the change is durable (the jobs are
    /// then lost: the price of a queue outside the database).
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
    /// reads before it writes cannot fail to upgrade its lock); audit events are inserted into
    /// `audit_events` inside it, and jobs into `jobs` inside it (`JobsTarget::Sql`) or kept
    /// until the commit (`JobsTarget::After`). `commit` commits; dropping the transaction
    /// without committing rolls it back.
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
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.connection.get_database_backend() == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let transaction = self
            .connection
            .begin_with_options(options)
            .await
            .map_err(|error| port_error("beginning a transaction", error))?;
        Ok(Box::new(SqlTransaction {
            transaction,
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            jobs: self.jobs.clone(),
            deferred: Vec::new(),
        }))
    }
}

/// One database transaction; sea-orm rolls it back when it is dropped uncommitted.
struct SqlTransaction {
    transaction: DatabaseTransaction,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
    jobs: JobsTarget,
    /// Jobs for `JobsTarget::After`, handed over after the commit.
    deferred: Vec<NewJob>,
}

#[async_trait]
impl Transaction for SqlTransaction {
    async fn enqueue(&mut self, job: NewJob) -> Result<(), QueueError> {
        match &self.jobs {
            JobsTarget::Sql => {
                sql_job_queue::enqueue_on(
                    &self.transaction,
                    self.clock.now(),
                    self.ids.as_ref(),
                    job,
                )
                .await?;
            }
            JobsTarget::After(_) => self.deferred.push(job),
        }
        Ok(())
    }

    async fn audit(&mut self, event: NewAuditEvent) -> Result<(), PortError> {
        sql_audit_log::append_on(
            &self.transaction,
            self.clock.now(),
            self.ids.as_ref(),
            event,
        )
        .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), PortError> {
        let Self {
            transaction,
            jobs,
            deferred,
            ..
        } = *self;
        transaction
            .commit()
            .await
            .map_err(|error| port_error("committing a transaction", error))?;
        if let JobsTarget::After(queue) = jobs {
            for job in deferred {
                queue.enqueue(job).await.map_err(handover_error)?;
            }
        }
        Ok(())
    }
}

/// A queue's refusal of a job handed over after the commit.
fn handover_error(error: QueueError) -> PortError {
    const DOING: &str = "handing a committed transaction's job to the job queue";
    match error {
        QueueError::Unavailable(source) => PortError::Unavailable {
            dependency: "job queue",
            source: source.context(DOING),
        },
        QueueError::Unexpected(source) => PortError::Unexpected(source.context(DOING)),
        QueueError::LeaseLost => {
            PortError::Unexpected(anyhow::Error::new(QueueError::LeaseLost).context(DOING))
        }
    }
}
