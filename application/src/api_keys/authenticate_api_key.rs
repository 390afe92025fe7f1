//! `AuthenticateApiKey`: from a presented API key to a `Principal`, on every request: the
//! checksum first (a mistyped or made-up key costs no read), then the stored key by its hash,
//! its state, its owner's account, the per-key rate limit and the route's scope.

use std::{sync::Arc, time::Duration};

use twofa_domain::{
    ApiKey, ApiKeyRepository, ApiKeyToken, Clock, Decision, Limit, RateLimiter, Scope,
    UserRepository,
};

use crate::auth::{CallerError, Credential, Principal, Throttled};

/// How stale `last_used_at` may get before a request writes it again: a busy key is written
/// once a minute, not on every request.
const LAST_USED_RESOLUTION: Duration = Duration::from_mins(1);

/// Checks API keys.
pub struct AuthenticateApiKey {
    api_keys: Arc<dyn ApiKeyRepository>,
    users: Arc<dyn UserRepository>,
    limiter: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
    /// `api_keys.rate_limit_per_minute`.
    limit: Limit,
}

impl AuthenticateApiKey {
    pub(crate) fn new(
        api_keys: Arc<dyn ApiKeyRepository>,
        users: Arc<dyn UserRepository>,
        limiter: Arc<dyn RateLimiter>,
        clock: Arc<dyn Clock>,
        limit: Limit,
    ) -> Self {
        Self {
            api_keys,
            users,
            limiter,
            clock,
            limit,
        }
    }

    /// Who `presented` speaks for on a route that requires `required` (`None`: a route no key
    /// may reach).
    ///
    /// # Errors
    /// `Unauthorized` for a key that is malformed, unknown, revoked or expired, or whose owner
    /// is disabled or gone; `RateLimited` past the key's limit (every request counts, allowed
    /// or not); `InsufficientScope` when the key's scopes do not grant `required`; `Fault`.
    #[tracing::instrument(name = "authenticate_api_key", level = "debug", skip_all)]
    pub async fn execute(
        &self,
        presented: &str,
        required: Option<Scope>,
    ) -> Result<Principal, CallerError> {
        let token = ApiKeyToken::parse(presented).ok_or(CallerError::Unauthorized)?;
        let now = self.clock.now();
        let key = match self.api_keys.find_by_hash(&token.digest()).await? {
            Some(key) if key.is_live(now) => key,
            Some(_) | None => return Err(CallerError::Unauthorized),
        };
        match self.users.find_by_id(key.user_id).await? {
            Some(user) if user.is_active => {}
            Some(_) | None => return Err(CallerError::Unauthorized),
        }
        self.count(&key).await?;
        if !required.is_some_and(|scope| key.grants(scope)) {
            return Err(CallerError::InsufficientScope);
        }
        self.mark_used(&key, now).await;
        Ok(Principal {
            user_id: key.user_id,
            credential: Credential::ApiKey(key.id),
            amr: Vec::new(),
        })
    }

    /// Counts a request of `key` against its limit.
    async fn count(&self, key: &ApiKey) -> Result<(), CallerError> {
        match self
            .limiter
            .hit(&format!("api_key:{}", key.id), self.limit)
            .await?
        {
            Decision::Allowed { .. } => Ok(()),
            Decision::Limited { retry_after } => Err(CallerError::RateLimited(Throttled {
                limit: self.limit.max,
                retry_after,
            })),
        }
    }

    /// Stamps `key` used at `now` unless it was within the last minute; a failure only logs
    /// (the request it authenticates goes on).
    async fn mark_used(&self, key: &ApiKey, now: chrono::DateTime<chrono::Utc>) {
        let stale_before = now
            - chrono::Duration::from_std(LAST_USED_RESOLUTION).unwrap_or(chrono::Duration::zero());
        if key.last_used_at.is_some_and(|at| at >= stale_before) {
            return;
        }
        if let Err(error) = self.api_keys.touch(key.id, now, stale_before).await {
            tracing::warn!(error = %twofa_domain::error_chain(&error), key = %key.id, "could not stamp an API key's last use");
        }
    }
}
