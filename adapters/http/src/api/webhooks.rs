//! The webhook routes (API.md "API keys, webhooks, audit, admin"): the catalogue of event
//! types, a user's endpoints (`/api/webhooks…`, an access token or a key with
//! `webhooks:read` / `webhooks:write`) and the global endpoints administrators manage
//! (`/api/admin/webhooks…`, which receive every user's events), with their deliveries.

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;
use twofa_application::{
    auth::CallerError,
    webhook_events::catalogue::CATALOGUE,
    webhooks::{
        CreateWebhookInput, CreatedWebhook, ENDPOINTS_PER_OWNER, EndpointScope, UpdateWebhookInput,
        WebhookError,
    },
};
use twofa_domain::{
    DeliveryStatus, Scope, WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointId,
};

use crate::{
    api::{
        ApiTags,
        admin::{ACCESS_ANSWERS, administrator},
        auth::{
            AuthState, Caller, State, default_limit, fail, page, parse_cursor, principal,
            problems::{Answered, answered, fault_problem, invalid},
            request_info,
            responses::NoContent,
        },
    },
    api_error::{ApiError, answers},
    json_body::JsonBody,
    problem::{Problem, ProblemCode},
};

answered!(WebhookError {
    WebhookError::Invalid(fields) => answers::BAD_REQUEST, invalid(fields);
    WebhookError::NotFound => answers::NOT_FOUND, Problem::new(ProblemCode::NotFound, "no such resource");
    WebhookError::Disabled => answers::ENDPOINT_DISABLED, Problem::new(ProblemCode::Conflict, "the webhook endpoint is disabled; enable it first");
    WebhookError::NotRetryable => answers::NOT_RETRYABLE, Problem::new(ProblemCode::Conflict, "only a failed delivery can be retried");
    WebhookError::TooMany => answers::ENDPOINT_LIMIT, Problem::new(ProblemCode::Conflict, format!("at most {ENDPOINTS_PER_OWNER} webhook endpoints per owner; delete one first"));
    WebhookError::Fault(fault) => answers::SHARED, fault_problem(fault);
});

/// The statuses of a user's webhook routes.
const OWN: u32 = <CallerError as Answered>::ANSWERS | <WebhookError as Answered>::ANSWERS;
/// The statuses of the global webhook routes.
const GLOBAL: u32 = ACCESS_ANSWERS | <WebhookError as Answered>::ANSWERS;

/// Errors of a user's webhook route.
type OwnFailure = ApiError<OWN>;
/// Errors of a global webhook route.
type GlobalFailure = ApiError<GLOBAL>;

/// The catalogue and a user's endpoints.
pub struct WebhooksApi;

/// The global endpoints (role `admin`).
pub struct AdminWebhooksApi;

/// One event type a webhook endpoint can subscribe to.
#[derive(Debug, Clone, Object)]
pub struct EventTypeView {
    /// The name, as endpoints' `events` and deliveries' `type` write it.
    #[oai(rename = "type")]
    pub name: String,
    /// What happened, and when it is sent.
    pub description: String,
    /// A sample of its `data`: ids and masked values, never a secret.
    pub example: serde_json::Value,
}

/// Every event type.
#[derive(Debug, Clone, Object)]
pub struct EventTypeList {
    /// Every type the service emits.
    pub items: Vec<EventTypeView>,
}

/// The catalogue.
#[derive(ApiResponse)]
enum EventTypesResponse {
    /// Every event type, with a description and an example `data`.
    #[oai(status = 200)]
    Ok(Json<EventTypeList>),
}

/// A webhook endpoint, without its secret.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookView {
    /// The endpoint's id.
    pub id: uuid::Uuid,
    /// Where deliveries are sent (`POST`).
    pub url: String,
    /// The event types it receives; `["*"]`: every type.
    pub events: Vec<String>,
    /// What it is for; `null`: nothing said.
    pub description: Option<String>,
    /// Whether deliveries are sent: `false` after `webhooks.disable_after_failures`
    /// consecutive failures, until its owner enables it.
    pub enabled: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&WebhookEndpoint> for WebhookView {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id.as_uuid(),
            url: endpoint.url.clone(),
            events: endpoint.events.clone(),
            description: endpoint.description.clone(),
            enabled: endpoint.enabled,
            created_at: endpoint.created_at,
        }
    }
}

