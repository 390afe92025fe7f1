//! The `SecretCipher` port: encryption of the secrets the service must read back (TOTP
//! secrets, webhook signing secrets) under a key ring with key ids, each bound to its row by
//! associated data; and the keyed digests of secrets it only needs to recognise (backup
//! codes, one-time codes).

use std::fmt;

use zeroize::Zeroizing;

use crate::SecretDigest;

/// A secret encrypted under the key `key_id`. `ciphertext` is whatever the adapter needs to
/// open it again (for AES-256-GCM: nonce, ciphertext and tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// Which key of the ring sealed it.
    pub key_id: String,
    /// The sealed bytes.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field(
                "ciphertext",
                &format_args!("[{} bytes]", self.ciphertext.len()),
            )
            .finish()
    }
}

/// Why a secret could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// It was sealed under a key the ring no longer holds.
    #[error("the secret was sealed under key {0}, which is not configured")]
    UnknownKey(String),
    /// The ciphertext, or its associated data, was altered (or belongs to another row).
    #[error("the sealed secret does not authenticate")]
    Corrupt,
}

/// Encrypts and decrypts stored secrets, and computes keyed digests.
///
/// Implementations MUST seal under the current key, open under any key of the ring (the
/// current one and the previous ones kept for rotation), refuse a ciphertext opened with
/// other associated data than it was sealed with, and never return the same nonce twice for
/// one key.
pub trait SecretCipher: Send + Sync + 'static {
    /// `plaintext` sealed under the current key, bound to `associated` (a row id).
    fn seal(&self, plaintext: &[u8], associated: &[u8]) -> SealedSecret;

    /// The plaintext of `sealed`, if it was sealed by a key of the ring with `associated`.
    ///
    /// # Errors
    /// `UnknownKey` for a key the ring does not hold; `Corrupt` when the bytes or the
    /// associated data do not authenticate.
    fn open(
        &self,
        sealed: &SealedSecret,
        associated: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CipherError>;

    /// The id of the key new secrets are sealed under.
    fn current_key_id(&self) -> &str;

    /// HMAC-SHA-256 digests of `data` for `purpose` (a domain-separation label), one per key
    /// of the ring, the current key's first: store the first, look up by all of them (a
    /// rotation keeps earlier digests recognisable).
    fn digests(&self, purpose: &str, data: &[u8]) -> Vec<SecretDigest>;

    /// The current key's digest of `data` for `purpose`: what is stored (the first of
    /// [`SecretCipher::digests`]).
    fn digest(&self, purpose: &str, data: &[u8]) -> SecretDigest;
}
