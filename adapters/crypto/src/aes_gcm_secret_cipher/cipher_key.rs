//! `CipherKey`: one 32-byte key of the secret cipher's ring (`secrets.key`,
//! `secrets.previous_keys`), written as base64 of its bytes, and known by its key id.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use sha2::{Digest as _, Sha256};
use twofa_domain::SecretGenerator;
use zeroize::Zeroizing;

/// The length of a key, in bytes.
pub const CIPHER_KEY_BYTES: usize = 32;

/// What the key id is the SHA-256 of, before the key.
const KEY_ID_DOMAIN: &[u8] = b"twofa key id";

/// A 32-byte key. Its `Debug` form shows only its id; its bytes are wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct CipherKey(Zeroizing<[u8; CIPHER_KEY_BYTES]>);

/// Why text is not a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CipherKeyError {
    /// Not base64 in the standard alphabet with `=` padding (the key's characters are not
    /// repeated in the message).
    #[error(
        "is not base64 (standard alphabet, `=` padding); generate a key with `openssl rand -base64 32`"
    )]
    NotBase64,
    /// Base64, but not of 32 bytes.
    #[error(
        "decodes to {0} bytes, a key is exactly 32; generate one with `openssl rand -base64 32`"
    )]
    WrongLength(usize),
}

impl CipherKey {
    /// The key of these bytes.
    pub fn from_bytes(bytes: [u8; CIPHER_KEY_BYTES]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A new random key from `ids`.
    pub fn generate(ids: &dyn SecretGenerator) -> Self {
        let mut key = Zeroizing::new([0_u8; CIPHER_KEY_BYTES]);
        ids.fill_bytes(key.as_mut());
        Self(key)
    }

    /// The key written in `text`: standard base64 of exactly 32 bytes (surrounding white
    /// space, such as a file's last line end, is ignored).
    ///
    /// # Errors
    /// `NotBase64` or `WrongLength`.
    pub fn from_base64(text: &str) -> Result<Self, CipherKeyError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| CipherKeyError::NotBase64)?,
        );
        let mut key = Zeroizing::new([0_u8; CIPHER_KEY_BYTES]);
        if decoded.len() != CIPHER_KEY_BYTES {
            return Err(CipherKeyError::WrongLength(decoded.len()));
        }
        key.copy_from_slice(&decoded);
        Ok(Self(key))
    }

    /// The key as standard base64 (what `from_base64` reads).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }

    /// The key's id: the first 16 hexadecimal digits of SHA-256(`"twofa key id"` ‖ key).
    /// It names the key in stored secrets without revealing it.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(KEY_ID_DOMAIN)
            .chain_update(self.0.as_ref())
            .finalize();
        digest[..8]
            .iter()
            .fold(String::with_capacity(16), |mut id, byte| {
                use std::fmt::Write as _;
                let _ = write!(id, "{byte:02x}");
                id
            })
    }

    /// The key's bytes.
    pub(super) fn as_bytes(&self) -> &[u8; CIPHER_KEY_BYTES] {
        &self.0
    }
}

impl fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CipherKey({})", self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_base64() {
        let key = CipherKey::from_bytes([7; 32]);
        assert_eq!(key.to_base64().as_str(), STANDARD.encode([7_u8; 32]));
        assert_eq!(CipherKey::from_base64(&key.to_base64()).unwrap(), key);
        assert_eq!(
            CipherKey::from_base64(&format!("  {}\n", key.to_base64().as_str())).unwrap(),
            key,
            "surrounding white space is ignored"
        );
    }

    #[test]
    fn text_that_is_not_base64_of_32_bytes_is_no_key() {
        assert_eq!(
            CipherKey::from_base64("not base64!"),
            Err(CipherKeyError::NotBase64)
        );
        assert_eq!(
            CipherKey::from_base64(&STANDARD.encode([1_u8; 16])),
            Err(CipherKeyError::WrongLength(16))
        );
        assert_eq!(
            CipherKey::from_base64(&STANDARD.encode([1_u8; 33])),
            Err(CipherKeyError::WrongLength(33))
        );
        assert_eq!(
            CipherKey::from_base64(""),
            Err(CipherKeyError::WrongLength(0))
        );
        let unpadded = STANDARD.encode([1_u8; 32]).trim_end_matches('=').to_owned();
        assert_eq!(
            CipherKey::from_base64(&unpadded),
            Err(CipherKeyError::NotBase64)
        );
    }

    #[test]
    fn the_key_id_is_the_start_of_a_domain_separated_sha256() {
        // Python: hashlib.sha256(b"twofa key id" + bytes(32)).hexdigest()[:16]
        assert_eq!(CipherKey::from_bytes([0; 32]).id(), "aa8abd65b953fa56");
        assert_ne!(
            CipherKey::from_bytes([0; 32]).id(),
            CipherKey::from_bytes([1; 32]).id()
        );
    }

    #[test]
    fn the_debug_form_shows_the_id_not_the_key() {
        let key = CipherKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?}");
        assert_eq!(shown, format!("CipherKey({})", key.id()));
        assert!(!shown.contains(key.to_base64().as_str()));
    }
}