/// An endpoint just made, with its signing secret: shown this once, never again.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[oai(flatten)]
    pub endpoint: WebhookView,
    /// The signing secret, `whsec_` + base64: verify `webhook-signature` with it.
    pub secret: String,
}

impl From<&CreatedWebhook> for WebhookWithSecret {
    fn from(created: &CreatedWebhook) -> Self {
        Self {
            endpoint: WebhookView::from(&created.endpoint),
            secret: created.secret.expose().to_owned(),
        }
    }
}

/// A new signing secret.
#[derive(Debug, Clone, Object)]
pub struct SecretView {
    /// The new secret, `whsec_` + base64, shown once. For 24 hours deliveries carry a
    /// signature by the previous secret too.
    pub secret: String,
}

/// A page of endpoints.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookList {
    /// The endpoints, newest first, enabled or not.
    pub items: Vec<WebhookView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum DeliveryStatusView {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed, or the destination was refused.
    Failed,
}

impl From<DeliveryStatus> for DeliveryStatusView {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Delivered => Self::Delivered,
            DeliveryStatus::Failed => Self::Failed,
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeliveryView {
    /// The delivery's id.
    pub id: uuid::Uuid,
    /// The event type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: DeliveryStatusView,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the last attempt was made; `null`: none yet.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's HTTP status; `null`: no answer (or no attempt).
    pub response_status: Option<u16>,
    /// How long the last attempt took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The start of the last answer's body (at most 1 KiB), or why no answer came.
    pub response_body: Option<String>,
    /// When the event was queued for this endpoint.
    pub created_at: DateTime<Utc>,
}

impl From<&WebhookDelivery> for DeliveryView {
    fn from(delivery: &WebhookDelivery) -> Self {
        Self {
            id: delivery.id.as_uuid(),
            event_type: delivery.event_type.clone(),
            status: delivery.status.into(),
            attempts: delivery.attempts,
            last_attempt_at: delivery.last_attempt_at,
            response_status: delivery.response_status,
            duration_ms: delivery.duration_ms,
            response_body: delivery.response_body.clone(),
            created_at: delivery.created_at,
        }
    }
}

/// A page of deliveries.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeliveryList {
    /// The deliveries, newest first.
    pub items: Vec<DeliveryView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `POST /api/webhooks`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhookRequest {
    /// An `https://` URL (`http://` in development), at most 2048 characters, no user or
    /// password in it.
    #[oai(validator(max_length = 2048))]
    pub url: String,
    /// Event types from `GET /api/webhooks/events`, or `["*"]` for every type.
    #[oai(validator(max_items = 64))]
    pub events: Vec<String>,
    /// What it is for, at most 500 characters.
    #[serde(default)]
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
}

/// `PATCH /api/webhooks/{id}`: absent fields stay.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct UpdateWebhookRequest {
    /// A new URL.
    #[serde(default)]
    #[oai(validator(max_length = 2048))]
    pub url: Option<String>,
    /// New event types, or `["*"]`.
    #[serde(default)]
    #[oai(validator(max_items = 64))]
    pub events: Option<Vec<String>>,
    /// A new description; `""` removes it.
    #[serde(default)]
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
    /// `true` enables a disabled endpoint (its failure count starts again); `false`
    /// disables it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A new endpoint.
#[derive(ApiResponse)]
enum CreatedResponse {
    /// The endpoint, with its signing secret (shown once).
    #[oai(status = 201)]
    Created(Json<WebhookWithSecret>),
}

/// One endpoint.
#[derive(ApiResponse)]
enum WebhookResponse {
    /// The endpoint.
    #[oai(status = 200)]
    Ok(Json<WebhookView>),
}

/// Endpoints.
#[derive(ApiResponse)]
enum WebhooksResponse {
    /// Every endpoint, newest first.
    #[oai(status = 200)]
    Ok(Json<WebhookList>),
}

/// A new signing secret.
#[derive(ApiResponse)]
enum SecretResponse {
    /// The new secret (shown once).
    #[oai(status = 200)]
    Ok(Json<SecretView>),
}

/// A delivery queued.
#[derive(ApiResponse)]
enum QueuedResponse {
    /// The delivery, pending: the worker sends it.
    #[oai(status = 202)]
    Accepted(Json<DeliveryView>),
}

/// A page of deliveries.
#[derive(ApiResponse)]
enum DeliveriesResponse {
    /// The deliveries, newest first.
    #[oai(status = 200)]
    Ok(Json<DeliveryList>),
}

/// The caller's own endpoints, when their access token (or key, with `required`) may.
async fn own<const A: u32>(
    state: &AuthState,
    request: &Request,
    auth: &Caller,
    required: Scope,
) -> Result<EndpointScope, ApiError<A>> {
    let principal = principal(state, request, auth, Some(required)).await?;
    Ok(EndpointScope::Own(principal.user_id))
}

/// The global endpoints, when the caller is an administrator.
async fn global<const A: u32>(
    state: &AuthState,
    request: &Request,
    auth: &Caller,
) -> Result<EndpointScope, ApiError<A>> {
    let admin = administrator(state, request, auth).await?;
    Ok(EndpointScope::Global { admin: admin.id })
}

async fn create<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    request: &Request,
    body: JsonBody<CreateWebhookRequest>,
) -> Result<CreatedResponse, ApiError<A>> {
    let JsonBody(body) = body;
    let created = state
        .webhook_endpoints
        .create(
            scope,
            CreateWebhookInput {
                url: body.url,
                events: body.events,
                description: body.description,
                request: request_info(request),
            },
        )
        .await
        .map_err(fail)?;
    Ok(CreatedResponse::Created(Json(WebhookWithSecret::from(
        &created,
    ))))
}

