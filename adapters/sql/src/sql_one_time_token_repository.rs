//! `SqlOneTimeTokenRepository`: the `OneTimeTokenRepository` port over the `one_time_tokens`
//! table.
//!
//! A consume is one statement, `UPDATE … SET used_at = now WHERE token_hash = ? AND purpose = ?
//! AND used_at IS NULL AND expires_at > now RETURNING user_id`: the database's row lock decides
//! between concurrent consumes, so exactly one gets the row back, on one instance or several.
//! Inside a unit of work's transaction that lock is held until the transaction ends: a consume
//! in another transaction waits for it and then finds the token used (or, after a rollback,
//! live).
//! Hashes are stored as 64 lower-case hex digits; timestamps come from the clock, to the
//! microsecond as both databases keep them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DeriveIden,
    sea_query::{Cond, Expr, ExprTrait as _, Query},
};
use twofa_domain::{
    Clock, NewOneTimeToken, OneTimeTokenHash, OneTimeTokenRepository, PortError, TokenPurpose,
    UserId,
};

use crate::{db_error::port_error, executor::Executor};

#[derive(DeriveIden)]
enum OneTimeTokens {
    Table,
    TokenHash,
    Purpose,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

/// The `OneTimeTokenRepository` port over the `one_time_tokens` table, on PostgreSQL or
/// SQLite.
#[derive(Clone)]
pub struct SqlOneTimeTokenRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlOneTimeTokenRepository {
    /// Tokens in `connection`'s `one_time_tokens` table, judged by `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Tokens read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// The `user_id` of the row `statement` answers, if any.
    async fn user_of(
        &self,
        doing: &'static str,
        statement: &impl sea_orm::StatementBuilder,
    ) -> Result<Option<UserId>, PortError> {
        let Some(row) = self
            .executor
            .get()
            .query_one(statement)
            .await
            .map_err(|error| port_error(doing, error))?
        else {
            return Ok(None);
        };
        let user_id: uuid::Uuid = row
            .try_get("", "user_id")
            .map_err(|error| port_error(doing, error))?;
        Ok(Some(UserId::from_uuid(user_id)))
    }
}

/// Live tokens at `now`: unused and not expired.
fn live(now: DateTime<Utc>) -> Cond {
    Cond::all()
        .add(Expr::col(OneTimeTokens::UsedAt).is_null())
        .add(Expr::col(OneTimeTokens::ExpiresAt).gt(now))
}

/// The token with `hash` and `purpose`, if it is live at `now`.
fn live_token(now: DateTime<Utc>, purpose: TokenPurpose, hash: &OneTimeTokenHash) -> Cond {
    live(now)
        .add(Expr::col(OneTimeTokens::TokenHash).eq(hash.to_hex()))
        .add(Expr::col(OneTimeTokens::Purpose).eq(purpose.as_str()))
}

#[async_trait]
impl OneTimeTokenRepository for SqlOneTimeTokenRepository {
    async fn issue(&self, token: NewOneTimeToken) -> Result<(), PortError> {
        const DOING: &str = "issuing a one-time token";
        let insert = Query::insert()
            .into_table(OneTimeTokens::Table)
            .columns([
                OneTimeTokens::TokenHash,
                OneTimeTokens::Purpose,
                OneTimeTokens::UserId,
                OneTimeTokens::CreatedAt,
                OneTimeTokens::ExpiresAt,
            ])
            .values([
                token.hash.to_hex().into(),
                token.purpose.as_str().into(),
                token.user_id.as_uuid().into(),
                self.now().into(),
                token.expires_at.trunc_subsecs(6).into(),
            ])
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?
            .to_owned();
        self.executor
            .get()
            .execute(&insert)
            .await
            .map_err(|error| port_error(DOING, error))?;
        Ok(())
    }

    async fn consume(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<Option<UserId>, PortError> {
        const DOING: &str = "consuming a one-time token";
        let now = self.now();
        let update = Query::update()
            .table(OneTimeTokens::Table)
            .value(OneTimeTokens::UsedAt, now)
            .cond_where(live_token(now, purpose, hash))
            .returning_col(OneTimeTokens::UserId)
            .to_owned();
        self.user_of(DOING, &update).await
    }

    async fn live_owner(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<Option<UserId>, PortError> {
        const DOING: &str = "looking up a one-time token";
        let now = self.now();
        let select = Query::select()
            .column(OneTimeTokens::UserId)
            .from(OneTimeTokens::Table)
            .cond_where(live_token(now, purpose, hash))
            .to_owned();
        self.user_of(DOING, &select).await
    }

    async fn revoke_all(&self, user_id: UserId, purpose: TokenPurpose) -> Result<u64, PortError> {
        let now = self.now();
        let update = Query::update()
            .table(OneTimeTokens::Table)
            .value(OneTimeTokens::UsedAt, now)
            .cond_where(
                live(now)
                    .add(Expr::col(OneTimeTokens::UserId).eq(user_id.as_uuid()))
                    .add(Expr::col(OneTimeTokens::Purpose).eq(purpose.as_str())),
            )
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&update)
            .await
            .map_err(|error| port_error("revoking one-time tokens", error))?;
        Ok(result.rows_affected())
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        let delete = Query::delete()
            .from_table(OneTimeTokens::Table)
            .cond_where(
                Cond::any()
                    .add(Expr::col(OneTimeTokens::ExpiresAt).lt(before))
                    .add(Expr::col(OneTimeTokens::UsedAt).lt(before)),
            )
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("purging one-time tokens", error))?;
        Ok(result.rows_affected())
    }
}
