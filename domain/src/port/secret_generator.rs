//! The `SecretGenerator` port: every random value (tokens, codes, ids) comes from it.

use uuid::Uuid;

/// A source of random bytes. The system adapter is the operating system's CSPRNG; the memory
/// adapter is seeded, so tests are repeatable. Implementations MUST fill the whole buffer.
pub trait SecretGenerator: Send + Sync + 'static {
    /// Fills `buf` with random bytes.
    fn fill_bytes(&self, buf: &mut [u8]);

    /// A random (version 4) UUID.
    fn uuid_v4(&self) -> Uuid {
        let mut bytes = [0_u8; 16];
        self.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// `len` random bytes as lower-case hex (`2 * len` characters): lease tokens, nonces.
    fn hex(&self, len: usize) -> String {
        use std::fmt::Write as _;
        let mut bytes = vec![0_u8; len];
        self.fill_bytes(&mut bytes);
        bytes
            .iter()
            .fold(String::with_capacity(len * 2), |mut out, b| {
                let _ = write!(out, "{b:02x}");
                out
            })
    }

    /// `N` random bytes.
    fn bytes<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut bytes = [0_u8; N];
        self.fill_bytes(&mut bytes);
        bytes
    }
}
