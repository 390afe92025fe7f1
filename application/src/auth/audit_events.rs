//! The audit events of the account flows, the recording of an event that joins no change (a
//! failed check) in a transaction of its own, and the one commit of a flow's transaction.

use serde_json::{Value, json};
use twofa_domain::{
    Actor, ActorKind, AuditDetails, NewAuditEvent, Session, Transaction, UnitOfWork, UserId,
};

use super::{Fault, RequestInfo};

/// An audit event of `action` about `user` (acting on their own account, or through the API
/// key `request` names), from `request`.
pub(crate) fn user_event(
    action: &str,
    user: Option<UserId>,
    success: bool,
    request: &RequestInfo,
    details: Value,
) -> NewAuditEvent {
    let actor = match (request.api_key, user) {
        (Some(key), _) => Actor::api_key(key),
        (None, Some(user)) => Actor::user(user),
        (None, None) => Actor {
            kind: ActorKind::User,
            id: None,
        },
    };
    NewAuditEvent {
        user_id: user,
        ip: request.ip,
        user_agent: request.user_agent.clone(),
        details: AuditDetails::new(details),
        ..NewAuditEvent::new(action, actor, success)
    }
}

/// Records `events`, which describe a check that changed nothing (a failure, and the hard
/// limit it brought the account to), in one transaction of their own, with the webhook event
/// of each whose action is a webhook event type (`user.login.failed`, …) queued in it.
pub(crate) async fn record_alone(
    unit_of_work: &dyn UnitOfWork,
    events: impl IntoIterator<Item = NewAuditEvent>,
) -> Result<(), Fault> {
    crate::webhook_events::record_alone(unit_of_work, events).await
}

/// Commits a flow's `transaction`, unless `request` was cut off (its client already answered
/// 503 by the request timeout): then the transaction is dropped, so nothing of the change is
/// left and the client's retry starts afresh.
pub(crate) async fn commit(
    transaction: Box<dyn Transaction>,
    request: &RequestInfo,
) -> Result<(), Fault> {
    if request.cut_off.is_tripped() {
        drop(transaction);
        tracing::warn!(
            "the request was cut off by its timeout before its commit; its change is rolled back"
        );
        return Err(Fault::Unexpected(anyhow::anyhow!(
            "the request was cut off before its commit"
        )));
    }
    transaction.commit().await?;
    Ok(())
}

/// `security.refresh_token_refused`: a refresh token of `session`, which has ended, was
/// presented.
pub(crate) fn refused_event(session: &Session, request: &RequestInfo) -> NewAuditEvent {
    let reason = if session.revoked_at.is_some() {
        "revoked"
    } else {
        "expired"
    };
    user_event(
        "security.refresh_token_refused",
        Some(session.user_id),
        false,
        request,
        json!({ "sessionId": session.id.to_string(), "reason": reason }),
    )
}
