//! `RevokeSession`: ends one of the signed-in user's sessions, recording `session.revoked` in
//! the same commit.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{SessionId, UnitOfWork};

use crate::webhook_events::record;

use super::{EndedSessions, Principal, RequestInfo, RevokeSessionError, audit_events::user_event};

/// What ending one of the caller's sessions takes.
#[derive(Debug, Clone)]
pub struct RevokeSessionInput {
    /// The caller.
    pub principal: Principal,
    /// The session to end (the current one included).
    pub session_id: SessionId,
    /// Where the request came from.
    pub request: RequestInfo,
}

/// Ends one of the caller's sessions.
pub struct RevokeSession {
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) ended: EndedSessions,
}

impl RevokeSession {
    /// Ends the caller's session `session_id` (the current one included).
    ///
    /// # Errors
    /// `NotFound` when `session_id` is not an active session of the caller (another user's
    /// alike); `Fault` from the stores.
    #[tracing::instrument(
        name = "revoke_session",
        skip_all,
        fields(user = %input.principal.user_id, session = %input.session_id)
    )]
    pub async fn execute(&self, input: RevokeSessionInput) -> Result<(), RevokeSessionError> {
        let RevokeSessionInput {
            principal,
            session_id: id,
            request,
        } = input;
        let mut transaction = self.unit_of_work.begin().await?;
        if !transaction.sessions().revoke(principal.user_id, id).await? {
            return Err(RevokeSessionError::NotFound);
        }
        let current = Some(id) == principal.session_id();
        record(
            transaction.as_mut(),
            user_event(
                "session.revoked",
                Some(principal.user_id),
                true,
                &request,
                json!({ "sessionId": id.to_string(), "current": current }),
            ),
        )
        .await?;
        self.ended
            .end_and_commit(&[id], transaction, &request)
            .await?;
        Ok(())
    }
}