async fn list<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    limit: u32,
    cursor: Option<&str>,
) -> Result<WebhooksResponse, ApiError<A>> {
    let before = parse_cursor::<uuid::Uuid, A>(cursor)?;
    let endpoints = state
        .webhook_endpoints
        .list(scope)
        .await
        .map_err(|fault| fail(WebhookError::from(fault)))?;
    let (endpoints, next_cursor) = page(endpoints, |endpoint| endpoint.id.as_uuid(), limit, before);
    Ok(WebhooksResponse::Ok(Json(WebhookList {
        items: endpoints.iter().map(WebhookView::from).collect(),
        next_cursor,
    })))
}

async fn get<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    id: uuid::Uuid,
) -> Result<WebhookResponse, ApiError<A>> {
    let endpoint = state
        .webhook_endpoints
        .get(scope, WebhookEndpointId::from_uuid(id))
        .await
        .map_err(fail)?;
    Ok(WebhookResponse::Ok(Json(WebhookView::from(&endpoint))))
}

async fn update<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    request: &Request,
    id: uuid::Uuid,
    body: JsonBody<UpdateWebhookRequest>,
) -> Result<WebhookResponse, ApiError<A>> {
    let JsonBody(body) = body;
    let endpoint = state
        .webhook_endpoints
        .update(
            scope,
            WebhookEndpointId::from_uuid(id),
            UpdateWebhookInput {
                url: body.url,
                events: body.events,
                description: body.description.map(Some),
                enabled: body.enabled,
                request: request_info(request),
            },
        )
        .await
        .map_err(fail)?;
    Ok(WebhookResponse::Ok(Json(WebhookView::from(&endpoint))))
}

async fn delete<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    request: &Request,
    id: uuid::Uuid,
) -> Result<NoContent, ApiError<A>> {
    state
        .webhook_endpoints
        .delete(
            scope,
            WebhookEndpointId::from_uuid(id),
            &request_info(request),
        )
        .await
        .map_err(fail)?;
    Ok(NoContent::Done)
}

async fn rotate_secret<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    request: &Request,
    id: uuid::Uuid,
) -> Result<SecretResponse, ApiError<A>> {
    let secret = state
        .webhook_endpoints
        .rotate_secret(
            scope,
            WebhookEndpointId::from_uuid(id),
            &request_info(request),
        )
        .await
        .map_err(fail)?;
    Ok(SecretResponse::Ok(Json(SecretView {
        secret: secret.expose().to_owned(),
    })))
}

async fn send_test<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    request: &Request,
    id: uuid::Uuid,
) -> Result<QueuedResponse, ApiError<A>> {
    let delivery = state
        .webhook_endpoints
        .send_test(
            scope,
            WebhookEndpointId::from_uuid(id),
            &request_info(request),
        )
        .await
        .map_err(fail)?;
    Ok(QueuedResponse::Accepted(Json(DeliveryView::from(
        &delivery,
    ))))
}

