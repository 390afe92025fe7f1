//! `SecretDigest`: the 32-byte digest under which a short-lived or high-entropy secret is
//! kept (a backup code's keyed hash, a trusted-device token's SHA-256, a one-time code's keyed
//! hash, a login challenge's key), so the secret itself is never stored.

use std::fmt;

/// A 32-byte digest of a secret, computed by the caller. Compared in constant time.
#[derive(Clone, Copy, Eq)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// Wraps a digest.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lower-case hexadecimal digits (the stored form).
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for byte in self.0 {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        text
    }

    /// The digest written as [`SecretDigest::to_hex`] writes it, if `text` is one.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0_u8; 32];
        for (index, pair) in text.as_bytes().chunks_exact(2).enumerate() {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            bytes[index] = u8::try_from(high * 16 + low).ok()?;
        }
        Some(Self(bytes))
    }
}

impl PartialEq for SecretDigest {
    /// Constant time: the comparison does not tell how many leading bytes agree.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for SecretDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for SecretDigest {
    /// Only the first 4 bytes: enough to tell digests apart in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretDigest({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_round_trips_through_its_hex_form() {
        let mut bytes = [0_u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x0f;
        let digest = SecretDigest::from_bytes(bytes);
        assert_eq!(SecretDigest::from_hex(&digest.to_hex()), Some(digest));
        assert!(digest.to_hex().starts_with("ab00"));
        assert_eq!(format!("{digest:?}"), "SecretDigest(ab000000…)");
    }

    #[test]
    fn text_that_is_not_64_hex_digits_is_no_digest() {
        assert_eq!(SecretDigest::from_hex("ab"), None);
        assert_eq!(SecretDigest::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn digests_differing_in_one_byte_are_unequal() {
        let mut other = [7_u8; 32];
        other[31] = 8;
        assert_ne!(
            SecretDigest::from_bytes([7; 32]),
            SecretDigest::from_bytes(other)
        );
        assert_eq!(
            SecretDigest::from_bytes([7; 32]),
            SecretDigest::from_bytes([7; 32])
        );
    }
}
