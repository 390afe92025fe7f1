//! The `UserRepository` port: accounts, unique by e-mail address and by username (each
//! case-insensitively), found by id or by the login text, changed field by field, and listed
//! for administrators.

use async_trait::async_trait;

use crate::{NewUser, PasswordHash, PortError, Role, User, UserId};

/// The largest page [`UserRepository::list`] answers; a smaller limit than 1 counts as 1.
pub const USER_LIST_MAX_LIMIT: u32 = 200;

/// `limit` brought into 1–[`USER_LIST_MAX_LIMIT`], as every adapter applies it.
pub fn clamp_user_list_limit(limit: u32) -> u32 {
    limit.clamp(1, USER_LIST_MAX_LIMIT)
}

/// The form of a login text (an e-mail address or a username) compared with the stored
/// canonical forms: trimmed and in lower case, as [`crate::EmailAddress::canonical`] and
/// [`crate::Username::canonical`] make them.
pub fn canonical_login(login: &str) -> String {
    login.trim().to_ascii_lowercase()
}

/// Which unique field a new account collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueField {
    /// Another account has this e-mail address (in any case).
    Email,
    /// Another account has this username (in any case).
    Username,
}

impl UniqueField {
    /// `email` or `username`: the request field to blame.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
        }
    }
}

/// What creating an account may answer.
#[derive(Debug, thiserror::Error)]
pub enum UserRepositoryError {
    /// The e-mail address or the username is taken; nothing was written.
    #[error("the {} is already taken", .0.as_str())]
    Conflict(UniqueField),
    /// The store is unavailable, or something unexpected happened.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Where accounts are kept.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else that is not a business outcome (a corrupt row).
/// `create` answers `UserRepositoryError::Conflict` naming the field when the e-mail address
/// or the username is already taken, compared case-insensitively through their canonical
/// forms; it then writes nothing. Of concurrent creates with one e-mail address (or one
/// username), from any number of handles or processes, exactly one succeeds; the others get
/// the conflict. A duplicate id is `Unexpected` (ids are random UUIDs).
///
/// Every change (`update_password_hash`, `set_*`) sets `updated_at` to the clock's time and
/// answers `false`, changing nothing, when no account has the id.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// Stores a new account, stamping `created_at` and `updated_at` with the clock's time;
    /// returns it as stored.
    async fn create(&self, user: NewUser) -> Result<User, UserRepositoryError>;

    /// The account with `id`, if any.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError>;

    /// The account whose canonical e-mail address or canonical username is
    /// [`canonical_login`]`(login)`: the login field takes either, in any case. A username has
    /// no `@` and an address always has one, so at most one account matches.
    async fn find_by_login(&self, login: &str) -> Result<Option<User>, PortError>;

    /// Replaces the password hash; `false` when no account has `id`.
    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
    ) -> Result<bool, PortError>;

    /// Marks the e-mail address verified or not; `false` when no account has `id`.
    async fn set_email_verified(&self, id: UserId, is_verified: bool) -> Result<bool, PortError>;

    /// Sets whether the account has an enabled second factor (kept in the same transaction
    /// as the factor change, so `/me` reads it with the account); answers whether it exists.
    async fn set_two_factor_enabled(&self, id: UserId, is_enabled: bool)
    -> Result<bool, PortError>;

    /// Activates or deactivates the account; `false` when no account has `id`.
    async fn set_active(&self, id: UserId, is_active: bool) -> Result<bool, PortError>;

    /// Changes the role; `false` when no account has `id`.
    async fn set_role(&self, id: UserId, role: Role) -> Result<bool, PortError>;

    /// Deletes the account; `false` when no account has `id`.
    async fn delete(&self, id: UserId) -> Result<bool, PortError>;

    /// A page of accounts for administrators, newest first (by `created_at`, then by id, both
    /// descending).
    ///
    /// `query`, when given and not blank, keeps the accounts whose e-mail address or username
    /// contains it, ignoring case (`%` and `_` are plain characters). `limit` is clamped to
    /// 1–[`USER_LIST_MAX_LIMIT`]. `after` continues a listing after the account with that id
    /// (the last one of the previous page); when that account no longer exists the page is
    /// empty.
    async fn list(
        &self,
        query: Option<&str>,
        limit: u32,
        after: Option<UserId>,
    ) -> Result<Vec<User>, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_clamped_to_one_through_two_hundred() {
        assert_eq!(clamp_user_list_limit(0), 1);
        assert_eq!(clamp_user_list_limit(50), 50);
        assert_eq!(clamp_user_list_limit(10_000), USER_LIST_MAX_LIMIT);
    }

    #[test]
    fn a_login_is_compared_trimmed_and_in_lower_case() {
        assert_eq!(canonical_login("  Jane@Example.COM "), "jane@example.com");
        assert_eq!(canonical_login("JaneDoe"), "janedoe");
    }

    #[test]
    fn a_conflict_names_the_field() {
        assert_eq!(
            UserRepositoryError::Conflict(UniqueField::Email).to_string(),
            "the email is already taken"
        );
        assert_eq!(UniqueField::Username.as_str(), "username");
    }
}
