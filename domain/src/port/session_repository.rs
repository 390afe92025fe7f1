//! The `SessionRepository` port: sessions and their refresh tokens (stored as hashes), with
//! the atomic rotation that detects the reuse of a rotated token and honours a just-rotated
//! one once more within the grace.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{NewSession, PortError, RefreshTokenHash, Session, SessionId, UserId};

/// What presenting a refresh token for rotation answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current, or rotated within the grace and not yet honoured under it; the
    /// next token is now valid for the same session, which is returned as updated.
    Rotated(Session),
    /// The token was rotated longer ago than the grace, or within it but already honoured
    /// once more under it: a stolen copy may be in use, so the session was revoked (every
    /// token of it is dead, those the grace issued included). The session is returned as
    /// revoked.
    Reused(Session),
    /// No session ever issued this token.
    NotFound,
    /// The token's session is revoked or expired; nothing changed.
    Inactive,
}

/// A refresh token found by its hash: the session that issued it, and whether it has been
/// rotated since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    /// The session that issued the token, as stored (possibly revoked or expired).
    pub session: Session,
    /// When the token was rotated into a newer one; `None` while it is the current one.
    pub rotated_at: Option<DateTime<Utc>>,
}

/// Where sessions and their refresh tokens are kept.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else that is not a business outcome (a corrupt row, a
/// duplicate session id or token hash). Timestamps come from the clock the implementation was
/// built with.
///
/// `rotate` is one atomic conditional write: concurrent rotations of one current token, from
/// any number of handles or processes, go one after the other. With no grace exactly one is
/// `Rotated`; with a grace exactly two are (the rotation, and the one more presentation the
/// grace allows: two tabs refreshing at once). The next one is `Reused`, which revokes the
/// session, so the tokens the winners got die too (a third presentation ends the session);
/// every later one finds the session revoked: `Inactive`.
#[async_trait]
pub trait SessionRepository: Send + Sync + 'static {
    /// Stores a new session whose first refresh token hashes to `first`, stamping
    /// `created_at` and `last_used_at` with the clock's time; returns it as stored.
    async fn create(
        &self,
        session: NewSession,
        first: RefreshTokenHash,
    ) -> Result<Session, PortError>;

    /// The session with `id`, revoked and expired ones included, if any.
    async fn find(&self, id: SessionId) -> Result<Option<Session>, PortError>;

    /// The token hashing to `presented` and its session, revoked and expired ones included,
    /// if any session ever issued it. Changes nothing (sign-out finds its session this way).
    async fn find_by_refresh_token(
        &self,
        presented: RefreshTokenHash,
    ) -> Result<Option<PresentedToken>, PortError>;

    /// Rotates the refresh token hashing to `presented` into `next`, atomically:
    ///
    /// - no session ever issued `presented`: `NotFound`;
    /// - its session is revoked or expired: `Inactive`, nothing changed;
    /// - `presented` is current (never rotated): it becomes rotated now, `next` becomes a
    ///   current token of the same session, `last_used_at` becomes now and `expires_at` the
    ///   given value: `Rotated`;
    /// - `presented` was rotated at most `grace` ago (and `grace` is not zero) and has not been
    ///   honoured under the grace yet: the same, but `presented` keeps its rotation time and
    ///   is marked as having used its grace; the token the first rotation issued stays valid
    ///   (two tabs refreshing at once): `Rotated`. A token is honoured so once at most: the
    ///   mark is part of the same conditional write;
    /// - `presented` was rotated longer ago than `grace`, or within it but has used its grace
    ///   already (a third presentation): the session is revoked now and every token of it
    ///   dies: `Reused`.
    async fn rotate(
        &self,
        presented: RefreshTokenHash,
        next: RefreshTokenHash,
        grace: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<RotateOutcome, PortError>;

    /// Revokes the session `id` if it belongs to `user` and is not revoked yet; whether it did.
    async fn revoke(&self, user: UserId, id: SessionId) -> Result<bool, PortError>;

    /// Revokes every active session of `user` (not revoked, not expired at the clock's time)
    /// but `except`; the ids of those it revoked (so each can be told to the session cache).
    async fn revoke_all(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<Vec<SessionId>, PortError>;

    /// The sessions of `user` that are active at the clock's time, newest first (by
    /// `created_at`, then by id, both descending).
    async fn list_active(&self, user: UserId) -> Result<Vec<Session>, PortError>;

    /// Deletes, with their refresh tokens, the sessions that expired or were revoked before
    /// `before`; how many.
    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError>;
}

/// Whether a token rotated at `rotated_at` may still be presented at `now` under `grace`: the
/// grace is not zero and at most that long has passed.
pub fn is_within_grace(rotated_at: DateTime<Utc>, now: DateTime<Utc>, grace: Duration) -> bool {
    if grace.is_zero() {
        return false;
    }
    chrono::TimeDelta::from_std(grace).map_or(true, |grace| now - rotated_at <= grace)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn no_grace_means_a_rotated_token_is_always_reused() {
        assert!(!is_within_grace(at(0), at(0), Duration::ZERO));
    }

    #[test]
    fn the_grace_includes_its_last_instant() {
        let grace = Duration::from_secs(10);
        assert!(is_within_grace(at(0), at(0), grace));
        assert!(is_within_grace(at(0), at(10), grace));
        assert!(!is_within_grace(
            at(0),
            at(10) + TimeDelta::microseconds(1),
            grace
        ));
    }
}
