//! The webhook events: which audit actions are also webhook event types (API.md's catalogue),
//! and `record`, which writes an audit event and, for those, queues its webhook event in the
//! same transaction, so the event exists exactly when its change committed.
//!
//! The webhook events of one change are one `webhook.event` job: `{events: [{type, userId,
//! data}, …]}`, in the order recorded, `data` being each audit event's details (ids and masked
//! values, never a secret). One job per change, not per event: a sign-in records two or three
//! events, and each job costs the worker a claim and a completion. Its handler fans each event
//! out to the endpoints that subscribe (`crate::webhooks::DispatchWebhookEvent`). A job of the
//! earlier one-event shape (`{type, userId, data}`) is still read.

pub mod catalogue;

use serde::{Deserialize, Serialize};
use twofa_domain::{NewAuditEvent, NewJob, Transaction, UserId};

use crate::auth::Fault;

/// The job kind of a webhook event.
pub const WEBHOOK_EVENT: &str = "webhook.event";

/// Runs of a `webhook.event` job before it is buried.
const WEBHOOK_EVENT_ATTEMPTS: u32 = 10;

/// Every event type the service emits to webhooks (API.md "Webhook delivery").
pub const WEBHOOK_EVENT_TYPES: [&str; 22] = [
    "user.registered",
    "user.login.succeeded",
    "user.login.failed",
    "user.email.verified",
    "user.password.changed",
    "user.password.reset",
    "user.disabled",
    "user.enabled",
    "session.revoked",
    "security.refresh_token_reuse",
    "2fa.enabled",
    "2fa.disabled",
    "2fa.verified",
    "2fa.failed",
    "2fa.backup_codes.generated",
    "2fa.backup_code.used",
    "2fa.backup_codes.low",
    "device.trusted",
    "device.revoked",
    "api_key.created",
    "api_key.revoked",
    "webhook.test",
];

/// Whether `action` is a webhook event type.
pub fn is_webhook_event(action: &str) -> bool {
    WEBHOOK_EVENT_TYPES.contains(&action)
}

/// What a `webhook.event` job carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEventPayload {
    /// The event type (`2fa.enabled`, …).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The user it is about, if any.
    pub user_id: Option<UserId>,
    /// The event's data: ids and masked values.
    pub data: serde_json::Value,
}

impl WebhookEventPayload {
    /// The webhook event of `event`, if its action is a webhook event type.
    pub fn of(event: &NewAuditEvent) -> Option<Self> {
        is_webhook_event(&event.action).then(|| Self {
            event_type: event.action.clone(),
            user_id: event.user_id,
            data: event.details.to_value(),
        })
    }
}

/// What a `webhook.event` job carries: the webhook events of one change, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvents {
    /// At least one.
    pub events: Vec<WebhookEventPayload>,
}

impl WebhookEvents {
    /// The job that fans the events out.
    pub fn into_job(self) -> NewJob {
        NewJob::new(
            WEBHOOK_EVENT,
            serde_json::to_value(self).unwrap_or_default(),
            WEBHOOK_EVENT_ATTEMPTS,
        )
    }

    /// The events of a job's payload, of either shape.
    ///
    /// # Errors
    /// When the payload is neither.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Many(WebhookEvents),
            One(WebhookEventPayload),
        }
        Ok(match serde_json::from_value(payload.clone())? {
            Shape::Many(events) => events,
            Shape::One(event) => Self {
                events: vec![event],
            },
        })
    }
}

/// Writes `event` to the audit trail of `transaction` and, when its action is a webhook event
/// type, queues the webhook event in the same transaction.
pub(crate) async fn record(
    transaction: &mut dyn Transaction,
    event: NewAuditEvent,
) -> Result<(), Fault> {
    record_all(transaction, [event]).await
}

/// Writes `events` to the audit trail of `transaction`, in order, and queues those whose
/// action is a webhook event type as one job, in the same transaction.
pub(crate) async fn record_all(
    transaction: &mut dyn Transaction,
    events: impl IntoIterator<Item = NewAuditEvent>,
) -> Result<(), Fault> {
    let mut webhooks = Vec::new();
    for event in events {
        webhooks.extend(WebhookEventPayload::of(&event));
        transaction.audit(event).await?;
    }
    if !webhooks.is_empty() {
        transaction
            .enqueue(WebhookEvents { events: webhooks }.into_job())
            .await?;
    }
    Ok(())
}

/// Records `events` (a check that changed nothing: a failure) in a transaction of their own,
/// with their webhook events.
pub(crate) async fn record_alone(
    unit_of_work: &dyn twofa_domain::UnitOfWork,
    events: impl IntoIterator<Item = NewAuditEvent>,
) -> Result<(), Fault> {
    let mut transaction = unit_of_work.begin().await?;
    record_all(transaction.as_mut(), events).await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use twofa_domain::{Actor, AuditDetails};

    use super::*;

    #[test]
    fn only_catalogued_actions_become_webhook_events() {
        let user = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let mut event = NewAuditEvent::new("2fa.enabled", Actor::user(user), true);
        event.user_id = Some(user);
        event.details = AuditDetails::new(serde_json::json!({ "factorId": "f", "type": "totp" }));
        let payload = WebhookEventPayload::of(&event).unwrap();
        assert_eq!(payload.event_type, "2fa.enabled");
        assert_eq!(payload.user_id, Some(user));
        assert_eq!(payload.data["type"], "totp");
        let job = WebhookEvents {
            events: vec![payload.clone()],
        }
        .into_job();
        assert_eq!(job.kind, WEBHOOK_EVENT);
        assert_eq!(job.payload["events"][0]["type"], "2fa.enabled");
        assert_eq!(
            WebhookEvents::from_payload(&job.payload).unwrap().events,
            vec![payload.clone()]
        );
        // A job of the earlier one-event shape still reads.
        let legacy = serde_json::to_value(&payload).unwrap();
        assert_eq!(
            WebhookEvents::from_payload(&legacy).unwrap().events,
            vec![payload]
        );

        let internal = NewAuditEvent::new("security.login.throttled", Actor::user(user), false);
        assert!(WebhookEventPayload::of(&internal).is_none());
    }
}
