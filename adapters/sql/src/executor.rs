//! `Executor`: what a repository runs its statements on, the pool or a unit of work's
//! transaction, so one repository type serves both.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait as _,
};

use crate::deferred_inserts::DeferredInserts;

/// The pool (each statement on its own, autocommitted) or a transaction shared by the
/// repositories a `SqlTransaction` hands out (nothing visible to others before its commit).
#[derive(Clone)]
pub(crate) enum Executor {
    /// Any pooled connection.
    Pool(DatabaseConnection),
    /// A unit of work's open transaction, and the inserts it writes at its commit.
    Transaction(Arc<DatabaseTransaction>, DeferredInserts),
}

impl Executor {
    /// The connection or transaction, as sea-orm's `ConnectionTrait` and `TransactionTrait`.
    pub(crate) fn get(&self) -> DatabaseExecutor<'_> {
        match self {
            Self::Pool(connection) => DatabaseExecutor::Connection(connection),
            Self::Transaction(transaction, _) => DatabaseExecutor::Transaction(transaction),
        }
    }

    /// Writes the inserts the transaction deferred, so the next statement sees their rows;
    /// nothing on the pool.
    pub(crate) async fn write_deferred(&self) -> Result<(), DbErr> {
        match self {
            Self::Pool(_) => Ok(()),
            Self::Transaction(transaction, deferred) => {
                deferred.write_on(transaction.as_ref()).await
            }
        }
    }

    /// PostgreSQL or SQLite.
    pub(crate) fn backend(&self) -> DbBackend {
        self.get().get_database_backend()
    }

    /// A transaction that holds SQLite's write lock from its start (`BEGIN IMMEDIATE`), so one
    /// that reads before it writes cannot fail to upgrade its lock. Inside a unit of work's
    /// transaction it is a `SAVEPOINT`: the outer transaction began `IMMEDIATE` already, and on
    /// PostgreSQL a row lock taken in the savepoint is held until the outer transaction ends.
    pub(crate) async fn begin_immediate(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend() == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        self.get().begin_with_options(options).await
    }
}
