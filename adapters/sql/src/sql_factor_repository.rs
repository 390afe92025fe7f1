//! `SqlFactorRepository`: the `FactorRepository` port over the `factors` table.
//!
//! Every conditional write is one statement whose row count answers: `enable` is `UPDATE …
//! WHERE id = ? AND verified_at IS NULL`, `advance_step` is `UPDATE … WHERE id = ? AND
//! verified_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < ?)`, `reseal` is
//! `UPDATE … WHERE id = ? AND secret_key_id = ? AND secret_ciphertext = ?`. The database's row
//! lock decides between concurrent callers (PostgreSQL re-checks the condition on the row the
//! first writer left; SQLite serialises writers), so exactly one of them changes the row, on
//! one instance or several.
//!
//! `add_pending` deletes the user's pending factor of the kind and inserts the new one in one
//! transaction (a savepoint inside a unit of work) that first locks the account's row, so two
//! concurrent setups end with the later one pending; the partial unique index
//! `factors_pending_key` stands behind that rule. Destinations are stored as given, secrets
//! as their key id and sealed bytes; timestamps come from the clock, to the microsecond as
//! both databases keep them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DeriveIden, QueryResult,
    sea_query::{Cond, Expr, ExprTrait as _, Order, Query, SelectStatement, UpdateStatement},
};
use twofa_domain::{
    Clock, Destination, Factor, FactorId, FactorKind, FactorRepository, NewFactor, PortError,
    SealedSecret, UserId,
};

use crate::{db_error::port_error, executor::Executor, user_lock::lock_user};

#[derive(DeriveIden, Clone, Copy)]
enum Factors {
    Table,
    Id,
    UserId,
    Kind,
    SecretKeyId,
    SecretCiphertext,
    Destination,
    LastUsedStep,
    CreatedAt,
    VerifiedAt,
    LastUsedAt,
}

const COLUMNS: [Factors; 10] = [
    Factors::Id,
    Factors::UserId,
    Factors::Kind,
    Factors::SecretKeyId,
    Factors::SecretCiphertext,
    Factors::Destination,
    Factors::LastUsedStep,
    Factors::CreatedAt,
    Factors::VerifiedAt,
    Factors::LastUsedAt,
];

/// The `FactorRepository` port over the `factors` table, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlFactorRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlFactorRepository {
    /// Factors in `connection`'s `factors` table, stamped with `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Factors read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Runs `update`; whether it changed a row.
    async fn update_if(
        &self,
        doing: &'static str,
        update: &UpdateStatement,
    ) -> Result<bool, PortError> {
        let result = self
            .executor
            .get()
            .execute(update)
            .await
            .map_err(|error| port_error(doing, error))?;
        Ok(result.rows_affected() > 0)
    }

    /// The factors `select` finds.
    async fn find_all(
        &self,
        doing: &'static str,
        select: &SelectStatement,
    ) -> Result<Vec<Factor>, PortError> {
        let rows = self
            .executor
            .get()
            .query_all(select)
            .await
            .map_err(|error| port_error(doing, error))?;
        rows.iter().map(factor).collect()
    }

    /// The one factor `select` finds, if any.
    async fn find_one(
        &self,
        doing: &'static str,
        select: &SelectStatement,
    ) -> Result<Option<Factor>, PortError> {
        self.executor
            .get()
            .query_one(select)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(factor)
            .transpose()
    }
}

/// Every column of the factors, from `factors`.
fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Factors::Table)
        .to_owned()
}

