//! The opaque tokens of the account flows (refresh tokens, e-mail links): how they are made,
//! recognised and stored. Shared by the use cases and their collaborators; imports none of them.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use twofa_domain::{OneTimeTokenHash, RefreshTokenHash, SecretGenerator};

/// The bytes of every opaque token: 256 bits.
const OPAQUE_TOKEN_BYTES: usize = 32;
/// Their text length: unpadded base64url of 32 bytes.
const OPAQUE_TOKEN_LEN: usize = 43;

/// A new opaque 256-bit token, as unpadded base64url.
pub(crate) fn opaque_token(ids: &dyn SecretGenerator) -> String {
    let mut bytes = [0_u8; OPAQUE_TOKEN_BYTES];
    ids.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `token` has the shape of an opaque token (43 base64url characters), so a malformed
/// one is refused without a lookup.
pub(crate) fn is_opaque_token(token: &str) -> bool {
    token.len() == OPAQUE_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The stored form of a refresh token.
pub(crate) fn refresh_hash(token: &str) -> RefreshTokenHash {
    RefreshTokenHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}

/// The stored form of an e-mail link's token.
pub(crate) fn one_time_hash(token: &str) -> OneTimeTokenHash {
    OneTimeTokenHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opaque_token_has_the_shape_it_is_recognised_by() {
        struct Sevens;
        impl SecretGenerator for Sevens {
            fn fill_bytes(&self, bytes: &mut [u8]) {
                bytes.fill(7);
            }
        }
        let token = opaque_token(&Sevens);
        assert!(is_opaque_token(&token));
        assert!(!is_opaque_token(&token[1..]));
        assert!(!is_opaque_token(&format!("{}=", &token[1..])));
    }

    #[test]
    fn the_stored_forms_are_the_sha256_of_the_token() {
        assert_eq!(
            one_time_hash("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            refresh_hash("abc").as_bytes(),
            one_time_hash("abc").as_bytes()
        );
    }
}
