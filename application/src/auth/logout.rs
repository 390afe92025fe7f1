//! `Logout`: ends the session of a refresh token (that session only).

use std::sync::Arc;

use serde_json::json;
use twofa_domain::is_within_grace;

use super::{
    AuthCore, AuthError, RequestInfo,
    core::{is_opaque_token, refresh_hash, user_event},
};

/// Signs a session out.
pub struct Logout {
    core: Arc<AuthCore>,
}

impl Logout {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Ends the session `refresh_token` belongs to; its access tokens fail from the next
    /// request.
    ///
    /// # Errors
    /// `Unauthorized` for a malformed or unknown token or an ended session; also for a token
    /// rotated longer ago than the grace, which ends its session and is recorded as
    /// `security.refresh_token_reuse` (one rotated within the grace still signs out);
    /// `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(
        &self,
        refresh_token: &str,
        request: &RequestInfo,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        if !is_opaque_token(refresh_token) {
            return Err(AuthError::Unauthorized);
        }
        let Some(presented) = core
            .ports
            .sessions
            .find_by_refresh_token(refresh_hash(refresh_token))
            .await?
        else {
            return Err(AuthError::Unauthorized);
        };
        let now = core.now();
        let session = presented.session;
        if !session.is_active(now) {
            return Err(AuthError::Unauthorized);
        }
        let is_reused = presented.rotated_at.is_some_and(|rotated_at| {
            !is_within_grace(rotated_at, now, core.policy.refresh_reuse_grace)
        });
        if is_reused {
            // A rotated token is a stolen copy in use, whatever it is presented for: the
            // session ends, as a refresh with it would end it.
            core.ports
                .sessions
                .revoke(session.user_id, session.id)
                .await?;
            core.forget_sessions([session.id]).await;
            core.record(
                vec![user_event(
                    "security.refresh_token_reuse",
                    Some(session.user_id),
                    false,
                    request,
                    json!({ "sessionId": session.id.to_string() }),
                )],
                vec![],
            )
            .await?;
            return Err(AuthError::Unauthorized);
        }
        let revoked = core
            .ports
            .sessions
            .revoke(session.user_id, session.id)
            .await?;
        core.forget_sessions([session.id]).await;
        if !revoked {
            return Err(AuthError::Unauthorized);
        }
        core.record(
            vec![user_event(
                "user.logout",
                Some(session.user_id),
                true,
                request,
                json!({ "sessionId": session.id.to_string() }),
            )],
            vec![],
        )
        .await
    }
}
