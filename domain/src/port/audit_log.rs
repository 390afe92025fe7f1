//! The `AuditLog` port: an append-only trail of every state change and every failed check.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{PortError, UserId};

crate::uuid_id!(
    /// The identity of an audit event: time-ordered (UUID v7), so id order is time order.
    AuditEventId
);

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// The user themself.
    User,
    /// An administrator.
    Admin,
    /// An API key.
    ApiKey,
    /// The service (the worker, maintenance).
    System,
}

impl ActorKind {
    /// `user`, `admin`, `api_key`, `system`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::ApiKey => "api_key",
            Self::System => "system",
        }
    }

    /// The kind written `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "user" => Some(Self::User),
            "admin" => Some(Self::Admin),
            "api_key" => Some(Self::ApiKey),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// The actor of an event: its kind and, but for `System`, its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User, admin, API key or system.
    pub kind: ActorKind,
    /// The user's, admin's or key's id.
    pub id: Option<String>,
}

impl Actor {
    /// The service itself.
    pub const fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: None,
        }
    }

    /// A user acting on their own account.
    pub fn user(id: UserId) -> Self {
        Self {
            kind: ActorKind::User,
            id: Some(id.to_string()),
        }
    }

    /// An API key acting for its owner.
    pub fn api_key(id: crate::ApiKeyId) -> Self {
        Self {
            kind: ActorKind::ApiKey,
            id: Some(id.to_string()),
        }
    }
}

/// Endings of keys whose values never enter the audit trail (compared without case, `_` or
/// `-`): `newPassword`, `refresh_token`, `apiKey`, `code`, … but not `apiKeyId` or `tokenType`.
const SENSITIVE: [&str; 10] = [
    "password",
    "secret",
    "token",
    "code",
    "otp",
    "apikey",
    "authorization",
    "cookie",
    "hash",
    "signature",
];

/// Free-form details of an event, with every value under a sensitive key (`password`,
/// `newPassword`, `code`, `refreshToken`, `apiKey`, … at any depth) replaced by `"[redacted]"`,
/// so no secret, code or token is stored even by mistake.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditDetails(serde_json::Map<String, serde_json::Value>);

impl AuditDetails {
    /// Details from a JSON object (anything else is kept under `value`), redacted.
    pub fn new(details: serde_json::Value) -> Self {
        let mut map = match details {
            serde_json::Value::Object(map) => map,
            serde_json::Value::Null => serde_json::Map::new(),
            other @ (serde_json::Value::Bool(_)
            | serde_json::Value::Number(_)
            | serde_json::Value::String(_)
            | serde_json::Value::Array(_)) => {
                std::iter::once(("value".to_owned(), other)).collect()
            }
        };
        redact_map(&mut map);
        Self(map)
    }

    /// The details as a JSON object.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }
}

fn is_sensitive(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SENSITIVE.iter().any(|ending| key.ends_with(ending))
}

fn redact_map(map: &mut serde_json::Map<String, serde_json::Value>) {
    for (key, value) in map.iter_mut() {
        if is_sensitive(key) {
            *value = serde_json::Value::String("[redacted]".to_owned());
        } else {
            redact(value);
        }
    }
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => redact_map(map),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        serde_json::Value::Null
        | serde_json::Value::Bool(_)
        | serde_json::Value::Number(_)
        | serde_json::Value::String(_) => {}
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEvent {
    /// The account the event is about, if any.
    pub user_id: Option<UserId>,
    /// Who acted.
    pub actor: Actor,
    /// What happened: `user.registered`, `user.login.failed`, … (webhook event names).
    pub action: String,
    /// Whether the attempt succeeded.
    pub success: bool,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The client's `User-Agent` (adapters keep at most 512 characters).
    pub user_agent: Option<String>,
    /// Ids and masked values; never a secret.
    pub details: AuditDetails,
}

impl NewAuditEvent {
    /// An event of `action` by `actor`, with no request context.
    pub fn new(action: impl Into<String>, actor: Actor, success: bool) -> Self {
        Self {
            user_id: None,
            actor,
            action: action.into(),
            success,
            ip: None,
            user_agent: None,
            details: AuditDetails::default(),
        }
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Its id.
    pub id: AuditEventId,
    /// What was recorded.
    pub event: NewAuditEvent,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this user's events (`None`: everyone's, for administrators).
    pub user_id: Option<UserId>,
    /// Only this action.
    pub action: Option<String>,
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1–200.
    pub limit: u32,
    /// Only events older than this one (the previous page's `next_cursor`).
    pub before: Option<AuditEventId>,
}

impl AuditQuery {
    /// Everyone's events, 50 a page.
    pub fn all() -> Self {
        Self {
            user_id: None,
            action: None,
            since: None,
            until: None,
            limit: 50,
            before: None,
        }
    }
}

/// One page of events.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEvent>,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<AuditEventId>,
}

/// The append-only audit trail.
///
/// # Errors
/// `PortError::Unavailable` when the store is down. `append` outside a transaction is for
/// events with no state change to join (a failed check); events describing a change are
/// written through `Transaction::audit`, in the change's transaction.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Records an event.
    async fn append(&self, event: NewAuditEvent) -> Result<AuditEventId, PortError>;

    /// Lists events, newest first; `limit` is clamped to 1–200.
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, PortError>;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_whatever_their_case() {
        let details = AuditDetails::new(json!({
            "reason": "wrong_password",
            "newPassword": "hunter22",
            "nested": {"refreshToken": "abc", "items": [{"Code": "123456"}]},
            "apiKey": "tfa_x",
            "factorId": "f-1",
            "apiKeyId": "k-1",
            "token_type": "Bearer"
        }));
        let value = details.to_value();
        assert_eq!(value["reason"], "wrong_password");
        assert_eq!(value["factorId"], "f-1");
        assert_eq!(value["apiKeyId"], "k-1");
        assert_eq!(value["token_type"], "Bearer");
        assert_eq!(value["newPassword"], "[redacted]");
        assert_eq!(value["nested"]["refreshToken"], "[redacted]");
        assert_eq!(value["nested"]["items"][0]["Code"], "[redacted]");
        assert_eq!(value["apiKey"], "[redacted]");
        assert!(!value.to_string().contains("hunter22"));
        assert!(!value.to_string().contains("123456"));
    }

    #[test]
    fn a_non_object_is_kept_under_value() {
        assert_eq!(AuditDetails::new(json!(3)).to_value(), json!({"value": 3}));
        assert_eq!(
            AuditDetails::new(serde_json::Value::Null).to_value(),
            json!({})
        );
    }

    #[test]
    fn actor_kinds_round_trip_their_names() {
        for kind in [
            ActorKind::User,
            ActorKind::Admin,
            ActorKind::ApiKey,
            ActorKind::System,
        ] {
            assert_eq!(ActorKind::parse(kind.as_str()), Some(kind));
        }
    }
}
