//! The audit route (API.md "API keys, webhooks, audit, admin"): `GET /api/audit-logs`, the
//! caller's own events, newest first, a page at a time.

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};
use twofa_application::{
    audit_trail::{ListAuditEventsError, ListAuditEventsInput},
    auth::{CallerError, Fault},
};
use twofa_domain::{AuditEvent, AuditEventId, Scope};

use crate::{
    api::{
        ApiTags,
        auth::{
            Caller, State, default_limit, fail, parse_cursor, principal,
            problems::{Answered, answered, fault_problem, invalid},
        },
    },
    api_error::{ApiError, answers},
};

answered!(ListAuditEventsError {
    ListAuditEventsError::Invalid(fields) => answers::BAD_REQUEST, invalid(fields);
    ListAuditEventsError::Fault(fault) => answers::SHARED, fault_problem(fault);
});

/// The audit route.
pub struct AuditApi;

/// Who acted.
#[derive(Debug, Clone, Object)]
pub struct ActorView {
    /// `user`, `admin`, `api_key` or `system`.
    #[oai(rename = "type")]
    pub kind: String,
    /// The user's, admin's or key's id; `null` for the system.
    pub id: Option<String>,
}

/// One audit event.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditEventView {
    /// The event's id.
    pub id: uuid::Uuid,
    /// The account the event is about.
    pub user_id: Option<uuid::Uuid>,
    /// Who acted.
    pub actor: ActorView,
    /// What happened: an event type of `GET /api/webhooks/events` where one exists.
    pub action: String,
    /// Whether the attempt succeeded.
    pub success: bool,
    /// The client address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// Ids and masked values; never a secret.
    pub details: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl From<&AuditEvent> for AuditEventView {
    fn from(event: &AuditEvent) -> Self {
        let recorded = &event.event;
        Self {
            id: event.id.as_uuid(),
            user_id: recorded.user_id.map(|id| id.as_uuid()),
            actor: ActorView {
                kind: recorded.actor.kind.as_str().to_owned(),
                id: recorded.actor.id.clone(),
            },
            action: recorded.action.clone(),
            success: recorded.success,
            ip: recorded.ip.map(|ip| ip.to_string()),
            user_agent: recorded.user_agent.clone(),
            details: recorded.details.to_value(),
            created_at: event.created_at,
        }
    }
}

/// A page of audit events.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditEventList {
    /// The events, newest first.
    pub items: Vec<AuditEventView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// The caller's audit events.
#[derive(ApiResponse)]
pub enum AuditEventsResponse {
    /// A page of events, newest first.
    #[oai(status = 200)]
    Ok(Json<AuditEventList>),
}

#[OpenApi(tag = "ApiTags::Audit")]
impl AuditApi {
    /// The caller's audit events — every change to their account and every failed check on
    /// it — newest first, filtered by `action` and by time (`since` inclusive, `until`
    /// exclusive).
    #[oai(
        path = "/api/audit-logs",
        method = "get",
        operation_id = "listAuditLogs"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "poem-openapi takes each query parameter as an argument of its own"
    )]
    async fn list(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// Only events of this type, such as `user.login.failed`.
        #[oai(validator(min_length = 1, max_length = 64))]
        action: Query<Option<String>>,
        /// Only events at or after this instant (RFC 3339).
        since: Query<Option<DateTime<Utc>>>,
        /// Only events before this instant (RFC 3339); after `since`.
        until: Query<Option<DateTime<Utc>>>,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<
        AuditEventsResponse,
        ApiError<
            {
                <CallerError as Answered>::ANSWERS
                    | <ListAuditEventsError as Answered>::ANSWERS
                    | <Fault as Answered>::ANSWERS
            },
        >,
    > {
        let principal = principal(&state, request, &auth, Some(Scope::AuditRead)).await?;
        let before = parse_cursor::<AuditEventId, _>(cursor.0.as_deref())?;
        let page = state
            .list_audit_events
            .execute(ListAuditEventsInput {
                principal,
                action: action.0,
                since: since.0,
                until: until.0,
                limit: limit.0,
                before,
            })
            .await
            .map_err(fail)?;
        Ok(AuditEventsResponse::Ok(Json(AuditEventList {
            items: page.items.iter().map(AuditEventView::from).collect(),
            next_cursor: page.next_cursor.map(|id| id.to_string()),
        })))
    }
}
