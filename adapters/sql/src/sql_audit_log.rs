//! `SqlAuditLog`: the `AuditLog` port over the `audit_events` table.
//!
//! Ids are time-ordered (UUID v7), so "newest first" is `ORDER BY id DESC` and a page's cursor
//! is the last id it listed. Details are stored as the JSON text of the (already redacted)
//! `AuditDetails`; the client address as its text form; the `User-Agent` cut to 512 characters.

use std::{net::IpAddr, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DeriveIden, QueryResult,
    sea_query::{Expr, ExprTrait as _, InsertStatement, Order, Query, SelectStatement},
};
use twofa_domain::{
    Actor, ActorKind, AuditDetails, AuditEvent, AuditEventId, AuditLog, AuditPage, AuditQuery,
    Clock, NewAuditEvent, PortError, SecretGenerator, UserId, time_ordered_id,
};

use crate::{db_error::port_error, insert_batch::InsertBatch};

/// Keeps at most this many characters of a `User-Agent` (the column's length).
const USER_AGENT_LIMIT: usize = 512;

/// The largest page `query` answers.
const PAGE_LIMIT: u32 = 200;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    UserId,
    ActorType,
    ActorId,
    Action,
    Success,
    Ip,
    UserAgent,
    Details,
    CreatedAt,
}

const COLUMNS: [AuditEvents; 10] = [
    AuditEvents::Id,
    AuditEvents::UserId,
    AuditEvents::ActorType,
    AuditEvents::ActorId,
    AuditEvents::Action,
    AuditEvents::Success,
    AuditEvents::Ip,
    AuditEvents::UserAgent,
    AuditEvents::Details,
    AuditEvents::CreatedAt,
];

/// The `AuditLog` port over the `audit_events` table, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlAuditLog {
    connection: DatabaseConnection,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
}

impl SqlAuditLog {
    /// A trail over `connection`'s `audit_events` table, stamping events with `clock` and
    /// drawing ids from `ids`.
    pub fn new(
        connection: DatabaseConnection,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            connection,
            clock,
            ids,
        }
    }
}

/// Writes `event` through `connection` (the pool), recorded at `now`.
pub(crate) async fn append_on<C: ConnectionTrait>(
    connection: &C,
    now: DateTime<Utc>,
    ids: &dyn SecretGenerator,
    event: NewAuditEvent,
) -> Result<AuditEventId, PortError> {
    let mut batch = AuditBatch::default();
    let id = batch.push(now, ids, event)?;
    batch.write_on(connection).await?;
    Ok(id)
}

/// The events a unit of work appends, written by one multi-row `INSERT` when it commits (one
/// round trip however many events a change records), in the order appended. Each event gets
/// its id and time when appended.
pub(crate) struct AuditBatch(InsertBatch);

impl Default for AuditBatch {
    fn default() -> Self {
        Self(InsertBatch::new(|| {
            Query::insert()
                .into_table(AuditEvents::Table)
                .columns(COLUMNS)
                .to_owned()
        }))
    }
}

impl AuditBatch {
    /// Adds `event`, recorded at `now`; its id.
    pub(crate) fn push(
        &mut self,
        now: DateTime<Utc>,
        ids: &dyn SecretGenerator,
        event: NewAuditEvent,
    ) -> Result<AuditEventId, PortError> {
        const DOING: &str = "appending an audit event";
        let id = AuditEventId::from_uuid(time_ordered_id(now, ids));
        let details = serde_json::to_string(&event.details.to_value())
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
        self.0
            .push(vec![
                id.as_uuid().into(),
                event.user_id.map(|user| user.as_uuid()).into(),
                event.actor.kind.as_str().into(),
                event.actor.id.into(),
                event.action.into(),
                event.success.into(),
                event.ip.map(|ip| ip.to_string()).into(),
                event.user_agent.map(|agent| clip_user_agent(&agent)).into(),
                details.into(),
                now.into(),
            ])
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
        Ok(id)
    }

    /// Whether it holds `InsertBatch::MAX_ROWS` events and should be written now.
    pub(crate) fn is_full(&self) -> bool {
        self.0.is_full()
    }

    /// The `INSERT` of the events waiting, if any; the batch is empty after.
    pub(crate) fn take(&mut self) -> Option<InsertStatement> {
        self.0.take()
    }

