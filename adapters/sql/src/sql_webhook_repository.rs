//! `SqlWebhookRepository`: the `WebhookRepository` port over the `webhook_endpoints` and
//! `webhook_deliveries` tables.
//!
//! An endpoint's `owner_id` is null for a global endpoint, so an owner scope is `owner_id = ?`
//! or `owner_id IS NULL`. Its event types are one text column holding their JSON array;
//! `subscribers` selects the enabled endpoints of the user and the global ones and keeps those
//! whose list names the type or `*` (a user has few endpoints). Secrets are stored as their key
//! id and sealed bytes, as factors store theirs.
//!
//! Every conditional write is one statement that answers the row it changed: `rotate_secret`
//! is `UPDATE … SET previous_secret_key_id = secret_key_id, previous_secret_ciphertext =
//! secret_ciphertext, secret_key_id = ?, … RETURNING …` (the right-hand sides read the row as
//! it was), `record_endpoint_outcome` is `UPDATE … SET consecutive_failures =
//! consecutive_failures + 1, enabled = CASE WHEN consecutive_failures + 1 >= ? THEN FALSE ELSE
//! enabled END WHERE id = ? RETURNING …` (or sets the count to 0), `record_attempt` is `UPDATE
//! … SET attempts = attempts + 1, … WHERE id = ? AND status = 'pending' RETURNING …`, and
//! `reset_delivery` is `UPDATE … SET status = 'pending' WHERE id = ? AND endpoint_id = ? AND
//! status = 'failed' RETURNING …`, and `reseal_endpoint_secrets` is `UPDATE … SET
//! secret_key_id = ?, … WHERE id = ? AND secret_key_id = ? AND secret_ciphertext = ? AND
//! previous_secret_key_id = ? AND previous_secret_ciphertext = ?` (or `IS NULL` for no previous
//! secret). The database's row lock decides between concurrent callers, so no count is lost,
//! a finished delivery is never written again and a secret rotated meanwhile is not resealed
//! over. `endpoints_sealed_by_other_keys` filters on the key id columns (the previous ones only
//! while `previous_secret_expires_at` is after the clock's time). `add_delivery` is
//! `INSERT … ON CONFLICT (endpoint_id, event_id) DO NOTHING`, then reads the stored delivery
//! when it inserted nothing. A delivery's payload is its JSON text; timestamps come from the
//! clock (or the caller), to the microsecond as both databases keep them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DeriveIden, QueryResult,
    sea_query::{
        Cond, Expr, ExprTrait as _, OnConflict, Order, Query, SelectStatement, UpdateStatement,
    },
};
use twofa_domain::{
    Clock, DeliveryAttempt, DeliveryStatus, NewWebhookDelivery, NewWebhookEndpoint, PortError,
    SealedSecret, UserId, WebhookDelivery, WebhookDeliveryId, WebhookEndpoint,
    WebhookEndpointChange, WebhookEndpointId, WebhookRepository, clamp_delivery_list_limit,
};

use crate::{db_error::port_error, executor::Executor};

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEndpoints {
    Table,
    Id,
    OwnerId,
    Url,
    Events,
    Description,
    Enabled,
    ConsecutiveFailures,
    SecretKeyId,
    SecretCiphertext,
    PreviousSecretKeyId,
    PreviousSecretCiphertext,
    PreviousSecretExpiresAt,
    CreatedAt,
}

/// The columns a `WebhookEndpoint` is read from.
const ENDPOINT_COLUMNS: [WebhookEndpoints; 13] = [
    WebhookEndpoints::Id,
    WebhookEndpoints::OwnerId,
    WebhookEndpoints::Url,
    WebhookEndpoints::Events,
    WebhookEndpoints::Description,
    WebhookEndpoints::Enabled,
    WebhookEndpoints::ConsecutiveFailures,
    WebhookEndpoints::SecretKeyId,
    WebhookEndpoints::SecretCiphertext,
    WebhookEndpoints::PreviousSecretKeyId,
    WebhookEndpoints::PreviousSecretCiphertext,
    WebhookEndpoints::PreviousSecretExpiresAt,
    WebhookEndpoints::CreatedAt,
];

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventId,
    EventType,
    Payload,
    Status,
    Attempts,
    LastAttemptAt,
    ResponseStatus,
    DurationMs,
    ResponseBody,
    CreatedAt,
}

