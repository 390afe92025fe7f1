//! `Ed25519TokenSigner` against the `TokenSigner` contract: round trips, rotation, hostile
//! tokens, expiry at the caller's `now`, the JWKS, and the development key file.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on a broken fixture"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signature, SigningKey, Verifier as _, VerifyingKey};
use twofa_crypto::ed25519_token_signer::{
    Ed25519TokenSigner, generate_signing_key_pem, load_or_generate_signing_key, public_key_pem,
};
use twofa_domain::{AccessClaims, SecretGenerator, SessionId, TokenError, TokenSigner, UserId};
use twofa_memory::SeededSecretGenerator;

const ISSUER: &str = "https://auth.example.test";

fn key(seed: u64) -> String {
    generate_signing_key_pem(&SeededSecretGenerator::new(seed))
}

fn signer(seed: u64) -> Ed25519TokenSigner {
    Ed25519TokenSigner::new(&key(seed), Vec::<String>::new(), ISSUER).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

const IAT: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const EXP: i64 = IAT + 15 * 60;

fn claims() -> AccessClaims {
    let ids = SeededSecretGenerator::new(99);
    AccessClaims {
        subject: UserId::from_uuid(ids.uuid_v4()),
        session: SessionId::from_uuid(ids.uuid_v4()),
        amr: vec!["pwd".into(), "mfa".into(), "otp".into()],
        issued_at: at(IAT),
        expires_at: at(EXP),
        token_id: ids.hex(16),
    }
}

fn parts(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        parts.len(),
        3,
        "a JWS compact serialization has three parts"
    );
    [parts[0].into(), parts[1].into(), parts[2].into()]
}

fn decode_part(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn assert_invalid(signer: &Ed25519TokenSigner, token: &str) {
    match signer.verify(token, at(IAT)) {
        Err(TokenError::Invalid) => {}
        other => panic!("expected Invalid for {token:?}, got {other:?}"),
    }
}

#[test]
fn a_signed_token_verifies_with_every_claim() {
    let signer = signer(1);
    let token = signer.sign(&claims()).unwrap();
    assert_eq!(signer.verify(&token, at(IAT + 60)).unwrap(), claims());

    let payload = decode_part(&parts(&token)[1]);
    assert_eq!(payload["iss"], ISSUER);
    assert_eq!(payload["sub"], claims().subject.to_string());
    assert_eq!(payload["sid"], claims().session.to_string());
    assert_eq!(payload["amr"], serde_json::json!(["pwd", "mfa", "otp"]));
    assert_eq!(payload["iat"], IAT);
    assert_eq!(payload["exp"], EXP);
    assert_eq!(payload["jti"], claims().token_id);
}

#[test]
fn the_header_names_eddsa_and_the_signing_kid() {
    let signer = signer(1);
    let header = decode_part(&parts(&signer.sign(&claims()).unwrap())[0]);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], signer.signing_kid());
}

#[test]
fn the_kid_is_stable_and_differs_between_keys() {
    assert_eq!(signer(1).signing_kid(), signer(1).signing_kid());
    assert_ne!(signer(1).signing_kid(), signer(2).signing_kid());
}

#[test]
fn tokens_of_a_retired_key_still_verify_after_rotation() {
    let old = signer(1);
    let old_token = old.sign(&claims()).unwrap();

    let retired_public_key = public_key_pem(&key(1)).unwrap();
    let rotated = Ed25519TokenSigner::new(&key(2), [retired_public_key], ISSUER).unwrap();
    assert_eq!(rotated.verify(&old_token, at(IAT)).unwrap(), claims());

    let new_token = rotated.sign(&claims()).unwrap();
    let header = decode_part(&parts(&new_token)[0]);
    assert_eq!(header["kid"], signer(2).signing_kid());
    assert_ne!(header["kid"], old.signing_kid());
    assert_eq!(rotated.verify(&new_token, at(IAT)).unwrap(), claims());
    // A process still on the old key alone does not know the new kid.
    assert_invalid(&old, &new_token);
}

#[test]
fn a_retired_private_key_serves_as_a_verification_key() {
    let old_token = signer(1).sign(&claims()).unwrap();
    let rotated = Ed25519TokenSigner::new(&key(2), [key(1)], ISSUER).unwrap();
    assert_eq!(rotated.verify(&old_token, at(IAT)).unwrap(), claims());
}

