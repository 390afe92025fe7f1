//! What the account use cases take from a request and hand back: where a request came from,
//! who an access token speaks for, and a signed-in user's tokens.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use twofa_domain::{ApiKeyId, SessionId, User, UserId};

/// Where a request came from, for rate limits, sessions and the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The client address, as `server.trusted_proxies` computes it.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Tripped when the client has been answered without waiting for the work (the request
    /// timeout): a use case then rolls its transaction back instead of committing, so the
    /// client's 503 means nothing changed.
    pub cut_off: CutOff,
    /// The API key the request authenticated with, if one did: the actor of the audit events
    /// it causes.
    pub api_key: Option<ApiKeyId>,
}

/// Whether a request's client was answered before its work finished. The default is never
/// tripped (a job, a test).
#[derive(Debug, Clone, Default)]
pub struct CutOff(Option<Arc<AtomicBool>>);

impl CutOff {
    /// A flag the HTTP layer can trip.
    pub fn armed() -> Self {
        Self(Some(Arc::new(AtomicBool::new(false))))
    }

    /// The client has been answered: the work must not commit from now on.
    pub fn trip(&self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Whether [`CutOff::trip`] was called.
    pub fn is_tripped(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }
}

impl PartialEq for CutOff {
    /// Two flags are alike when both are tripped or neither is.
    fn eq(&self, other: &Self) -> bool {
        self.is_tripped() == other.is_tripped()
    }
}

impl Eq for CutOff {}

/// Who a request speaks for: the user of an access token whose session is live, or of a live
/// API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: UserId,
    /// What authenticated the request.
    pub credential: Credential,
    /// How the user authenticated (empty for an API key).
    pub amr: Vec<String>,
}

impl Principal {
    /// The session of an access token; `None` for an API key.
    pub fn session_id(&self) -> Option<SessionId> {
        match self.credential {
            Credential::Session(id) => Some(id),
            Credential::ApiKey(_) => None,
        }
    }

    /// The API key; `None` for an access token.
    pub fn api_key_id(&self) -> Option<ApiKeyId> {
        match self.credential {
            Credential::ApiKey(id) => Some(id),
            Credential::Session(_) => None,
        }
    }
}

/// What authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this live session.
    Session(SessionId),
    /// This live API key.
    ApiKey(ApiKeyId),
}

/// An access token and a refresh token of one session.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access JWT.
    pub access_token: String,
    /// The opaque refresh token (shown once; stored only as a hash).
    pub refresh_token: String,
    /// The access token's lifetime in whole seconds.
    pub expires_in: u64,
    /// The session both belong to.
    pub session_id: SessionId,
}

impl std::fmt::Debug for TokenPair {
    /// The tokens are secrets: only the session and the lifetime are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("session_id", &self.session_id)
            .finish()
    }
}

/// A signed-in user: the account and a new token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The account.
    pub user: User,
    /// Its tokens.
    pub tokens: TokenPair,
}