/// The columns a `WebhookDelivery` is read from.
const DELIVERY_COLUMNS: [WebhookDeliveries; 12] = [
    WebhookDeliveries::Id,
    WebhookDeliveries::EndpointId,
    WebhookDeliveries::EventId,
    WebhookDeliveries::EventType,
    WebhookDeliveries::Payload,
    WebhookDeliveries::Status,
    WebhookDeliveries::Attempts,
    WebhookDeliveries::LastAttemptAt,
    WebhookDeliveries::ResponseStatus,
    WebhookDeliveries::DurationMs,
    WebhookDeliveries::ResponseBody,
    WebhookDeliveries::CreatedAt,
];

/// The `WebhookRepository` port over the `webhook_endpoints` and `webhook_deliveries` tables,
/// on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlWebhookRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlWebhookRepository {
    /// Webhooks in `connection`'s tables, stamped with `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Webhooks read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// The rows `select` finds.
    async fn rows(
        &self,
        doing: &'static str,
        select: &SelectStatement,
    ) -> Result<Vec<QueryResult>, PortError> {
        self.executor
            .get()
            .query_all(select)
            .await
            .map_err(|error| port_error(doing, error))
    }

    /// The one endpoint `select` finds, if any.
    async fn one_endpoint(
        &self,
        doing: &'static str,
        select: &SelectStatement,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        self.executor
            .get()
            .query_one(select)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(endpoint)
            .transpose()
    }

    /// Runs `update` (returning the endpoint's columns); the endpoint it changed, if any.
    async fn update_endpoint_returning(
        &self,
        doing: &'static str,
        mut update: UpdateStatement,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        update.returning(Query::returning().columns(ENDPOINT_COLUMNS));
        self.executor
            .get()
            .query_one(&update)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(endpoint)
            .transpose()
    }

    /// The one delivery `select` finds, if any.
    async fn one_delivery(
        &self,
        doing: &'static str,
        select: &SelectStatement,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        self.executor
            .get()
            .query_one(select)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(delivery)
            .transpose()
    }

    /// Runs `update` (returning the delivery's columns); the delivery it changed, if any.
    async fn update_delivery_returning(
        &self,
        doing: &'static str,
        mut update: UpdateStatement,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        update.returning(Query::returning().columns(DELIVERY_COLUMNS));
        self.executor
            .get()
            .query_one(&update)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(delivery)
            .transpose()
    }
}

/// Every column of the endpoints, from `webhook_endpoints`.
fn select_endpoints() -> SelectStatement {
    Query::select()
        .columns(ENDPOINT_COLUMNS)
        .from(WebhookEndpoints::Table)
        .to_owned()
}

/// Every column of the deliveries, from `webhook_deliveries`.
fn select_deliveries() -> SelectStatement {
    Query::select()
        .columns(DELIVERY_COLUMNS)
        .from(WebhookDeliveries::Table)
        .to_owned()
}

/// An error reading a row of `doing`, for a value that cannot be what the row holds.
fn corrupt(doing: &'static str, what: String) -> PortError {
    PortError::Unexpected(anyhow::anyhow!(what).context(doing))
}

