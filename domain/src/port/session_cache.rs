//! The `SessionCache` port: what every authenticated request asks (is the session behind this
//! access token still live?), answered without a database read most of the time, and told at
//! once when a session ends.
//!
//! The session repository stays the truth; the cache holds short-lived copies of its answer.
//! An ended session is written as `Ended` (not merely forgotten), and a lookup's answer is
//! stored only where nothing is yet, so a lookup that raced a revocation cannot put `Live`
//! back over `Ended`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{PortError, SessionId, UserId};

/// A cached answer about one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachedSession {
    /// The session was active when the answer was cached.
    Live {
        /// Whose session it is (an access token's `sub` must match).
        user_id: UserId,
        /// When it ends unless refreshed (a live entry never outlives it).
        expires_at: DateTime<Utc>,
    },
    /// The session was revoked or has expired: its access tokens fail.
    Ended,
}

/// Short-lived answers about sessions, shared by every instance when it lives in Redis.
///
/// # Errors
/// `PortError::Unavailable` when the shared store cannot be reached in time; callers then ask
/// the session repository directly (a lookup) or log and go on (an invalidation: the entry's
/// time to live bounds how long a stale `Live` answer survives).
#[async_trait]
pub trait SessionCache: Send + Sync + 'static {
    /// The cached answer for `id`, if one is held and its time to live has not passed.
    async fn get(&self, id: SessionId) -> Result<Option<CachedSession>, PortError>;

    /// Caches `answer` for `id` for `ttl`, unless an answer is already held (set-if-absent: a
    /// concurrent `end` always wins).
    async fn put_if_absent(
        &self,
        id: SessionId,
        answer: CachedSession,
        ttl: Duration,
    ) -> Result<(), PortError>;

    /// Records that `id` has ended, replacing any answer, for `ttl` (at least an access
    /// token's lifetime, so every token of the session fails until it would have expired).
    async fn end(&self, id: SessionId, ttl: Duration) -> Result<(), PortError>;

    /// Drops any answer held for `id`: undoes an `end` told ahead of a change whose commit then
    /// failed (the session lives on), so its next lookup asks the session repository.
    async fn forget(&self, id: SessionId) -> Result<(), PortError>;
}