async fn deliveries<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    id: uuid::Uuid,
    limit: u32,
    cursor: Option<&str>,
) -> Result<DeliveriesResponse, ApiError<A>> {
    let before = parse_cursor::<WebhookDeliveryId, A>(cursor)?;
    let items = state
        .webhook_endpoints
        .list_deliveries(scope, WebhookEndpointId::from_uuid(id), limit, before)
        .await
        .map_err(fail)?;
    let next_cursor = (items.len() >= usize::try_from(limit).unwrap_or(usize::MAX))
        .then(|| items.last().map(|delivery| delivery.id.to_string()))
        .flatten();
    Ok(DeliveriesResponse::Ok(Json(DeliveryList {
        items: items.iter().map(DeliveryView::from).collect(),
        next_cursor,
    })))
}

async fn retry<const A: u32>(
    state: &AuthState,
    scope: EndpointScope,
    request: &Request,
    id: uuid::Uuid,
    delivery_id: uuid::Uuid,
) -> Result<QueuedResponse, ApiError<A>> {
    let delivery = state
        .webhook_endpoints
        .retry_delivery(
            scope,
            WebhookEndpointId::from_uuid(id),
            WebhookDeliveryId::from_uuid(delivery_id),
            &request_info(request),
        )
        .await
        .map_err(fail)?;
    Ok(QueuedResponse::Accepted(Json(DeliveryView::from(
        &delivery,
    ))))
}

#[OpenApi(tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Every event type the service emits to webhooks, with a description and an example of
    /// its `data`.
    #[oai(
        path = "/api/webhooks/events",
        method = "get",
        operation_id = "listWebhookEventTypes"
    )]
    async fn event_types(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<EventTypesResponse, ApiError<{ <CallerError as Answered>::ANSWERS }>> {
        principal(&state, request, &auth, Some(Scope::WebhooksRead)).await?;
        Ok(event_types())
    }

    /// Registers an endpoint for the caller's events; answers its signing secret once.
    #[oai(
        path = "/api/webhooks",
        method = "post",
        operation_id = "createWebhook"
    )]
    async fn create(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<CreateWebhookRequest>,
    ) -> Result<CreatedResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksWrite).await?;
        create(&state, scope, request, body).await
    }

    /// The caller's endpoints, newest first.
    #[oai(path = "/api/webhooks", method = "get", operation_id = "listWebhooks")]
    async fn list(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<WebhooksResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksRead).await?;
        list(&state, scope, limit.0, cursor.0.as_deref()).await
    }

    /// One of the caller's endpoints (404 for another user's).
    #[oai(
        path = "/api/webhooks/:id",
        method = "get",
        operation_id = "getWebhook"
    )]
    async fn get(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<WebhookResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksRead).await?;
        get(&state, scope, id.0).await
    }

    /// Changes an endpoint's URL, events or description, or enables (or disables) it.
    #[oai(
        path = "/api/webhooks/:id",
        method = "patch",
        operation_id = "updateWebhook"
    )]
    async fn update(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
        body: JsonBody<UpdateWebhookRequest>,
    ) -> Result<WebhookResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksWrite).await?;
        update(&state, scope, request, id.0, body).await
    }

    /// Deletes an endpoint and its delivery log; nothing more is sent to it.
    #[oai(
        path = "/api/webhooks/:id",
        method = "delete",
        operation_id = "deleteWebhook"
    )]
    async fn delete(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<NoContent, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksWrite).await?;
        delete(&state, scope, request, id.0).await
    }

    /// A new signing secret, answered once; for 24 hours deliveries are signed by both the
    /// new and the previous secret.
    #[oai(
        path = "/api/webhooks/:id/rotate-secret",
        method = "post",
        operation_id = "rotateWebhookSecret"
    )]
    async fn rotate_secret(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<SecretResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksWrite).await?;
        rotate_secret(&state, scope, request, id.0).await
    }

    /// Sends a `webhook.test` event to an enabled endpoint, whatever events it subscribes
    /// to; answers the pending delivery (409 for a disabled endpoint).
    #[oai(
        path = "/api/webhooks/:id/test",
        method = "post",
        operation_id = "testWebhook"
    )]
    async fn send_test(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<QueuedResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksWrite).await?;
        send_test(&state, scope, request, id.0).await
    }

    /// An endpoint's deliveries, newest first.
    #[oai(
        path = "/api/webhooks/:id/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<DeliveriesResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksRead).await?;
        deliveries(&state, scope, id.0, limit.0, cursor.0.as_deref()).await
    }

    /// Tries a failed delivery once more (409 if it has not failed or the endpoint is
    /// disabled).
    #[oai(
        path = "/api/webhooks/:id/deliveries/:deliveryId/retry",
        method = "post",
        operation_id = "retryWebhookDelivery"
    )]
    async fn retry(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
        /// The delivery's id.
        #[oai(name = "deliveryId")]
        delivery_id: Path<uuid::Uuid>,
    ) -> Result<QueuedResponse, OwnFailure> {
        let scope = own(&state, request, &auth, Scope::WebhooksWrite).await?;
        retry(&state, scope, request, id.0, delivery_id.0).await
    }
}

