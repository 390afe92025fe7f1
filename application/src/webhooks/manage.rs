//! The owner's webhook use cases: create, list, get, update, delete, rotate the secret, send
//! a test event, list deliveries and retry one by hand. Each change commits with its audit
//! event (and any job it queues) in one transaction; another owner's endpoint id is "not
//! found", like an unknown one.

use std::{fmt, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::TimeDelta;
use serde_json::json;
use twofa_domain::{
    ALL_EVENTS, Clock, NewWebhookDelivery, NewWebhookEndpoint, SecretCipher, SecretGenerator,
    UnitOfWork, WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointChange,
    WebhookEndpointId, WebhookRepository, time_ordered_id,
};

use super::{EndpointScope, WebhookError, deliver::deliver_job, secret_binding};
use crate::{
    auth::{Fault, InvalidField, RequestInfo, commit},
    webhook_events::{WEBHOOK_EVENT_TYPES, catalogue::CATALOGUE},
};

/// How a signing secret starts; the rest is base64 of its 32 key bytes.
pub const SECRET_PREFIX: &str = "whsec_";

/// How long the secret before a rotation keeps signing deliveries, beside the new one.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// The longest URL an endpoint may have.
const URL_LIMIT: usize = 2048;

/// The longest description.
const DESCRIPTION_LIMIT: usize = 500;

/// What the webhook use cases need.
#[derive(Clone)]
pub struct WebhookPorts {
    /// Endpoints and deliveries (reads outside a transaction).
    pub webhooks: Arc<dyn WebhookRepository>,
    /// Transactions: every change with its audit event and jobs.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness: ids and secrets.
    pub ids: Arc<dyn SecretGenerator>,
    /// Seals the signing secrets.
    pub cipher: Arc<dyn SecretCipher>,
}

/// A signing secret, `whsec_…`: shown once, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// The secret's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// A new endpoint, with its signing secret (shown once).
#[derive(Debug, Clone)]
pub struct CreatedWebhook {
    /// The stored endpoint.
    pub endpoint: WebhookEndpoint,
    /// Its signing secret.
    pub secret: WebhookSecret,
}

/// What making an endpoint takes.
#[derive(Debug, Clone)]
pub struct CreateWebhookInput {
    /// Where deliveries go: `https://…` (`http://` too in development), at most 2048
    /// characters, no user name or password.
    pub url: String,
    /// Event type names, or `["*"]` for all.
    pub events: Vec<String>,
    /// A description, at most 500 characters.
    pub description: Option<String>,
    /// The request.
    pub request: RequestInfo,
}

/// What an update takes; `None` keeps the value.
#[derive(Debug, Clone)]
pub struct UpdateWebhookInput {
    /// A new URL.
    pub url: Option<String>,
    /// New event types.
    pub events: Option<Vec<String>>,
    /// A new description (`Some(None)` or an empty one removes it).
    pub description: Option<Option<String>>,
    /// Enables (clearing its failures) or disables the endpoint.
    pub enabled: Option<bool>,
    /// The request.
    pub request: RequestInfo,
}

/// The most endpoints one owner (a user, or the administrators' global set) may have: each
/// event of theirs fans out to every one, in one transaction.
pub const ENDPOINTS_PER_OWNER: usize = 50;

/// The owner's webhook use cases.
pub struct WebhookEndpoints {
    ports: WebhookPorts,
    allow_http: bool,
}

impl WebhookEndpoints {
    /// The use cases over `ports`; `allow_http` (development only) admits `http://` URLs.
    pub fn new(ports: WebhookPorts, allow_http: bool) -> Self {
        Self { ports, allow_http }
    }

    /// A new endpoint of `scope`, recorded as `webhook.created`.
    ///
    /// # Errors
    /// `Invalid` for a bad URL, events or description; `TooMany` past
    /// [`ENDPOINTS_PER_OWNER`]; `Fault`.
    #[tracing::instrument(name = "create_webhook", skip_all)]
    pub async fn create(
        &self,
        scope: EndpointScope,
        input: CreateWebhookInput,
    ) -> Result<CreatedWebhook, WebhookError> {
        let mut invalid = Vec::new();
        let url = checked_url(&input.url, self.allow_http, &mut invalid);
        let events = checked_events(&input.events, &mut invalid);
        let description = checked_description(input.description.as_deref(), &mut invalid);
        if !invalid.is_empty() {
            return Err(WebhookError::Invalid(invalid));
        }
        if self
            .ports
            .webhooks
            .list_endpoints(scope.owner())
            .await?
            .len()
            >= ENDPOINTS_PER_OWNER
        {
            return Err(WebhookError::TooMany);
        }
        let now = self.ports.clock.now();
        let id = WebhookEndpointId::from_uuid(time_ordered_id(now, self.ports.ids.as_ref()));
        let (secret, key) = self.new_secret();
        let mut transaction = self.ports.unit_of_work.begin().await?;
        let endpoint = transaction
            .webhooks()
            .add_endpoint(NewWebhookEndpoint {
                id,
                owner: scope.owner(),
                url,
                events,
                description,
                secret: self.ports.cipher.seal(&key, &secret_binding(id)),
            })
            .await?;
        transaction
            .audit(scope.event(
                "webhook.created",
                &input.request,
                endpoint_details(&endpoint),
            ))
            .await?;
        commit(transaction, &input.request).await?;
        Ok(CreatedWebhook { endpoint, secret })
    }

    /// The endpoints of `scope`, newest first, enabled or not.
    ///
    /// # Errors
    /// `Fault`.
    pub async fn list(&self, scope: EndpointScope) -> Result<Vec<WebhookEndpoint>, Fault> {
        Ok(self.ports.webhooks.list_endpoints(scope.owner()).await?)
    }

    /// The endpoint `id` of `scope`.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    pub async fn get(
        &self,
        scope: EndpointScope,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, WebhookError> {
        self.ports
            .webhooks
            .get_endpoint(scope.owner(), id)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// The endpoint as changed, recorded as `webhook.updated`; enabling it clears its
    /// consecutive failures. An update that names nothing answers it unchanged.
    ///
    /// # Errors
    /// `Invalid`, `NotFound`, `Fault`.
    #[tracing::instrument(name = "update_webhook", skip_all, fields(webhook = %id))]
    pub async fn update(
        &self,
        scope: EndpointScope,
        id: WebhookEndpointId,
        input: UpdateWebhookInput,
    ) -> Result<WebhookEndpoint, WebhookError> {
        let mut invalid = Vec::new();
        let change = WebhookEndpointChange {
            url: input
                .url
                .as_deref()
                .map(|url| checked_url(url, self.allow_http, &mut invalid)),
            events: input
                .events
                .as_deref()
                .map(|events| checked_events(events, &mut invalid)),
            description: input
                .description
                .as_ref()
                .map(|text| checked_description(text.as_deref(), &mut invalid)),
            enabled: input.enabled,
        };
        if !invalid.is_empty() {
            return Err(WebhookError::Invalid(invalid));
        }
        if change == WebhookEndpointChange::default() {
            return self.get(scope, id).await;
        }
        let mut transaction = self.ports.unit_of_work.begin().await?;
        let endpoint = transaction
            .webhooks()
            .update_endpoint(scope.owner(), id, change.clone())
            .await?
            .ok_or(WebhookError::NotFound)?;
        let mut details = json!({ "webhookId": id.to_string() });
        if change.url.is_some() {
            details["url"] = json!(shown_url(&endpoint.url));
        }
        if change.events.is_some() {
            details["events"] = json!(endpoint.events);
        }
        if let Some(enabled) = change.enabled {
            details["enabled"] = json!(enabled);
        }
        transaction
            .audit(scope.event("webhook.updated", &input.request, details))
            .await?;
        commit(transaction, &input.request).await?;
        Ok(endpoint)
    }

    /// Deletes the endpoint `id` of `scope` and its deliveries, recorded as `webhook.deleted`.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    #[tracing::instrument(name = "delete_webhook", skip_all, fields(webhook = %id))]
    pub async fn delete(
        &self,
        scope: EndpointScope,
        id: WebhookEndpointId,
        request: &RequestInfo,
    ) -> Result<(), WebhookError> {
        let mut transaction = self.ports.unit_of_work.begin().await?;
        if !transaction
            .webhooks()
            .delete_endpoint(scope.owner(), id)
            .await?
        {
            return Err(WebhookError::NotFound);
        }
        transaction
            .audit(scope.event(
                "webhook.deleted",
                request,
                json!({ "webhookId": id.to_string() }),
            ))
            .await?;
        commit(transaction, request).await?;
        Ok(())
    }

    /// A new signing secret for the endpoint `id` of `scope`, answered once and recorded as
    /// `webhook.secret_rotated`; for [`ROTATION_OVERLAP`] deliveries are signed by both.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    #[tracing::instrument(name = "rotate_webhook_secret", skip_all, fields(webhook = %id))]
    pub async fn rotate_secret(
        &self,
        scope: EndpointScope,
        id: WebhookEndpointId,
        request: &RequestInfo,
    ) -> Result<WebhookSecret, WebhookError> {
        let (secret, key) = self.new_secret();
        let expires_at = self.ports.clock.now() + ROTATION_OVERLAP;
        let mut transaction = self.ports.unit_of_work.begin().await?;
        transaction
            .webhooks()
            .rotate_secret(
                scope.owner(),
                id,
                self.ports.cipher.seal(&key, &secret_binding(id)),
                expires_at,
            )
            .await?
            .ok_or(WebhookError::NotFound)?;
        transaction
            .audit(scope.event(
                "webhook.secret_rotated",
                request,
                json!({ "webhookId": id.to_string(), "previousExpiresAt": expires_at }),
            ))
            .await?;
        commit(transaction, request).await?;
        Ok(secret)
    }

    /// Queues a `webhook.test` delivery to the enabled endpoint `id` of `scope` (whatever
    /// events it subscribes to), recorded as `webhook.tested`; answers the pending delivery.
    ///
    /// # Errors
    /// `NotFound`; `Disabled` for a disabled endpoint; `Fault`.
    #[tracing::instrument(name = "test_webhook", skip_all, fields(webhook = %id))]
    pub async fn send_test(
        &self,
        scope: EndpointScope,
        id: WebhookEndpointId,
        request: &RequestInfo,
    ) -> Result<WebhookDelivery, WebhookError> {
        let endpoint = self.get(scope, id).await?;
        if !endpoint.enabled {
            return Err(WebhookError::Disabled);
        }
        let now = self.ports.clock.now();
        let delivery_id =
            WebhookDeliveryId::from_uuid(time_ordered_id(now, self.ports.ids.as_ref()));
        let data = CATALOGUE
            .iter()
            .find(|event| event.name == "webhook.test")
            .map_or_else(|| json!({}), |event| (event.example)());
        let mut data = data;
        data["webhookId"] = json!(id.to_string());
        let mut transaction = self.ports.unit_of_work.begin().await?;
        let delivery = transaction
            .webhooks()
            .add_delivery(NewWebhookDelivery {
                id: delivery_id,
                endpoint_id: id,
                event_id: format!("msg_{}", delivery_id.as_uuid().simple()),
                event_type: "webhook.test".to_owned(),
                payload: json!({
                    "type": "webhook.test",
                    "timestamp": super::deliver::timestamp(now),
                    "data": data,
                }),
            })
            .await?;
        transaction
            .enqueue(deliver_job(delivery.id, delivery.attempts + 1, None, None))
            .await?;
        transaction
            .audit(scope.event(
                "webhook.tested",
                request,
                json!({ "webhookId": id.to_string(), "deliveryId": delivery.id.to_string() }),
            ))
            .await?;
        commit(transaction, request).await?;
        Ok(delivery)
    }

    /// The deliveries of the endpoint `id` of `scope`, newest first, at most `limit` (1–200),
    /// continuing after `before`.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    pub async fn list_deliveries(
        &self,
        scope: EndpointScope,
        id: WebhookEndpointId,
        limit: u32,
        before: Option<WebhookDeliveryId>,
    ) -> Result<Vec<WebhookDelivery>, WebhookError> {
        self.get(scope, id).await?;
        Ok(self
            .ports
            .webhooks
            .list_deliveries(id, limit, before)
            .await?)
    }

    /// Makes the failed delivery `delivery_id` of the enabled endpoint `id` pending again and
    /// queues one more attempt, recorded as `webhook.delivery_retried`; answers it.
    ///
    /// # Errors
    /// `NotFound`; `Disabled`; `NotRetryable` for a delivery that has not failed; `Fault`.
    #[tracing::instrument(name = "retry_webhook_delivery", skip_all, fields(webhook = %id, delivery = %delivery_id))]
    pub async fn retry_delivery(
        &self,
        scope: EndpointScope,
        id: WebhookEndpointId,
        delivery_id: WebhookDeliveryId,
        request: &RequestInfo,
    ) -> Result<WebhookDelivery, WebhookError> {
        let endpoint = self.get(scope, id).await?;
        let mut transaction = self.ports.unit_of_work.begin().await?;
        let Some(delivery) = transaction
            .webhooks()
            .reset_delivery(id, delivery_id)
            .await?
        else {
            return Err(
                match transaction.webhooks().get_delivery(id, delivery_id).await? {
                    Some(_) => WebhookError::NotRetryable,
                    None => WebhookError::NotFound,
                },
            );
        };
        if !endpoint.enabled {
            return Err(WebhookError::Disabled);
        }
        let nonce = self.ports.ids.uuid_v4().simple().to_string();
        transaction
            .enqueue(deliver_job(
                delivery.id,
                delivery.attempts + 1,
                None,
                Some(&nonce),
            ))
            .await?;
        transaction
            .audit(scope.event(
                "webhook.delivery_retried",
                request,
                json!({ "webhookId": id.to_string(), "deliveryId": delivery.id.to_string() }),
            ))
            .await?;
        commit(transaction, request).await?;
        Ok(delivery)
    }

    /// A fresh secret: its `whsec_` text and its key bytes.
    fn new_secret(&self) -> (WebhookSecret, [u8; 32]) {
        let mut key = [0_u8; 32];
        self.ports.ids.fill_bytes(&mut key);
        (
            WebhookSecret(format!("{SECRET_PREFIX}{}", STANDARD.encode(key))),
            key,
        )
    }
}

/// The audit details of a new endpoint: its id, URL (scheme and host only: a receiver's token
/// may be in its path or query) and events.
fn endpoint_details(endpoint: &WebhookEndpoint) -> serde_json::Value {
    json!({
        "webhookId": endpoint.id.to_string(),
        "url": shown_url(&endpoint.url),
        "events": endpoint.events,
    })
}

/// `url`'s scheme and authority only: its path, query and fragment may carry a receiver's
/// token, and the audit trail keeps no token.
fn shown_url(url: &str) -> &str {
    // Receivers often carry their token in the path (`/services/T…/B…/<token>`), so only the
    // scheme and the authority are kept.
    let start = url.find("://").map_or(0, |at| at + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| start + at);
    &url[..end]
}

/// The trimmed `url`, or why it is refused: `https://` (or `http://` when `allow_http`), a
/// host, no user name or password, no whitespace, at most 2048 characters. Where it points
/// is checked when each delivery is made, after resolving it.
pub(crate) fn checked_url(url: &str, allow_http: bool, invalid: &mut Vec<InvalidField>) -> String {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        Some(rest)
    } else if allow_http {
        lower.strip_prefix("http://")
    } else {
        None
    };
    let problem = match rest {
        _ if url.is_empty() || url.len() > URL_LIMIT => {
            Some(format!("must be 1 to {URL_LIMIT} characters"))
        }
        _ if url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Some("must not contain whitespace".to_owned())
        }
        None if allow_http => Some("must start with https:// or http://".to_owned()),
        None => Some("must start with https://".to_owned()),
        Some(rest) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority
                .rsplit_once(':')
                .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
                .map_or(authority, |(host, _)| host);
            if authority.contains('@') {
                Some("must not carry a user name or password".to_owned())
            } else if host.is_empty() || host == "[]" {
                Some("must name a host".to_owned())
            } else {
                None
            }
        }
    };
    if let Some(problem) = problem {
        invalid.push(InvalidField::new("url", problem));
    }
    url.to_owned()
}