#[test]
fn an_unknown_or_missing_kid_is_invalid() {
    let signer = signer(1);
    let token = signer.sign(&claims()).unwrap();
    let [header, payload, signature] = parts(&token);
    let mut header = decode_part(&header);

    header["kid"] = "someone-elses-key".into();
    assert_invalid(
        &signer,
        &format!("{}.{payload}.{signature}", encode_part(&header)),
    );

    header.as_object_mut().unwrap().remove("kid");
    assert_invalid(
        &signer,
        &format!("{}.{payload}.{signature}", encode_part(&header)),
    );

    assert_invalid(&signer, &signer_for_other_key_token());
}

fn signer_for_other_key_token() -> String {
    signer(3).sign(&claims()).unwrap()
}

#[test]
fn a_tampered_payload_or_signature_is_invalid() {
    let signer = signer(1);
    let token = signer.sign(&claims()).unwrap();
    let [header, payload, signature] = parts(&token);

    let mut forged = decode_part(&payload);
    forged["amr"] = serde_json::json!(["pwd", "mfa", "otp", "admin"]);
    assert_invalid(
        &signer,
        &format!("{header}.{}.{signature}", encode_part(&forged)),
    );

    let mut bytes = URL_SAFE_NO_PAD.decode(&signature).unwrap();
    bytes[0] ^= 1;
    let flipped = URL_SAFE_NO_PAD.encode(&bytes);
    assert_invalid(&signer, &format!("{header}.{payload}.{flipped}"));
    assert_invalid(&signer, &format!("{header}.{payload}."));
    assert_invalid(&signer, &format!("{header}.{payload}"));
}

#[test]
fn alg_none_and_hs256_tokens_are_invalid() {
    let signer = signer(1);
    let payload = parts(&signer.sign(&claims()).unwrap())[1].clone();
    let kid = signer.signing_kid();

    let none = encode_part(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}));
    assert_invalid(&signer, &format!("{none}.{payload}."));

    // The classic confusion attack: HMAC keyed with the published public key.
    let public_key = URL_SAFE_NO_PAD
        .decode(signer.jwks()["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    let wire = decode_part(&payload);
    let hs256 = jsonwebtoken::encode(
        &header,
        &wire,
        &jsonwebtoken::EncodingKey::from_secret(&public_key),
    )
    .unwrap();
    assert_invalid(&signer, &hs256);
}

#[test]
fn another_issuer_is_invalid() {
    let token = Ed25519TokenSigner::new(&key(1), Vec::<String>::new(), "https://evil.test")
        .unwrap()
        .sign(&claims())
        .unwrap();
    assert_invalid(&signer(1), &token);
}

#[test]
fn a_token_missing_a_claim_is_invalid() {
    let signing_key = SigningKey::from_pkcs8_pem(&key(1)).unwrap();
    let signer = signer(1);
    let [header, payload, _] = parts(&signer.sign(&claims()).unwrap());
    for claim in ["iss", "sub", "sid", "amr", "iat", "exp", "jti"] {
        let mut wire = decode_part(&payload);
        wire.as_object_mut().unwrap().remove(claim);
        let token = resign(&signing_key, &header, &wire);
        assert_invalid(&signer, &token);
    }
    // The control: re-signing the untouched payload by hand verifies.
    let token = resign(&signing_key, &header, &decode_part(&payload));
    assert!(signer.verify(&token, at(IAT)).is_ok());
}

fn resign(signing_key: &SigningKey, header: &str, payload: &serde_json::Value) -> String {
    use ed25519_dalek::Signer as _;
    let message = format!("{header}.{}", encode_part(payload));
    let signature = signing_key.sign(message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[test]
fn expiry_is_judged_at_the_given_now_with_five_seconds_of_leeway() {
    let signer = signer(1);
    let token = signer.sign(&claims()).unwrap();
    assert!(signer.verify(&token, at(EXP)).is_ok());
    assert!(signer.verify(&token, at(EXP + 5)).is_ok());
    let just_past = at(EXP + 5) + TimeDelta::milliseconds(1);
    assert!(matches!(
        signer.verify(&token, just_past),
        Err(TokenError::Expired)
    ));
    assert!(matches!(
        signer.verify(&token, at(EXP + 3600)),
        Err(TokenError::Expired)
    ));
    // Long ago, the token was not yet expired: the system clock plays no part.
    assert!(signer.verify(&token, at(IAT - 3600)).is_ok());
}

#[test]
fn garbage_is_invalid_and_never_panics() {
    let signer = signer(1);
    let long = "a".repeat(100_000);
    for garbage in [
        "",
        ".",
        "..",
        "...",
        "not a token",
        "a.b.c",
        "eyJhbGciOiJFZERTQSJ9.e30.",
        "eyJhbGciOiJFZERTQSJ9.!!!.???",
        "\u{0}\u{1}.\u{2}",
        "ÿÿÿ.ÿÿÿ.ÿÿÿ",
        long.as_str(),
    ] {
        assert_invalid(&signer, garbage);
    }
    let kid = signer.signing_kid();
    let header = encode_part(&serde_json::json!({"alg": "EdDSA", "kid": kid}));
    for payload in ["e30", "bnVsbA", "W10", "!", ""] {
        assert_invalid(&signer, &format!("{header}.{payload}.AAAA"));
    }
}

#[test]
fn the_jwks_lists_every_key_with_its_kid_and_x() {
    let rotated =
        Ed25519TokenSigner::new(&key(2), [public_key_pem(&key(1)).unwrap()], ISSUER).unwrap();
    let jwks = rotated.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for (jwk, seed) in keys.iter().zip([2, 1]) {
        let expected = SigningKey::from_pkcs8_pem(&key(seed))
            .unwrap()
            .verifying_key();
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["kid"], signer(seed).signing_kid());
        assert_eq!(jwk["x"], URL_SAFE_NO_PAD.encode(expected.as_bytes()));
    }
    assert_eq!(
        rotated.kids().collect::<Vec<_>>(),
        [signer(2).signing_kid(), signer(1).signing_kid()]
    );
}

#[test]
fn a_key_rebuilt_from_the_jwks_verifies_the_signature() {
    let signer = signer(1);
    let token = signer.sign(&claims()).unwrap();
    let jwks = signer.jwks();
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let public_key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();

    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    assert!(public_key.verify(message.as_bytes(), &signature).is_ok());
}

#[test]
fn the_kid_is_the_rfc_7638_thumbprint_of_the_jwk() {
    use sha2::Digest as _;
    let signer = signer(1);
    let jwks = signer.jwks();
    let x = jwks["keys"][0]["x"].as_str().unwrap();
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let thumbprint = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()));
    assert_eq!(signer.signing_kid(), thumbprint);
}

