//! `RevokeAllSessions`: ends every session of the signed-in user, recording `session.revoked`
//! in the same commit.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::UnitOfWork;

use crate::webhook_events::record;

use super::{EndedSessions, Fault, Principal, RequestInfo, audit_events::user_event};

/// What ending every session of the caller takes.
#[derive(Debug, Clone)]
pub struct RevokeAllSessionsInput {
    /// The caller.
    pub principal: Principal,
    /// Where the request came from.
    pub request: RequestInfo,
}

/// Ends every session of the caller.
pub struct RevokeAllSessions {
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) ended: EndedSessions,
}

impl RevokeAllSessions {
    /// Ends every session of the caller, the current one included.
    ///
    /// # Errors
    /// A `Fault` from the stores.
    #[tracing::instrument(
        name = "revoke_all_sessions",
        skip_all,
        fields(user = %input.principal.user_id)
    )]
    pub async fn execute(&self, input: RevokeAllSessionsInput) -> Result<(), Fault> {
        let RevokeAllSessionsInput { principal, request } = input;
        let mut transaction = self.unit_of_work.begin().await?;
        let ended = transaction
            .sessions()
            .revoke_all(principal.user_id, None)
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "session.revoked",
                Some(principal.user_id),
                true,
                &request,
                json!({ "all": true, "count": ended.len() }),
            ),
        )
        .await?;
        self.ended
            .end_and_commit(&ended, transaction, &request)
            .await?;
        Ok(())
    }
}
