//! The `BackupCodeRepository` port: a user's backup codes, kept only as keyed hashes, each
//! consumed once by one atomic conditional write.

use async_trait::async_trait;

use crate::{PortError, SecretDigest, UserId};

/// Where backup codes are kept.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time and
/// `PortError::Unexpected` for anything else.
#[async_trait]
pub trait BackupCodeRepository: Send + Sync + 'static {
    /// Replaces every code of the user (used or not) with `hashes`, all unused.
    async fn replace(&self, user_id: UserId, hashes: Vec<SecretDigest>) -> Result<(), PortError>;

    /// Uses the user's unused code whose hash is one of `candidates` (the code's keyed hash
    /// under the current key and under each previous key): marks it used and answers `true`;
    /// answers `false`, changing nothing, when none matches.
    ///
    /// One atomic conditional write: of any number of concurrent uses of one code, over any
    /// number of handles or processes, exactly one answers `true`.
    async fn consume(
        &self,
        user_id: UserId,
        candidates: &[SecretDigest],
    ) -> Result<bool, PortError>;

    /// How many unused codes the user has (0 when none were ever issued).
    async fn remaining(&self, user_id: UserId) -> Result<u32, PortError>;

    /// Deletes every code of the user; answers how many.
    async fn remove_all(&self, user_id: UserId) -> Result<u64, PortError>;
}
