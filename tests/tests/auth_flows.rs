//! The rest of the account flows over HTTP, on every backend: the refresh cookie and its CSRF
//! token, the session list, password change and reset, e-mail verification, and throttles
//! keyed on the client address a trusted proxy reports.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::{Method, Response, header};
use serde_json::{Value, json};
use twofa_tests::{AppOptions, Backend, PASSWORD, SignedIn, problem, set_cookie, spawn_app_with};

/// A refresh by the cookie alone needs `X-CSRF-Token` equal to the `csrfToken` cookie; a body
/// token wins over the cookie and needs none.
async fn the_refresh_cookie_needs_its_csrf_token(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    let response = app.login_after_signup("jane").await;
    let refresh = set_cookie(&response, "refreshToken");
    let csrf = set_cookie(&response, "csrfToken");
    let cookies = format!("refreshToken={refresh}; csrfToken={csrf}");
    let by_cookie = |csrf_header: Option<&str>| {
        let mut request = app
            .request(Method::POST, "/api/auth/refresh")
            .header(header::COOKIE, &cookies);
        if let Some(value) = csrf_header {
            request = request.header("X-CSRF-Token", value);
        }
        request.send()
    };
    problem(by_cookie(None).await.unwrap(), 403, "csrf_failed").await;
    problem(by_cookie(Some("forged")).await.unwrap(), 403, "csrf_failed").await;
    let refreshed = by_cookie(Some(&csrf)).await.unwrap();
    assert_eq!(refreshed.status(), 200);
    let next = set_cookie(&refreshed, "refreshToken");
    assert_ne!(next, refresh);
    let next_csrf = set_cookie(&refreshed, "csrfToken");
    let logout_by_cookie = |csrf_header: Option<&str>| {
        let mut request = app.request(Method::POST, "/api/auth/logout").header(
            header::COOKIE,
            format!("refreshToken={next}; csrfToken={next_csrf}"),
        );
        if let Some(value) = csrf_header {
            request = request.header("X-CSRF-Token", value);
        }
        request.send()
    };
    problem(logout_by_cookie(None).await.unwrap(), 403, "csrf_failed").await;
    // Still signed in: the refused logout changed nothing.
    let still = app
        .request(Method::POST, "/api/auth/refresh")
        .header(
            header::COOKIE,
            format!("refreshToken={next}; csrfToken={next_csrf}"),
        )
        .header("X-CSRF-Token", &next_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);
    let next = set_cookie(&still, "refreshToken");
    let next_csrf = set_cookie(&still, "csrfToken");

    // The body wins over a cookie, without a CSRF token.
    let body_wins = app
        .request(Method::POST, "/api/auth/logout")
        .header(header::COOKIE, "refreshToken=stale; csrfToken=x")
        .json(&json!({ "refreshToken": next }))
        .send()
        .await
        .unwrap();
    assert_eq!(body_wins.status(), 204);
    assert!(set_cookie(&body_wins, "refreshToken").is_empty());
    // A refresh cookie that no longer works is refused and cleared.
    let dead = app
        .request(Method::POST, "/api/auth/refresh")
        .header(
            header::COOKIE,
            format!("refreshToken={next}; csrfToken={next_csrf}"),
        )
        .header("X-CSRF-Token", &next_csrf)
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&dead, "refreshToken").is_empty());
    problem(dead, 401, "unauthorized").await;
    problem(
        app.request(Method::POST, "/api/auth/refresh")
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The CSRF token is bound to the session's refresh token: a pair planted beside a valid
/// refresh cookie (from a sibling subdomain, say) fails, and so does the pair of another
/// session; only the pair the service issued with the cookie passes.
async fn a_csrf_pair_not_issued_with_the_refresh_cookie_fails(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    let response = app.login_after_signup("jane").await;
    let refresh = set_cookie(&response, "refreshToken");
    let csrf = set_cookie(&response, "csrfToken");
    let other = app.login("jane", PASSWORD).await;
    let other_csrf = set_cookie(&other, "csrfToken");
    assert_ne!(other_csrf, csrf);
    let by_cookie = |path: &'static str, pair: &str| {
        app.request(Method::POST, path)
            .header(
                header::COOKIE,
                format!("refreshToken={refresh}; csrfToken={pair}"),
            )
            .header("X-CSRF-Token", pair)
            .send()
    };
    for path in ["/api/auth/refresh", "/api/auth/logout"] {
        problem(by_cookie(path, "abc").await.unwrap(), 403, "csrf_failed").await;
        problem(
            by_cookie(path, &other_csrf).await.unwrap(),
            403,
            "csrf_failed",
        )
        .await;
    }
    // The refused requests changed nothing: the issued pair still refreshes.
    let refreshed = by_cookie("/api/auth/refresh", &csrf).await.unwrap();
    assert_eq!(refreshed.status(), 200);
    let next = set_cookie(&refreshed, "refreshToken");
    let next_csrf = set_cookie(&refreshed, "csrfToken");
    assert_ne!(
        next_csrf, csrf,
        "a rotated refresh token comes with its own CSRF token"
    );
    // The old pair does not go with the rotated cookie.
    let stale_pair = app
        .request(Method::POST, "/api/auth/logout")
        .header(
            header::COOKIE,
            format!("refreshToken={next}; csrfToken={csrf}"),
        )
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    problem(stale_pair, 403, "csrf_failed").await;
    let logout = app
        .request(Method::POST, "/api/auth/logout")
        .header(
            header::COOKIE,
            format!("refreshToken={next}; csrfToken={next_csrf}"),
        )
        .header("X-CSRF-Token", &next_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Two refreshes with one token inside the grace both answer a pair of the same session
/// (two tabs at once); the session keeps its id across refreshes.
async fn a_double_refresh_within_the_grace_keeps_one_session(backend: Backend) {
    let app =
        spawn_app_with(AppOptions::new(backend).set("tokens.refresh_reuse_grace", "1h")).await;
    let jane = app.signed_up("jane").await;
    let first = app.refresh(&jane.refresh_token).await;
    let second = app.refresh(&jane.refresh_token).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let first = SignedIn::from_body(&first.json().await.unwrap());
    let second = SignedIn::from_body(&second.json().await.unwrap());
    assert_ne!(first.refresh_token, second.refresh_token);
    let sessions: Value = app
        .with_bearer(Method::GET, "/api/auth/sessions", &second.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"].as_array().unwrap().len(), 1);
    let sid = sessions["items"][0]["id"].as_str().unwrap().to_owned();
    for token in [
        &jane.access_token,
        &first.access_token,
        &second.access_token,
    ] {
        assert_eq!(claims(token)["sid"], sid.as_str());
    }
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The claims of a JWT, read without verifying (the server verified it).
fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The session list marks the caller's session; deleting another ends it at once, and
/// another user's session is not found.
async fn sessions_are_listed_and_revoked_one_by_one(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    let first = app.signed_up("jane").await;
    let second = app.signed_in("jane").await;
    let john = app.signed_up("john").await;
    let listed: Value = app
        .with_bearer(Method::GET, "/api/auth/sessions", &second.access_token)
        .await
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[1]["current"], false);
    assert_eq!(items[0]["ip"], "127.0.0.1");
    assert!(listed["nextCursor"].is_null());
    let first_id = items[1]["id"].as_str().unwrap().to_owned();

    let path = format!("/api/auth/sessions/{first_id}");
    problem(
        app.with_bearer(Method::DELETE, &path, &john.access_token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(app.me(&first.access_token).await.status(), 200);
    assert_eq!(
        app.with_bearer(Method::DELETE, &path, &second.access_token)
            .await
            .status(),
        204
    );
    problem(app.me(&first.access_token).await, 401, "unauthorized").await;
    assert_eq!(app.me(&second.access_token).await.status(), 200);

    assert_eq!(
        app.with_bearer(
            Method::POST,
            "/api/auth/revoke-sessions",
            &second.access_token
        )
        .await
        .status(),
        204
    );
    problem(app.me(&second.access_token).await, 401, "unauthorized").await;
    problem(
        app.refresh(&second.refresh_token).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(app.me(&john.access_token).await.status(), 200);
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A password change needs the current password, keeps the calling session and ends the
/// others.
async fn a_password_change_ends_the_other_sessions(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    let jane = app.signed_up("jane").await;
    let other = app.signed_in("jane").await;
    let change = |current: &str, new: &str| {
        app.request(Method::POST, "/api/auth/password/change")
            .bearer_auth(&jane.access_token)
            .json(&json!({ "currentPassword": current, "newPassword": new }))
            .send()
    };
    problem(
        change("not the password", "a whole new passphrase")
            .await
            .unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    let weak = problem(
        change(PASSWORD, "password").await.unwrap(),
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(weak["errors"][0]["field"], "newPassword");
    assert_eq!(
        change(PASSWORD, "a whole new passphrase")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(app.me(&jane.access_token).await.status(), 200);
    problem(app.me(&other.access_token).await, 401, "unauthorized").await;
    problem(
        app.login("jane", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login("jane", "a whole new passphrase").await.status(),
        200
    );
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Forgot-password answers 202 for any address; the mailed link resets the password once and
/// ends every session.
async fn a_reset_link_sets_a_new_password_and_ends_every_session(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    let jane = app.signed_up("jane").await;
    for email in ["nobody@example.com", "jane@example.com"] {
        let response = app
            .post_json("/api/auth/password/forgot", &json!({ "email": email }))
            .await;
        assert_eq!(response.status(), 202, "{email}");
    }
    let token = app.mailed_token("jane@example.com", "reset-password").await;
    assert!(
        app.outbox()
            .iter()
            .all(|message| message["to"] != "nobody@example.com")
    );
    let reset = |password: &str| {
        app.request(Method::POST, "/api/auth/password/reset")
            .json(&json!({ "token": token, "newPassword": password }))
            .send()
    };
    problem(reset("password").await.unwrap(), 400, "validation_failed").await;
    assert_eq!(reset("a whole new passphrase").await.unwrap().status(), 204);
    problem(app.me(&jane.access_token).await, 401, "unauthorized").await;
    problem(
        reset("another new passphrase").await.unwrap(),
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(
        app.login("jane", "a whole new passphrase").await.status(),
        200
    );
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The verification link mailed at sign-up verifies the address once; a new one waits for
/// the cooldown.
async fn the_verification_link_verifies_the_address(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    let jane = app.signed_up("jane").await;
    let token = app.mailed_token("jane@example.com", "verify-email").await;
    let status = || app.with_bearer(Method::GET, "/api/email/status", &jane.access_token);
    let before: Value = status().await.json().await.unwrap();
    assert_eq!(before, json!({ "emailVerified": false }));
    let resend = app
        .with_bearer(
            Method::POST,
            "/api/email/send-verification",
            &jane.access_token,
        )
        .await;
    assert!(resend.headers().contains_key(header::RETRY_AFTER));
    problem(resend, 429, "rate_limited").await;

    let verify = || {
        app.request(Method::POST, "/api/email/verify")
            .json(&json!({ "token": token }))
            .send()
    };
    assert_eq!(verify().await.unwrap().status(), 204);
    let after: Value = status().await.json().await.unwrap();
    assert_eq!(after, json!({ "emailVerified": true }));
    problem(verify().await.unwrap(), 400, "invalid_token").await;
    problem(
        app.post_json("/api/email/verify", &json!({ "token": "x".repeat(43) }))
            .await,
        400,
        "invalid_token",
    )
    .await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Behind a trusted proxy the client is the forwarded address: limits count per client, and
/// a forged header from an untrusted peer changes nothing.
async fn throttles_key_on_the_client_a_trusted_proxy_reports(backend: Backend) {
    let app = spawn_app_with(
        AppOptions::new(backend)
            .set("server.trusted_proxies", json!(["127.0.0.1/32"]))
            .set("rate_limits.login_per_ip", "2/1m"),
    )
    .await;
    app.signed_up("jane").await;
    let login_from = |client: &str| {
        app.request(Method::POST, "/api/auth/login")
            .header("X-Forwarded-For", client)
            .json(&json!({ "emailOrUsername": "jane", "password": PASSWORD }))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(login_from("203.0.113.7").await.unwrap().status(), 200);
    }
    problem(
        login_from("203.0.113.7").await.unwrap(),
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(login_from("198.51.100.9").await.unwrap().status(), 200);
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The same, without trusting the peer: every header value is the peer itself.
async fn a_forwarded_header_from_an_untrusted_peer_is_ignored(backend: Backend) {
    let app =
        spawn_app_with(AppOptions::new(backend).set("rate_limits.login_per_ip", "2/1m")).await;
    app.signed_up("jane").await;
    for n in 0..2 {
        let response = app
            .request(Method::POST, "/api/auth/login")
            .header("X-Forwarded-For", format!("203.0.113.{n}"))
            .json(&json!({ "emailOrUsername": "jane", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let forged = app
        .request(Method::POST, "/api/auth/login")
        .header("X-Forwarded-For", "198.51.100.99")
        .json(&json!({ "emailOrUsername": "jane", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    problem(forged, 429, "rate_limited").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

trait LoginAfterSignup {
    async fn login_after_signup(&self, username: &str) -> Response;
}

impl LoginAfterSignup for twofa_tests::TestApp {
    async fn login_after_signup(&self, username: &str) -> Response {
        let _: SignedIn = self.signed_up(username).await;
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), 200);
        response
    }
}

twofa_tests::on_every_backend!(
    the_refresh_cookie_needs_its_csrf_token,
    a_csrf_pair_not_issued_with_the_refresh_cookie_fails,
    a_double_refresh_within_the_grace_keeps_one_session,
    sessions_are_listed_and_revoked_one_by_one,
    a_password_change_ends_the_other_sessions,
    a_reset_link_sets_a_new_password_and_ends_every_session,
    the_verification_link_verifies_the_address,
    throttles_key_on_the_client_a_trusted_proxy_reports,
    a_forwarded_header_from_an_untrusted_peer_is_ignored,
);
