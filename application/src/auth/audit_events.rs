//! The audit events of the account flows, and the recording of an event that joins no
//! change (a failed check), in a transaction of its own.

use serde_json::Value;
use twofa_domain::{Actor, ActorKind, AuditDetails, NewAuditEvent, PortError, UnitOfWork, UserId};

use super::RequestInfo;

/// An audit event of `action` about `user` (acting on their own account), from `request`.
pub(crate) fn user_event(
    action: &str,
    user: Option<UserId>,
    success: bool,
    request: &RequestInfo,
    details: Value,
) -> NewAuditEvent {
    let actor = user.map_or(
        Actor {
            kind: ActorKind::User,
            id: None,
        },
        Actor::user,
    );
    NewAuditEvent {
        user_id: user,
        ip: request.ip,
        user_agent: request.user_agent.clone(),
        details: AuditDetails::new(details),
        ..NewAuditEvent::new(action, actor, success)
    }
}

/// Records `event`, which describes a check that changed nothing, in a transaction of its own.
pub(crate) async fn record_alone(
    unit_of_work: &dyn UnitOfWork,
    event: NewAuditEvent,
) -> Result<(), PortError> {
    let mut transaction = unit_of_work.begin().await?;
    transaction.audit(event).await?;
    transaction.commit().await
}
