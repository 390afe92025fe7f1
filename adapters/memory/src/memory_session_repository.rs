//! `MemorySessionRepository`: the `SessionRepository` port in process memory, outside or
//! inside a memory transaction.

use std::{cmp::Reverse, collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{
    Clock, NewSession, PortError, PresentedToken, RefreshTokenHash, RotateOutcome, Session,
    SessionId, SessionRepository, UserId, is_within_grace,
};

use crate::{MemoryDatabase, memory_database::Scope};

/// A refresh token as stored: whose it is, when it was rotated, if it was, and when it was
/// honoured once more under the grace, if it was.
#[derive(Debug, Clone, Copy)]
struct Token {
    session: SessionId,
    rotated_at: Option<DateTime<Utc>>,
    grace_used_at: Option<DateTime<Utc>>,
}

impl Token {
    /// A current token of `session`.
    fn current(session: SessionId) -> Self {
        Self {
            session,
            rotated_at: None,
            grace_used_at: None,
        }
    }
}

/// Sessions and their refresh tokens, one table so a rotation reads and writes both at once:
/// the rules of the port, shared by the plain repository and the transaction-bound one.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionTable {
    sessions: HashMap<SessionId, Session>,
    tokens: HashMap<RefreshTokenHash, Token>,
}

/// A duplicate key: ids and hashes are random, so this is a bug.
fn duplicate(what: &str) -> PortError {
    PortError::Unexpected(anyhow::anyhow!("duplicate {what}").context("creating a session"))
}

impl SessionTable {
    /// Stores `session` created at `now` with its first token `first`.
    fn create(
        &mut self,
        session: NewSession,
        first: RefreshTokenHash,
        now: DateTime<Utc>,
    ) -> Result<Session, PortError> {
        let session = session.into_session(now);
        if self.sessions.contains_key(&session.id) {
            return Err(duplicate("session id"));
        }
        if self.tokens.contains_key(&first) {
            return Err(duplicate("refresh token hash"));
        }
        self.tokens.insert(first, Token::current(session.id));
        self.sessions.insert(session.id, session.clone());
        Ok(session)
    }

    /// The token hashing to `presented` and its session.
    fn find_by_refresh_token(&self, presented: RefreshTokenHash) -> Option<PresentedToken> {
        self.tokens.get(&presented).and_then(|token| {
            self.sessions
                .get(&token.session)
                .map(|session| PresentedToken {
                    session: session.clone(),
                    rotated_at: token.rotated_at,
                })
        })
    }

    /// Rotates `presented` into `next` at `now`, as the port describes.
    fn rotate(
        &mut self,
        presented: RefreshTokenHash,
        next: RefreshTokenHash,
        grace: Duration,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, PortError> {
        let Self { sessions, tokens } = self;
        let Some(token) = tokens.get(&presented).copied() else {
            return Ok(RotateOutcome::NotFound);
        };
        let Some(session) = sessions.get_mut(&token.session) else {
            return Ok(RotateOutcome::NotFound);
        };
        if !session.is_active(now) {
            return Ok(RotateOutcome::Inactive);
        }
        let is_current = token.rotated_at.is_none();
        let is_graced = token.grace_used_at.is_none()
            && token
                .rotated_at
                .is_some_and(|rotated_at| is_within_grace(rotated_at, now, grace));
        if !is_current && !is_graced {
            session.revoked_at = Some(now);
            return Ok(RotateOutcome::Reused(session.clone()));
        }
        if tokens.contains_key(&next) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "duplicate refresh token hash while rotating a refresh token"
            )));
        }
        if let Some(token) = tokens.get_mut(&presented) {
            if is_current {
                token.rotated_at = Some(now);
            } else {
                token.grace_used_at = Some(now);
            }
        }
        tokens.insert(next, Token::current(session.id));
        session.last_used_at = now;
        session.expires_at = expires_at;
        Ok(RotateOutcome::Rotated(session.clone()))
    }

    /// Revokes `user`'s session `id` at `now` unless already revoked; whether it did.
    fn revoke(&mut self, user: UserId, id: SessionId, now: DateTime<Utc>) -> bool {
        self.sessions
            .get_mut(&id)
            .filter(|session| session.user_id == user && session.revoked_at.is_none())
            .is_some_and(|session| {
                session.revoked_at = Some(now);
                true
            })
    }

    /// Revokes at `now` every session of `user` active then but `except`; their ids.
    fn revoke_all(
        &mut self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Vec<SessionId> {
        let mut revoked = Vec::new();
        for session in self.sessions.values_mut() {
            if session.user_id == user && Some(session.id) != except && session.is_active(now) {
                session.revoked_at = Some(now);
                revoked.push(session.id);
            }
        }
        revoked
    }

    /// `user`'s sessions active at `now`, newest first.
    fn list_active(&self, user: UserId, now: DateTime<Utc>) -> Vec<Session> {
        let mut active: Vec<Session> = self
            .sessions
            .values()
            .filter(|session| session.user_id == user && session.is_active(now))
            .cloned()
            .collect();
        active.sort_by_key(|session| Reverse((session.created_at, session.id)));
        active
    }

    /// Deletes the sessions expired or revoked before `before`, with their tokens; how many.
    fn purge_expired(&mut self, before: DateTime<Utc>) -> u64 {
        let Self { sessions, tokens } = self;
        let count = sessions.len();
        sessions.retain(|_, session| {
            session.expires_at >= before && session.revoked_at.is_none_or(|at| at >= before)
        });
        tokens.retain(|_, token| sessions.contains_key(&token.session));
        u64::try_from(count - sessions.len()).unwrap_or(u64::MAX)
    }
}

/// Sessions and refresh tokens in a [`MemoryDatabase`], or in a transaction's staged copy of
/// them. A rotation reads and writes under one lock (and every write under the database's
/// writer lock): of two concurrent rotations of one token exactly one finds it current, also
/// across transactions.
pub struct MemorySessionRepository {
    scope: Scope,
}

impl MemorySessionRepository {
    /// No sessions, in a database of its own; timestamps from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The sessions of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }
}

#[async_trait]
impl SessionRepository for MemorySessionRepository {
    async fn create(
        &self,
        session: NewSession,
        first: RefreshTokenHash,
    ) -> Result<Session, PortError> {
        self.scope
            .write(|table: &mut SessionTable, now| table.create(session, first, now))
            .await
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, PortError> {
        Ok(self
            .scope
            .read(|table: &SessionTable| table.sessions.get(&id).cloned())
            .await)
    }

    async fn find_by_refresh_token(
        &self,
        presented: RefreshTokenHash,
    ) -> Result<Option<PresentedToken>, PortError> {
        Ok(self
            .scope
            .read(|table: &SessionTable| table.find_by_refresh_token(presented))
            .await)
    }

    async fn rotate(
        &self,
        presented: RefreshTokenHash,
        next: RefreshTokenHash,
        grace: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<RotateOutcome, PortError> {
        self.scope
            .write(|table: &mut SessionTable, now| {
                table.rotate(presented, next, grace, expires_at, now)
            })
            .await
    }

    async fn revoke(&self, user: UserId, id: SessionId) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut SessionTable, now| table.revoke(user, id, now))
            .await)
    }

    async fn revoke_all(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<Vec<SessionId>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut SessionTable, now| table.revoke_all(user, except, now))
            .await)
    }

    async fn list_active(&self, user: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.scope.now();
        Ok(self
            .scope
            .read(|table: &SessionTable| table.list_active(user, now))
            .await)
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        Ok(self
            .scope
            .write(|table: &mut SessionTable, _| table.purge_expired(before))
            .await)
    }
}
