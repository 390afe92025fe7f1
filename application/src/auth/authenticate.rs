//! `Authenticate`: from a bearer access token to a `Principal`, checking on every request
//! that the token's session is still live (cached, and told at once when a session ends), so
//! a signed-out session's tokens fail from the next request rather than at expiry.

use std::sync::Arc;

use twofa_domain::{CachedSession, SessionId, UserId};

use super::{AuthCore, AuthError, Principal};

/// Checks access tokens.
pub struct Authenticate {
    core: Arc<AuthCore>,
}

impl Authenticate {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Who `access_token` speaks for.
    ///
    /// # Errors
    /// `Unauthorized` for a token that does not verify, has expired, or whose session has
    /// ended or belongs to someone else; `Unavailable`/`Unexpected` when the session store
    /// cannot answer.
    pub async fn execute(&self, access_token: &str) -> Result<Principal, AuthError> {
        let core = &self.core;
        let claims = core
            .ports
            .signer
            .verify(access_token, core.now())
            .map_err(|_| AuthError::Unauthorized)?;
        if self.is_live(claims.session, claims.subject).await? {
            Ok(Principal {
                user_id: claims.subject,
                session_id: claims.session,
                amr: claims.amr,
            })
        } else {
            Err(AuthError::Unauthorized)
        }
    }

    async fn is_live(&self, id: SessionId, user: UserId) -> Result<bool, AuthError> {
        let core = &self.core;
        let now = core.now();
        match core.ports.session_cache.get(id).await {
            Ok(Some(CachedSession::Live {
                user_id,
                expires_at,
            })) => return Ok(user_id == user && now < expires_at),
            Ok(Some(CachedSession::Ended)) => return Ok(false),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %twofa_domain::error_chain(&error), "the session cache is unavailable; asking the session store");
            }
        }
        let Some(session) = core.ports.sessions.find(id).await? else {
            return Ok(false);
        };
        let answer = if session.is_active(now) {
            CachedSession::Live {
                user_id: session.user_id,
                expires_at: session.expires_at,
            }
        } else {
            CachedSession::Ended
        };
        let ttl = match answer {
            CachedSession::Live { expires_at, .. } => core.live_answer_ttl(expires_at),
            CachedSession::Ended => core.policy.access_ttl,
        };
        if !ttl.is_zero()
            && let Err(error) = core
                .ports
                .session_cache
                .put_if_absent(id, answer, ttl)
                .await
        {
            tracing::debug!(error = %twofa_domain::error_chain(&error), "could not cache a session check");
        }
        Ok(session.is_active(now) && session.user_id == user)
    }
}
