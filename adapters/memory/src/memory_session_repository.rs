//! `MemorySessionRepository`: the `SessionRepository` port in process memory.

use std::{
    cmp::Reverse,
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use twofa_domain::{
    Clock, NewSession, PortError, PresentedToken, RefreshTokenHash, RotateOutcome, Session,
    SessionId, SessionRepository, UserId, is_within_grace,
};

/// A refresh token as stored: whose it is and when it was rotated, if it was.
#[derive(Debug, Clone, Copy)]
struct Token {
    session: SessionId,
    rotated_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<SessionId, Session>,
    tokens: HashMap<RefreshTokenHash, Token>,
}

/// Sessions and refresh tokens in maps under one lock, so a rotation reads and writes both
/// atomically: of two concurrent rotations of one token exactly one finds it current.
pub struct MemorySessionRepository {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl MemorySessionRepository {
    /// No sessions; timestamps from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
        }
    }

    /// The clock's time to the microsecond, as the SQL databases keep it.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A duplicate key: ids and hashes are random, so this is a bug.
fn duplicate(what: &str) -> PortError {
    PortError::Unexpected(anyhow::anyhow!("duplicate {what}").context("creating a session"))
}

#[async_trait]
impl SessionRepository for MemorySessionRepository {
    async fn create(
        &self,
        session: NewSession,
        first: RefreshTokenHash,
    ) -> Result<Session, PortError> {
        let session = session.into_session(self.now());
        let mut state = self.state();
        if state.sessions.contains_key(&session.id) {
            return Err(duplicate("session id"));
        }
        if state.tokens.contains_key(&first) {
            return Err(duplicate("refresh token hash"));
        }
        state.tokens.insert(
            first,
            Token {
                session: session.id,
                rotated_at: None,
            },
        );
        state.sessions.insert(session.id, session.clone());
        Ok(session)
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, PortError> {
        Ok(self.state().sessions.get(&id).cloned())
    }

    async fn find_by_refresh_token(
        &self,
        presented: RefreshTokenHash,
    ) -> Result<Option<PresentedToken>, PortError> {
        let state = self.state();
        Ok(state.tokens.get(&presented).and_then(|token| {
            state
                .sessions
                .get(&token.session)
                .map(|session| PresentedToken {
                    session: session.clone(),
                    rotated_at: token.rotated_at,
                })
        }))
    }

    async fn rotate(
        &self,
        presented: RefreshTokenHash,
        next: RefreshTokenHash,
        grace: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<RotateOutcome, PortError> {
        let now = self.now();
        let mut guard = self.state();
        let State { sessions, tokens } = &mut *guard;
        let Some(token) = tokens.get(&presented).copied() else {
            return Ok(RotateOutcome::NotFound);
        };
        let Some(session) = sessions.get_mut(&token.session) else {
            return Ok(RotateOutcome::NotFound);
        };
        if !session.is_active(now) {
            return Ok(RotateOutcome::Inactive);
        }
        match token.rotated_at {
            Some(rotated_at) if !is_within_grace(rotated_at, now, grace) => {
                session.revoked_at = Some(now);
                return Ok(RotateOutcome::Reused(session.clone()));
            }
            Some(_) => {}
            None => {
                if let Some(token) = tokens.get_mut(&presented) {
                    token.rotated_at = Some(now);
                }
            }
        }
        if tokens.contains_key(&next) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "duplicate refresh token hash while rotating a refresh token"
            )));
        }
        tokens.insert(
            next,
            Token {
                session: session.id,
                rotated_at: None,
            },
        );
        session.last_used_at = now;
        session.expires_at = expires_at;
        Ok(RotateOutcome::Rotated(session.clone()))
    }

    async fn revoke(&self, user: UserId, id: SessionId) -> Result<bool, PortError> {
        let now = self.now();
        let mut state = self.state();
        Ok(state
            .sessions
            .get_mut(&id)
            .filter(|session| session.user_id == user && session.revoked_at.is_none())
            .is_some_and(|session| {
                session.revoked_at = Some(now);
                true
            }))
    }

    async fn revoke_all(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<Vec<SessionId>, PortError> {
        let now = self.now();
        let mut state = self.state();
        let mut revoked = Vec::new();
        for session in state.sessions.values_mut() {
            if session.user_id == user && Some(session.id) != except && session.is_active(now) {
                session.revoked_at = Some(now);
                revoked.push(session.id);
            }
        }
        Ok(revoked)
    }

    async fn list_active(&self, user: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.now();
        let mut active: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|session| session.user_id == user && session.is_active(now))
            .cloned()
            .collect();
        active.sort_by_key(|session| Reverse((session.created_at, session.id)));
        Ok(active)
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        let mut guard = self.state();
        let State { sessions, tokens } = &mut *guard;
        let before_count = sessions.len();
        sessions.retain(|_, session| {
            session.expires_at >= before && session.revoked_at.is_none_or(|at| at >= before)
        });
        tokens.retain(|_, token| sessions.contains_key(&token.session));
        Ok(u64::try_from(before_count - sessions.len()).unwrap_or(u64::MAX))
    }
}
