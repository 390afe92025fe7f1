//! `ApiKey`: a credential a user makes for a program, allowed only the routes its `Scope`s
//! name (API.md "scopes"); `NewApiKey`, what making one takes; `ApiKeyChange`, what an update
//! may change.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{ApiKeyId, SecretDigest, UserId};

/// The longest key name kept, in characters.
pub const API_KEY_NAME_LIMIT: usize = 100;

/// What a key may do. `All` (`*`) grants every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `user:read`: the account and its sessions.
    UserRead,
    /// `2fa:read`: the second factors, the backup-code count and the trusted devices.
    TwoFactorRead,
    /// `2fa:write`: every other second-factor route of the key's user.
    TwoFactorWrite,
    /// `webhooks:read`: the webhook endpoints, their deliveries and the event catalogue.
    WebhooksRead,
    /// `webhooks:write`: every other webhook route.
    WebhooksWrite,
    /// `audit:read`: the user's audit trail.
    AuditRead,
    /// `*`: all of these.
    All,
}

impl Scope {
    /// Every scope, in the order shown.
    pub const ALL: [Self; 7] = [
        Self::UserRead,
        Self::TwoFactorRead,
        Self::TwoFactorWrite,
        Self::WebhooksRead,
        Self::WebhooksWrite,
        Self::AuditRead,
        Self::All,
    ];

    /// The written name (`2fa:read`, `*`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserRead => "user:read",
            Self::TwoFactorRead => "2fa:read",
            Self::TwoFactorWrite => "2fa:write",
            Self::WebhooksRead => "webhooks:read",
            Self::WebhooksWrite => "webhooks:write",
            Self::AuditRead => "audit:read",
            Self::All => "*",
        }
    }

    /// The scope written `name`, exactly as [`Scope::as_str`] spells it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    /// Whether holding `self` allows a route that requires `required`.
    pub fn grants(self, required: Self) -> bool {
        self == Self::All || self == required
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes written `text` as [`scopes_text`] writes them (space-separated), ignoring names
/// that are not scopes; the stored form.
pub fn parse_scopes(text: &str) -> Vec<Scope> {
    normalized_scopes(text.split_whitespace().filter_map(Scope::parse))
}

/// `scopes` space-separated, in the order of [`Scope::ALL`]; the stored form.
pub fn scopes_text(scopes: &[Scope]) -> String {
    normalized_scopes(scopes.iter().copied())
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `scopes` sorted as [`Scope::ALL`] orders them, each once.
pub fn normalized_scopes(scopes: impl IntoIterator<Item = Scope>) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = scopes.into_iter().collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

/// An API key as an `ApiKeyRepository` stores it (less its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's identity.
    pub id: ApiKeyId,
    /// Whose key it is.
    pub user_id: UserId,
    /// The name its owner gave it.
    pub name: String,
    /// `tfa_` and the first 8 characters of the key after it (changes when it is rotated).
    pub prefix: String,
    /// What it may do, as [`normalized_scopes`] orders them.
    pub scopes: Vec<Scope>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When a request last authenticated with it (kept to the minute), if ever.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key authenticates at `now`: not revoked and not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires_at| now < expires_at)
    }

    /// Whether the key allows a route that requires `required`.
    pub fn grants(&self, required: Scope) -> bool {
        self.scopes.iter().any(|scope| scope.grants(required))
    }
}

/// What making a key takes. The repository stamps `created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The new key's identity.
    pub id: ApiKeyId,
    /// Whose key it is.
    pub user_id: UserId,
    /// Its name.
    pub name: String,
    /// Its shown prefix.
    pub prefix: String,
    /// The SHA-256 of the key (the key itself is never stored).
    pub key_hash: SecretDigest,
    /// Its scopes, normalized.
    pub scopes: Vec<Scope>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What an update changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyChange {
    /// A new name.
    pub name: Option<String>,
    /// New scopes, normalized.
    pub scopes: Option<Vec<Scope>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_parses_from_its_name() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("2FA:READ"), None);
        assert_eq!(Scope::parse("admin"), None);
    }

    #[test]
    fn only_the_same_scope_or_the_wildcard_grants() {
        assert!(Scope::All.grants(Scope::AuditRead));
        assert!(Scope::TwoFactorRead.grants(Scope::TwoFactorRead));
        assert!(!Scope::TwoFactorWrite.grants(Scope::TwoFactorRead));
        assert!(!Scope::TwoFactorRead.grants(Scope::TwoFactorWrite));
        assert!(!Scope::UserRead.grants(Scope::All));
    }

    #[test]
    fn the_stored_form_round_trips_in_one_order() {
        let scopes = [Scope::AuditRead, Scope::UserRead, Scope::AuditRead];
        assert_eq!(scopes_text(&scopes), "user:read audit:read");
        assert_eq!(
            parse_scopes("audit:read  user:read"),
            vec![Scope::UserRead, Scope::AuditRead]
        );
    }
}
