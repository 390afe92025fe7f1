//! `SeededSecretGenerator`: a repeatable `SecretGenerator` for tests (never for production).

use std::sync::atomic::{AtomicU64, Ordering};

use twofa_domain::SecretGenerator;

/// SplitMix64 over an atomic counter: the same seed gives the same bytes, in the same order,
/// and concurrent callers never get the same block. Predictable by design: tests only.
#[derive(Debug)]
pub struct SeededSecretGenerator {
    state: AtomicU64,
}

impl SeededSecretGenerator {
    /// A generator whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    fn next_u64(&self) -> u64 {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl SecretGenerator for SeededSecretGenerator {
    fn fill_bytes(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_repeats_the_same_bytes() {
        let a: [u8; 20] = SeededSecretGenerator::new(7).bytes();
        let b: [u8; 20] = SeededSecretGenerator::new(7).bytes();
        assert_eq!(a, b);
    }

    #[test]
    fn successive_draws_differ() {
        let generator = SeededSecretGenerator::new(7);
        let a: [u8; 16] = generator.bytes();
        let b: [u8; 16] = generator.bytes();
        assert_ne!(a, b);
    }

    #[test]
    fn different_seeds_differ() {
        let a: [u8; 16] = SeededSecretGenerator::new(1).bytes();
        let b: [u8; 16] = SeededSecretGenerator::new(2).bytes();
        assert_ne!(a, b);
    }
}
