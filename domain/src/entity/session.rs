//! `Session`: one sign-in of a user, as a `SessionRepository` keeps it (its id is an access
//! token's `sid`, stable across refreshes); `NewSession`, what starting one takes; and
//! `RefreshTokenHash`, the only form in which a refresh token is stored.

use std::{fmt, net::IpAddr};

use chrono::{DateTime, Utc};

use crate::{SessionId, UserId};

/// The longest user agent a session keeps, in characters; a longer one is cut to this length.
pub const SESSION_USER_AGENT_LIMIT: usize = 512;

/// The SHA-256 digest of an opaque refresh token: what a `SessionRepository` stores and looks
/// tokens up by. The caller hashes (a fast hash is right for 256-bit random tokens); the
/// token itself is never stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefreshTokenHash([u8; 32]);

impl RefreshTokenHash {
    /// Wraps a SHA-256 digest.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RefreshTokenHash {
    /// The first four bytes only: enough to tell hashes apart in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RefreshTokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A session as a `SessionRepository` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's identity: the access tokens' `sid`, the same across refreshes.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// How the user authenticated (RFC 8176 `amr`): `["pwd"]`, `["pwd", "mfa", "otp"]`, …
    pub amr: Vec<String>,
    /// The client's address at sign-in, if known.
    pub ip: Option<IpAddr>,
    /// The client's user agent at sign-in (at most [`SESSION_USER_AGENT_LIMIT`] characters).
    pub user_agent: Option<String>,
    /// When the session started.
    pub created_at: DateTime<Utc>,
    /// When a refresh token of it was last rotated (at first, `created_at`).
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless refreshed (each rotation moves it).
    pub expires_at: DateTime<Utc>,
    /// When it was revoked (sign-out, reuse of a rotated token, an admin), if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether the session is usable at `now`: not revoked and not yet expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What starting a session takes; the repository stamps the timestamps from its clock. The id
/// comes from the caller (`SecretGenerator::uuid_v4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The new session's identity.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// How the user authenticated.
    pub amr: Vec<String>,
    /// The client's address, if known.
    pub ip: Option<IpAddr>,
    /// The client's user agent, if sent; cut to [`SESSION_USER_AGENT_LIMIT`] characters.
    pub user_agent: Option<String>,
    /// When the session ends unless refreshed.
    pub expires_at: DateTime<Utc>,
}

impl NewSession {
    /// The stored session this becomes, created (and last used) at `now`; the user agent is
    /// cut to [`SESSION_USER_AGENT_LIMIT`] characters.
    pub fn into_session(self, now: DateTime<Utc>) -> Session {
        Session {
            id: self.id,
            user_id: self.user_id,
            amr: self.amr,
            ip: self.ip,
            user_agent: self
                .user_agent
                .map(|agent| agent.chars().take(SESSION_USER_AGENT_LIMIT).collect()),
            created_at: now,
            last_used_at: now,
            expires_at: self.expires_at,
            revoked_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn new_session(user_agent: Option<String>) -> NewSession {
        NewSession {
            id: SessionId::from_uuid(uuid::Uuid::from_u128(1)),
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(2)),
            amr: vec!["pwd".to_owned()],
            ip: Some("203.0.113.7".parse().unwrap()),
            user_agent,
            expires_at: now() + TimeDelta::days(30),
        }
    }

    #[test]
    fn a_new_session_is_active_until_it_expires() {
        let session = new_session(None).into_session(now());
        assert_eq!((session.created_at, session.last_used_at), (now(), now()));
        assert!(session.is_active(now()));
        assert!(session.is_active(now() + TimeDelta::days(30) - TimeDelta::seconds(1)));
        assert!(!session.is_active(now() + TimeDelta::days(30)));
    }

    #[test]
    fn a_revoked_session_is_not_active() {
        let session = Session {
            revoked_at: Some(now()),
            ..new_session(None).into_session(now())
        };
        assert!(!session.is_active(now()));
    }

    #[test]
    fn a_long_user_agent_is_cut_to_the_limit_in_characters() {
        let long = "é".repeat(SESSION_USER_AGENT_LIMIT + 10);
        let session = new_session(Some(long)).into_session(now());
        let kept = session.user_agent.unwrap();
        assert_eq!(kept.chars().count(), SESSION_USER_AGENT_LIMIT);
    }

    #[test]
    fn a_refresh_token_hash_shows_only_a_prefix() {
        let hash = RefreshTokenHash::from_bytes([0xab; 32]);
        assert_eq!(format!("{hash:?}"), "RefreshTokenHash(abababab…)");
        assert_eq!(hash.as_bytes(), &[0xab; 32]);
    }
}
