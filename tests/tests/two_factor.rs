//! The second factors over HTTP, on every backend: TOTP enrolment and login, replay refusal,
//! backup codes, the dead challenge, trusted devices, SMS and e-mail factors through the
//! worker (console notifiers, read back from the development outbox), and factor management
//! with recent authentication.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::{Method, Response, header};
use serde_json::{Value, json};
use twofa_domain::TotpSecret;
use twofa_tests::{
    Backend, PASSWORD, SignedIn, TestApp, amr, problem, set_cookie, spawn_app, totp_code,
};

async fn ok(response: Response, status: u16) -> Value {
    let actual = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(actual, status, "{body}");
    if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap()
    }
}

/// An authenticator app holding a TOTP secret (base32, as setup answered it).
struct Authenticator(String);

impl Authenticator {
    /// The code `steps` time steps from now.
    fn code(&self, steps: i64) -> String {
        totp_code(&self.0, steps)
    }
}

/// Signs `username` up and verifies its e-mail address.
async fn verified_user(app: &TestApp, username: &str) -> SignedIn {
    let signed_in = app.signed_up(username).await;
    let token = app
        .mailed_token(&format!("{username}@example.com"), "verify-email")
        .await;
    ok(
        app.post_json("/api/email/verify", &json!({ "token": token }))
            .await,
        204,
    )
    .await;
    signed_in
}

