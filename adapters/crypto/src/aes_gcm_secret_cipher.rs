//! `AesGcmSecretCipher`: the `SecretCipher` port over AES-256-GCM and HMAC-SHA-256, under a
//! ring of keys (`secrets.key`, then `secrets.previous_keys`) each known by its key id.
//!
//! From each 32-byte ring key `K` two kinds of key are derived, so that `K` itself only ever
//! keys HMAC-SHA-256 over distinct labels:
//! - the AES-256-GCM key, `HMAC(K, "twofa encryption v1")`;
//! - per digest purpose, `HMAC(K, "twofa digest v1:" ‖ purpose)`, which keys the digest
//!   `HMAC(subkey, data)`.
//!
//! A sealed secret is `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)` under the current
//! key, with the caller's associated data (the row's id) authenticated, not stored. Nonces are
//! 96 random bits from the `SecretGenerator`: with a random nonce per seal, a key stays well
//! within AES-GCM's bounds for billions of seals (NIST SP 800-38D §8.3 allows 2^32).

mod cipher_key;
mod key_file;

use std::{fmt, sync::Arc};

use aes_gcm::{
    Aes256Gcm, Key, KeyInit as _, Nonce,
    aead::{Aead as _, Payload, consts::U12},
};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use twofa_domain::{CipherError, SealedSecret, SecretCipher, SecretDigest, SecretGenerator};
use zeroize::Zeroizing;

pub use cipher_key::{CIPHER_KEY_BYTES, CipherKey, CipherKeyError};
pub use key_file::load_or_generate_secrets_key;

/// The bytes of a nonce, at the start of every sealed secret.
const NONCE_BYTES: usize = 12;
/// The bytes of the authentication tag, at the end of every sealed secret.
const TAG_BYTES: usize = 16;
/// The label the encryption key is derived under.
const ENCRYPTION_LABEL: &[u8] = b"twofa encryption v1";
/// What a digest purpose's label starts with.
const DIGEST_LABEL: &[u8] = b"twofa digest v1:";

/// Seals under the current key, opens under any key of the ring, and digests with each.
pub struct AesGcmSecretCipher {
    /// The current key first, then the previous ones, without repeats.
    ring: Vec<RingKey>,
    ids: Arc<dyn SecretGenerator>,
}

/// A key of the ring, ready to use.
struct RingKey {
    id: String,
    aead: Aes256Gcm,
    /// The ring key itself: the digest subkeys are derived from it per purpose.
    root: CipherKey,
}

impl RingKey {
    fn new(root: CipherKey) -> Self {
        let encryption = Zeroizing::new(hmac_sha256(root.as_bytes(), &[ENCRYPTION_LABEL]));
        Self {
            id: root.id(),
            aead: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*encryption)),
            root,
        }
    }

    fn digest(&self, purpose: &str, data: &[u8]) -> SecretDigest {
        let subkey = Zeroizing::new(hmac_sha256(
            self.root.as_bytes(),
            &[DIGEST_LABEL, purpose.as_bytes()],
        ));
        SecretDigest::from_bytes(hmac_sha256(&subkey, &[data]))
    }
}

impl AesGcmSecretCipher {
    /// A cipher sealing under `current` and opening under it or any of `previous` (keys kept
    /// while a rotation re-encrypts what they sealed; a repeat of a key is ignored), its
    /// nonces drawn from `ids`.
    pub fn new(
        current: CipherKey,
        previous: impl IntoIterator<Item = CipherKey>,
        ids: Arc<dyn SecretGenerator>,
    ) -> Self {
        let mut ring = vec![RingKey::new(current)];
        for key in previous {
            if ring.iter().all(|known| known.root != key) {
                ring.push(RingKey::new(key));
            }
        }
        Self { ring, ids }
    }

    /// The ids of the ring's keys, the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.ring.iter().map(|key| key.id.as_str())
    }

    fn current(&self) -> &RingKey {
        // `new` always puts the current key first.
        &self.ring[0]
    }
}

impl fmt::Debug for AesGcmSecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesGcmSecretCipher")
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SecretCipher for AesGcmSecretCipher {
    fn seal(&self, plaintext: &[u8], associated: &[u8]) -> SealedSecret {
        let key = self.current();
        let mut nonce = [0_u8; NONCE_BYTES];
        self.ids.fill_bytes(&mut nonce);
        let mut ciphertext = Vec::with_capacity(NONCE_BYTES + plaintext.len() + TAG_BYTES);
        ciphertext.extend_from_slice(&nonce);
        let payload = Payload {
            msg: plaintext,
            aad: associated,
        };
        if let Ok(sealed) = key.aead.encrypt(&Nonce::<U12>::from(nonce), payload) {
            ciphertext.extend_from_slice(&sealed);
        } else {
            // Only a plaintext over 64 GiB or associated data over 2^61 bytes is refused; what
            // is left (a nonce alone) never opens, rather than a secret being kept in clear.
            tracing::error!(
                plaintext_bytes = plaintext.len(),
                "AES-GCM refused to seal a secret this long; it will not open"
            );
        }
        SealedSecret {
            key_id: key.id.clone(),
            ciphertext,
        }
    }

    fn open(
        &self,
        sealed: &SealedSecret,
        associated: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let key = self
            .ring
            .iter()
            .find(|key| key.id == sealed.key_id)
            .ok_or_else(|| CipherError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.ciphertext.len() < NONCE_BYTES + TAG_BYTES {
            return Err(CipherError::Corrupt);
        }
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CipherError::Corrupt)?;
        let payload = Payload {
            msg: body,
            aad: associated,
        };
        key.aead
            .decrypt(&Nonce::<U12>::from(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| CipherError::Corrupt)
    }

    fn current_key_id(&self) -> &str {
        &self.current().id
    }

    fn digests(&self, purpose: &str, data: &[u8]) -> Vec<SecretDigest> {
        self.ring
            .iter()
            .map(|key| key.digest(purpose, data))
            .collect()
    }

    fn digest(&self, purpose: &str, data: &[u8]) -> SecretDigest {
        self.current().digest(purpose, data)
    }
}

/// HMAC-SHA-256 under a 32-byte key of `parts`, concatenated.
///
/// The key is zero-padded to SHA-256's 64-byte block, which is what HMAC does with any key
/// shorter than a block (RFC 2104 §2), so the fixed-size `KeyInit::new` applies and nothing
/// can fail.
fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = Zeroizing::new([0_u8; 64]);
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new(&(*block).into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests;
