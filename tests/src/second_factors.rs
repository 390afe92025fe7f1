//! What a client of the second factors computes itself: the authenticator app's TOTP code, and
//! the `amr` of an access token.

use base64::Engine as _;
use twofa_domain::{Clock as _, TotpPolicy, TotpSecret};

/// The code an authenticator app shows for the base32 `secret` a setup answered, `steps` time
/// steps from now (by the system clock, as the service's own).
pub fn totp_code(secret: &str, steps: i64) -> String {
    let secret = TotpSecret::from_base32(secret).expect("a TOTP secret is base32");
    let now = u64::try_from(twofa_crypto::SystemClock.now().timestamp()).expect("after 1970");
    let at = now
        .checked_add_signed(steps * 30)
        .expect("a time step within range");
    TotpPolicy::default().code_at(&secret, at)
}

/// The `amr` claim of an access token, read without verifying (the service verified it).
pub fn amr(access_token: &str) -> Vec<String> {
    let payload = access_token.split('.').nth(1).expect("a JWT has a payload");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("the payload is base64url"),
    )
    .expect("the payload is JSON");
    claims["amr"]
        .as_array()
        .expect("amr is a list")
        .iter()
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect()
}
