//! The `TokenSigner` port: signs and verifies access tokens (EdDSA JWTs) and publishes the
//! public keys that verify them.

use chrono::{DateTime, Utc};

use crate::UserId;

crate::uuid_id!(
    /// The identity of a session; an access token's `sid`, stable across refreshes.
    SessionId
);

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub`: the user.
    pub subject: UserId,
    /// `sid`: the session.
    pub session: SessionId,
    /// `amr` (RFC 8176): `["pwd"]`, `["pwd", "mfa", "otp"]`, `["pwd", "device"]`, …
    pub amr: Vec<String>,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// `jti`: unique per token.
    pub token_id: String,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT, another algorithm than EdDSA, an unknown `kid`, a bad signature,
    /// a wrong issuer, or missing claims.
    #[error("the token is invalid")]
    Invalid,
    /// Past `exp` (beyond the allowed leeway).
    #[error("the token has expired")]
    Expired,
    /// Signing failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Signs with the current key; verifies with the current and the verification-only keys, so
/// keys rotate without downtime.
///
/// # Errors
/// `TokenError::Invalid` or `TokenError::Expired` from `verify`; never a panic on hostile input.
pub trait TokenSigner: Send + Sync + 'static {
    /// A signed token (header `alg: EdDSA`, `kid`; claims `iss`, `sub`, `sid`, `amr`, `iat`,
    /// `exp`, `jti`).
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError>;

    /// The claims of `token` if it verifies and has not expired at `now` (5 s leeway).
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError>;

    /// The JWKS document (`{"keys": [...]}`) of every key that verifies tokens.
    fn jwks(&self) -> serde_json::Value;
}