/// The event types `names` subscribe to, deduplicated in order, or why they are refused: at
/// least one, each a type the service emits, or `*` alone.
pub(crate) fn checked_events(names: &[String], invalid: &mut Vec<InvalidField>) -> Vec<String> {
    let mut events: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim();
        if !events.iter().any(|event| event == name) {
            events.push(name.to_owned());
        }
    }
    let unknown: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|name| *name != ALL_EVENTS && !WEBHOOK_EVENT_TYPES.contains(name))
        .collect();
    if events.is_empty() {
        invalid.push(InvalidField::new(
            "events",
            "must list at least one event type, or \"*\" for all",
        ));
    } else if !unknown.is_empty() {
        invalid.push(InvalidField::new(
            "events",
            format!(
                "unknown event types: {} (GET /api/webhooks/events lists them)",
                unknown.join(", ")
            ),
        ));
    } else if events.len() > 1 && events.iter().any(|event| event == ALL_EVENTS) {
        invalid.push(InvalidField::new(
            "events",
            "\"*\" subscribes to every type and stands alone",
        ));
    }
    events
}

/// The trimmed description (`None` when empty), or why it is refused.
pub(crate) fn checked_description(
    description: Option<&str>,
    invalid: &mut Vec<InvalidField>,
) -> Option<String> {
    let description = description.map(str::trim).filter(|text| !text.is_empty())?;
    if description.chars().count() > DESCRIPTION_LIMIT {
        invalid.push(InvalidField::new(
            "description",
            format!("must be at most {DESCRIPTION_LIMIT} characters"),
        ));
    }
    Some(description.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_problem(url: &str, allow_http: bool) -> Option<String> {
        let mut invalid = Vec::new();
        checked_url(url, allow_http, &mut invalid);
        invalid.pop().map(|field| field.message)
    }

    #[test]
    fn urls_must_be_https_outside_development() {
        assert_eq!(url_problem("https://example.com/hook", false), None);
        assert_eq!(url_problem(" https://example.com:8443/h?x=1 ", false), None);
        assert!(url_problem("http://example.com/hook", false).is_some());
        assert_eq!(url_problem("http://example.com/hook", true), None);
        assert!(url_problem("ftp://example.com", true).is_some());
        assert!(url_problem("https://", false).is_some());
        assert!(url_problem("https://:443/x", false).is_some());
        assert!(url_problem("https://user:pw@example.com/", false).is_some());
        assert!(url_problem("https://exa mple.com/", false).is_some());
        let long = format!("https://example.com/{}", "a".repeat(URL_LIMIT));
        assert!(url_problem(&long, false).is_some());
    }

    #[test]
    fn events_are_known_types_or_all_alone() {
        let mut invalid = Vec::new();
        let events = checked_events(
            &[
                "user.registered".to_owned(),
                "2fa.enabled".to_owned(),
                "user.registered".to_owned(),
            ],
            &mut invalid,
        );
        assert!(invalid.is_empty());
        assert_eq!(events, ["user.registered", "2fa.enabled"]);
        checked_events(&["*".to_owned()], &mut invalid);
        assert!(invalid.is_empty());
        for bad in [
            vec![],
            vec!["user.nope".to_owned()],
            vec!["*".to_owned(), "2fa.enabled".to_owned()],
        ] {
            let mut invalid = Vec::new();
            checked_events(&bad, &mut invalid);
            assert_eq!(invalid.len(), 1, "{bad:?}");
            assert_eq!(invalid[0].field, "events");
        }
    }

    #[test]
    fn descriptions_are_trimmed_and_capped() {
        let mut invalid = Vec::new();
        assert_eq!(checked_description(Some("  "), &mut invalid), None);
        assert_eq!(
            checked_description(Some(" prod "), &mut invalid).as_deref(),
            Some("prod")
        );
        assert!(invalid.is_empty());
        checked_description(Some(&"x".repeat(501)), &mut invalid);
        assert_eq!(invalid.len(), 1);
    }

    #[test]
    fn the_audit_trail_keeps_neither_path_nor_query() {
        assert_eq!(
            shown_url("https://h.example/p?token=secret#f"),
            "https://h.example"
        );
        assert_eq!(
            shown_url("https://hooks.example.com:8443/services/T0/B0/s3cr3tt0ken"),
            "https://hooks.example.com:8443"
        );
        assert_eq!(shown_url("https://h.example?x=1"), "https://h.example");
        assert_eq!(shown_url("https://h.example"), "https://h.example");
    }
}
