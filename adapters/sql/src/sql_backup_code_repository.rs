//! `SqlBackupCodeRepository`: the `BackupCodeRepository` port over the `backup_codes` table.
//!
//! A use is one statement, `UPDATE backup_codes SET used_at = now WHERE user_id = ? AND
//! used_at IS NULL AND code_hash IN (SELECT code_hash … WHERE user_id = ? AND used_at IS NULL
//! AND code_hash IN (candidates) LIMIT 1)`: the subselect picks one row, so one use marks one
//! code even were two of the candidates stored, and the row lock decides between concurrent
//! uses (PostgreSQL re-checks `used_at IS NULL` on the row the first writer left; SQLite
//! serialises writers), so exactly one of them changes it. `replace` deletes and inserts in
//! one transaction (a savepoint inside a unit of work) that first locks the account's row, so
//! two concurrent regenerations leave one set. Hashes are stored as 64 lower-case hex digits;
//! timestamps come from the clock, to the microsecond as both databases keep them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DeriveIden,
    sea_query::{Alias, Expr, ExprTrait as _, Order, Query},
};
use twofa_domain::{BackupCodeRepository, Clock, PortError, SecretDigest, UserId};

use crate::{db_error::port_error, executor::Executor, user_lock::lock_user};

#[derive(DeriveIden, Clone, Copy)]
enum BackupCodes {
    Table,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

/// The `BackupCodeRepository` port over the `backup_codes` table, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlBackupCodeRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlBackupCodeRepository {
    /// Codes in `connection`'s `backup_codes` table, stamped with `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Codes read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}

/// Digests as the `code_hash` column holds them.
fn hex(digests: &[SecretDigest]) -> Vec<String> {
    digests.iter().map(SecretDigest::to_hex).collect()
}

#[async_trait]
impl BackupCodeRepository for SqlBackupCodeRepository {
    async fn replace(&self, user_id: UserId, hashes: Vec<SecretDigest>) -> Result<(), PortError> {
        const DOING: &str = "replacing backup codes";
        let now = self.now();
        let delete = Query::delete()
            .from_table(BackupCodes::Table)
            .and_where(Expr::col(BackupCodes::UserId).eq(user_id.as_uuid()))
            .to_owned();
        let mut insert = Query::insert()
            .into_table(BackupCodes::Table)
            .columns([
                BackupCodes::UserId,
                BackupCodes::CodeHash,
                BackupCodes::CreatedAt,
            ])
            .to_owned();
        for hash in &hashes {
            insert
                .values([user_id.as_uuid().into(), hash.to_hex().into(), now.into()])
                .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
        }
        let transaction = self
            .executor
            .begin_immediate()
            .await
            .map_err(|error| port_error(DOING, error))?;
        lock_user(&transaction, DOING, user_id).await?;
        transaction
            .execute(&delete)
            .await
            .map_err(|error| port_error(DOING, error))?;
        if !hashes.is_empty() {
            transaction
                .execute(&insert)
                .await
                .map_err(|error| port_error(DOING, error))?;
        }
        transaction
            .commit()
            .await
            .map_err(|error| port_error(DOING, error))
    }

    async fn consume(
        &self,
        user_id: UserId,
        candidates: &[SecretDigest],
    ) -> Result<bool, PortError> {
        const DOING: &str = "using a backup code";
        if candidates.is_empty() {
            return Ok(false);
        }
        let unused = || {
            Expr::col(BackupCodes::UserId)
                .eq(user_id.as_uuid())
                .and(Expr::col(BackupCodes::UsedAt).is_null())
        };
        let one_match = Query::select()
            .column(BackupCodes::CodeHash)
            .from(BackupCodes::Table)
            .and_where(unused())
            .and_where(Expr::col(BackupCodes::CodeHash).is_in(hex(candidates)))
            .order_by(BackupCodes::CodeHash, Order::Asc)
            .limit(1)
            .to_owned();
        let update = Query::update()
            .table(BackupCodes::Table)
            .value(BackupCodes::UsedAt, self.now())
            .and_where(unused())
            .and_where(Expr::col(BackupCodes::CodeHash).in_subquery(one_match))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&update)
            .await
            .map_err(|error| port_error(DOING, error))?;
        Ok(result.rows_affected() > 0)
    }

    async fn remaining(&self, user_id: UserId) -> Result<u32, PortError> {
        const DOING: &str = "counting backup codes";
        let select = Query::select()
            .expr_as(
                Expr::col(BackupCodes::CodeHash).count(),
                Alias::new("remaining"),
            )
            .from(BackupCodes::Table)
            .and_where(Expr::col(BackupCodes::UserId).eq(user_id.as_uuid()))
            .and_where(Expr::col(BackupCodes::UsedAt).is_null())
            .to_owned();
        let Some(row) = self
            .executor
            .get()
            .query_one(&select)
            .await
            .map_err(|error| port_error(DOING, error))?
        else {
            return Ok(0);
        };
        let count: i64 = row
            .try_get("", "remaining")
            .map_err(|error| port_error(DOING, error))?;
        u32::try_from(count)
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))
    }

    async fn remove_all(&self, user_id: UserId) -> Result<u64, PortError> {
        let delete = Query::delete()
            .from_table(BackupCodes::Table)
            .and_where(Expr::col(BackupCodes::UserId).eq(user_id.as_uuid()))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("removing backup codes", error))?;
        Ok(result.rows_affected())
    }
}