/// A generator that hands out one fixed seed: the RFC 8032 §7.1 test 1 key.
struct Rfc8032Test1;

impl SecretGenerator for Rfc8032Test1 {
    fn fill_bytes(&self, buf: &mut [u8]) {
        let seed = hex_bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        buf.copy_from_slice(&seed[..buf.len()]);
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_generated_pem_is_standard_pkcs8_and_round_trips() {
    let pem = generate_signing_key_pem(&Rfc8032Test1);
    assert_eq!(
        pem,
        "-----BEGIN PRIVATE KEY-----\n\
         MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
         -----END PRIVATE KEY-----\n"
    );
    let parsed = SigningKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(
        parsed.to_bytes().to_vec(),
        hex_bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    );
    // RFC 8037 appendix A: the same key's public x and thumbprint.
    let signer = Ed25519TokenSigner::new(&pem, Vec::<String>::new(), ISSUER).unwrap();
    assert_eq!(
        signer.jwks()["keys"][0]["x"],
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    );
    assert_eq!(
        signer.signing_kid(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn keys_that_are_not_ed25519_pems_are_refused() {
    assert!(Ed25519TokenSigner::new("", Vec::<String>::new(), ISSUER).is_err());
    assert!(Ed25519TokenSigner::new("garbage", Vec::<String>::new(), ISSUER).is_err());
    let public = public_key_pem(&key(1)).unwrap();
    assert!(Ed25519TokenSigner::new(&public, Vec::<String>::new(), ISSUER).is_err());
    assert!(Ed25519TokenSigner::new(&key(1), ["garbage"], ISSUER).is_err());
}

#[cfg(unix)]
#[test]
fn the_development_key_file_is_created_private_once_and_reused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("jwt-signing-key.pem");

    let first = load_or_generate_signing_key(&path, &SeededSecretGenerator::new(1)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    assert!(Ed25519TokenSigner::new(&first, Vec::<String>::new(), ISSUER).is_ok());

    let second = load_or_generate_signing_key(&path, &SeededSecretGenerator::new(2)).unwrap();
    assert_eq!(second, first);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("jwt-signing-key.pem")]);
}

#[test]
fn processes_starting_together_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("jwt-signing-key.pem");
    let keys: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|seed| {
                let path = &path;
                scope.spawn(move || {
                    load_or_generate_signing_key(path, &SeededSecretGenerator::new(seed)).unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert!(keys.iter().all(|key| *key == keys[0]));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), keys[0]);
}

#[test]
fn a_corrupt_key_file_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwt-signing-key.pem");
    std::fs::write(&path, "not a key").unwrap();
    assert!(load_or_generate_signing_key(&path, &SeededSecretGenerator::new(1)).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key");
}