/// The factor in `row`.
fn factor(row: &QueryResult) -> Result<Factor, PortError> {
    const DOING: &str = "reading a factor";
    let get_err = |error| port_error(DOING, error);
    let corrupt = |what: String| PortError::Unexpected(anyhow::anyhow!(what).context(DOING));
    let id: uuid::Uuid = row.try_get("", "id").map_err(get_err)?;
    let user_id: uuid::Uuid = row.try_get("", "user_id").map_err(get_err)?;
    let kind: String = row.try_get("", "kind").map_err(get_err)?;
    let kind =
        FactorKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown factor kind `{kind}`")))?;
    let key_id: Option<String> = row.try_get("", "secret_key_id").map_err(get_err)?;
    let ciphertext: Option<Vec<u8>> = row.try_get("", "secret_ciphertext").map_err(get_err)?;
    let secret = match (key_id, ciphertext) {
        (Some(key_id), Some(ciphertext)) => Some(SealedSecret { key_id, ciphertext }),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(corrupt(
                "a stored secret has a key id or a ciphertext but not both".to_owned(),
            ));
        }
    };
    let destination: Option<String> = row.try_get("", "destination").map_err(get_err)?;
    let destination = destination
        .map(|text| {
            Destination::parse(kind, &text)
                .ok_or_else(|| corrupt(format!("stored destination is no {kind} destination")))
        })
        .transpose()?;
    Ok(Factor {
        id: FactorId::from_uuid(id),
        user_id: UserId::from_uuid(user_id),
        kind,
        secret,
        destination,
        last_used_step: row.try_get("", "last_used_step").map_err(get_err)?,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
        verified_at: row.try_get("", "verified_at").map_err(get_err)?,
        last_used_at: row.try_get("", "last_used_at").map_err(get_err)?,
    })
}

/// The factor `id`, if it is enabled.
fn enabled_factor(id: FactorId) -> Cond {
    Cond::all()
        .add(Expr::col(Factors::Id).eq(id.as_uuid()))
        .add(Expr::col(Factors::VerifiedAt).is_not_null())
}

#[async_trait]
impl FactorRepository for SqlFactorRepository {
    async fn add_pending(&self, factor: NewFactor) -> Result<(), PortError> {
        const DOING: &str = "adding a pending factor";
        let (key_id, ciphertext) = factor
            .secret
            .map(|secret| (secret.key_id, secret.ciphertext))
            .unzip();
        let insert = Query::insert()
            .into_table(Factors::Table)
            .columns([
                Factors::Id,
                Factors::UserId,
                Factors::Kind,
                Factors::SecretKeyId,
                Factors::SecretCiphertext,
                Factors::Destination,
                Factors::CreatedAt,
            ])
            .values([
                factor.id.as_uuid().into(),
                factor.user_id.as_uuid().into(),
                factor.kind.as_str().into(),
                key_id.into(),
                ciphertext.into(),
                factor
                    .destination
                    .as_ref()
                    .map(|destination| destination.as_str().to_owned())
                    .into(),
                self.now().into(),
            ])
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?
            .to_owned();
        let replaced = Query::delete()
            .from_table(Factors::Table)
            .and_where(Expr::col(Factors::UserId).eq(factor.user_id.as_uuid()))
            .and_where(Expr::col(Factors::Kind).eq(factor.kind.as_str()))
            .and_where(Expr::col(Factors::VerifiedAt).is_null())
            .to_owned();
        let transaction = self
            .executor
            .begin_immediate()
            .await
            .map_err(|error| port_error(DOING, error))?;
        lock_user(&transaction, DOING, factor.user_id).await?;
        transaction
            .execute(&replaced)
            .await
            .map_err(|error| port_error(DOING, error))?;
        transaction
            .execute(&insert)
            .await
            .map_err(|error| port_error(DOING, error))?;
        transaction
            .commit()
            .await
            .map_err(|error| port_error(DOING, error))
    }

    async fn pending(
        &self,
        user_id: UserId,
        kind: FactorKind,
    ) -> Result<Option<Factor>, PortError> {
        let select = select()
            .and_where(Expr::col(Factors::UserId).eq(user_id.as_uuid()))
            .and_where(Expr::col(Factors::Kind).eq(kind.as_str()))
            .and_where(Expr::col(Factors::VerifiedAt).is_null())
            .order_by(Factors::CreatedAt, Order::Desc)
            .limit(1)
            .to_owned();
        self.find_one("finding a pending factor", &select).await
    }

