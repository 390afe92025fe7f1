//! Ed25519 key material: PEM parsing (PKCS#8 private keys, SPKI public keys), generation from
//! the `SecretGenerator` port, and the public forms a key is published under (JWK `x`, `kid`).

use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use twofa_domain::SecretGenerator;
use zeroize::Zeroizing;

/// The DER of a PKCS#8 v1 `PrivateKeyInfo` for Ed25519 (RFC 8410 §7) up to the 32-byte seed:
/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }`.
const PKCS8_V1_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A new Ed25519 private key, as a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), whose 32-byte
/// seed comes from `ids`. The same format `openssl genpkey -algorithm ed25519` writes.
pub fn generate_signing_key_pem(ids: &dyn SecretGenerator) -> String {
    let mut seed = Zeroizing::new([0_u8; 32]);
    ids.fill_bytes(seed.as_mut());
    private_key_pem(&seed)
}

/// The SPKI PEM (`-----BEGIN PUBLIC KEY-----`) of an Ed25519 private key given as a PKCS#8 PEM:
/// what goes into another deployment's `tokens.verification_keys` when this key is retired.
pub fn public_key_pem(private_key_pem: &str) -> anyhow::Result<String> {
    let verifying_key = parse_private_key(private_key_pem)?.verifying_key();
    verifying_key
        .to_public_key_pem(LineEnding::LF)
        .context("encoding an Ed25519 public key as PEM")
}

/// A PKCS#8 v1 PEM of the private key whose seed is `seed`.
fn private_key_pem(seed: &[u8; 32]) -> String {
    let der = pkcs8_v1_der(seed);
    let body = Zeroizing::new(STANDARD.encode(der.as_slice()));
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.as_str()
    )
}

/// The 48-byte PKCS#8 v1 DER of the private key whose seed is `seed`.
pub(super) fn pkcs8_v1_der(seed: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut der = Zeroizing::new(Vec::with_capacity(
        PKCS8_V1_ED25519_PREFIX.len() + seed.len(),
    ));
    der.extend_from_slice(&PKCS8_V1_ED25519_PREFIX);
    der.extend_from_slice(seed);
    der
}

/// An Ed25519 private key from a PKCS#8 PEM (v1, or v2 with a matching public key).
pub(super) fn parse_private_key(pem: &str) -> anyhow::Result<SigningKey> {
    // The error of the PEM/DER parser names what is wrong, never the key itself.
    SigningKey::from_pkcs8_pem(pem.trim())
        .map_err(|error| anyhow!("not an Ed25519 private key in PKCS#8 PEM: {error}"))
}

/// An Ed25519 public key from an SPKI PEM (`PUBLIC KEY`), or the public half of a PKCS#8 PEM
/// (`PRIVATE KEY`), so a retired signing key can be listed as it is.
pub(super) fn parse_verification_key(pem: &str) -> anyhow::Result<VerifyingKey> {
    let pem = pem.trim();
    if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
        return parse_private_key(pem).map(|key| key.verifying_key());
    }
    VerifyingKey::from_public_key_pem(pem)
        .map_err(|error| anyhow!("not an Ed25519 public key in SPKI PEM: {error}"))
}

/// The JWK `x` of a public key: its 32 raw bytes, base64url without padding (RFC 8037 §2).
pub(super) fn jwk_x(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The `kid` of a public key: its RFC 7638 JWK thumbprint, base64url(SHA-256) of the canonical
/// JWK `{"crv":"Ed25519","kty":"OKP","x":"…"}` (RFC 8037 §A.3). Stable, and any client can
/// recompute it from the JWKS.
pub(super) fn kid(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1 test 1 / RFC 8037 appendix A.
    const SEED: [u8; 32] = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c,
        0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae,
        0x7f, 0x60,
    ];

    #[test]
    fn the_rfc_8037_key_has_the_rfc_8037_x_and_thumbprint() {
        let key = parse_private_key(&private_key_pem(&SEED)).unwrap();
        let x = jwk_x(&key.verifying_key());
        assert_eq!(x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(kid(&x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_public_key_pem_parses_back_to_the_same_key() {
        let private = private_key_pem(&SEED);
        let public = public_key_pem(&private).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(
            parse_verification_key(&public).unwrap(),
            parse_private_key(&private).unwrap().verifying_key()
        );
        assert_eq!(
            parse_verification_key(&private).unwrap(),
            parse_verification_key(&public).unwrap()
        );
    }

    #[test]
    fn other_text_is_not_a_key() {
        assert!(parse_private_key("").is_err());
        assert!(
            parse_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(parse_verification_key("hello").is_err());
    }
}
