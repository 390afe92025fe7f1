//! `Authenticate`: from a bearer access token to a `Principal`, checking on every request
//! that the token's session is still live (cached, and told at once when a session ends), so
//! a signed-out session's tokens fail from the next request rather than at expiry.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use twofa_domain::{
    CachedSession, Clock, SessionCache, SessionId, SessionRepository, TokenSigner, UserId,
};

use super::{Credential, CredentialsError, Principal};

/// How long a session check's answer is cached. Revocations replace it at once; this bounds
/// only how long an answer can outlive an invalidation that could not reach the cache.
const LIVE_ANSWER_TTL: Duration = Duration::from_secs(30);

/// Checks access tokens.
pub struct Authenticate {
    pub(crate) sessions: Arc<dyn SessionRepository>,
    pub(crate) session_cache: Arc<dyn SessionCache>,
    pub(crate) signer: Arc<dyn TokenSigner>,
    pub(crate) clock: Arc<dyn Clock>,
    /// `tokens.access_ttl`: how long an "ended" answer is cached.
    pub(crate) access_ttl: Duration,
}

impl Authenticate {
    /// Who `access_token` speaks for.
    ///
    /// # Errors
    /// `Unauthorized` for a token that does not verify, has expired, or whose session has
    /// ended or belongs to someone else; `Fault` when the session store cannot answer.
    #[tracing::instrument(name = "authenticate", level = "debug", skip_all)]
    pub async fn execute(&self, access_token: &str) -> Result<Principal, CredentialsError> {
        let claims = self
            .signer
            .verify(access_token, self.clock.now())
            .map_err(|_| CredentialsError::Unauthorized)?;
        if self.is_live(claims.session, claims.subject).await? {
            Ok(Principal {
                user_id: claims.subject,
                credential: Credential::Session(claims.session),
                amr: claims.amr,
            })
        } else {
            Err(CredentialsError::Unauthorized)
        }
    }

    async fn is_live(&self, id: SessionId, user: UserId) -> Result<bool, CredentialsError> {
        let now = self.clock.now();
        match self.session_cache.get(id).await {
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
        let Some(session) = self.sessions.find(id).await? else {
            return Ok(false);
        };
        let (answer, ttl) = if session.is_active(now) {
            let answer = CachedSession::Live {
                user_id: session.user_id,
                expires_at: session.expires_at,
            };
            (answer, live_answer_ttl(session.expires_at, now))
        } else {
            (CachedSession::Ended, self.access_ttl)
        };
        if !ttl.is_zero()
            && let Err(error) = self.session_cache.put_if_absent(id, answer, ttl).await
        {
            tracing::debug!(error = %twofa_domain::error_chain(&error), "could not cache a session check");
        }
        Ok(session.is_active(now) && session.user_id == user)
    }
}

/// The live-answer time to live for a session expiring at `expires_at`.
fn live_answer_ttl(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (expires_at - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .min(LIVE_ANSWER_TTL)
}
