//! `ListSessions`: the signed-in user's active sessions, a page at a time.

use std::sync::Arc;

use twofa_domain::{Session, SessionId, SessionRepository};

use super::{Fault, Principal};

/// One page of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    /// Active sessions, newest first, each with whether it is the caller's.
    pub items: Vec<(Session, bool)>,
    /// The id to continue after, when more remain.
    pub next: Option<SessionId>,
}

/// What listing the caller's sessions takes.
#[derive(Debug, Clone)]
pub struct ListSessionsInput {
    /// The caller.
    pub principal: Principal,
    /// The page size, clamped to 1–200.
    pub limit: u32,
    /// The session to continue after (a previous page's last one).
    pub after: Option<SessionId>,
}

/// Lists the caller's active sessions.
pub struct ListSessions {
    pub(crate) sessions: Arc<dyn SessionRepository>,
}

impl ListSessions {
    /// At most `limit` (1–200) active sessions of the caller, newest first, after the session
    /// `after` when given (a previous page's last one).
    ///
    /// # Errors
    /// A `Fault` from the store.
    #[tracing::instrument(
        name = "list_sessions",
        level = "debug",
        skip_all,
        fields(user = %input.principal.user_id)
    )]
    pub async fn execute(&self, input: ListSessionsInput) -> Result<SessionPage, Fault> {
        let ListSessionsInput {
            principal,
            limit,
            after,
        } = input;
        let limit = usize::try_from(limit.clamp(1, 200)).unwrap_or(200);
        let active = self.sessions.list_active(principal.user_id).await?;
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
            .map(|session| (session.clone(), Some(session.id) == principal.session_id()))
            .collect();
        let next = (rest.len() > limit)
            .then(|| items.last().map(|(session, _)| session.id))
            .flatten();
        Ok(SessionPage { items, next })
    }
}