/// The endpoint in `row`.
fn endpoint(row: &QueryResult) -> Result<WebhookEndpoint, PortError> {
    const DOING: &str = "reading a webhook endpoint";
    let get_err = |error| port_error(DOING, error);
    let id: uuid::Uuid = row.try_get("", "id").map_err(get_err)?;
    let owner: Option<uuid::Uuid> = row.try_get("", "owner_id").map_err(get_err)?;
    let events: String = row.try_get("", "events").map_err(get_err)?;
    let events: Vec<String> = serde_json::from_str(&events)
        .map_err(|error| corrupt(DOING, format!("stored event types are no list: {error}")))?;
    let failures: i32 = row.try_get("", "consecutive_failures").map_err(get_err)?;
    let previous_key_id: Option<String> =
        row.try_get("", "previous_secret_key_id").map_err(get_err)?;
    let previous_ciphertext: Option<Vec<u8>> = row
        .try_get("", "previous_secret_ciphertext")
        .map_err(get_err)?;
    let previous_secret = match (previous_key_id, previous_ciphertext) {
        (Some(key_id), Some(ciphertext)) => Some(SealedSecret { key_id, ciphertext }),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(corrupt(
                DOING,
                "a previous secret has a key id or a ciphertext but not both".to_owned(),
            ));
        }
    };
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(id),
        owner: owner.map(UserId::from_uuid),
        url: row.try_get("", "url").map_err(get_err)?,
        events,
        description: row.try_get("", "description").map_err(get_err)?,
        enabled: row.try_get("", "enabled").map_err(get_err)?,
        consecutive_failures: u32::try_from(failures).unwrap_or(0),
        secret: SealedSecret {
            key_id: row.try_get("", "secret_key_id").map_err(get_err)?,
            ciphertext: row.try_get("", "secret_ciphertext").map_err(get_err)?,
        },
        previous_secret,
        previous_secret_expires_at: row
            .try_get("", "previous_secret_expires_at")
            .map_err(get_err)?,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
    })
}

/// The delivery in `row`.
fn delivery(row: &QueryResult) -> Result<WebhookDelivery, PortError> {
    const DOING: &str = "reading a webhook delivery";
    let get_err = |error| port_error(DOING, error);
    let id: uuid::Uuid = row.try_get("", "id").map_err(get_err)?;
    let endpoint_id: uuid::Uuid = row.try_get("", "endpoint_id").map_err(get_err)?;
    let payload: String = row.try_get("", "payload").map_err(get_err)?;
    let payload = serde_json::from_str(&payload)
        .map_err(|error| corrupt(DOING, format!("a stored payload is no JSON: {error}")))?;
    let status: String = row.try_get("", "status").map_err(get_err)?;
    let status = DeliveryStatus::parse(&status)
        .ok_or_else(|| corrupt(DOING, format!("unknown delivery status `{status}`")))?;
    let attempts: i32 = row.try_get("", "attempts").map_err(get_err)?;
    let response_status: Option<i32> = row.try_get("", "response_status").map_err(get_err)?;
    let duration_ms: Option<i64> = row.try_get("", "duration_ms").map_err(get_err)?;
    Ok(WebhookDelivery {
        id: WebhookDeliveryId::from_uuid(id),
        endpoint_id: WebhookEndpointId::from_uuid(endpoint_id),
        event_id: row.try_get("", "event_id").map_err(get_err)?,
        event_type: row.try_get("", "event_type").map_err(get_err)?,
        payload,
        status,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_attempt_at: row.try_get("", "last_attempt_at").map_err(get_err)?,
        response_status: response_status.and_then(|status| u16::try_from(status).ok()),
        duration_ms: duration_ms.map(|ms| u64::try_from(ms).unwrap_or(0)),
        response_body: row.try_get("", "response_body").map_err(get_err)?,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
    })
}

/// The endpoints of exactly `owner`: that user's, or the global ones.
fn owned_by(owner: Option<UserId>) -> Cond {
    Cond::all().add(match owner {
        Some(user) => Expr::col(WebhookEndpoints::OwnerId).eq(user.as_uuid()),
        None => Expr::col(WebhookEndpoints::OwnerId).is_null(),
    })
}

/// `owner`'s endpoint `id`.
fn of_owner(owner: Option<UserId>, id: WebhookEndpointId) -> Cond {
    owned_by(owner).add(Expr::col(WebhookEndpoints::Id).eq(id.as_uuid()))
}

