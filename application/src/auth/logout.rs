//! `Logout`: ends the session of a refresh token (that session only), recording `user.logout`
//! in the same commit.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use twofa_domain::{Clock, UnitOfWork, is_within_grace};

use crate::webhook_events::record;

use super::{
    CredentialsError, EndedSessions, RequestInfo,
    audit_events::{commit, refused_event, user_event},
    tokens::{is_opaque_token, refresh_hash},
};

/// What signing out takes.
#[derive(Clone)]
pub struct LogoutInput {
    /// The refresh token of the session to end (body or cookie).
    pub refresh_token: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for LogoutInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutInput")
            .field("refresh_token", &"[redacted]")
            .field("request", &self.request)
            .finish()
    }
}

/// Signs a session out.
pub struct Logout {
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ended: EndedSessions,
    /// `tokens.refresh_reuse_grace`.
    pub(crate) grace: Duration,
}

impl Logout {
    /// Ends the session the presented refresh token belongs to; its access tokens fail from
    /// the next request.
    ///
    /// # Errors
    /// `Unauthorized` for a malformed or unknown token or an ended session; also for a token
    /// rotated longer ago than the grace, which ends its session and is recorded as
    /// `security.refresh_token_reuse` (one rotated within the grace still signs out);
    /// `Fault` from the stores.
    #[tracing::instrument(name = "logout", skip_all)]
    pub async fn execute(&self, input: LogoutInput) -> Result<(), CredentialsError> {
        let LogoutInput {
            refresh_token,
            request,
        } = input;
        if !is_opaque_token(&refresh_token) {
            return Err(CredentialsError::Unauthorized);
        }
        let mut transaction = self.unit_of_work.begin().await?;
        let Some(presented) = transaction
            .sessions()
            .find_by_refresh_token(refresh_hash(&refresh_token))
            .await?
        else {
            return Err(CredentialsError::Unauthorized);
        };
        let now = self.clock.now();
        let session = presented.session;
        if !session.is_active(now) {
            // A token of a session that ended: refused, and recorded against its owner.
            record(transaction.as_mut(), refused_event(&session, &request)).await?;
            commit(transaction, &request).await?;
            return Err(CredentialsError::Unauthorized);
        }
        let is_reused = presented
            .rotated_at
            .is_some_and(|rotated_at| !is_within_grace(rotated_at, now, self.grace));
        // A rotated token is a stolen copy in use, whatever it is presented for: the session
        // ends, as a refresh with it would end it.
        let (action, success) = if is_reused {
            ("security.refresh_token_reuse", false)
        } else {
            ("user.logout", true)
        };
        if !transaction
            .sessions()
            .revoke(session.user_id, session.id)
            .await?
        {
            return Err(CredentialsError::Unauthorized);
        }
        record(
            transaction.as_mut(),
            user_event(
                action,
                Some(session.user_id),
                success,
                &request,
                json!({ "sessionId": session.id.to_string() }),
            ),
        )
        .await?;
        self.ended
            .end_and_commit(&[session.id], transaction, &request)
            .await?;
        if is_reused {
            Err(CredentialsError::Unauthorized)
        } else {
            Ok(())
        }
    }
}
