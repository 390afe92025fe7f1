//! `GET /.well-known/jwks.json`: the keys that verify access tokens; a development key that
//! survives restarts; configured keys, with a verification-only key during rotation.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use serde_json::Value;
use twofa::Mode;
use twofa_crypto::{
    Ed25519TokenSigner, OsSecretGenerator,
    ed25519_token_signer::{generate_signing_key_pem, public_key_pem},
};
use twofa_tests::{AppOptions, Backend, TestApp, spawn_app, spawn_app_with, start};

async fn keys(app: &TestApp) -> Vec<Value> {
    let body: Value = app.jwks().await.json().await.unwrap();
    body["keys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_key_set_describes_an_ed25519_signing_key_and_may_be_cached() {
    let app = spawn_app(Backend::Memory).await;
    let response = app.jwks().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body: Value = response.json().await.unwrap();
    let key = &body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(
        key["kid"].as_str().unwrap().len(),
        43,
        "an RFC 7638 thumbprint"
    );
    assert_eq!(key["x"].as_str().unwrap().len(), 43, "32 bytes, base64url");
    app.stop().await;
}

#[tokio::test]
async fn the_development_key_is_generated_once_and_kept_across_restarts() {
    let app = spawn_app(Backend::Sqlite).await;
    let first = keys(&app).await;
    assert_eq!(first.len(), 1);
    let settings = app.settings.clone();
    let url = app.database_url.clone();
    let data_dir = app.stop().await;
    assert!(data_dir.path().join("jwt-signing-key.pem").exists());
    let again = start(settings, Mode::All, url, data_dir).await;
    assert_eq!(keys(&again).await, first, "the same key after a restart");
    again.stop().await;
}

#[tokio::test]
async fn configured_keys_sign_and_retired_keys_still_verify() {
    let current = generate_signing_key_pem(&OsSecretGenerator);
    let retired = generate_signing_key_pem(&OsSecretGenerator);
    let app = spawn_app_with(
        AppOptions::new(Backend::Memory)
            .set("tokens.signing_key", current.clone())
            .set(
                "tokens.verification_keys",
                vec![public_key_pem(&retired).unwrap()],
            ),
    )
    .await;
    let served = keys(&app).await;
    let expected_current = Ed25519TokenSigner::new(&current, Vec::<String>::new(), "x").unwrap();
    let expected_retired = Ed25519TokenSigner::new(&retired, Vec::<String>::new(), "x").unwrap();
    let kids: Vec<&str> = served.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(
        kids,
        [
            expected_current.signing_kid(),
            expected_retired.signing_kid()
        ]
    );
    assert!(
        !app.data_dir().join("jwt-signing-key.pem").exists(),
        "no key is generated when one is configured"
    );
    app.stop().await;
}
