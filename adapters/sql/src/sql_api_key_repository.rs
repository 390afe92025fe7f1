//! `SqlApiKeyRepository`: the `ApiKeyRepository` port over the `api_keys` table.
//!
//! A key is kept under the SHA-256 of its text (64 lower-case hex digits, unique). Every
//! conditional write is one statement that answers the row it changed: `rotate` is `UPDATE …
//! SET key_hash = ?, prefix = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL RETURNING
//! …`, `revoke` is `UPDATE … SET revoked_at = now WHERE id = ? AND user_id = ? AND revoked_at
//! IS NULL RETURNING …`, and `touch` is `UPDATE … SET last_used_at = ? WHERE id = ? AND
//! (last_used_at IS NULL OR last_used_at < ?)`, whose row count answers. The database's row
//! lock decides between concurrent callers, so exactly one of them changes the row, on one
//! instance or several. Scopes are one text column in the form `scopes_text` writes, read with
//! `parse_scopes`; timestamps come from the clock (or the caller), to the microsecond as both
//! databases keep them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DeriveIden, QueryResult,
    sea_query::{Cond, Expr, ExprTrait as _, Order, Query, SelectStatement, UpdateStatement},
};
use twofa_domain::{
    ApiKey, ApiKeyChange, ApiKeyId, ApiKeyRepository, Clock, NewApiKey, PortError, SecretDigest,
    UserId, normalized_scopes, parse_scopes, scopes_text,
};

use crate::{db_error::port_error, executor::Executor};

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    ExpiresAt,
    LastUsedAt,
    CreatedAt,
    RevokedAt,
}

/// The columns an `ApiKey` is read from (all but the key's hash).
const COLUMNS: [ApiKeys; 9] = [
    ApiKeys::Id,
    ApiKeys::UserId,
    ApiKeys::Name,
    ApiKeys::Prefix,
    ApiKeys::Scopes,
    ApiKeys::ExpiresAt,
    ApiKeys::LastUsedAt,
    ApiKeys::CreatedAt,
    ApiKeys::RevokedAt,
];

/// The `ApiKeyRepository` port over the `api_keys` table, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlApiKeyRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlApiKeyRepository {
    /// Keys in `connection`'s `api_keys` table, stamped with `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Keys read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// The one key `select` finds, if any.
    async fn find_one(
        &self,
        doing: &'static str,
        select: &SelectStatement,
    ) -> Result<Option<ApiKey>, PortError> {
        self.executor
            .get()
            .query_one(select)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(api_key)
            .transpose()
    }

    /// Runs `update` (returning the key's columns); the key it changed, if any.
    async fn update_returning(
        &self,
        doing: &'static str,
        mut update: UpdateStatement,
    ) -> Result<Option<ApiKey>, PortError> {
        update.returning(Query::returning().columns(COLUMNS));
        self.executor
            .get()
            .query_one(&update)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(api_key)
            .transpose()
    }
}

/// Every column of the keys but the hash, from `api_keys`.
fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(ApiKeys::Table)
        .to_owned()
}

/// The key in `row`.
fn api_key(row: &QueryResult) -> Result<ApiKey, PortError> {
    const DOING: &str = "reading an API key";
    let get_err = |error| port_error(DOING, error);
    let id: uuid::Uuid = row.try_get("", "id").map_err(get_err)?;
    let user_id: uuid::Uuid = row.try_get("", "user_id").map_err(get_err)?;
    let scopes: String = row.try_get("", "scopes").map_err(get_err)?;
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(id),
        user_id: UserId::from_uuid(user_id),
        name: row.try_get("", "name").map_err(get_err)?,
        prefix: row.try_get("", "prefix").map_err(get_err)?,
        scopes: parse_scopes(&scopes),
        expires_at: row.try_get("", "expires_at").map_err(get_err)?,
        last_used_at: row.try_get("", "last_used_at").map_err(get_err)?,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
        revoked_at: row.try_get("", "revoked_at").map_err(get_err)?,
    })
}

/// The user's key `id`.
fn of_user(user_id: UserId, id: ApiKeyId) -> Cond {
    Cond::all()
        .add(Expr::col(ApiKeys::Id).eq(id.as_uuid()))
        .add(Expr::col(ApiKeys::UserId).eq(user_id.as_uuid()))
}

/// The user's key `id`, if it is not revoked.
fn unrevoked_of_user(user_id: UserId, id: ApiKeyId) -> Cond {
    of_user(user_id, id).add(Expr::col(ApiKeys::RevokedAt).is_null())
}

