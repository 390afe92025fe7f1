//! The `DeviceRepository` port: trusted devices, kept only under their token's hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{DeviceId, NewTrustedDevice, PortError, SecretDigest, TrustedDevice, UserId};

/// Where trusted devices are kept. A device is *live* while the clock's time is before its
/// `expires_at`.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else.
#[async_trait]
pub trait DeviceRepository: Send + Sync + 'static {
    /// Stores a newly trusted device.
    async fn add(&self, device: NewTrustedDevice) -> Result<(), PortError>;

    /// The user's live device whose token hashes to `token_hash`, with its `last_used_at` set
    /// to the clock's time; `None` for an unknown, expired or revoked token, or another
    /// user's.
    async fn use_token(
        &self,
        user_id: UserId,
        token_hash: &SecretDigest,
    ) -> Result<Option<TrustedDevice>, PortError>;

    /// The user's live devices, newest first.
    async fn list(&self, user_id: UserId) -> Result<Vec<TrustedDevice>, PortError>;

    /// Ends the user's device `id`; answers whether a live one existed.
    async fn revoke(&self, user_id: UserId, id: DeviceId) -> Result<bool, PortError>;

    /// Ends every device of the user; answers how many live ones there were.
    async fn revoke_all(&self, user_id: UserId) -> Result<u64, PortError>;

    /// Deletes every device that expired before `before`; answers how many.
    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError>;
}
