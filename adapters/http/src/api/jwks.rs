//! `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517), so
//! relying services verify tokens themselves; during a key rotation both keys are listed.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use serde::Deserialize;

use crate::{api::ApiTags, state::AppState};

/// The keys route.
pub struct JwksApi;

/// One Ed25519 public key (RFC 8037).
#[derive(Debug, Clone, Object, Deserialize)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key id in the tokens' header (RFC 7638 thumbprint).
    pub kid: String,
    /// `sig`.
    #[oai(rename = "use")]
    #[serde(rename = "use")]
    pub key_use: String,
    /// `EdDSA`.
    pub alg: String,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct Jwks {
    /// The signing key first, then the keys that only verify.
    pub keys: Vec<Jwk>,
}

/// The key set, cacheable for five minutes.
#[derive(ApiResponse)]
pub enum JwksResponse {
    /// The public keys.
    #[oai(status = 200)]
    Ok(Json<Jwks>, #[oai(header = "Cache-Control")] String),
}

#[OpenApi(tag = "ApiTags::Keys")]
impl JwksApi {
    /// The public keys that verify access tokens.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "getJwks"
    )]
    async fn jwks(&self, state: Data<&Arc<AppState>>) -> poem::Result<JwksResponse> {
        let jwks: Jwks = serde_json::from_value(state.token_signer.jwks())
            .map_err(poem::error::InternalServerError)?;
        Ok(JwksResponse::Ok(
            Json(jwks),
            "public, max-age=300".to_owned(),
        ))
    }
}