/// `event_types` as stored: their JSON array.
fn events_text(doing: &'static str, event_types: &[String]) -> Result<String, PortError> {
    serde_json::to_string(event_types)
        .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(doing)))
}

/// The endpoints whose stored secrets are still `expected` (secret, previous secret or none).
fn still_sealed_as(expected: (&SealedSecret, Option<&SealedSecret>)) -> Cond {
    let (secret, previous) = expected;
    let current = Cond::all()
        .add(Expr::col(WebhookEndpoints::SecretKeyId).eq(secret.key_id.as_str()))
        .add(Expr::col(WebhookEndpoints::SecretCiphertext).eq(secret.ciphertext.clone()));
    match previous {
        Some(previous) => current
            .add(Expr::col(WebhookEndpoints::PreviousSecretKeyId).eq(previous.key_id.as_str()))
            .add(
                Expr::col(WebhookEndpoints::PreviousSecretCiphertext)
                    .eq(previous.ciphertext.clone()),
            ),
        None => current
            .add(Expr::col(WebhookEndpoints::PreviousSecretKeyId).is_null())
            .add(Expr::col(WebhookEndpoints::PreviousSecretCiphertext).is_null()),
    }
}

/// A count as stored (an `INTEGER`), saturating.
fn count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[async_trait]
impl WebhookRepository for SqlWebhookRepository {
    async fn add_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, PortError> {
        const DOING: &str = "adding a webhook endpoint";
        let made = WebhookEndpoint {
            id: endpoint.id,
            owner: endpoint.owner,
            url: endpoint.url,
            events: endpoint.events,
            description: endpoint.description,
            enabled: true,
            consecutive_failures: 0,
            secret: endpoint.secret,
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: self.now(),
        };
        let insert = Query::insert()
            .into_table(WebhookEndpoints::Table)
            .columns([
                WebhookEndpoints::Id,
                WebhookEndpoints::OwnerId,
                WebhookEndpoints::Url,
                WebhookEndpoints::Events,
                WebhookEndpoints::Description,
                WebhookEndpoints::Enabled,
                WebhookEndpoints::ConsecutiveFailures,
                WebhookEndpoints::SecretKeyId,
                WebhookEndpoints::SecretCiphertext,
                WebhookEndpoints::CreatedAt,
            ])
            .values([
                made.id.as_uuid().into(),
                made.owner.map(|owner| owner.as_uuid()).into(),
                made.url.as_str().into(),
                events_text(DOING, &made.events)?.into(),
                made.description.clone().into(),
                true.into(),
                0_i32.into(),
                made.secret.key_id.as_str().into(),
                made.secret.ciphertext.clone().into(),
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

    async fn get_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        let select = select_endpoints()
            .cond_where(of_owner(owner, id))
            .to_owned();
        self.one_endpoint("finding a webhook endpoint", &select)
            .await
    }

    async fn find_endpoint(
        &self,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        let select = select_endpoints()
            .and_where(Expr::col(WebhookEndpoints::Id).eq(id.as_uuid()))
            .to_owned();
        self.one_endpoint("finding a webhook endpoint", &select)
            .await
    }

    async fn list_endpoints(
        &self,
        owner: Option<UserId>,
    ) -> Result<Vec<WebhookEndpoint>, PortError> {
        let select = select_endpoints()
            .cond_where(owned_by(owner))
            .order_by(WebhookEndpoints::CreatedAt, Order::Desc)
            .order_by(WebhookEndpoints::Id, Order::Desc)
            .to_owned();
        let rows = self.rows("listing webhook endpoints", &select).await?;
        rows.iter().map(endpoint).collect()
    }

    async fn subscribers(
        &self,
        user: Option<UserId>,
        event_type: &str,
    ) -> Result<Vec<WebhookEndpoint>, PortError> {
        let mut owners = Cond::any().add(Expr::col(WebhookEndpoints::OwnerId).is_null());
        if let Some(user) = user {
            owners = owners.add(Expr::col(WebhookEndpoints::OwnerId).eq(user.as_uuid()));
        }
        let select = select_endpoints()
            .cond_where(
                Cond::all()
                    .add(Expr::col(WebhookEndpoints::Enabled).eq(true))
                    .add(owners),
            )
            .order_by(WebhookEndpoints::CreatedAt, Order::Asc)
            .order_by(WebhookEndpoints::Id, Order::Asc)
            .to_owned();
        let rows = self
            .rows("finding the subscribers of an event", &select)
            .await?;
        let mut subscribers = Vec::new();
        for row in &rows {
            let endpoint = endpoint(row)?;
            if endpoint.subscribes(event_type) {
                subscribers.push(endpoint);
            }
        }
        Ok(subscribers)
    }

    async fn update_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        change: WebhookEndpointChange,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        const DOING: &str = "updating a webhook endpoint";
        if change == WebhookEndpointChange::default() {
            return self.get_endpoint(owner, id).await;
        }
        let mut update = Query::update()
            .table(WebhookEndpoints::Table)
            .cond_where(of_owner(owner, id))
            .to_owned();
        if let Some(url) = change.url {
            update.value(WebhookEndpoints::Url, url);
        }
        if let Some(events) = change.events {
            update.value(WebhookEndpoints::Events, events_text(DOING, &events)?);
        }
        if let Some(description) = change.description {
            update.value(WebhookEndpoints::Description, description);
        }
        if let Some(enabled) = change.enabled {
            update.value(WebhookEndpoints::Enabled, enabled);
            if enabled {
                update.value(WebhookEndpoints::ConsecutiveFailures, 0_i32);
            }
        }
        self.update_endpoint_returning(DOING, update).await
    }

    async fn rotate_secret(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
        secret: SealedSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        let update = Query::update()
            .table(WebhookEndpoints::Table)
            .value(
                WebhookEndpoints::PreviousSecretKeyId,
                Expr::col(WebhookEndpoints::SecretKeyId),
            )
            .value(
                WebhookEndpoints::PreviousSecretCiphertext,
                Expr::col(WebhookEndpoints::SecretCiphertext),
            )
            .value(
                WebhookEndpoints::PreviousSecretExpiresAt,
                previous_expires_at.trunc_subsecs(6),
            )
            .value(WebhookEndpoints::SecretKeyId, secret.key_id)
            .value(WebhookEndpoints::SecretCiphertext, secret.ciphertext)
            .cond_where(of_owner(owner, id))
            .to_owned();
        self.update_endpoint_returning("rotating a webhook secret", update)
            .await
    }

    async fn delete_endpoint(
        &self,
        owner: Option<UserId>,
        id: WebhookEndpointId,
    ) -> Result<bool, PortError> {
        let delete = Query::delete()
            .from_table(WebhookEndpoints::Table)
            .cond_where(of_owner(owner, id))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("deleting a webhook endpoint", error))?;
        Ok(result.rows_affected() > 0)
    }