#[async_trait]
impl ApiKeyRepository for SqlApiKeyRepository {
    async fn add(&self, key: NewApiKey) -> Result<ApiKey, PortError> {
        const DOING: &str = "adding an API key";
        let made = ApiKey {
            id: key.id,
            user_id: key.user_id,
            name: key.name,
            prefix: key.prefix,
            scopes: normalized_scopes(key.scopes),
            expires_at: key.expires_at.map(|expires_at| expires_at.trunc_subsecs(6)),
            last_used_at: None,
            created_at: self.now(),
            revoked_at: None,
        };
        let insert = Query::insert()
            .into_table(ApiKeys::Table)
            .columns([
                ApiKeys::Id,
                ApiKeys::UserId,
                ApiKeys::Name,
                ApiKeys::Prefix,
                ApiKeys::KeyHash,
                ApiKeys::Scopes,
                ApiKeys::ExpiresAt,
                ApiKeys::CreatedAt,
            ])
            .values([
                made.id.as_uuid().into(),
                made.user_id.as_uuid().into(),
                made.name.as_str().into(),
                made.prefix.as_str().into(),
                key.key_hash.to_hex().into(),
                scopes_text(&made.scopes).into(),
                made.expires_at.into(),
                made.created_at.into(),
            ])
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?
            .to_owned();
        self.executor
            .get()
            .execute(&insert)
            .await
            .map_err(|error| port_error(DOING, error))?;
        Ok(made)
    }

    async fn find_by_hash(&self, key_hash: &SecretDigest) -> Result<Option<ApiKey>, PortError> {
        let select = select()
            .and_where(Expr::col(ApiKeys::KeyHash).eq(key_hash.to_hex()))
            .to_owned();
        self.find_one("finding an API key by its hash", &select)
            .await
    }

    async fn get(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, PortError> {
        let select = select().cond_where(of_user(user_id, id)).to_owned();
        self.find_one("finding an API key", &select).await
    }

    async fn list(&self, user_id: UserId) -> Result<Vec<ApiKey>, PortError> {
        const DOING: &str = "listing API keys";
        let select = select()
            .and_where(Expr::col(ApiKeys::UserId).eq(user_id.as_uuid()))
            .order_by(ApiKeys::CreatedAt, Order::Desc)
            .order_by(ApiKeys::Id, Order::Desc)
            .to_owned();
        let rows = self
            .executor
            .get()
            .query_all(&select)
            .await
            .map_err(|error| port_error(DOING, error))?;
        rows.iter().map(api_key).collect()
    }

    async fn update(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        change: ApiKeyChange,
    ) -> Result<Option<ApiKey>, PortError> {
        if change == ApiKeyChange::default() {
            return self.get(user_id, id).await;
        }
        let mut update = Query::update()
            .table(ApiKeys::Table)
            .cond_where(of_user(user_id, id))
            .to_owned();
        if let Some(name) = change.name {
            update.value(ApiKeys::Name, name);
        }
        if let Some(scopes) = change.scopes {
            update.value(ApiKeys::Scopes, scopes_text(&scopes));
        }
        self.update_returning("updating an API key", update).await
    }

    async fn rotate(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        key_hash: SecretDigest,
        prefix: String,
    ) -> Result<Option<ApiKey>, PortError> {
        let update = Query::update()
            .table(ApiKeys::Table)
            .value(ApiKeys::KeyHash, key_hash.to_hex())
            .value(ApiKeys::Prefix, prefix)
            .cond_where(unrevoked_of_user(user_id, id))
            .to_owned();
        self.update_returning("rotating an API key", update).await
    }

    async fn revoke(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, PortError> {
        let update = Query::update()
            .table(ApiKeys::Table)
            .value(ApiKeys::RevokedAt, self.now())
            .cond_where(unrevoked_of_user(user_id, id))
            .to_owned();
        self.update_returning("revoking an API key", update).await
    }

    async fn delete(&self, user_id: UserId, id: ApiKeyId) -> Result<bool, PortError> {
        let delete = Query::delete()
            .from_table(ApiKeys::Table)
            .cond_where(of_user(user_id, id))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("deleting an API key", error))?;
        Ok(result.rows_affected() > 0)
    }

    async fn touch(
        &self,
        id: ApiKeyId,
        used_at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let update = Query::update()
            .table(ApiKeys::Table)
            .value(ApiKeys::LastUsedAt, used_at.trunc_subsecs(6))
            .cond_where(
                Cond::all()
                    .add(Expr::col(ApiKeys::Id).eq(id.as_uuid()))
                    .add(
                        Cond::any()
                            .add(Expr::col(ApiKeys::LastUsedAt).is_null())
                            .add(Expr::col(ApiKeys::LastUsedAt).lt(stale_before.trunc_subsecs(6))),
                    ),
            )
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&update)
            .await
            .map_err(|error| port_error("marking an API key used", error))?;
        Ok(result.rows_affected() > 0)
    }
}