async fn authed(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.request(method, path).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Enrols TOTP for a verified `username`: the authenticator and the backup codes.
async fn enrolled(app: &TestApp, username: &str) -> (SignedIn, Authenticator, Vec<String>) {
    let user = verified_user(app, username).await;
    let setup = ok(
        authed(
            app,
            Method::POST,
            "/api/2fa/totp/setup",
            &user.access_token,
            None,
        )
        .await,
        200,
    )
    .await;
    let secret = setup["secret"].as_str().unwrap();
    let url = setup["otpauthUrl"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/twofa:"), "{url}");
    assert!(url.contains(&format!("secret={secret}")), "{url}");
    assert!(
        setup["qrCode"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    let bytes = TotpSecret::from_base32(secret).unwrap().as_bytes().len();
    assert_eq!(bytes, 20, "a 160-bit secret");
    let app_secret = Authenticator(secret.to_owned());
    let confirmed = ok(
        authed(
            app,
            Method::POST,
            "/api/2fa/totp/verify-setup",
            &user.access_token,
            Some(json!({ "code": app_secret.code(0) })),
        )
        .await,
        200,
    )
    .await;
    let codes: Vec<String> = confirmed["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    for code in &codes {
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(code.matches('-').count(), 2, "{code}");
    }
    (user, app_secret, codes)
}

/// Logs `username` in with the password: the challenge body.
async fn challenged(app: &TestApp, username: &str) -> Value {
    let body = ok(app.login(username, PASSWORD).await, 200).await;
    assert_eq!(body["requiresTwoFactor"], true, "{body}");
    assert!(
        body.get("accessToken").is_none(),
        "no token before the second factor: {body}"
    );
    assert_eq!(body["expiresIn"], 300);
    body
}

async fn verify(app: &TestApp, temp_token: &Value, code: &str, extra: Value) -> Response {
    let mut body = json!({ "tempToken": temp_token, "code": code });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.post_json("/api/2fa/verify", &body).await
}

/// The whole TOTP journey: enrolment with backup codes, a login that needs the second
/// factor, a verification with the current code whose tokens carry `otp`, the same code
/// refused on a fresh challenge, and a backup code that works once.
async fn a_totp_login_takes_the_current_code_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (user, authenticator, backup_codes) = enrolled(&app, "jane").await;
    let me = ok(app.me(&user.access_token).await, 200).await;
    assert_eq!(me["twoFactorEnabled"], true);

    let challenge = challenged(&app, "jane").await;
    let methods = challenge["methods"].as_array().unwrap();
    assert_eq!(methods, &vec![json!("totp"), json!("backup_code")]);
    // The code that confirmed the setup is spent: the next step's code (within the skew) signs in.
    let code = authenticator.code(1);
    let tokens = ok(
        verify(&app, &challenge["tempToken"], &code, json!({})).await,
        200,
    )
    .await;
    let claims = amr(tokens["accessToken"].as_str().unwrap());
    assert!(
        claims.contains(&"otp".to_owned()) && claims.contains(&"mfa".to_owned()),
        "{claims:?}"
    );
    assert_eq!(tokens["user"]["twoFactorEnabled"], true);
    ok(
        app.refresh(tokens["refreshToken"].as_str().unwrap()).await,
        200,
    )
    .await;

    // The same code again, even on a fresh challenge, is refused.
    let fresh = challenged(&app, "jane").await;
    problem(
        verify(&app, &fresh["tempToken"], &code, json!({})).await,
        401,
        "invalid_code",
    )
    .await;
    // A used challenge is refused before its code is looked at.
    problem(
        verify(
            &app,
            &challenge["tempToken"],
            &authenticator.code(1),
            json!({}),
        )
        .await,
        401,
        "challenge_expired",
    )
    .await;

    // A backup code works once, in any case.
    let backup = backup_codes[0].to_lowercase();
    let by_backup = ok(
        app.post_json(
            "/api/2fa/verify-backup-code",
            &json!({ "tempToken": fresh["tempToken"], "code": backup }),
        )
        .await,
        200,
    )
    .await;
    assert!(amr(by_backup["accessToken"].as_str().unwrap()).contains(&"backup".to_owned()));
    let count = ok(
        authed(
            &app,
            Method::GET,
            "/api/2fa/backup-codes/count",
            &user.access_token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(count, json!({ "remaining": 9 }));
    let again = challenged(&app, "jane").await;
    problem(
        app.post_json(
            "/api/2fa/verify-backup-code",
            &json!({ "tempToken": again["tempToken"], "code": backup_codes[0] }),
        )
        .await,
        401,
        "invalid_code",
    )
    .await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// After its fifth wrong code a challenge is dead, even for the right code.
async fn after_the_fifth_wrong_code_the_challenge_is_dead(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, authenticator, _) = enrolled(&app, "jane").await;
    let challenge = challenged(&app, "jane").await;
    let right = authenticator.code(1);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        problem(
            verify(&app, &challenge["tempToken"], wrong, json!({})).await,
            401,
            "invalid_code",
        )
        .await;
    }
    problem(
        verify(&app, &challenge["tempToken"], &right, json!({})).await,
        401,
        "challenge_expired",
    )
    .await;
    // The right code was not consumed by the dead challenge: a new one takes it.
    let fresh = challenged(&app, "jane").await;
    ok(
        verify(&app, &fresh["tempToken"], &right, json!({})).await,
        200,
    )
    .await;
    app.run_pending_jobs().await;
    app.stop().await;
}

async fn login_with_device(app: &TestApp, token: &str) -> Response {
    app.post_json(
        "/api/auth/login",
        &json!({ "emailOrUsername": "jane", "password": PASSWORD, "deviceToken": token }),
    )
    .await
}

/// A trusted device skips the second factor (`amr` `pwd`, `device`) until it is revoked.
async fn a_trusted_device_skips_the_factor_until_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (user, authenticator, _) = enrolled(&app, "jane").await;
    let challenge = challenged(&app, "jane").await;
    let response = verify(
        &app,
        &challenge["tempToken"],
        &authenticator.code(1),
        json!({ "trustDevice": true, "deviceName": "Jane's laptop" }),
    )
    .await;
    let cookie = set_cookie(&response, "deviceToken");
    let body = ok(response, 200).await;
    let device_token = body["deviceToken"].as_str().unwrap().to_owned();
    assert_eq!(cookie, device_token);

    let skipped = ok(login_with_device(&app, &device_token).await, 200).await;
    assert_eq!(
        amr(skipped["accessToken"].as_str().unwrap()),
        ["pwd", "device"]
    );
    // From the cookie alike.
    let by_cookie = app
        .request(Method::POST, "/api/auth/login")
        .header(header::COOKIE, format!("deviceToken={device_token}"))
        .json(&json!({ "emailOrUsername": "jane", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(ok(by_cookie, 200).await.get("accessToken").is_some());

    let devices = ok(
        authed(
            &app,
            Method::GET,
            "/api/2fa/devices",
            &user.access_token,
            None,
        )
        .await,
        200,
    )
    .await;
    let items = devices["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Jane's laptop");
    let id = items[0]["id"].as_str().unwrap();
    ok(
        authed(
            &app,
            Method::DELETE,
            &format!("/api/2fa/devices/{id}"),
            &user.access_token,
            None,
        )
        .await,
        204,
    )
    .await;
    let challenged_again = ok(login_with_device(&app, &device_token).await, 200).await;
    assert_eq!(challenged_again["requiresTwoFactor"], true);
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The last 6-digit code sent on `channel` to `to`, once the pending jobs have run.
async fn sent_code(app: &TestApp, channel: &str, to: &str) -> String {
    app.run_pending_jobs().await;
    app.outbox()
        .iter()
        .rev()
        .filter(|message| message["channel"] == channel && message["to"] == to)
        .find_map(|message| {
            let body = message["body"].as_str()?;
            body.split(|c: char| !c.is_ascii_digit())
                .find(|word| word.len() == 6)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no code was sent by {channel} to {to}"))
}

/// Sets up the factor of `kind` (its setup route's field `field`) to `to` and confirms it
/// with the code the worker sent: the verify-setup body.
async fn enrol_sent(
    app: &TestApp,
    user: &SignedIn,
    (kind, field): (&str, &str),
    to: &str,
) -> Value {
    let setup = authed(
        app,
        Method::POST,
        &format!("/api/2fa/{kind}/setup"),
        &user.access_token,
        Some(json!({ field: to })),
    )
    .await;
    ok(setup, 202).await;
    let code = sent_code(app, kind, to).await;
    let confirm = authed(
        app,
        Method::POST,
        &format!("/api/2fa/{kind}/verify-setup"),
        &user.access_token,
        Some(json!({ "code": code })),
    )
    .await;
    ok(confirm, 200).await
}

/// SMS and e-mail factors: setup sends a code through the worker, verify-setup enables the
/// factor; a login sends the preferred factor's code, `/api/2fa/verify` without `method`
/// takes it, and a resend by e-mail works too.
async fn sms_and_email_factors_work_through_the_worker(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = verified_user(&app, "jane").await;
    let phone = "+14155550123";
    let first = enrol_sent(&app, &user, ("sms", "phoneNumber"), phone).await;
    assert_eq!(first["backupCodes"].as_array().unwrap().len(), 10);
    let address = "jane.codes@example.com";
    let second = enrol_sent(&app, &user, ("email", "email"), address).await;
    assert!(second.get("backupCodes").is_none(), "{second}");

    let methods = ok(
        authed(
            &app,
            Method::GET,
            "/api/2fa/methods",
            &user.access_token,
            None,
        )
        .await,
        200,
    )
    .await;
    let items = methods["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "sms");
    assert_eq!(items[0]["maskedDestination"], "+1********23");
    assert_eq!(items[1]["maskedDestination"], "j***@example.com");

    // The preferred factor (the first enabled) gets its code as the challenge is made.
    let challenge = challenged(&app, "jane").await;
    assert_eq!(challenge["methods"], json!(["sms", "email", "backup_code"]));
    let code = sent_code(&app, "sms", phone).await;
    let tokens = ok(
        verify(&app, &challenge["tempToken"], &code, json!({})).await,
        200,
    )
    .await;
    assert!(amr(tokens["accessToken"].as_str().unwrap()).contains(&"sms".to_owned()));

    // A resend by e-mail.
    let challenge = challenged(&app, "jane").await;
    ok(
        app.post_json(
            "/api/2fa/resend",
            &json!({ "tempToken": challenge["tempToken"], "method": "email" }),
        )
        .await,
        202,
    )
    .await;
    let code = sent_code(&app, "email", address).await;
    let tokens = ok(
        verify(
            &app,
            &challenge["tempToken"],
            &code,
            json!({ "method": "email" }),
        )
        .await,
        200,
    )
    .await;
    assert!(amr(tokens["accessToken"].as_str().unwrap()).contains(&"email".to_owned()));
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Setup needs a verified e-mail address (`auth.require_verified_email`).
async fn setup_needs_a_verified_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let unverified = app.signed_up("john").await;
    problem(
        authed(
            &app,
            Method::POST,
            "/api/2fa/totp/setup",
            &unverified.access_token,
            None,
        )
        .await,
        403,
        "email_not_verified",
    )
    .await;

    app.run_pending_jobs().await;
    app.stop().await;
}

async fn remove(app: &TestApp, path: &str, user: &SignedIn, body: Option<Value>) -> Response {
    authed(app, Method::DELETE, path, &user.access_token, body).await
}

/// Removing a factor needs recent authentication, and
/// removing the last turns second factors off and deletes the backup codes.
async fn factors_are_managed_with_recent_authentication(backend: Backend) {
    let app = spawn_app(backend).await;
    let (user, authenticator, _) = enrolled(&app, "jane").await;
    let methods = ok(
        authed(
            &app,
            Method::GET,
            "/api/2fa/methods",
            &user.access_token,
            None,
        )
        .await,
        200,
    )
    .await;
    let id = methods["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/2fa/methods/{id}");
    problem(
        remove(&app, &path, &user, None).await,
        403,
        "reauthentication_required",
    )
    .await;
    problem(
        remove(
            &app,
            &path,
            &user,
            Some(json!({ "password": "wrong password" })),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    problem(
        remove(&app, &path, &user, Some(json!({ "code": "000000" }))).await,
        401,
        "invalid_code",
    )
    .await;
    // Regenerating the backup codes with a current code.
    let regenerated = ok(
        authed(
            &app,
            Method::POST,
            "/api/2fa/backup-codes/generate",
            &user.access_token,
            Some(json!({ "code": authenticator.code(1) })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(regenerated["backupCodes"].as_array().unwrap().len(), 10);
    ok(
        remove(&app, &path, &user, Some(json!({ "password": PASSWORD }))).await,
        204,
    )
    .await;
    let me = ok(app.me(&user.access_token).await, 200).await;
    assert_eq!(me["twoFactorEnabled"], false);
    let count = ok(
        authed(
            &app,
            Method::GET,
            "/api/2fa/backup-codes/count",
            &user.access_token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(count, json!({ "remaining": 0 }));
    // A password alone signs in again.
    let tokens = ok(app.login("jane", PASSWORD).await, 200).await;
    assert_eq!(amr(tokens["accessToken"].as_str().unwrap()), ["pwd"]);
    problem(
        remove(&app, &path, &user, Some(json!({ "password": PASSWORD }))).await,
        404,
        "not_found",
    )
    .await;
    app.run_pending_jobs().await;
    app.stop().await;
}

twofa_tests::on_every_backend!(
    a_totp_login_takes_the_current_code_once,
    after_the_fifth_wrong_code_the_challenge_is_dead,
    a_trusted_device_skips_the_factor_until_revoked,
    sms_and_email_factors_work_through_the_worker,
    factors_are_managed_with_recent_authentication,
    setup_needs_a_verified_address,
);
