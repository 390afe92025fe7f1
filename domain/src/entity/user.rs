//! `User`: an account, as stored and as the `/me` endpoint shows it (less the password hash),
//! with its `Role`; and `NewUser`, what creating one takes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EmailAddress, PasswordHash, UserId, Username};

/// What an account may do: every account is a `User`; an `Admin` may also manage accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An ordinary account.
    #[default]
    User,
    /// An administrator.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 2] = [Self::User, Self::Admin];

    /// The stored and shown name: `user` or `admin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    /// The role named `name` (exactly as [`Role::as_str`] spells it), if any.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "user" => Some(Self::User),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account as a `UserRepository` stores it.
///
/// The e-mail address and the username are kept as given; each is unique among accounts by
/// its canonical (lower-case) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account's identity.
    pub id: UserId,
    /// The e-mail address, as given at sign-up.
    pub email: EmailAddress,
    /// The username, as given at sign-up.
    pub username: Username,
    /// The password's hash (PHC string).
    pub password_hash: PasswordHash,
    /// What the account may do.
    pub role: Role,
    /// Whether the owner proved they read the e-mail address.
    pub email_verified: bool,
    /// Whether the account may sign in (an admin may deactivate it).
    pub is_active: bool,
    /// Whether the account has an enabled second factor (so a login needs it).
    pub two_factor_enabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When a stored field last changed.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// Whether the account is an administrator.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What creating an account takes: everything but the timestamps, which the repository stamps
/// from its clock. The id comes from the caller (`SecretGenerator::uuid_v4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The new account's identity.
    pub id: UserId,
    /// The e-mail address, as given.
    pub email: EmailAddress,
    /// The username, as given.
    pub username: Username,
    /// The password's hash (PHC string).
    pub password_hash: PasswordHash,
    /// The account's role.
    pub role: Role,
    /// Whether the e-mail address is already verified.
    pub email_verified: bool,
    /// Whether the account may sign in.
    pub is_active: bool,
}

impl NewUser {
    /// An active `User`-role account with an unverified e-mail address: a sign-up.
    pub fn new(
        id: UserId,
        email: EmailAddress,
        username: Username,
        password_hash: PasswordHash,
    ) -> Self {
        Self {
            id,
            email,
            username,
            password_hash,
            role: Role::User,
            email_verified: false,
            is_active: true,
        }
    }

    /// The stored account this becomes, created (and last updated) at `now`.
    pub fn into_user(self, now: DateTime<Utc>) -> User {
        User {
            id: self.id,
            email: self.email,
            username: self.username,
            password_hash: self.password_hash,
            role: self.role,
            email_verified: self.email_verified,
            is_active: self.is_active,
            two_factor_enabled: false,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(role.to_string(), role.as_str());
        }
    }

    #[test]
    fn an_unknown_or_differently_cased_role_name_is_rejected() {
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn a_sign_up_is_an_active_unverified_user() {
        let new = NewUser::new(
            UserId::from_uuid(uuid::Uuid::from_u128(7)),
            EmailAddress::parse("Jane@Example.com").unwrap(),
            Username::parse("Jane").unwrap(),
            PasswordHash::from_phc("$argon2id$fake".to_owned()),
        );
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        let user = new.into_user(now);
        assert_eq!(user.role, Role::User);
        assert!(!user.is_admin());
        assert!(!user.email_verified);
        assert!(user.is_active);
        assert_eq!((user.created_at, user.updated_at), (now, now));
        assert_eq!(user.email.as_str(), "Jane@Example.com");
    }

    #[test]
    fn a_role_serializes_as_its_lowercase_name() {
        assert_eq!(serde_json::to_value(Role::Admin).unwrap(), "admin");
    }
}
