//! The `ApiKeyRepository` port: API keys, kept only under their key's hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{ApiKey, ApiKeyChange, ApiKeyId, NewApiKey, PortError, SecretDigest, UserId};

/// Where API keys are kept. Revoked and expired keys stay (their owner sees them listed) until
/// they are deleted; every method but [`ApiKeyRepository::find_by_hash`] and
/// [`ApiKeyRepository::touch`] answers only the given user's keys.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else (an id or hash already stored).
#[async_trait]
pub trait ApiKeyRepository: Send + Sync + 'static {
    /// Stores a new key, stamped made at the clock's time; answers it.
    async fn add(&self, key: NewApiKey) -> Result<ApiKey, PortError>;

    /// The key whose hash is `key_hash`, whoever's it is and whatever its state.
    async fn find_by_hash(&self, key_hash: &SecretDigest) -> Result<Option<ApiKey>, PortError>;

    /// The user's key `id`, whatever its state.
    async fn get(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, PortError>;

    /// The user's keys, newest first, whatever their state.
    async fn list(&self, user_id: UserId) -> Result<Vec<ApiKey>, PortError>;

    /// Applies `change` to the user's key `id`; answers the key as changed, `None` when the
    /// user has no such key.
    async fn update(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        change: ApiKeyChange,
    ) -> Result<Option<ApiKey>, PortError>;

    /// Replaces the hash and shown prefix of the user's unrevoked key `id` (the old key stops
    /// working); answers the key, `None` when the user has no such unrevoked key.
    async fn rotate(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        key_hash: SecretDigest,
        prefix: String,
    ) -> Result<Option<ApiKey>, PortError>;

    /// Revokes the user's unrevoked key `id` at the clock's time; answers the key, `None` when
    /// the user has no such unrevoked key.
    async fn revoke(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, PortError>;

    /// Deletes the user's key `id`; answers whether one existed.
    async fn delete(&self, user_id: UserId, id: ApiKeyId) -> Result<bool, PortError>;

    /// Sets key `id`'s `last_used_at` to `used_at` when it is unset or before `stale_before`
    /// (so a busy key is written at most once per interval); answers whether it wrote.
    async fn touch(
        &self,
        id: ApiKeyId,
        used_at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, PortError>;
}