    async fn record_endpoint_outcome(
        &self,
        id: WebhookEndpointId,
        succeeded: bool,
        disable_after: u32,
    ) -> Result<Option<WebhookEndpoint>, PortError> {
        let mut update = Query::update()
            .table(WebhookEndpoints::Table)
            .and_where(Expr::col(WebhookEndpoints::Id).eq(id.as_uuid()))
            .to_owned();
        if succeeded {
            update.value(WebhookEndpoints::ConsecutiveFailures, 0_i32);
        } else {
            let failures = Expr::col(WebhookEndpoints::ConsecutiveFailures).add(1);
            update.value(WebhookEndpoints::ConsecutiveFailures, failures.clone());
            if disable_after > 0 {
                update.value(
                    WebhookEndpoints::Enabled,
                    Expr::case(failures.gte(count(disable_after)), false)
                        .finally(Expr::col(WebhookEndpoints::Enabled)),
                );
            }
        }
        self.update_endpoint_returning("recording a webhook endpoint's outcome", update)
            .await
    }

    async fn add_delivery(
        &self,
        delivery: NewWebhookDelivery,
    ) -> Result<WebhookDelivery, PortError> {
        const DOING: &str = "adding a webhook delivery";
        let made = WebhookDelivery {
            id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            payload: delivery.payload,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_attempt_at: None,
            response_status: None,
            duration_ms: None,
            response_body: None,
            created_at: self.now(),
        };
        let payload = serde_json::to_string(&made.payload)
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
        let insert = Query::insert()
            .into_table(WebhookDeliveries::Table)
            .columns([
                WebhookDeliveries::Id,
                WebhookDeliveries::EndpointId,
                WebhookDeliveries::EventId,
                WebhookDeliveries::EventType,
                WebhookDeliveries::Payload,
                WebhookDeliveries::Status,
                WebhookDeliveries::Attempts,
                WebhookDeliveries::CreatedAt,
            ])
            .values([
                made.id.as_uuid().into(),
                made.endpoint_id.as_uuid().into(),
                made.event_id.as_str().into(),
                made.event_type.as_str().into(),
                payload.into(),
                DeliveryStatus::Pending.as_str().into(),
                0_i32.into(),
                made.created_at.into(),
            ])
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?
            .on_conflict(
                OnConflict::columns([WebhookDeliveries::EndpointId, WebhookDeliveries::EventId])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&insert)
            .await
            .map_err(|error| port_error(DOING, error))?;
        if result.rows_affected() > 0 {
            return Ok(made);
        }
        let select = select_deliveries()
            .and_where(Expr::col(WebhookDeliveries::EndpointId).eq(made.endpoint_id.as_uuid()))
            .and_where(Expr::col(WebhookDeliveries::EventId).eq(made.event_id.as_str()))
            .to_owned();
        self.one_delivery(DOING, &select).await?.ok_or_else(|| {
            PortError::Unexpected(anyhow::anyhow!(
                "adding a webhook delivery: the conflicting delivery is gone"
            ))
        })
    }