fn event_types() -> EventTypesResponse {
    EventTypesResponse::Ok(Json(EventTypeList {
        items: CATALOGUE
            .iter()
            .map(|event| EventTypeView {
                name: event.name.to_owned(),
                description: event.description.to_owned(),
                example: event.data_example(),
            })
            .collect(),
    }))
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminWebhooksApi {
    /// Every event type a global endpoint can subscribe to: the same catalogue as
    /// `GET /api/webhooks/events`.
    #[oai(
        path = "/api/admin/webhooks/events",
        method = "get",
        operation_id = "listGlobalWebhookEventTypes"
    )]
    async fn event_types(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<EventTypesResponse, ApiError<ACCESS_ANSWERS>> {
        administrator(&state, request, &auth).await?;
        Ok(event_types())
    }

    /// Registers a global endpoint, which receives every user's events; answers its signing
    /// secret once.
    #[oai(
        path = "/api/admin/webhooks",
        method = "post",
        operation_id = "createGlobalWebhook"
    )]
    async fn create(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<CreateWebhookRequest>,
    ) -> Result<CreatedResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        create(&state, scope, request, body).await
    }

    /// The global endpoints, newest first.
    #[oai(
        path = "/api/admin/webhooks",
        method = "get",
        operation_id = "listGlobalWebhooks"
    )]
    async fn list(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<WebhooksResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        list(&state, scope, limit.0, cursor.0.as_deref()).await
    }

    /// One global endpoint.
    #[oai(
        path = "/api/admin/webhooks/:id",
        method = "get",
        operation_id = "getGlobalWebhook"
    )]
    async fn get(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<WebhookResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        get(&state, scope, id.0).await
    }

    /// Changes a global endpoint, or enables (or disables) it.
    #[oai(
        path = "/api/admin/webhooks/:id",
        method = "patch",
        operation_id = "updateGlobalWebhook"
    )]
    async fn update(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
        body: JsonBody<UpdateWebhookRequest>,
    ) -> Result<WebhookResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        update(&state, scope, request, id.0, body).await
    }

    /// Deletes a global endpoint and its delivery log.
    #[oai(
        path = "/api/admin/webhooks/:id",
        method = "delete",
        operation_id = "deleteGlobalWebhook"
    )]
    async fn delete(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<NoContent, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        delete(&state, scope, request, id.0).await
    }

    /// A new signing secret for a global endpoint, answered once; for 24 hours deliveries
    /// carry both signatures.
    #[oai(
        path = "/api/admin/webhooks/:id/rotate-secret",
        method = "post",
        operation_id = "rotateGlobalWebhookSecret"
    )]
    async fn rotate_secret(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<SecretResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        rotate_secret(&state, scope, request, id.0).await
    }

    /// Sends a `webhook.test` event to an enabled global endpoint.
    #[oai(
        path = "/api/admin/webhooks/:id/test",
        method = "post",
        operation_id = "testGlobalWebhook"
    )]
    async fn send_test(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
    ) -> Result<QueuedResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        send_test(&state, scope, request, id.0).await
    }

    /// A global endpoint's deliveries, newest first.
    #[oai(
        path = "/api/admin/webhooks/:id/deliveries",
        method = "get",
        operation_id = "listGlobalWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<DeliveriesResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        deliveries(&state, scope, id.0, limit.0, cursor.0.as_deref()).await
    }

    /// Tries a failed delivery to a global endpoint once more.
    #[oai(
        path = "/api/admin/webhooks/:id/deliveries/:deliveryId/retry",
        method = "post",
        operation_id = "retryGlobalWebhookDelivery"
    )]
    async fn retry(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The endpoint's id.
        id: Path<uuid::Uuid>,
        /// The delivery's id.
        #[oai(name = "deliveryId")]
        delivery_id: Path<uuid::Uuid>,
    ) -> Result<QueuedResponse, GlobalFailure> {
        let scope = global(&state, request, &auth).await?;
        retry(&state, scope, request, id.0, delivery_id.0).await
    }
}
