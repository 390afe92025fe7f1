//! Accounts and sessions over HTTP, on every backend: register → me → refresh (rotation, and
//! reuse ending the session) → logout; login failures that look alike; throttling with
//! `Retry-After`; bodies refused without a trace; cookies with their CSRF token; e-mail links.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::{Method, header};
use serde_json::{Value, json};
use twofa_tests::{AppOptions, Backend, PASSWORD, SignedIn, TestApp, problem, spawn_app_with};

/// Register → me → refresh → the rotated token fails and ends the session → logout ends the
/// access token at the next request.
async fn register_me_refresh_logout(backend: Backend) {
    let app =
        spawn_app_with(AppOptions::new(backend).set("tokens.refresh_reuse_grace", "0s")).await;
    let response = app.register("Jane@Example.com", "jane", PASSWORD).await;
    assert_eq!(response.status(), 201);
    let response_cache_control = response.headers()[header::CACHE_CONTROL].clone();
    let cookies: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    assert_eq!(body["user"]["emailVerified"], false);
    let jane = SignedIn::from_body(&body);
    assert!(
        cookies.iter().any(|c| c.starts_with(&format!(
            "refreshToken={}; Path=/api/auth; HttpOnly; SameSite=Strict",
            jane.refresh_token
        ))),
        "{cookies:?}"
    );
    assert!(cookies.iter().any(|c| c.starts_with("csrfToken=")));
    assert_eq!(response_cache_control, "no-store");

    let me = app.me(&jane.access_token).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], jane.user_id.as_str());
    assert_eq!(me["email"], "Jane@Example.com");
    assert_eq!(me["username"], "jane");
    assert_eq!(me["role"], "user");
    assert_eq!(me["twoFactorEnabled"], false);
    assert_eq!(me["isActive"], true);

    let refreshed = app.refresh(&jane.refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    let next = SignedIn::from_body(&refreshed.json().await.unwrap());
    assert_ne!(next.refresh_token, jane.refresh_token);
    assert_eq!(app.me(&next.access_token).await.status(), 200);

    // The rotated token again: theft assumed, the whole session ends.
    problem(app.refresh(&jane.refresh_token).await, 401, "unauthorized").await;
    problem(app.refresh(&next.refresh_token).await, 401, "unauthorized").await;
    problem(app.me(&next.access_token).await, 401, "unauthorized").await;

    let again = app.signed_in("jane@example.com").await;
    assert_eq!(app.me(&again.access_token).await.status(), 200);
    assert_eq!(app.logout(&again.refresh_token).await.status(), 204);
    problem(app.me(&again.access_token).await, 401, "unauthorized").await;
    problem(app.logout(&again.refresh_token).await, 401, "unauthorized").await;

    // A memory store lives in the app's process only; the use-case tests check its trail.
    if backend != Backend::Memory {
        audited(&app).await;
    }
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The trail has an event for each step of the flow.
async fn audited(app: &TestApp) {
    let backends = app.connect_backends().await;
    let events = backends
        .audit
        .query(&twofa_domain::AuditQuery {
            limit: 200,
            ..twofa_domain::AuditQuery::all()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = events
        .items
        .iter()
        .map(|event| event.event.action.as_str())
        .collect();
    for action in [
        "user.registered",
        "security.refresh_token_reuse",
        "user.login.succeeded",
        "user.logout",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    backends.close().await;
}

/// A wrong password and an unknown user: the same status and body but for the request id.
async fn login_failures_look_alike(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    app.signed_up("jane").await;
    let strip = |mut body: Value| {
        body.as_object_mut().unwrap().remove("instance");
        body
    };
    let wrong = problem(
        app.login("jane", "not the password at all").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = problem(
        app.login("nobody", "not the password at all").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(strip(wrong), strip(unknown));
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A disabled account answers its right password as a wrong one, and its session stops.
async fn a_disabled_account_looks_like_a_wrong_password(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    let jane = app.signed_up("jane").await;
    let backends = app.connect_backends().await;
    let id = jane.user_id.parse().unwrap();
    assert!(backends.users.set_active(id, false).await.unwrap());
    backends.close().await;
    let strip = |mut body: Value| {
        body.as_object_mut().unwrap().remove("instance");
        body
    };
    let disabled = problem(
        app.login("jane", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let wrong = problem(
        app.login("jane", "not the password at all").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(strip(disabled), strip(wrong));
    problem(app.refresh(&jane.refresh_token).await, 401, "unauthorized").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The sixth rapid failed login from one address is refused with `Retry-After`.
async fn the_sixth_failed_login_is_throttled(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend)).await;
    app.signed_up("jane").await;
    for _ in 0..5 {
        problem(
            app.login("jane", "not the password at all").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let sixth = app.login("jane", PASSWORD).await;
    let retry_after: u64 = sixth.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(sixth.headers()["ratelimit-limit"], "5");
    assert_eq!(sixth.headers()["ratelimit-remaining"], "0");
    assert!(sixth.headers().contains_key("ratelimit-reset"));
    problem(sixth, 429, "rate_limited").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A malformed body is a 400 and an oversized one a 413; neither writes anything.
async fn refused_bodies_write_nothing(backend: Backend) {
    let app = spawn_app_with(AppOptions::new(backend).set("server.body_limit", 1024)).await;
    let malformed = app
        .request(Method::POST, "/api/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"email": "jane@example.com", "username": "jane", "password": "#)
        .send()
        .await
        .unwrap();
    problem(malformed, 400, "malformed_body").await;
    let mistyped = app
        .post_json(
            "/api/auth/register",
            &json!({ "email": "jane@example.com", "username": 7, "password": PASSWORD }),
        )
        .await;
    let body = problem(mistyped, 400, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "username");
    let invalid = app
        .post_json(
            "/api/auth/register",
            &json!({ "email": "not-an-address", "username": "jane", "password": "password" }),
        )
        .await;
    let body = problem(invalid, 400, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    let oversized = app
        .post_json(
            "/api/auth/register",
            &json!({ "email": "jane@example.com", "username": "jane", "password": "x".repeat(2000) }),
        )
        .await;
    problem(oversized, 413, "payload_too_large").await;
    assert_eq!(app.run_pending_jobs().await, [], "no job was queued");
    assert!(app.outbox().is_empty());
    // Nothing was written: the same account signs up now without a conflict.
    assert_eq!(
        app.register("jane@example.com", "jane", PASSWORD)
            .await
            .status(),
        201
    );
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Two instances over one database and one Redis share the failure counters: failures
/// spread over both still throttle the sixth attempt.
#[tokio::test]
async fn instances_share_the_failure_counters() {
    let first = spawn_app_with(AppOptions::new(Backend::PostgresRedis)).await;
    let second =
        spawn_app_with(AppOptions::new(Backend::PostgresRedis).database(&first.database_url)).await;
    first.signed_up("jane").await;
    for app in [&first, &second, &first, &second, &first] {
        problem(
            app.login("jane", "not the password at all").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    problem(second.login("jane", PASSWORD).await, 429, "rate_limited").await;
    first.run_pending_jobs().await;
    second.stop().await;
    first.stop().await;
}

/// A hash made under older Argon2 parameters verifies, and the login stores one made under
/// the current parameters; the account and its session survive the restart.
#[tokio::test]
async fn a_login_upgrades_a_hash_made_under_older_parameters() {
    let before = spawn_app_with(AppOptions::new(Backend::Sqlite)).await;
    let jane = before.signed_up("jane").await;
    before.run_pending_jobs().await;
    let url = before.database_url.clone();
    let kept = before.stop().await;

    let key = kept.path().join("jwt-signing-key.pem");
    let after = spawn_app_with(
        AppOptions::new(Backend::Sqlite)
            .database(&url)
            .set("tokens.dev_key_file", key.to_str().unwrap())
            .set("hashing.memory_kib", 512),
    )
    .await;
    let stored = || async {
        let backends = after.connect_backends().await;
        let user = backends.users.find_by_login("jane").await.unwrap().unwrap();
        backends.close().await;
        user.password_hash.as_phc().to_owned()
    };
    assert!(stored().await.contains("m=256,"), "{}", stored().await);
    assert_eq!(after.me(&jane.access_token).await.status(), 200);
    assert_eq!(after.login("jane", PASSWORD).await.status(), 200);
    assert!(stored().await.contains("m=512,"), "{}", stored().await);
    assert_eq!(after.login("jane", PASSWORD).await.status(), 200);
    after.run_pending_jobs().await;
    after.stop().await;
}

/// A hashing pool with one worker and one waiting slot sheds the rest of a burst with 503
/// `overloaded` and `Retry-After`, at once, and serves the requests it admitted.
#[tokio::test]
async fn a_full_hashing_pool_sheds_load_with_retry_after() {
    let app = spawn_app_with(
        AppOptions::new(Backend::Sqlite)
            .set("hashing.workers", 1)
            .set("hashing.queue", 1)
            .set("hashing.memory_kib", 65_536)
            .set("hashing.iterations", 4)
            .set("rate_limits.login_per_ip", "1000/1m")
            .set("rate_limits.failures_per_account_ip", "1000/1m"),
    )
    .await;
    let burst = (0..12).map(|n| {
        app.request(Method::POST, "/api/auth/login")
            .json(&json!({ "emailOrUsername": format!("nobody{n}"), "password": "wrong" }))
            .send()
    });
    let answers = futures::future::join_all(burst).await;
    let mut statuses: Vec<u16> = Vec::new();
    for response in answers {
        let response = response.unwrap();
        let status = response.status().as_u16();
        if status == 503 {
            assert!(response.headers().contains_key(header::RETRY_AFTER));
            problem(response, 503, "overloaded").await;
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(statuses.contains(&401), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    app.run_pending_jobs().await;
    app.stop().await;
}

// A memory store lives in the app's process only: no second handle can disable an account
// there (the use-case tests cover the memory stores).
#[tokio::test]
async fn a_disabled_account_looks_like_a_wrong_password_on_sqlite() {
    Box::pin(a_disabled_account_looks_like_a_wrong_password(
        Backend::Sqlite,
    ))
    .await;
}

#[tokio::test]
async fn a_disabled_account_looks_like_a_wrong_password_on_postgres_redis() {
    Box::pin(a_disabled_account_looks_like_a_wrong_password(
        Backend::PostgresRedis,
    ))
    .await;
}

twofa_tests::on_every_backend!(
    register_me_refresh_logout,
    login_failures_look_alike,
    the_sixth_failed_login_is_throttled,
    refused_bodies_write_nothing,
);
