//! The `OneTimeTokenRepository` port: the one-time links sent by e-mail (verifying an address,
//! resetting a password), kept only as the SHA-256 of the opaque token and consumed by one
//! atomic conditional write.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{PortError, UserId};

/// What a one-time token proves, and so which link it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// An e-mail verification link (lives 24 hours).
    VerifyEmail,
    /// A password reset link (lives 1 hour).
    ResetPassword,
}

impl TokenPurpose {
    /// Every purpose.
    pub const ALL: [Self; 2] = [Self::VerifyEmail, Self::ResetPassword];

    /// The stored name: `verify_email` or `reset_password`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }

    /// The purpose named `name` (exactly as [`TokenPurpose::as_str`] spells it), if any.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

impl fmt::Display for TokenPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SHA-256 of an opaque one-time token, computed by the caller: the token itself is never
/// stored, so a leaked table cannot be replayed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OneTimeTokenHash([u8; 32]);

impl OneTimeTokenHash {
    /// Wraps a SHA-256 digest.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lower-case hexadecimal digits (the stored form).
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for byte in self.0 {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        text
    }
}

impl fmt::Debug for OneTimeTokenHash {
    /// Only the first 4 bytes: enough to tell hashes apart in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OneTimeTokenHash({}…)", &self.to_hex()[..8])
    }
}

/// What issuing a token takes. The repository stamps `created_at` from its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOneTimeToken {
    /// The SHA-256 of the opaque token sent in the link.
    pub hash: OneTimeTokenHash,
    /// Which link it is.
    pub purpose: TokenPurpose,
    /// Whose account it acts on.
    pub user_id: UserId,
    /// When it stops working (exclusive: at this instant it is already expired).
    pub expires_at: DateTime<Utc>,
}

/// Where one-time tokens are kept.
///
/// A token is *live* while it is unused and the clock's time is before its `expires_at`.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else (a corrupt row; issuing a hash that is already
/// stored, which random tokens never do). An unknown, used, expired or wrong-purpose token is
/// not an error: `consume` answers `None` for each alike.
#[async_trait]
pub trait OneTimeTokenRepository: Send + Sync + 'static {
    /// Stores a new live token. Other live tokens of the same user and purpose stay live (an
    /// earlier link keeps working until used or expired).
    async fn issue(&self, token: NewOneTimeToken) -> Result<(), PortError>;

    /// Uses the token: if one with `hash` exists, has `purpose`, is unused and has not expired
    /// at the clock's time, marks it used and answers its user; otherwise changes nothing and
    /// answers `None`.
    ///
    /// This is one atomic conditional write: of any number of concurrent consumes of one token,
    /// over any number of handles or processes, exactly one answers `Some`.
    async fn consume(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<Option<UserId>, PortError>;

    /// The user of the live token with `hash` and `purpose`, if one exists, changing nothing:
    /// lets a flow refuse an unknown token before paying for expensive work (and lock its
    /// account first), then `consume` it.
    async fn live_owner(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<Option<UserId>, PortError>;

    /// Whether a live token with `hash` and `purpose` exists, changing nothing
    /// ([`OneTimeTokenRepository::live_owner`] found one).
    async fn is_live(
        &self,
        purpose: TokenPurpose,
        hash: &OneTimeTokenHash,
    ) -> Result<bool, PortError> {
        Ok(self.live_owner(purpose, hash).await?.is_some())
    }

    /// Marks every live token of `user_id` with `purpose` used (after a password reset, every
    /// other reset link dies); answers how many there were. Other users' tokens and other
    /// purposes are untouched.
    async fn revoke_all(&self, user_id: UserId, purpose: TokenPurpose) -> Result<u64, PortError>;

    /// Deletes every token that expired before `before` or was used before `before`; answers
    /// how many. Live tokens, and tokens expired or used at or after `before`, are kept.
    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purpose_round_trips_through_its_name() {
        for purpose in TokenPurpose::ALL {
            assert_eq!(TokenPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(TokenPurpose::VerifyEmail.as_str(), "verify_email");
        assert_eq!(TokenPurpose::ResetPassword.to_string(), "reset_password");
        assert_eq!(TokenPurpose::parse("Verify_Email"), None);
    }

    #[test]
    fn a_hash_is_stored_as_lower_case_hex_and_debugged_shortly() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x0f;
        let hash = OneTimeTokenHash::from_bytes(bytes);
        let hex = hash.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.starts_with("ab00"));
        assert!(hex.ends_with("0f"));
        assert_eq!(hash.as_bytes(), &bytes);
        assert_eq!(format!("{hash:?}"), "OneTimeTokenHash(ab000000…)");
    }
}
