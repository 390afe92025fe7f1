//! `RefreshSession`: rotates a refresh token. The presented token dies and a new one of the
//! same session is issued with a new access token; a token rotated longer ago than the grace
//! is a stolen copy in use, so its whole session ends and `security.refresh_token_reuse` is
//! recorded.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::RotateOutcome;

use super::{
    AuthCore, AuthError, RequestInfo, SignedIn,
    core::{is_opaque_token, refresh_hash, user_event},
};

/// Rotates refresh tokens.
pub struct RefreshSession {
    core: Arc<AuthCore>,
}

impl RefreshSession {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// A new token pair for the session of `refresh_token`.
    ///
    /// # Errors
    /// `Unauthorized` for a malformed, unknown, expired, revoked or reused token, or when the
    /// account is gone or disabled; `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(
        &self,
        refresh_token: &str,
        request: &RequestInfo,
    ) -> Result<SignedIn, AuthError> {
        let core = &self.core;
        if !is_opaque_token(refresh_token) {
            return Err(AuthError::Unauthorized);
        }
        let next = core.opaque_token();
        let outcome = core
            .ports
            .sessions
            .rotate(
                refresh_hash(refresh_token),
                refresh_hash(&next),
                core.policy.refresh_reuse_grace,
                core.after(core.policy.refresh_ttl),
            )
            .await?;
        let session = match outcome {
            RotateOutcome::Rotated(session) => session,
            RotateOutcome::Reused(session) => {
                core.forget_sessions([session.id]).await;
                tracing::warn!(user = %session.user_id, session = %session.id, "a rotated refresh token was reused; the session is revoked");
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
            RotateOutcome::NotFound | RotateOutcome::Inactive => {
                return Err(AuthError::Unauthorized);
            }
        };
        let user = match core.ports.users.find_by_id(session.user_id).await? {
            Some(user) if user.is_active => user,
            Some(_) | None => {
                core.ports
                    .sessions
                    .revoke(session.user_id, session.id)
                    .await?;
                core.forget_sessions([session.id]).await;
                return Err(AuthError::Unauthorized);
            }
        };
        let tokens = core.token_pair(&session, next)?;
        Ok(SignedIn { user, tokens })
    }
}
