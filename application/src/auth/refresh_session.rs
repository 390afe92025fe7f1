//! `RefreshSession`: rotates a refresh token. The presented token dies and a new one of the
//! same session is issued with a new access token; a token rotated longer ago than the grace
//! is a stolen copy in use, so its whole session ends and `security.refresh_token_reuse` is
//! recorded with it, in one commit.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use twofa_domain::{RotateOutcome, UnitOfWork};

use crate::webhook_events::record;

use super::{
    CredentialsError, EndedSessions, RequestInfo, SessionIssuer, SignedIn,
    audit_events::{commit, refused_event, user_event},
    tokens::{is_opaque_token, refresh_hash},
};

/// What rotating a refresh token takes.
#[derive(Clone)]
pub struct RefreshSessionInput {
    /// The refresh token presented (body or cookie).
    pub refresh_token: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for RefreshSessionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshSessionInput")
            .field("refresh_token", &"[redacted]")
            .field("request", &self.request)
            .finish()
    }
}

/// Rotates refresh tokens.
pub struct RefreshSession {
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) issuer: SessionIssuer,
    pub(crate) ended: EndedSessions,
    /// `tokens.refresh_reuse_grace`.
    pub(crate) grace: Duration,
}

impl RefreshSession {
    /// A new token pair for the session of the presented refresh token.
    ///
    /// # Errors
    /// `Unauthorized` for a malformed, unknown, expired, revoked or reused token, or when the
    /// account is gone or disabled; `Fault` from the stores.
    #[tracing::instrument(name = "refresh_session", skip_all)]
    pub async fn execute(&self, input: RefreshSessionInput) -> Result<SignedIn, CredentialsError> {
        let RefreshSessionInput {
            refresh_token,
            request,
        } = input;
        if !is_opaque_token(&refresh_token) {
            return Err(CredentialsError::Unauthorized);
        }
        let next = self.issuer.refresh_token();
        let mut transaction = self.unit_of_work.begin().await?;
        let outcome = transaction
            .sessions()
            .rotate(
                refresh_hash(&refresh_token),
                refresh_hash(&next),
                self.grace,
                self.issuer.refresh_expiry(),
            )
            .await?;
        let session = match outcome {
            RotateOutcome::Rotated(session) => session,
            RotateOutcome::Reused(session) => {
                record(
                    transaction.as_mut(),
                    user_event(
                        "security.refresh_token_reuse",
                        Some(session.user_id),
                        false,
                        &request,
                        json!({ "sessionId": session.id.to_string() }),
                    ),
                )
                .await?;
                self.ended
                    .end_or_log_and_commit(&[session.id], transaction, &request)
                    .await?;
                tracing::warn!(user = %session.user_id, session = %session.id, "a rotated refresh token was reused; the session is revoked");
                return Err(CredentialsError::Unauthorized);
            }
            RotateOutcome::NotFound => return Err(CredentialsError::Unauthorized),
            RotateOutcome::Inactive => {
                // A token of a session that ended: refused, and recorded against its owner.
                if let Some(presented) = transaction
                    .sessions()
                    .find_by_refresh_token(refresh_hash(&refresh_token))
                    .await?
                {
                    record(
                        transaction.as_mut(),
                        refused_event(&presented.session, &request),
                    )
                    .await?;
                    commit(transaction, &request).await?;
                }
                return Err(CredentialsError::Unauthorized);
            }
        };
        let user = match transaction.users().find_by_id(session.user_id).await? {
            Some(user) if user.is_active => user,
            Some(_) | None => {
                transaction
                    .sessions()
                    .revoke(session.user_id, session.id)
                    .await?;
                let details = json!({
                    "sessionId": session.id.to_string(),
                    "reason": "account_unavailable",
                });
                record(
                    transaction.as_mut(),
                    user_event(
                        "session.revoked",
                        Some(session.user_id),
                        true,
                        &request,
                        details,
                    ),
                )
                .await?;
                self.ended
                    .end_or_log_and_commit(&[session.id], transaction, &request)
                    .await?;
                return Err(CredentialsError::Unauthorized);
            }
        };
        let tokens = self.issuer.token_pair(&session, next)?;
        commit(transaction, &request).await?;
        Ok(SignedIn { user, tokens })
    }
}
