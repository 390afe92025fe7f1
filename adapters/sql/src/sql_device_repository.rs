//! `SqlDeviceRepository`: the `DeviceRepository` port over the `trusted_devices` table.
//!
//! A device is kept under the SHA-256 of its token (64 lower-case hex digits, unique); a use
//! is one statement, `UPDATE … SET last_used_at = now WHERE user_id = ? AND token_hash = ? AND
//! expires_at > now RETURNING …`. Revoking deletes the device (nothing of it is needed once it
//! no longer skips the second factor) and counts the live ones among the deleted rows; expired
//! devices are deleted by `purge_expired`. `ip` is stored as text, as in `sessions`;
//! timestamps come from the clock, to the microsecond as both databases keep them.

use std::{net::IpAddr, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DeriveIden, QueryResult,
    sea_query::{Cond, DeleteStatement, Expr, ExprTrait as _, Order, Query},
};
use twofa_domain::{
    Clock, DeviceId, DeviceRepository, NewTrustedDevice, PortError, SecretDigest, TrustedDevice,
    UserId,
};

use crate::{db_error::port_error, executor::Executor};

#[derive(DeriveIden, Clone, Copy)]
enum TrustedDevices {
    Table,
    Id,
    UserId,
    TokenHash,
    Name,
    Ip,
    UserAgent,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
}

/// The columns a `TrustedDevice` is read from (all but the token's hash).
const COLUMNS: [TrustedDevices; 8] = [
    TrustedDevices::Id,
    TrustedDevices::UserId,
    TrustedDevices::Name,
    TrustedDevices::Ip,
    TrustedDevices::UserAgent,
    TrustedDevices::CreatedAt,
    TrustedDevices::LastUsedAt,
    TrustedDevices::ExpiresAt,
];

/// The `DeviceRepository` port over the `trusted_devices` table, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlDeviceRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlDeviceRepository {
    /// Devices in `connection`'s `trusted_devices` table, judged by `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Devices read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Runs `delete` (which returns `expires_at`); how many of the deleted devices were live.
    async fn delete_counting_live(
        &self,
        doing: &'static str,
        mut delete: DeleteStatement,
    ) -> Result<u64, PortError> {
        let now = self.now();
        delete.returning_col(TrustedDevices::ExpiresAt);
        let rows = self
            .executor
            .get()
            .query_all(&delete)
            .await
            .map_err(|error| port_error(doing, error))?;
        let mut live = 0;
        for row in rows {
            let expires_at: DateTime<Utc> = row
                .try_get("", "expires_at")
                .map_err(|error| port_error(doing, error))?;
            if now < expires_at {
                live += 1;
            }
        }
        Ok(live)
    }
}

/// The device in `row`.
fn device(row: &QueryResult) -> Result<TrustedDevice, PortError> {
    const DOING: &str = "reading a trusted device";
    let get_err = |error| port_error(DOING, error);
    let id: uuid::Uuid = row.try_get("", "id").map_err(get_err)?;
    let user_id: uuid::Uuid = row.try_get("", "user_id").map_err(get_err)?;
    let ip: Option<String> = row.try_get("", "ip").map_err(get_err)?;
    let ip = ip
        .map(|ip| ip.parse::<IpAddr>())
        .transpose()
        .map_err(|error| {
            PortError::Unexpected(anyhow::anyhow!("stored ip is invalid: {error}").context(DOING))
        })?;
    Ok(TrustedDevice {
        id: DeviceId::from_uuid(id),
        user_id: UserId::from_uuid(user_id),
        name: row.try_get("", "name").map_err(get_err)?,
        ip,
        user_agent: row.try_get("", "user_agent").map_err(get_err)?,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
        last_used_at: row.try_get("", "last_used_at").map_err(get_err)?,
        expires_at: row.try_get("", "expires_at").map_err(get_err)?,
    })
}

/// The user's devices that are live at `now`.
fn live_of(user_id: UserId, now: DateTime<Utc>) -> Cond {
    Cond::all()
        .add(Expr::col(TrustedDevices::UserId).eq(user_id.as_uuid()))
        .add(Expr::col(TrustedDevices::ExpiresAt).gt(now))
}

#[async_trait]
impl DeviceRepository for SqlDeviceRepository {
    async fn add(&self, device: NewTrustedDevice) -> Result<(), PortError> {
        const DOING: &str = "trusting a device";
        let now = self.now();
        let insert = Query::insert()
            .into_table(TrustedDevices::Table)
            .columns([
                TrustedDevices::Id,
                TrustedDevices::UserId,
                TrustedDevices::TokenHash,
                TrustedDevices::Name,
                TrustedDevices::Ip,
                TrustedDevices::UserAgent,
                TrustedDevices::CreatedAt,
                TrustedDevices::LastUsedAt,
                TrustedDevices::ExpiresAt,
            ])
            .values([
                device.id.as_uuid().into(),
                device.user_id.as_uuid().into(),
                device.token_hash.to_hex().into(),
                device.name.into(),
                device.ip.map(|ip| ip.to_string()).into(),
                device.user_agent.into(),
                now.into(),
                now.into(),
                device.expires_at.trunc_subsecs(6).into(),
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

    async fn use_token(
        &self,
        user_id: UserId,
        token_hash: &SecretDigest,
    ) -> Result<Option<TrustedDevice>, PortError> {
        const DOING: &str = "using a trusted device";
        let now = self.now();
        let update = Query::update()
            .table(TrustedDevices::Table)
            .value(TrustedDevices::LastUsedAt, now)
            .cond_where(
                live_of(user_id, now)
                    .add(Expr::col(TrustedDevices::TokenHash).eq(token_hash.to_hex())),
            )
            .returning(Query::returning().columns(COLUMNS))
            .to_owned();
        self.executor
            .get()
            .query_one(&update)
            .await
            .map_err(|error| port_error(DOING, error))?
            .as_ref()
            .map(device)
            .transpose()
    }

    async fn list(&self, user_id: UserId) -> Result<Vec<TrustedDevice>, PortError> {
        const DOING: &str = "listing trusted devices";
        let select = Query::select()
            .columns(COLUMNS)
            .from(TrustedDevices::Table)
            .cond_where(live_of(user_id, self.now()))
            .order_by(TrustedDevices::CreatedAt, Order::Desc)
            .order_by(TrustedDevices::Id, Order::Desc)
            .to_owned();
        let rows = self
            .executor
            .get()
            .query_all(&select)
            .await
            .map_err(|error| port_error(DOING, error))?;
        rows.iter().map(device).collect()
    }

    async fn revoke(&self, user_id: UserId, id: DeviceId) -> Result<bool, PortError> {
        let delete = Query::delete()
            .from_table(TrustedDevices::Table)
            .and_where(Expr::col(TrustedDevices::Id).eq(id.as_uuid()))
            .and_where(Expr::col(TrustedDevices::UserId).eq(user_id.as_uuid()))
            .to_owned();
        let live = self
            .delete_counting_live("revoking a trusted device", delete)
            .await?;
        Ok(live > 0)
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<u64, PortError> {
        let delete = Query::delete()
            .from_table(TrustedDevices::Table)
            .and_where(Expr::col(TrustedDevices::UserId).eq(user_id.as_uuid()))
            .to_owned();
        self.delete_counting_live("revoking a user's trusted devices", delete)
            .await
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        let delete = Query::delete()
            .from_table(TrustedDevices::Table)
            .and_where(Expr::col(TrustedDevices::ExpiresAt).lt(before))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("purging expired trusted devices", error))?;
        Ok(result.rows_affected())
    }
}
