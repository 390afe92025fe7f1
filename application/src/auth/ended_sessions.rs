//! `EndedSessions`: tells the session cache that sessions ended, so their access tokens fail
//! from the next request on every instance. Called once the revocation committed.

use std::{sync::Arc, time::Duration};

use twofa_domain::{SessionCache, SessionId};

/// Announces ended sessions to the session cache.
pub struct EndedSessions {
    cache: Arc<dyn SessionCache>,
    /// How long an "ended" answer is kept: as long as an access token of the session can live.
    ttl: Duration,
}

impl EndedSessions {
    /// Over `cache`, for access tokens living `access_ttl`.
    pub fn new(cache: Arc<dyn SessionCache>, access_ttl: Duration) -> Self {
        Self {
            cache,
            ttl: access_ttl + Duration::from_secs(5),
        }
    }

    /// Marks `ids` ended in the cache. A cache that cannot be reached is logged, not fatal: the
    /// session store already says the sessions ended, and cached answers expire within seconds.
    pub(crate) async fn announce(&self, ids: impl IntoIterator<Item = SessionId>) {
        for id in ids {
            if let Err(error) = self.cache.end(id, self.ttl).await {
                tracing::warn!(session = %id, error = %twofa_domain::error_chain(&error), "could not mark a session ended in the cache");
            }
        }
    }
}
