//! `[hashing]`: the Argon2id cost parameters and the pool of threads that hash.

use std::{num::NonZero, thread};

use serde::Deserialize;

use super::{SettingsError, refuse};

/// The most lanes Argon2 allows (`p`, 2^24 - 1).
const MAX_PARALLELISM: u32 = 0x00FF_FFFF;

/// `hashing.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashingSettings {
    /// Threads that hash; unset, the number of cores (at least 1), counted at start-up.
    #[serde(default = "cores")]
    pub workers: usize,
    /// Hashing requests allowed to wait for a worker; beyond it 503 `overloaded`.
    pub queue: usize,
    /// Argon2id memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// Argon2id time cost (`t`).
    pub iterations: u32,
    /// Argon2id lanes (`p`).
    pub parallelism: u32,
}

impl HashingSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.workers == 0 {
            return refuse(
                "hashing.workers",
                "must be at least 1; leave it unset for one per core",
            );
        }
        if self.queue == 0 {
            return refuse("hashing.queue", "must be at least 1");
        }
        if self.iterations == 0 {
            return refuse("hashing.iterations", "must be at least 1");
        }
        if !(1..=MAX_PARALLELISM).contains(&self.parallelism) {
            return refuse(
                "hashing.parallelism",
                &format!("must be between 1 and {MAX_PARALLELISM}"),
            );
        }
        let least = self.parallelism.saturating_mul(8);
        if self.memory_kib < least {
            return refuse(
                "hashing.memory_kib",
                &format!(
                    "must be at least {least} (Argon2 needs 8 KiB per lane of hashing.parallelism)"
                ),
            );
        }
        Ok(())
    }
}

/// The default of `hashing.workers`: one per core the process may use.
fn cores() -> usize {
    thread::available_parallelism().map_or(1, NonZero::get)
}
