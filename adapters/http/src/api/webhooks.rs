//! The webhook routes (API.md "API keys, webhooks, audit, admin"): for now the catalogue of
//! event types, `GET /api/webhooks/events`.

use poem::Request;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use twofa_application::{auth::CallerError, webhook_events::catalogue::CATALOGUE};
use twofa_domain::Scope;

use crate::{
    api::{
        ApiTags,
        auth::{Caller, State, principal, problems::Answered},
    },
    api_error::ApiError,
};

/// The webhook routes.
pub struct WebhooksApi;

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
        Ok(EventTypesResponse::Ok(Json(EventTypeList {
            items: CATALOGUE
                .iter()
                .map(|event| EventTypeView {
                    name: event.name.to_owned(),
                    description: event.description.to_owned(),
                    example: (event.example)(),
                })
                .collect(),
        })))
    }
}