    async fn enable(&self, id: FactorId, last_used_step: Option<i64>) -> Result<bool, PortError> {
        let now = self.now();
        let update = Query::update()
            .table(Factors::Table)
            .value(Factors::VerifiedAt, now)
            .value(Factors::LastUsedAt, now)
            .value(Factors::LastUsedStep, last_used_step)
            .and_where(Expr::col(Factors::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Factors::VerifiedAt).is_null())
            .to_owned();
        self.update_if("enabling a factor", &update).await
    }

    async fn enabled(&self, user_id: UserId) -> Result<Vec<Factor>, PortError> {
        let select = select()
            .and_where(Expr::col(Factors::UserId).eq(user_id.as_uuid()))
            .and_where(Expr::col(Factors::VerifiedAt).is_not_null())
            .order_by(Factors::CreatedAt, Order::Asc)
            .order_by(Factors::Id, Order::Asc)
            .to_owned();
        self.find_all("listing enabled factors", &select).await
    }

    async fn find(&self, user_id: UserId, id: FactorId) -> Result<Option<Factor>, PortError> {
        let select = select()
            .and_where(Expr::col(Factors::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Factors::UserId).eq(user_id.as_uuid()))
            .to_owned();
        self.find_one("finding a factor", &select).await
    }

    async fn advance_step(&self, id: FactorId, step: i64) -> Result<bool, PortError> {
        let update = Query::update()
            .table(Factors::Table)
            .value(Factors::LastUsedStep, step)
            .value(Factors::LastUsedAt, self.now())
            .cond_where(
                enabled_factor(id).add(
                    Cond::any()
                        .add(Expr::col(Factors::LastUsedStep).is_null())
                        .add(Expr::col(Factors::LastUsedStep).lt(step)),
                ),
            )
            .to_owned();
        self.update_if("accepting a time step", &update).await
    }

    async fn mark_used(&self, id: FactorId) -> Result<(), PortError> {
        let update = Query::update()
            .table(Factors::Table)
            .value(Factors::LastUsedAt, self.now())
            .cond_where(enabled_factor(id))
            .to_owned();
        self.update_if("marking a factor used", &update).await?;
        Ok(())
    }

    async fn remove(&self, user_id: UserId, id: FactorId) -> Result<bool, PortError> {
        let delete = Query::delete()
            .from_table(Factors::Table)
            .and_where(Expr::col(Factors::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Factors::UserId).eq(user_id.as_uuid()))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("removing a factor", error))?;
        Ok(result.rows_affected() > 0)
    }

    async fn remove_all(&self, user_id: UserId) -> Result<u64, PortError> {
        let delete = Query::delete()
            .from_table(Factors::Table)
            .and_where(Expr::col(Factors::UserId).eq(user_id.as_uuid()))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("removing a user's factors", error))?;
        Ok(result.rows_affected())
    }

    async fn sealed_by_other_keys(
        &self,
        key_id: &str,
        after: Option<FactorId>,
        limit: u32,
    ) -> Result<Vec<Factor>, PortError> {
        let mut select = select()
            .and_where(Expr::col(Factors::SecretKeyId).is_not_null())
            .and_where(Expr::col(Factors::SecretKeyId).ne(key_id))
            .to_owned();
        if let Some(after) = after {
            select.and_where(Expr::col(Factors::Id).gt(after.as_uuid()));
        }
        select
            .order_by(Factors::Id, Order::Asc)
            .limit(u64::from(limit));
        self.find_all("listing factors sealed by other keys", &select)
            .await
    }

    async fn reseal(
        &self,
        id: FactorId,
        current: &SealedSecret,
        resealed: SealedSecret,
    ) -> Result<bool, PortError> {
        let update = Query::update()
            .table(Factors::Table)
            .value(Factors::SecretKeyId, resealed.key_id)
            .value(Factors::SecretCiphertext, resealed.ciphertext)
            .and_where(Expr::col(Factors::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Factors::SecretKeyId).eq(current.key_id.as_str()))
            .and_where(Expr::col(Factors::SecretCiphertext).eq(current.ciphertext.clone()))
            .to_owned();
        self.update_if("resealing a factor's secret", &update).await
    }
}