    /// Writes the events through `connection` and empties the batch.
    pub(crate) async fn write_on<C: ConnectionTrait>(
        &mut self,
        connection: &C,
    ) -> Result<(), PortError> {
        self.0
            .write_on(connection)
            .await
            .map_err(|error| port_error("appending audit events", error))
    }
}

/// At most `USER_AGENT_LIMIT` characters (not bytes) of `agent`.
fn clip_user_agent(agent: &str) -> String {
    agent.chars().take(USER_AGENT_LIMIT).collect()
}

/// The events `query` selects, newest first, one more than the page holds.
fn select(query: &AuditQuery, limit: u32) -> SelectStatement {
    let mut select = Query::select();
    select.columns(COLUMNS).from(AuditEvents::Table);
    if let Some(user) = query.user_id {
        select.and_where(Expr::col(AuditEvents::UserId).eq(user.as_uuid()));
    }
    if let Some(action) = &query.action {
        select.and_where(Expr::col(AuditEvents::Action).eq(action.as_str()));
    }
    if let Some(since) = query.since {
        select.and_where(Expr::col(AuditEvents::CreatedAt).gte(since));
    }
    if let Some(until) = query.until {
        select.and_where(Expr::col(AuditEvents::CreatedAt).lt(until));
    }
    if let Some(before) = query.before {
        select.and_where(Expr::col(AuditEvents::Id).lt(before.as_uuid()));
    }
    select
        .order_by(AuditEvents::Id, Order::Desc)
        .limit(u64::from(limit) + 1)
        .to_owned()
}

/// The event in `row`.
fn event(row: &QueryResult) -> Result<AuditEvent, PortError> {
    const DOING: &str = "reading an audit event";
    let get_err = |error| port_error(DOING, error);
    let corrupt = |what: String| PortError::Unexpected(anyhow::anyhow!(what).context(DOING));
    let actor_type: String = row.try_get("", "actor_type").map_err(get_err)?;
    let kind = ActorKind::parse(&actor_type)
        .ok_or_else(|| corrupt(format!("unknown actor type `{actor_type}`")))?;
    let ip: Option<String> = row.try_get("", "ip").map_err(get_err)?;
    let ip = ip
        .map(|ip| {
            ip.parse::<IpAddr>()
                .map_err(|_| corrupt(format!("`{ip}` is not an IP address")))
        })
        .transpose()?;
    let details: String = row.try_get("", "details").map_err(get_err)?;
    let details: serde_json::Value = serde_json::from_str(&details)
        .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
    let user_id: Option<uuid::Uuid> = row.try_get("", "user_id").map_err(get_err)?;
    Ok(AuditEvent {
        id: AuditEventId::from_uuid(row.try_get("", "id").map_err(get_err)?),
        event: NewAuditEvent {
            user_id: user_id.map(UserId::from_uuid),
            actor: Actor {
                kind,
                id: row.try_get("", "actor_id").map_err(get_err)?,
            },
            action: row.try_get("", "action").map_err(get_err)?,
            success: row.try_get("", "success").map_err(get_err)?,
            ip,
            user_agent: row.try_get("", "user_agent").map_err(get_err)?,
            details: AuditDetails::new(details),
        },
        created_at: row.try_get("", "created_at").map_err(get_err)?,
    })
}

#[async_trait]
impl AuditLog for SqlAuditLog {
    async fn append(&self, event: NewAuditEvent) -> Result<AuditEventId, PortError> {
        append_on(&self.connection, self.clock.now(), self.ids.as_ref(), event).await
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, PortError> {
        let limit = query.limit.clamp(1, PAGE_LIMIT);
        let rows = self
            .connection
            .query_all(&select(query, limit))
            .await
            .map_err(|error| port_error("listing audit events", error))?;
        let has_more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let items = rows
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(event)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if has_more {
            items.last().map(|item| item.id)
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_cut_by_characters_not_bytes() {
        let clipped = clip_user_agent(&"é".repeat(600));
        assert_eq!(clipped.chars().count(), USER_AGENT_LIMIT);
        assert_eq!(clip_user_agent("curl/8.5"), "curl/8.5");
    }
}
