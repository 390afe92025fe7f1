//! `Ed25519TokenSigner`: the `TokenSigner` port over jsonwebtoken (EdDSA, Ed25519 keys), with
//! one signing key and any number of verification-only keys, each known by its `kid`.
//!
//! Tokens are verified by jsonwebtoken. They are signed here with the parsed key held (the
//! compact JWS form jsonwebtoken writes, RFC 7515 §7.1): jsonwebtoken parses its key again for
//! every signature, which doubled the cost of signing.

mod key_file;
mod key_material;

use std::fmt;

use anyhow::Context as _;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::Signer as _;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use twofa_domain::{AccessClaims, SessionId, TokenError, TokenSigner, UserId};
use uuid::Uuid;

pub use key_file::load_or_generate_signing_key;
pub use key_material::{generate_signing_key_pem, public_key_pem};

/// How far past `exp` a token is still accepted (clock skew between processes).
const EXPIRY_LEEWAY: TimeDelta = TimeDelta::seconds(5);

/// Longer than any token this signer issues by far; refused before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Signs access tokens with one Ed25519 key and verifies them with that key or any of the
/// verification-only keys, picked by the header's `kid` (the key's RFC 7638 thumbprint).
///
/// Rotation without downtime: start every process with the new signing key and the old key's
/// public PEM (or the old PEM itself) in the verification keys; drop the old key once the
/// tokens it signed have expired.
pub struct Ed25519TokenSigner {
    issuer: String,
    signing_kid: String,
    signing_key: ed25519_dalek::SigningKey,
    /// The first part of every token: the protected header (`alg`, `kid`, `typ`), encoded.
    header_part: String,
    /// The signing key's public half first, then the verification-only keys, without repeats.
    keys: Vec<PublicKey>,
}

/// A key that verifies tokens.
struct PublicKey {
    kid: String,
    x: String,
    decoding_key: DecodingKey,
}

impl PublicKey {
    fn new(key: &ed25519_dalek::VerifyingKey) -> anyhow::Result<Self> {
        let x = key_material::jwk_x(key);
        Ok(Self {
            kid: key_material::kid(&x),
            decoding_key: DecodingKey::from_ed_components(&x)
                .context("building an Ed25519 decoding key")?,
            x,
        })
    }
}

impl Ed25519TokenSigner {
    /// A signer for tokens whose `iss` is `issuer` (`server.public_url`).
    ///
    /// `signing_key_pem` is an Ed25519 private key in PKCS#8 PEM; each of
    /// `verification_key_pems` an Ed25519 public key in SPKI PEM (`PUBLIC KEY`) or a retired
    /// private key (`PRIVATE KEY`, only its public half is kept).
    ///
    /// # Errors
    /// A PEM that is not such a key (the message says which one, never its contents).
    pub fn new<I>(
        signing_key_pem: &str,
        verification_key_pems: I,
        issuer: impl Into<String>,
    ) -> anyhow::Result<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let signing_key = key_material::parse_private_key(signing_key_pem)
            .context("the token signing key is invalid")?;
        let signing = PublicKey::new(&signing_key.verifying_key())?;
        let signing_kid = signing.kid.clone();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signing_kid.clone());
        let header_part = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&header).context("writing the token header")?);
        let mut keys = vec![signing];
        for (index, pem) in verification_key_pems.into_iter().enumerate() {
            let key = key_material::parse_verification_key(pem.as_ref())
                .with_context(|| format!("token verification key #{} is invalid", index + 1))?;
            let key = PublicKey::new(&key)?;
            if keys.iter().all(|known| known.kid != key.kid) {
                keys.push(key);
            }
        }
        Ok(Self {
            issuer: issuer.into(),
            signing_kid,
            signing_key,
            header_part,
            keys,
        })
    }

    /// The `kid` new tokens are signed under.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The `kid` of every key that verifies tokens, the signing key's first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.kid.as_str())
    }

    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::EdDSA);
        // `exp` is compared with the caller's `now` below; jsonwebtoken would read the clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation
    }
}

impl fmt::Debug for Ed25519TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519TokenSigner")
            .field("issuer", &self.issuer)
            .field("signing_kid", &self.signing_kid)
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The payload as written in the token.
#[derive(Serialize, Deserialize)]
struct WireClaims {
    iss: String,
    sub: Uuid,
    sid: Uuid,
    amr: Vec<String>,
    iat: i64,
    exp: i64,
    jti: String,
}

impl TokenSigner for Ed25519TokenSigner {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let wire = WireClaims {
            iss: self.issuer.clone(),
            sub: claims.subject.as_uuid(),
            sid: claims.session.as_uuid(),
            amr: claims.amr.clone(),
            iat: claims.issued_at.timestamp(),
            exp: claims.expires_at.timestamp(),
            jti: claims.token_id.clone(),
        };
        let payload = serde_json::to_vec(&wire)
            .context("signing an access token")
            .map_err(TokenError::Unexpected)?;
        let mut token = format!("{}.{}", self.header_part, URL_SAFE_NO_PAD.encode(payload));
        let signature = self.signing_key.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        // Only EdDSA, and no extension this code does not understand (RFC 7515 §4.1.11).
        if header.alg != Algorithm::EdDSA || header.crit.is_some() {
            return Err(TokenError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.iter().find(|key| key.kid == kid))
            .ok_or(TokenError::Invalid)?;
        let wire = jsonwebtoken::decode::<WireClaims>(token, &key.decoding_key, &self.validation())
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if wire.iss != self.issuer {
            return Err(TokenError::Invalid);
        }
        let issued_at = DateTime::from_timestamp(wire.iat, 0).ok_or(TokenError::Invalid)?;
        let expires_at = DateTime::from_timestamp(wire.exp, 0).ok_or(TokenError::Invalid)?;
        // No limit past the end of time: such a token is far from expiring, not expired.
        if expires_at
            .checked_add_signed(EXPIRY_LEEWAY)
            .is_some_and(|limit| now > limit)
        {
            return Err(TokenError::Expired);
        }
        Ok(AccessClaims {
            subject: UserId::from_uuid(wire.sub),
            session: SessionId::from_uuid(wire.sid),
            amr: wire.amr,
            issued_at,
            expires_at,
            token_id: wire.jti,
        })
    }

    fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": key.x,
                    "kid": key.kid,
                    "use": "sig",
                    "alg": "EdDSA",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}
