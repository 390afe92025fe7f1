//! No password, token or CSRF value reaches the logs: every account flow runs over HTTP, on
//! every backend, while the harness captures every line the service logs (`debug` for the
//! twofa crates, whatever `log.level` says: see `twofa_tests::log_capture`); then none of the
//! secrets used may appear in them. And the check itself can fail: a secret the service does
//! log is reported.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::{Method, Response, header};
use serde_json::{Value, json};
use twofa_domain::SecretGenerator as _;
use twofa_tests::{
    AppOptions, Backend, SignedIn, TestApp, log_capture::secrets_in, secrets_in_logs, set_cookie,
    spawn_app, spawn_app_with,
};

/// The secrets a flow used, to look for in the logs.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    fn add(&mut self, secret: &str) {
        self.0.push(secret.to_owned());
    }

    /// The tokens of a token answer (status `status`) and its CSRF cookie.
    async fn signed_in(&mut self, response: Response, status: u16) -> SignedIn {
        assert_eq!(response.status(), status);
        self.add(&set_cookie(&response, "csrfToken"));
        let signed_in = SignedIn::from_body(&response.json().await.unwrap());
        self.add(&signed_in.access_token);
        self.add(&signed_in.refresh_token);
        signed_in
    }

    fn as_strs(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }
}

async fn status(response: impl Future<Output = Response>) -> u16 {
    response.await.status().as_u16()
}