    async fn get_delivery(
        &self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        let select = select_deliveries()
            .and_where(Expr::col(WebhookDeliveries::Id).eq(id.as_uuid()))
            .and_where(Expr::col(WebhookDeliveries::EndpointId).eq(endpoint_id.as_uuid()))
            .to_owned();
        self.one_delivery("finding a webhook delivery", &select)
            .await
    }

    async fn find_delivery(
        &self,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        let select = select_deliveries()
            .and_where(Expr::col(WebhookDeliveries::Id).eq(id.as_uuid()))
            .to_owned();
        self.one_delivery("finding a webhook delivery", &select)
            .await
    }

    async fn list_deliveries(
        &self,
        endpoint_id: WebhookEndpointId,
        limit: u32,
        before: Option<WebhookDeliveryId>,
    ) -> Result<Vec<WebhookDelivery>, PortError> {
        let mut select = select_deliveries()
            .and_where(Expr::col(WebhookDeliveries::EndpointId).eq(endpoint_id.as_uuid()))
            .order_by(WebhookDeliveries::Id, Order::Desc)
            .limit(u64::from(clamp_delivery_list_limit(limit)))
            .to_owned();
        if let Some(before) = before {
            select.and_where(Expr::col(WebhookDeliveries::Id).lt(before.as_uuid()));
        }
        let rows = self.rows("listing webhook deliveries", &select).await?;
        rows.iter().map(delivery).collect()
    }

