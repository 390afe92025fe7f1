//! The `ChallengeStore` port: short-lived entries shared by every instance — login challenges
//! and the hashes of pending SMS and e-mail codes — each with a failure counter, consumed by
//! one atomic conditional delete.

use std::time::Duration;

use async_trait::async_trait;

use crate::PortError;

/// A live entry: its value and how many wrong answers it has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// What was put.
    pub value: String,
    /// Wrong answers recorded by [`ChallengeStore::fail`] since it was put.
    pub failures: u32,
}

/// Where challenges and pending codes live (Redis with TTLs, shared by every instance; or
/// the process's memory for a single instance).
///
/// An entry is *live* from its `put` until its time to live runs out or it is taken or
/// removed. Keys are chosen by the caller (they carry no secret: a challenge is keyed by its
/// token's SHA-256); the adapter may prefix them.
///
/// # Errors
/// Every method answers `PortError::Unavailable` when the store cannot be reached in time
/// (callers answer 503 at once) and `PortError::Unexpected` for anything else.
#[async_trait]
pub trait ChallengeStore: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl`, with no failures, replacing any entry there.
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), PortError>;

    /// The live entry under `key`, if any, changing nothing.
    async fn get(&self, key: &str) -> Result<Option<StoredEntry>, PortError>;

    /// Removes the live entry under `key` if its value is `expected` and it has fewer than
    /// `max_failures` failures; answers whether it did. One atomic conditional delete: of any
    /// number of concurrent takes of one entry, over any number of processes, at most one
    /// answers `true`.
    async fn take(&self, key: &str, expected: &str, max_failures: u32) -> Result<bool, PortError>;

    /// Counts one wrong answer against the live entry under `key` and answers its failures
    /// now; `None` when no entry is live there. Atomic: concurrent failures are all counted.
    /// The entry keeps its time to live.
    async fn fail(&self, key: &str) -> Result<Option<u32>, PortError>;

    /// Removes the entry under `key`, if any.
    async fn remove(&self, key: &str) -> Result<(), PortError>;
}
