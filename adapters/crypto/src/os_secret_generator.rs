//! `OsSecretGenerator`: the `SecretGenerator` port over a CSPRNG seeded by the operating system.

use rand::Rng as _;
use twofa_domain::SecretGenerator;

/// Random bytes from rand's thread-local generator (ChaCha12, seeded and periodically
/// reseeded from the operating system), which is cryptographically secure.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSecretGenerator;

impl SecretGenerator for OsSecretGenerator {
    #[expect(
        clippy::disallowed_methods,
        reason = "the system adapter is the one place that reads the OS-seeded generator"
    )]
    fn fill_bytes(&self, buf: &mut [u8]) {
        rand::rng().fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        let generator = OsSecretGenerator;
        let a: [u8; 32] = generator.bytes();
        let b: [u8; 32] = generator.bytes();
        assert_ne!(a, b);
    }

    #[test]
    fn uuids_are_version_4() {
        assert_eq!(OsSecretGenerator.uuid_v4().get_version_num(), 4);
    }
}