async fn json_call(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> u16 {
    status(async {
        app.request(method, path)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    })
    .await
}

/// The passwords the flows use, in order.
const FIRST: &str = "first passphrase of jane";
const WRONG: &str = "wrong passphrase of jane";
const SECOND: &str = "second passphrase of jane";
const THIRD: &str = "third passphrase of jane";

/// Register, log in (right and wrong password), refresh (by cookie with its CSRF token, then a
/// rotated token reused), `me`, the session list, revoking one session and all of them,
/// changing the password (wrong and right current one), the reset and verification links
/// mailed, and logout.
async fn every_flow_keeps_its_secrets_out_of_the_logs(backend: Backend) {
    let app = spawn_app_with(
        AppOptions::new(backend)
            .set("tokens.refresh_reuse_grace", "0s")
            .set("auth.verification_resend_cooldown", "1ms"),
    )
    .await;
    let mut secrets = Secrets::default();
    for password in [FIRST, WRONG, SECOND, THIRD] {
        secrets.add(password);
    }
    let jane = sign_up_in_and_refresh(&app, &mut secrets).await;
    list_and_revoke_a_session(&app, &mut secrets, &jane).await;
    change_the_password(&app, &jane).await;
    verify_the_address(&app, &mut secrets, &jane).await;
    reset_the_password(&app, &mut secrets).await;
    end_every_session(&app, &mut secrets).await;

    app.run_pending_jobs().await;
    assert!(
        app.captured_logs().contains("request"),
        "the requests were logged at all"
    );
    app.assert_no_secret_in_logs(&secrets.as_strs());
    app.stop().await;
}

/// Register; a wrong and a right login; a refresh by cookie; the rotated token reused.
async fn sign_up_in_and_refresh(app: &TestApp, secrets: &mut Secrets) -> SignedIn {
    let jane = secrets
        .signed_in(app.register("jane@example.com", "jane", FIRST).await, 201)
        .await;
    assert_eq!(status(app.login("jane", WRONG)).await, 401);
    let login = app.login("jane", FIRST).await;
    let csrf = set_cookie(&login, "csrfToken");
    let other = secrets.signed_in(login, 200).await;
    let by_cookie = app
        .request(Method::POST, "/api/auth/refresh")
        .header(
            header::COOKIE,
            format!("refreshToken={}; csrfToken={csrf}", other.refresh_token),
        )
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    secrets.signed_in(by_cookie, 200).await;
    // The rotated token again, past the grace: reuse, the session ends.
    assert_eq!(status(app.refresh(&other.refresh_token)).await, 401);
    jane
}

/// `me`, the session list, and one session revoked.
async fn list_and_revoke_a_session(app: &TestApp, secrets: &mut Secrets, jane: &SignedIn) {
    assert_eq!(status(app.me(&jane.access_token)).await, 200);
    let sessions: Value = app
        .with_bearer(Method::GET, "/api/auth/sessions", &jane.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(!sessions["items"].as_array().unwrap().is_empty());
    let doomed = secrets.signed_in(app.login("jane", FIRST).await, 200).await;
    let path = format!("/api/auth/sessions/{}", claim(&doomed.access_token, "sid"));
    assert_eq!(
        status(app.with_bearer(Method::DELETE, &path, &jane.access_token)).await,
        204
    );
}

/// A change with a wrong current password, then with the right one.
async fn change_the_password(app: &TestApp, jane: &SignedIn) {
    let change = |current: &str, new: &str| {
        json_call(
            app,
            Method::POST,
            "/api/auth/password/change",
            &jane.access_token,
            json!({ "currentPassword": current, "newPassword": new }),
        )
    };
    assert_eq!(change(WRONG, SECOND).await, 401);
    assert_eq!(change(FIRST, SECOND).await, 204);
}

/// The sign-up's verification link, a new one sent, and the address verified with it.
async fn verify_the_address(app: &TestApp, secrets: &mut Secrets, jane: &SignedIn) {
    secrets.add(&app.mailed_token("jane@example.com", "verify-email").await);
    let send = app
        .with_bearer(
            Method::POST,
            "/api/email/send-verification",
            &jane.access_token,
        )
        .await;
    assert!(send.status().is_success(), "{}", send.status());
    let verification = app.mailed_token("jane@example.com", "verify-email").await;
    secrets.add(&verification);
    let verify = app
        .post_json("/api/email/verify", &json!({ "token": verification }))
        .await;
    assert_eq!(verify.status(), 204);
}

/// Forgot-password, and the reset through the mailed link.
async fn reset_the_password(app: &TestApp, secrets: &mut Secrets) {
    let forgot = app
        .post_json(
            "/api/auth/password/forgot",
            &json!({ "email": "jane@example.com" }),
        )
        .await;
    assert_eq!(forgot.status(), 202);
    let reset = app.mailed_token("jane@example.com", "reset-password").await;
    secrets.add(&reset);
    let reset = app
        .post_json(
            "/api/auth/password/reset",
            &json!({ "token": reset, "newPassword": THIRD }),
        )
        .await;
    assert_eq!(reset.status(), 204);
}

/// Revoke-sessions, then a new session's logout.
async fn end_every_session(app: &TestApp, secrets: &mut Secrets) {
    let again = secrets.signed_in(app.login("jane", THIRD).await, 200).await;
    let revoke = app.with_bearer(
        Method::POST,
        "/api/auth/revoke-sessions",
        &again.access_token,
    );
    assert_eq!(status(revoke).await, 204);
    let last = secrets.signed_in(app.login("jane", THIRD).await, 200).await;
    assert_eq!(status(app.logout(&last.refresh_token)).await, 204);
}

/// A claim of a JWT, read without verifying (the server verified it).
fn claim(token: &str, name: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims[name].as_str().unwrap().to_owned()
}

async fn body_of(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

/// The second factors: TOTP setup (its secret and `otpauth://` URL), verify-setup (the backup
/// codes), a login's challenge token, a verification that trusts the device (its token), a
/// backup code used, and an SMS factor set up (the full phone number): none of them is logged.
/// (Six-digit codes are left out of the check: a log's timestamps are full of six-digit runs.)
async fn second_factors_keep_their_secrets_out_of_the_logs(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut secrets = Secrets::default();
    let jane = secrets
        .signed_in(app.register("jane@example.com", "jane", FIRST).await, 201)
        .await;
    let token = app.mailed_token("jane@example.com", "verify-email").await;
    secrets.add(&token);
    assert_eq!(
        status(app.post_json("/api/email/verify", &json!({ "token": token }))).await,
        204
    );
    let setup = body_of(
        app.request(Method::POST, "/api/2fa/totp/setup")
            .bearer_auth(&jane.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let secret_text = setup["secret"].as_str().unwrap().to_owned();
    secrets.add(&secret_text);
    secrets.add(setup["otpauthUrl"].as_str().unwrap());
    let confirmed = body_of(
        app.request(Method::POST, "/api/2fa/totp/verify-setup")
            .bearer_auth(&jane.access_token)
            .json(&json!({ "code": twofa_tests::totp_code(&secret_text, 0) }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let backup_codes: Vec<String> = confirmed["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    for code in &backup_codes {
        secrets.add(code);
        secrets.add(&code.replace('-', ""));
    }
    let challenge = body_of(app.login("jane", FIRST).await, 200).await;
    let temp_token = challenge["tempToken"].as_str().unwrap().to_owned();
    secrets.add(&temp_token);
    let verified = app
        .post_json(
            "/api/2fa/verify",
            &json!({ "tempToken": temp_token, "code": twofa_tests::totp_code(&secret_text, 1), "trustDevice": true }),
        )
        .await;
    secrets.add(&set_cookie(&verified, "deviceToken"));
    let verified = secrets.signed_in(verified, 200).await;
    let challenge = body_of(app.login("jane", FIRST).await, 200).await;
    let temp_token = challenge["tempToken"].as_str().unwrap().to_owned();
    secrets.add(&temp_token);
    let by_backup = app
        .post_json(
            "/api/2fa/verify-backup-code",
            &json!({ "tempToken": temp_token, "code": backup_codes[0] }),
        )
        .await;
    secrets.signed_in(by_backup, 200).await;
    let phone = "+14155550123";
    secrets.add(phone);
    secrets.add("4155550123");
    assert_eq!(
        json_call(
            &app,
            Method::POST,
            "/api/2fa/sms/setup",
            &verified.access_token,
            json!({ "phoneNumber": phone }),
        )
        .await,
        202
    );
    app.run_pending_jobs().await;
    assert!(
        app.outbox().iter().any(|message| message["to"] == phone),
        "the code was sent"
    );
    app.assert_no_secret_in_logs(&secrets.as_strs());
    app.stop().await;
}

twofa_tests::on_every_backend!(
    every_flow_keeps_its_secrets_out_of_the_logs,
    second_factors_keep_their_secrets_out_of_the_logs,
);

/// A client that puts a token in a URL path has it logged with the request (the path is a
/// field of the request's span): the check reports it, showing the line with the token masked.
#[tokio::test]
async fn the_check_reports_a_secret_the_service_logged() {
    let app = spawn_app(Backend::Memory).await;
    let secret = twofa_crypto::OsSecretGenerator.hex(16);
    assert_eq!(app.get(&format!("/api/{secret}")).await.status(), 404);

    let found = secrets_in_logs(&["never logged anywhere", &secret]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("secret #1 (32 characters)"),
        "{}",
        found[0]
    );
    assert!(found[0].contains("path=/api/<secret>"), "{}", found[0]);
    assert!(!found[0].contains(&secret), "the report masks the secret");
    let failed = std::panic::catch_unwind(|| twofa_tests::assert_no_secret_in_logs(&[&secret]));
    let message = *failed.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("1 of 1 secrets appear in the logs"),
        "{message}"
    );
    assert!(!message.contains(&secret));
    app.stop().await;
}

/// Five characters would match the logs by chance: the check refuses them.
#[test]
fn a_secret_shorter_than_six_characters_is_refused() {
    assert!(std::panic::catch_unwind(|| secrets_in("a log line", &["12345"])).is_err());
    assert!(secrets_in("a log line", &["123456"]).is_empty());
}
