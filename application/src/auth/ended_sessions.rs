//! `EndedSessions`: tells the session cache that sessions end, so their access tokens fail
//! from the next request on every instance. Told before the change that ends them commits:
//! once an "ended" answer is cached, no lookup can put a "live" one back over it, so a change
//! answered as done leaves no instance serving the session as live from its cache.

use std::{sync::Arc, time::Duration};

use twofa_domain::{SessionCache, SessionId, Transaction};

use super::{Fault, RequestInfo, audit_events::commit};

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

    /// Marks `ids` ended in the cache, then commits `transaction` (which ends them in the
    /// session store). A cache that cannot be written fails the change before it commits
    /// (503 `dependency_unavailable`): answering it as done would let another instance serve a
    /// cached "live" answer until that answer expires. A commit that fails takes the marks back,
    /// so the sessions live on as the store says.
    pub(crate) async fn end_and_commit(
        &self,
        ids: &[SessionId],
        transaction: Box<dyn Transaction>,
        request: &RequestInfo,
    ) -> Result<(), Fault> {
        for (told, &id) in ids.iter().enumerate() {
            if let Err(error) = self.cache.end(id, self.ttl).await {
                self.take_back(&ids[..told]).await;
                return Err(error.into());
            }
        }
        if let Err(error) = commit(transaction, request).await {
            self.take_back(ids).await;
            return Err(error);
        }
        Ok(())
    }

    /// Marks `ids` ended in the cache as far as it can be written, then commits; what the cache
    /// could not take is logged. For a revocation that must commit whatever the cache says (a
    /// reused refresh token's session, whose end must not wait on Redis): the session store's
    /// answer then holds, and cached "live" answers expire within seconds.
    pub(crate) async fn end_or_log_and_commit(
        &self,
        ids: &[SessionId],
        transaction: Box<dyn Transaction>,
        request: &RequestInfo,
    ) -> Result<(), Fault> {
        for &id in ids {
            if let Err(error) = self.cache.end(id, self.ttl).await {
                tracing::warn!(session = %id, error = %twofa_domain::error_chain(&error), "could not mark a session ended in the cache");
            }
        }
        if let Err(error) = commit(transaction, request).await {
            self.take_back(ids).await;
            return Err(error);
        }
        Ok(())
    }

    /// Drops the "ended" marks of `ids`: their change did not commit.
    async fn take_back(&self, ids: &[SessionId]) {
        for &id in ids {
            if let Err(error) = self.cache.forget(id).await {
                tracing::warn!(session = %id, error = %twofa_domain::error_chain(&error), "could not take back an ended mark of a change that did not commit; the session's access tokens fail until they expire");
            }
        }
    }
}
