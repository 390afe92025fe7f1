//! `ApiKeyToken`: the text of an API key, `tfa_` + 256 random bits in base62 (43 characters) +
//! a CRC-32 checksum of those 43 characters in base62 (6 characters), 53 characters in all.
//! The fixed prefix and the checksum let a secret scanner find keys in code and logs and tell
//! a real one from a look-alike without asking the service; the service checks the checksum
//! before it looks a key up, so a mistyped key costs no database read. Only the key's
//! SHA-256 is stored.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::SecretDigest;

/// What every key begins with.
pub const API_KEY_PREFIX: &str = "tfa_";
/// Base62 digits of the 256-bit random part.
const BODY_LEN: usize = 43;
/// Base62 digits of the checksum.
const CHECKSUM_LEN: usize = 6;
/// Characters of a key's shown `prefix` after `tfa_`.
const SHOWN_LEN: usize = 8;
/// Characters of a whole key.
pub const API_KEY_LENGTH: usize = API_KEY_PREFIX.len() + BODY_LEN + CHECKSUM_LEN;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An API key's text. `Debug` shows only its prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyToken(String);

impl ApiKeyToken {
    /// The key made of 32 random bytes.
    pub fn from_random(bytes: [u8; 32]) -> Self {
        let body = base62(&bytes, BODY_LEN);
        let checksum = base62(&crc32(body.as_bytes()).to_be_bytes(), CHECKSUM_LEN);
        Self(format!("{API_KEY_PREFIX}{body}{checksum}"))
    }

    /// `text` as a key, when it has a key's shape and its checksum holds.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(API_KEY_PREFIX)?;
        if rest.len() != BODY_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let (body, checksum) = rest.split_at(BODY_LEN);
        (base62(&crc32(body.as_bytes()).to_be_bytes(), CHECKSUM_LEN) == checksum)
            .then(|| Self(text.to_owned()))
    }

    /// Whether `text` is meant as an API key (it begins with `tfa_`), valid or not.
    pub fn looks_like(text: &str) -> bool {
        text.starts_with(API_KEY_PREFIX)
    }

    /// The key's text, to show its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest the key is stored and looked up under (its SHA-256).
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::from_bytes(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The part shown in lists: `tfa_` and the first 8 characters after it.
    pub fn shown_prefix(&self) -> String {
        self.0[..API_KEY_PREFIX.len() + SHOWN_LEN].to_owned()
    }
}

impl fmt::Debug for ApiKeyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyToken({}…)", self.shown_prefix())
    }
}

/// `bytes` as a big-endian number in base62, left-padded with `0` to `width` digits (the
/// caller picks a width that holds every value of that many bytes).
fn base62(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = vec![DIGITS[0]; width];
    for slot in digits.iter_mut().rev() {
        let mut remainder = 0_u32;
        for byte in &mut number {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(value / 62).unwrap_or(u8::MAX);
            remainder = value % 62;
        }
        *slot = DIGITS[usize::try_from(remainder).unwrap_or(0)];
    }
    String::from_utf8(digits).unwrap_or_default()
}

/// CRC-32 (IEEE 802.3, the checksum of zip and of GitHub's tokens).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn base62_writes_the_number_in_fixed_width() {
        assert_eq!(base62(&[0, 61], 3), "00z");
        assert_eq!(base62(&[0, 62], 3), "010");
        assert_eq!(base62(&[0xff; 32], BODY_LEN).len(), BODY_LEN);
        assert_ne!(base62(&[0xff; 32], BODY_LEN).as_bytes()[0], b'0');
        assert_eq!(
            base62(&u32::MAX.to_be_bytes(), CHECKSUM_LEN).len(),
            CHECKSUM_LEN
        );
    }

    #[test]
    fn a_key_has_the_documented_shape() {
        let key = ApiKeyToken::from_random([7; 32]);
        assert_eq!(key.expose().len(), API_KEY_LENGTH);
        assert!(key.expose().starts_with("tfa_"));
        assert_eq!(key.shown_prefix(), key.expose()[..12]);
        assert!(!format!("{key:?}").contains(&key.expose()[12..]));
    }

    proptest! {
        #[test]
        fn every_made_key_parses_and_distinct_bytes_make_distinct_keys(
            a in any::<[u8; 32]>(), b in any::<[u8; 32]>(),
        ) {
            let key = ApiKeyToken::from_random(a);
            prop_assert_eq!(ApiKeyToken::parse(key.expose()), Some(key.clone()));
            if a != b {
                prop_assert_ne!(ApiKeyToken::from_random(b), key);
            }
        }

        #[test]
        fn one_changed_character_breaks_the_checksum(
            bytes in any::<[u8; 32]>(), position in 4..API_KEY_LENGTH, digit in 0..62_usize,
        ) {
            let key = ApiKeyToken::from_random(bytes);
            let mut text = key.expose().as_bytes().to_vec();
            prop_assume!(text[position] != DIGITS[digit]);
            text[position] = DIGITS[digit];
            let text = String::from_utf8(text).unwrap();
            prop_assert_eq!(ApiKeyToken::parse(&text), None);
        }
    }

    #[test]
    fn other_shapes_are_refused() {
        let key = ApiKeyToken::from_random([1; 32]);
        for text in [
            "",
            "tfa_",
            &key.expose()[..API_KEY_LENGTH - 1],
            &format!("{}0", key.expose()),
            &key.expose().replacen("tfa_", "tfb_", 1),
            &format!("tfa_{}", "-".repeat(BODY_LEN + CHECKSUM_LEN)),
        ] {
            assert_eq!(ApiKeyToken::parse(text), None, "{text}");
        }
    }
}
