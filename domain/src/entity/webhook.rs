//! `WebhookEndpoint`: a URL that receives signed event deliveries, a user's own or an admin's
//! global one that receives every user's events (API.md "webhooks"); `NewWebhookEndpoint`,
//! what making one takes; `WebhookEndpointChange`, what an update may change.
//! `WebhookDelivery`: one event sent (or to be sent) to one endpoint, with the outcome of its
//! latest attempt; `NewWebhookDelivery`, what fanning an event out stores; `DeliveryAttempt`,
//! what one attempt records.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{SealedSecret, UserId, WebhookDeliveryId, WebhookEndpointId};

/// The event-type pattern that subscribes an endpoint to every event.
pub const ALL_EVENTS: &str = "*";

/// A webhook endpoint as a `WebhookRepository` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// The endpoint's identity.
    pub id: WebhookEndpointId,
    /// Whose endpoint it is; `None` for an admin's global endpoint, which receives every
    /// user's events.
    pub owner: Option<UserId>,
    /// Where deliveries are posted.
    pub url: String,
    /// The event types it receives, as given, or [`ALL_EVENTS`] alone for every type.
    pub events: Vec<String>,
    /// What its owner wrote about it, if anything.
    pub description: Option<String>,
    /// Whether deliveries are made to it; it is disabled by its owner, or after too many
    /// consecutive failed deliveries.
    pub enabled: bool,
    /// Failed deliveries since the last successful one (or since it was last enabled).
    pub consecutive_failures: u32,
    /// The signing secret, sealed by the `SecretCipher` with the endpoint id as associated
    /// data.
    pub secret: SealedSecret,
    /// The secret before the latest rotation, sealed the same way; deliveries are signed with
    /// it too until `previous_secret_expires_at`.
    pub previous_secret: Option<SealedSecret>,
    /// When the previous secret stops signing.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Whether an event of `event_type` is delivered to it: it is enabled and lists the type
    /// or [`ALL_EVENTS`].
    pub fn subscribes(&self, event_type: &str) -> bool {
        self.enabled
            && self
                .events
                .iter()
                .any(|event| event == ALL_EVENTS || event == event_type)
    }

    /// The previous secret, while it still signs at `now`.
    pub fn live_previous_secret(&self, now: DateTime<Utc>) -> Option<&SealedSecret> {
        self.previous_secret.as_ref().filter(|_| {
            self.previous_secret_expires_at
                .is_some_and(|expires_at| now < expires_at)
        })
    }
}

/// What making an endpoint takes. The repository stamps `created_at`; a new endpoint is
/// enabled, with no failures and no previous secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEndpoint {
    /// The new endpoint's identity.
    pub id: WebhookEndpointId,
    /// Whose endpoint it is; `None` for a global one.
    pub owner: Option<UserId>,
    /// Where deliveries are posted.
    pub url: String,
    /// The event types it receives, or [`ALL_EVENTS`].
    pub events: Vec<String>,
    /// A description, if any.
    pub description: Option<String>,
    /// The signing secret, sealed with the endpoint id as associated data.
    pub secret: SealedSecret,
}

/// What an update changes; `None` keeps the stored value. Enabling (`enabled: Some(true)`)
/// also clears `consecutive_failures`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointChange {
    /// A new URL.
    pub url: Option<String>,
    /// New event types.
    pub events: Option<Vec<String>>,
    /// A new description (`Some(None)` removes it).
    pub description: Option<Option<String>>,
    /// Enables or disables the endpoint.
    pub enabled: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet; attempts remain.
    Pending,
    /// An attempt was answered with a 2xx status.
    Delivered,
    /// Every attempt failed; it can be retried by hand.
    Failed,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [Self; 3] = [Self::Pending, Self::Delivered, Self::Failed];

    /// The stored and shown name: `pending`, `delivered`, `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The status named `name` (exactly as [`DeliveryStatus::as_str`] spells it), if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event for one endpoint, as a `WebhookRepository` stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// The delivery's identity (time-ordered: later deliveries sort after earlier ones).
    pub id: WebhookDeliveryId,
    /// The endpoint it goes to.
    pub endpoint_id: WebhookEndpointId,
    /// The `webhook-id` header, the same on every attempt, so receivers deduplicate by it.
    pub event_id: String,
    /// The event's type (`user.registered`, …).
    pub event_type: String,
    /// The body posted: `{type, timestamp, data}`, never a secret.
    pub payload: serde_json::Value,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// How many attempts were made.
    pub attempts: u32,
    /// When the latest attempt was made, if any.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status the latest attempt was answered with, if it was answered.
    pub response_status: Option<u16>,
    /// How long the latest attempt took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The start of the latest answer's body (cut by the caller), if any.
    pub response_body: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// What fanning an event out to an endpoint stores. The repository stamps `created_at`; a
