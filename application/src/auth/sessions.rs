//! The signed-in user's sessions: `ListSessions`, `RevokeSession`, `RevokeAllSessions`.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{Session, SessionId};

use super::{AuthCore, AuthError, Principal, RequestInfo, core::user_event};

/// One page of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    /// Active sessions, newest first, each with whether it is the caller's.
    pub items: Vec<(Session, bool)>,
    /// The id to continue after, when more remain.
    pub next: Option<SessionId>,
}

/// Lists the caller's active sessions.
pub struct ListSessions {
    core: Arc<AuthCore>,
}

impl ListSessions {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// At most `limit` (1–200) active sessions of the caller, newest first, after the session
    /// `after` when given (a previous page's last one).
    ///
    /// # Errors
    /// `Unavailable`/`Unexpected` from the store.
    pub async fn execute(
        &self,
        principal: &Principal,
        limit: u32,
        after: Option<SessionId>,
    ) -> Result<SessionPage, AuthError> {
        let limit = usize::try_from(limit.clamp(1, 200)).unwrap_or(200);
        let active = self
            .core
            .ports
            .sessions
            .list_active(principal.user_id)
            .await?;
        let start = match after {
            Some(after) => match active.iter().position(|session| session.id == after) {
                Some(index) => index + 1,
                None => active.len(),
            },
            None => 0,
        };
        let rest = active.get(start..).unwrap_or_default();
        let items: Vec<(Session, bool)> = rest
            .iter()
            .take(limit)
            .map(|session| (session.clone(), session.id == principal.session_id))
            .collect();
        let next = (rest.len() > limit)
            .then(|| items.last().map(|(session, _)| session.id))
            .flatten();
        Ok(SessionPage { items, next })
    }
}

/// Ends one of the caller's sessions.
pub struct RevokeSession {
    core: Arc<AuthCore>,
}

impl RevokeSession {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Ends the caller's session `id` (the current one included).
    ///
    /// # Errors
    /// `NotFound` when `id` is not an active session of the caller (another user's alike);
    /// `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(
        &self,
        principal: &Principal,
        id: SessionId,
        request: &RequestInfo,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        if !core.ports.sessions.revoke(principal.user_id, id).await? {
            return Err(AuthError::NotFound);
        }
        core.forget_sessions([id]).await;
        core.record(
            vec![user_event(
                "session.revoked",
                Some(principal.user_id),
                true,
                request,
                json!({ "sessionId": id.to_string(), "current": id == principal.session_id }),
            )],
            vec![],
        )
        .await
    }
}

/// Ends every session of the caller.
pub struct RevokeAllSessions {
    core: Arc<AuthCore>,
}

impl RevokeAllSessions {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Ends every session of the caller, the current one included.
    ///
    /// # Errors
    /// `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(
        &self,
        principal: &Principal,
        request: &RequestInfo,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        let ended = core.end_sessions(principal.user_id, None).await?;
        core.record(
            vec![user_event(
                "session.revoked",
                Some(principal.user_id),
                true,
                request,
                json!({ "all": true, "count": ended }),
            )],
            vec![],
        )
        .await
    }
}
