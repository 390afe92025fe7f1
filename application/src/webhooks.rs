//! Webhooks (API.md "API keys, webhooks, audit, admin" and "Webhook delivery"): endpoints a
//! user (or, for every user's events, an administrator) registers, each with a signing secret
//! shown once and kept sealed by the `SecretCipher`; the events fanned out to them by the
//! worker; and their deliveries, signed the Standard Webhooks way, retried on a schedule,
//! listed, retried by hand, and sent on demand (`webhook.test`).
//!
//! [`WebhookEndpoints`] holds the owner's use cases; [`DispatchWebhookEvent`] and
//! [`DeliverWebhook`] are the worker's two job handlers. No secret is ever put in a job: a
//! delivery job names the delivery, and its handler opens the endpoint's secret when it signs.

mod deliver;
mod manage;
mod signature;

use twofa_domain::{Actor, ActorKind, AuditDetails, NewAuditEvent, UserId, WebhookEndpointId};

pub use self::{
    deliver::{DeliverWebhook, DeliveryPolicy, DispatchWebhookEvent, WEBHOOK_DELIVER},
    manage::{
        CreateWebhookInput, CreatedWebhook, ENDPOINTS_PER_OWNER, ROTATION_OVERLAP, SECRET_PREFIX,
        UpdateWebhookInput, WebhookEndpoints, WebhookPorts, WebhookSecret,
    },
    signature::{sign, signature_header},
};
use crate::auth::{Fault, InvalidField, RequestInfo, faults, user_event};

/// Why a webhook operation was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A field is malformed.
    #[error("invalid input")]
    Invalid(Vec<InvalidField>),
    /// The caller has no endpoint (or delivery) with that id; another user's alike.
    #[error("no such webhook endpoint or delivery")]
    NotFound,
    /// The endpoint is disabled, so nothing is sent to it until its owner enables it.
    #[error("the webhook endpoint is disabled")]
    Disabled,
    /// Only a failed delivery can be retried by hand.
    #[error("only a failed delivery can be retried")]
    NotRetryable,
    /// The owner already has [`ENDPOINTS_PER_OWNER`] endpoints.
    #[error("at most {ENDPOINTS_PER_OWNER} webhook endpoints per owner")]
    TooMany,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

faults!(WebhookError);

/// Whose endpoints an operation reaches: the caller's own, or (for an administrator) the
/// global ones that receive every user's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointScope {
    /// The endpoints of this user.
    Own(UserId),
    /// The global endpoints, managed by this administrator.
    Global {
        /// The administrator acting.
        admin: UserId,
    },
}

impl EndpointScope {
    /// The owner the repository keys the endpoints by (`None`: global).
    pub const fn owner(self) -> Option<UserId> {
        match self {
            Self::Own(user) => Some(user),
            Self::Global { .. } => None,
        }
    }

    /// The audit event of a change to an endpoint of this scope.
    fn event(
        self,
        action: &str,
        request: &RequestInfo,
        details: serde_json::Value,
    ) -> NewAuditEvent {
        match self {
            Self::Own(user) => user_event(action, Some(user), true, request, details),
            Self::Global { admin } => NewAuditEvent {
                ip: request.ip,
                user_agent: request.user_agent.clone(),
                details: AuditDetails::new(details),
                ..NewAuditEvent::new(
                    action,
                    Actor {
                        kind: ActorKind::Admin,
                        id: Some(admin.to_string()),
                    },
                    true,
                )
            },
        }
    }
}

/// The associated data an endpoint's sealed secrets are bound to: its id, so a sealed secret
/// copied onto another row does not open.
pub(crate) fn secret_binding(id: WebhookEndpointId) -> Vec<u8> {
    let mut binding = b"webhook:".to_vec();
    binding.extend_from_slice(id.as_uuid().as_bytes());
    binding
}