/// new delivery is pending, with no attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookDelivery {
    /// The new delivery's identity (from `time_ordered_id`).
    pub id: WebhookDeliveryId,
    /// The endpoint it goes to.
    pub endpoint_id: WebhookEndpointId,
    /// The `webhook-id` header value; one event has one per endpoint.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The body to post.
    pub payload: serde_json::Value,
}

/// What an attempt ended in, and so the delivery's status after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// Answered with a 2xx status: the delivery is `delivered`.
    Delivered,
    /// Failed, and a retry is scheduled: the delivery stays `pending`.
    WillRetry,
    /// Failed with no retry left: the delivery is `failed`.
    Failed,
}

impl AttemptOutcome {
    /// The delivery's status after an attempt with this outcome.
    pub const fn status(self) -> DeliveryStatus {
        match self {
            Self::Delivered => DeliveryStatus::Delivered,
            Self::WillRetry => DeliveryStatus::Pending,
            Self::Failed => DeliveryStatus::Failed,
        }
    }
}

/// One attempt at a delivery, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The HTTP status of the answer; `None` when there was none (refused, timed out).
    pub response_status: Option<u16>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The start of the answer's body (the caller cuts it at 1 KiB), if any.
    pub response_body: Option<String>,
    /// What it ended in.
    pub outcome: AttemptOutcome,
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn endpoint(events: &[&str], enabled: bool) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookEndpointId::from_uuid(uuid::Uuid::from_u128(1)),
            owner: None,
            url: "https://example.com/hook".to_owned(),
            events: events.iter().map(|&event| event.to_owned()).collect(),
            description: None,
            enabled,
            consecutive_failures: 0,
            secret: SealedSecret {
                key_id: "k1".to_owned(),
                ciphertext: vec![1, 2, 3],
            },
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_enabled_endpoint_subscribes_to_its_types_or_to_all() {
        let listed = endpoint(&["user.registered", "2fa.enabled"], true);
        assert!(listed.subscribes("user.registered"));
        assert!(listed.subscribes("2fa.enabled"));
        assert!(!listed.subscribes("2fa.disabled"));
        assert!(!listed.subscribes("user"));
        let all = endpoint(&[ALL_EVENTS], true);
        assert!(all.subscribes("webhook.test"));
        assert!(!endpoint(&[], true).subscribes("user.registered"));
    }

    #[test]
    fn a_disabled_endpoint_subscribes_to_nothing() {
        assert!(!endpoint(&["user.registered"], false).subscribes("user.registered"));
        assert!(!endpoint(&[ALL_EVENTS], false).subscribes("user.registered"));
    }

    #[test]
    fn the_previous_secret_signs_until_it_expires() {
        let now = DateTime::UNIX_EPOCH + TimeDelta::days(1);
        let mut rotated = endpoint(&[ALL_EVENTS], true);
        assert_eq!(rotated.live_previous_secret(now), None);
        let previous = SealedSecret {
            key_id: "k1".to_owned(),
            ciphertext: vec![9],
        };
        rotated.previous_secret = Some(previous.clone());
        rotated.previous_secret_expires_at = Some(now + TimeDelta::hours(24));
        assert_eq!(rotated.live_previous_secret(now), Some(&previous));
        assert_eq!(
            rotated.live_previous_secret(now + TimeDelta::hours(24)),
            None
        );
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::parse("PENDING"), None);
        assert_eq!(AttemptOutcome::WillRetry.status(), DeliveryStatus::Pending);
        assert_eq!(
            AttemptOutcome::Delivered.status(),
            DeliveryStatus::Delivered
        );
        assert_eq!(AttemptOutcome::Failed.status(), DeliveryStatus::Failed);
    }
}
