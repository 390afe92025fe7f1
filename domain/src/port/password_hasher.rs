//! The `PasswordHasher` port: slow, salted password hashing (Argon2id) on a bounded pool.

use std::time::Duration;

use async_trait::async_trait;

use crate::Password;

/// A stored password hash in PHC string form (`$argon2id$v=19$m=19456,t=2,p=1$…`); it carries
/// its own parameters, so a hash made under older parameters can be recognised and upgraded.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from storage.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The candidate is not the password.
    Mismatch,
    /// The candidate is the password; `needs_rehash` when the hash was made with parameters
    /// other than the configured ones (hash again and store the new one).
    Match {
        /// The stored hash's parameters are outdated.
        needs_rehash: bool,
    },
}

/// What hashing may answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every worker is busy and the waiting queue is full: answer 503 with `Retry-After`
    /// instead of queueing without bound.
    #[error("the password hashing pool is full")]
    Overloaded {
        /// A hint for `Retry-After`.
        retry_after: Duration,
    },
    /// A stored hash does not parse, or the pool is gone.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Hashes and verifies passwords off the async executor.
///
/// # Errors
/// `HashError::Overloaded` when the pool's queue is full (never waits without bound);
/// `HashError::Unexpected` for an unparsable stored hash.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// A new salted hash of `password` with the configured parameters.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;

    /// Whether `candidate` is the password of `hash`. Takes a plain candidate, not a
    /// `Password`: a login must not apply today's policy to yesterday's password.
    async fn verify(&self, candidate: &str, hash: &PasswordHash)
    -> Result<Verification, HashError>;

    /// Costs what `verify` costs, against a fixed dummy hash, and always mismatches: an
    /// unknown user pays one hash, so timing does not tell unknown from known.
    async fn verify_dummy(&self, candidate: &str) -> Result<(), HashError>;
}