    async fn record_attempt(
        &self,
        id: WebhookDeliveryId,
        attempt: DeliveryAttempt,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        let update = Query::update()
            .table(WebhookDeliveries::Table)
            .value(
                WebhookDeliveries::Attempts,
                Expr::col(WebhookDeliveries::Attempts).add(1),
            )
            .value(
                WebhookDeliveries::LastAttemptAt,
                attempt.at.trunc_subsecs(6),
            )
            .value(
                WebhookDeliveries::ResponseStatus,
                attempt.response_status.map(i32::from),
            )
            .value(
                WebhookDeliveries::DurationMs,
                i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
            )
            .value(WebhookDeliveries::ResponseBody, attempt.response_body)
            .value(WebhookDeliveries::Status, attempt.outcome.status().as_str())
            .and_where(Expr::col(WebhookDeliveries::Id).eq(id.as_uuid()))
            .and_where(Expr::col(WebhookDeliveries::Status).eq(DeliveryStatus::Pending.as_str()))
            .to_owned();
        self.update_delivery_returning("recording a webhook delivery attempt", update)
            .await
    }

    async fn reset_delivery(
        &self,
        endpoint_id: WebhookEndpointId,
        id: WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>, PortError> {
        let update = Query::update()
            .table(WebhookDeliveries::Table)
            .value(WebhookDeliveries::Status, DeliveryStatus::Pending.as_str())
            .and_where(Expr::col(WebhookDeliveries::Id).eq(id.as_uuid()))
            .and_where(Expr::col(WebhookDeliveries::EndpointId).eq(endpoint_id.as_uuid()))
            .and_where(Expr::col(WebhookDeliveries::Status).eq(DeliveryStatus::Failed.as_str()))
            .to_owned();
        self.update_delivery_returning("resetting a webhook delivery", update)
            .await
    }

    async fn purge_deliveries(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        let delete = Query::delete()
            .from_table(WebhookDeliveries::Table)
            .and_where(Expr::col(WebhookDeliveries::CreatedAt).lt(before.trunc_subsecs(6)))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("purging webhook deliveries", error))?;
        Ok(result.rows_affected())
    }

    async fn endpoints_sealed_by_other_keys(
        &self,
        current_key_id: &str,
        after: Option<WebhookEndpointId>,
        limit: u32,
    ) -> Result<Vec<WebhookEndpoint>, PortError> {
        let live_previous = Cond::all()
            .add(Expr::col(WebhookEndpoints::PreviousSecretKeyId).is_not_null())
            .add(Expr::col(WebhookEndpoints::PreviousSecretKeyId).ne(current_key_id))
            .add(Expr::col(WebhookEndpoints::PreviousSecretExpiresAt).gt(self.now()));
        let mut select = select_endpoints()
            .cond_where(
                Cond::any()
                    .add(Expr::col(WebhookEndpoints::SecretKeyId).ne(current_key_id))
                    .add(live_previous),
            )
            .to_owned();
        if let Some(after) = after {
            select.and_where(Expr::col(WebhookEndpoints::Id).gt(after.as_uuid()));
        }
        select
            .order_by(WebhookEndpoints::Id, Order::Asc)
            .limit(u64::from(limit));
        let rows = self
            .rows("listing webhook endpoints sealed by other keys", &select)
            .await?;
        rows.iter().map(endpoint).collect()
    }

    async fn reseal_endpoint_secrets(
        &self,
        id: WebhookEndpointId,
        expected: (&SealedSecret, Option<&SealedSecret>),
        resealed: (SealedSecret, Option<SealedSecret>),
    ) -> Result<bool, PortError> {
        let (secret, previous) = resealed;
        let (previous_key_id, previous_ciphertext) = previous
            .map(|previous| (previous.key_id, previous.ciphertext))
            .unzip();
        let update = Query::update()
            .table(WebhookEndpoints::Table)
            .value(WebhookEndpoints::SecretKeyId, secret.key_id)
            .value(WebhookEndpoints::SecretCiphertext, secret.ciphertext)
            .value(WebhookEndpoints::PreviousSecretKeyId, previous_key_id)
            .value(
                WebhookEndpoints::PreviousSecretCiphertext,
                previous_ciphertext,
            )
            .cond_where(
                still_sealed_as(expected).add(Expr::col(WebhookEndpoints::Id).eq(id.as_uuid())),
            )
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&update)
            .await
            .map_err(|error| port_error("resealing a webhook endpoint's secrets", error))?;
        Ok(result.rows_affected() > 0)
    }
}
