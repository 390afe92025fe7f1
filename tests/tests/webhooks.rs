//! Webhooks over HTTP, on every backend: the event catalogue; endpoints made, changed and
//! deleted by their owner only (and global ones by administrators); and deliveries to a real
//! HTTP receiver on loopback (`webhooks.allowed_cidrs` lets the tests reach it), signed so
//! that the independent Standard Webhooks verifier (the `standardwebhooks` crate) accepts
//! them, retried at the configured delays on a manual clock, refused for loopback unless
//! allowed, never redirected, disabling an endpoint that keeps failing, retried by hand.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::sync::Arc;

use chrono::TimeDelta;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use twofa_domain::Clock as _;
use twofa_memory::ManualClock;
use twofa_tests::{
    AppOptions, Backend, SignedIn, TestApp, administrator, app_with_users, problem, spawn_app,
    spawn_app_with,
};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

/// The event types API.md names ("Webhook delivery"): the catalogue must hold at least these.
const DOCUMENTED: [&str; 22] = [
    "user.registered",
    "user.login.succeeded",
    "user.login.failed",
    "user.email.verified",
    "user.password.changed",
    "user.password.reset",
    "user.disabled",
    "user.enabled",
    "session.revoked",
    "security.refresh_token_reuse",
    "2fa.enabled",
    "2fa.disabled",
    "2fa.verified",
    "2fa.failed",
    "2fa.backup_codes.generated",
    "2fa.backup_code.used",
    "2fa.backup_codes.low",
    "device.trusted",
    "device.revoked",
    "api_key.created",
    "api_key.revoked",
    "webhook.test",
];

/// Every documented event type is listed once, with a description and an example `data`
/// object; the route needs a token.
async fn the_catalogue_lists_every_event_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let response = app
        .with_bearer(Method::GET, "/api/webhooks/events", &jane.access_token)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    let names: Vec<&str> = items
        .iter()
        .map(|item| item["type"].as_str().unwrap())
        .collect();
    for documented in DOCUMENTED {
        assert_eq!(
            names.iter().filter(|name| **name == documented).count(),
            1,
            "{documented} in {names:?}"
        );
    }
    for item in items {
        assert!(!item["description"].as_str().unwrap().is_empty(), "{item}");
        assert!(item["example"].is_object(), "{item}");
        if item["type"] != "webhook.test" {
            assert!(item["example"]["userId"].is_string(), "{item}");
        }
    }
    problem(app.get("/api/webhooks/events").await, 401, "unauthorized").await;
    let global = app
        .with_bearer(
            Method::GET,
            "/api/admin/webhooks/events",
            &jane.access_token,
        )
        .await;
    problem(global, 403, "forbidden").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Options whose receivers on loopback may be called.
fn reachable(backend: Backend) -> AppOptions {
    AppOptions::new(backend).set("webhooks.allowed_cidrs", json!(["127.0.0.0/8"]))
}

/// `method path` with `who`'s access token and an optional JSON body.
async fn call(
    app: &TestApp,
    who: &SignedIn,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let request = app.request(method, path).bearer_auth(&who.access_token);
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    request.send().await.unwrap()
}

/// A new endpoint of `who` (under `base`, `/api/webhooks` or `/api/admin/webhooks`) for
/// `events` at `url`: the 201 body, secret included.
async fn endpoint(app: &TestApp, who: &SignedIn, base: &str, url: &str, events: &[&str]) -> Value {
    let response = call(
        app,
        who,
        Method::POST,
        base,
        Some(&json!({ "url": url, "events": events, "description": "tests" })),
    )
    .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "it carries the secret"
    );
    response.json().await.unwrap()
}

fn id(body: &Value) -> &str {
    body["id"].as_str().unwrap()
}

fn secret(body: &Value) -> &str {
    body["secret"].as_str().unwrap()
}

/// `POST {base}/{id}/test`: the pending delivery.
async fn send_test(app: &TestApp, who: &SignedIn, base: &str, endpoint: &Value) -> Value {
    let path = format!("{base}/{}/test", id(endpoint));
    let response = call(app, who, Method::POST, &path, None).await;
    assert_eq!(response.status(), 202);
    let delivery: Value = response.json().await.unwrap();
    assert_eq!(delivery["status"], "pending", "{delivery}");
    assert_eq!(delivery["eventType"], "webhook.test", "{delivery}");
    delivery
}

/// The delivery log of `endpoint`, newest first.
async fn deliveries(app: &TestApp, who: &SignedIn, base: &str, endpoint: &Value) -> Vec<Value> {
    let path = format!("{base}/{}/deliveries", id(endpoint));
    let response = call(app, who, Method::GET, &path, None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

/// A receiver on loopback answering `status` to every request.
async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_string("thanks"))
        .mount(&server)
        .await;
    server
}

/// A receiver on loopback answering `status` (with the body `down`) to the first `times`
/// requests, then 200.
async fn failing_receiver(times: u64, status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_string("down"))
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn hook_url(server: &MockServer) -> String {
    format!("{}/hook", server.uri())
}

async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap_or_default()
}

/// Verifies `request` with the independent Standard Webhooks verifier under `secret`, and
/// answers its body.
fn verified(secret: &str, request: &wiremock::Request) -> Value {
    let verifier = standardwebhooks::Webhook::new(secret).unwrap();
    verifier
        .verify(&request.body, &request.headers)
        .unwrap_or_else(|error| panic!("the verifier refuses the delivery: {error:?}"));
    serde_json::from_slice(&request.body).unwrap()
}

fn header<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request.headers[name].to_str().unwrap()
}

// ---------------------------------------------------------------------------------------
// Endpoints

/// The owner makes, lists, reads, changes and deletes an endpoint; its secret is answered
/// once; another user's id is 404.
async fn an_endpoint_belongs_to_its_owner(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let bob = app.signed_up("bob").await;
    let made = endpoint(
        &app,
        &jane,
        "/api/webhooks",
        "https://hooks.example.com/twofa?token=x",
        &["user.login.succeeded", "2fa.enabled"],
    )
    .await;
    assert!(secret(&made).starts_with("whsec_"), "{made}");
    assert_eq!(made["enabled"], true);
    assert_eq!(made["description"], "tests");
    let path = format!("/api/webhooks/{}", id(&made));

    let got: Value = call(&app, &jane, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["url"], made["url"]);
    assert!(
        got.get("secret").is_none(),
        "the secret is shown once: {got}"
    );
    let listed: Value = call(&app, &jane, Method::GET, "/api/webhooks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0].get("secret").is_none());

    let changed = call(
        &app,
        &jane,
        Method::PATCH,
        &path,
        Some(&json!({ "events": ["*"], "description": "" })),
    )
    .await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["events"], json!(["*"]));
    assert_eq!(changed["description"], Value::Null);

    // Bob sees none of it.
    let theirs: Value = call(&app, &bob, Method::GET, "/api/webhooks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));
    for (method, suffix) in [
        (Method::GET, ""),
        (Method::PATCH, ""),
        (Method::DELETE, ""),
        (Method::POST, "/test"),
        (Method::POST, "/rotate-secret"),
        (Method::GET, "/deliveries"),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "enabled": false }));
        let response = call(
            &app,
            &bob,
            method.clone(),
            &format!("{path}{suffix}"),
            body.as_ref(),
        )
        .await;
        problem(response, 404, "not_found").await;
    }

    let deleted = call(&app, &jane, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    problem(
        call(&app, &jane, Method::GET, &path, None).await,
        404,
        "not_found",
    )
    .await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Bad input is 400 `validation_failed` naming the field, and makes nothing.
async fn bad_input_is_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    for (body, field) in [
        (
            json!({ "url": "ftp://example.com/x", "events": ["*"] }),
            "url",
        ),
        (
            json!({ "url": "https://u:p@example.com/x", "events": ["*"] }),
            "url",
        ),
        (json!({ "url": "not a url", "events": ["*"] }), "url"),
        (
            json!({ "url": "https://example.com/x", "events": [] }),
            "events",
        ),
        (
            json!({ "url": "https://example.com/x", "events": ["no.such"] }),
            "events",
        ),
        (
            json!({ "url": "https://example.com/x", "events": ["*", "2fa.enabled"] }),
            "events",
        ),
    ] {
        let response = call(&app, &jane, Method::POST, "/api/webhooks", Some(&body)).await;
        let problem = problem(response, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let listed: Value = call(&app, &jane, Method::GET, "/api/webhooks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "nothing made");

    app.run_pending_jobs().await;
    app.stop().await;
}

/// An owner has at most 50 endpoints (each event fans out to every one): the 51st is 409
/// and makes nothing; the list pages newest first; another user is not counted; after a delete there is room again. (The
/// endpoints subscribe to an event the test never causes: nothing is sent.)
async fn an_owner_has_at_most_fifty_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let mut made = Vec::new();
    for n in 0..50 {
        let url = format!("https://hooks.example.com/{n}");
        made.push(endpoint(&app, &jane, "/api/webhooks", &url, &["2fa.enabled"]).await);
    }
    let body = json!({ "url": "https://hooks.example.com/51", "events": ["*"] });
    let refused = call(&app, &jane, Method::POST, "/api/webhooks", Some(&body)).await;
    problem(refused, 409, "conflict").await;
    let listed: Value = call(&app, &jane, Method::GET, "/api/webhooks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 50);
    assert_eq!(listed["nextCursor"], Value::Null);
    // Paged: newest first, each endpoint once, the last page without a cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/webhooks?limit=20&cursor={cursor}"),
            None => "/api/webhooks?limit=20".to_owned(),
        };
        let page: Value = call(&app, &jane, Method::GET, &path, None)
            .await
            .json()
            .await
            .unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| id(item).to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<String> = made.iter().rev().map(|e| id(e).to_owned()).collect();
    assert_eq!(seen, newest_first);
    let bad = call(&app, &jane, Method::GET, "/api/webhooks?cursor=nope", None).await;
    problem(bad, 400, "validation_failed").await;
    let bob = app.signed_up("bob").await;
    endpoint(
        &app,
        &bob,
        "/api/webhooks",
        "https://hooks.example.com/b",
        &["2fa.enabled"],
    )
    .await;
    let path = format!("/api/webhooks/{}", id(&made[0]));
    assert_eq!(
        call(&app, &jane, Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    endpoint(
        &app,
        &jane,
        "/api/webhooks",
        "https://hooks.example.com/51",
        &["2fa.enabled"],
    )
    .await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A key with `webhooks:read` lists endpoints but cannot make one (403); an access token of
/// a non-administrator cannot reach the global endpoints (403).
async fn keys_and_roles_bound_what_reaches_the_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let made = call(
        &app,
        &jane,
        Method::POST,
        "/api/api-keys",
        Some(&json!({ "name": "reader", "scopes": ["webhooks:read"] })),
    )
    .await;
    let key: Value = made.json().await.unwrap();
    let key = key["apiKey"].as_str().unwrap();
    let listed = app
        .request(Method::GET, "/api/webhooks")
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let refused = app
        .request(Method::POST, "/api/webhooks")
        .header("X-API-Key", key)
        .json(&json!({ "url": "https://example.com/x", "events": ["*"] }))
        .send()
        .await
        .unwrap();
    problem(refused, 403, "insufficient_scope").await;
    let global = call(&app, &jane, Method::GET, "/api/admin/webhooks", None).await;
    problem(global, 403, "forbidden").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Deliveries

/// Each event of the owner reaches the owner's receiver, signed for the independent
/// verifier, with the documented headers and body; another user's events do not; a global
/// endpoint receives every user's events.
async fn events_reach_a_real_receiver_signed_for_an_independent_verifier(backend: Backend) {
    let (app, users) = app_with_users(reachable(backend)).await;
    let admin = administrator(&app, users.as_ref(), "root").await;
    let jane = app.signed_up("jane").await;
    let bob = app.signed_up("bob").await;
    app.run_pending_jobs().await;
    let own = receiver(200).await;
    let global = receiver(204).await;
    let janes = endpoint(&app, &jane, "/api/webhooks", &hook_url(&own), &["*"]).await;
    let catalogue = call(
        &app,
        &admin,
        Method::GET,
        "/api/admin/webhooks/events",
        None,
    )
    .await;
    assert_eq!(catalogue.status(), 200);
    let catalogue: Value = catalogue.json().await.unwrap();
    assert_eq!(
        catalogue["items"].as_array().unwrap().len(),
        DOCUMENTED.len()
    );
    let globals = endpoint(
        &app,
        &admin,
        "/api/admin/webhooks",
        &hook_url(&global),
        &["user.login.succeeded", "user.login.failed"],
    )
    .await;

    app.signed_in("jane").await;
    assert_eq!(app.login("jane", "not the password").await.status(), 401);
    app.signed_in("bob").await;
    send_test(&app, &jane, "/api/webhooks", &janes).await;
    app.run_pending_jobs().await;

    let requests = received(&own).await;
    let mut types = Vec::new();
    for request in &requests {
        assert_eq!(request.url.path(), "/hook");
        assert_eq!(header(request, "content-type"), "application/json");
        assert!(header(request, "webhook-id").starts_with("msg_"));
        assert!(header(request, "webhook-timestamp").parse::<i64>().is_ok());
        let body = verified(secret(&janes), request);
        assert!(body["timestamp"].is_string(), "{body}");
        assert!(body["data"].is_object(), "{body}");
        let kind = body["type"].as_str().unwrap().to_owned();
        if kind != "webhook.test" {
            assert_eq!(body["data"]["userId"], jane.user_id.as_str(), "{body}");
        }
        types.push(kind);
    }
    types.sort();
    assert_eq!(
        types,
        ["user.login.failed", "user.login.succeeded", "webhook.test"],
        "jane's events only, each once"
    );

    let requests = received(&global).await;
    let mut heard = Vec::new();
    for request in &requests {
        let body = verified(secret(&globals), request);
        heard.push((
            body["type"].as_str().unwrap().to_owned(),
            body["data"]["userId"].as_str().unwrap().to_owned(),
        ));
    }
    for expected in [
        ("user.login.succeeded", &jane.user_id),
        ("user.login.failed", &jane.user_id),
        ("user.login.succeeded", &bob.user_id),
    ] {
        assert!(
            heard
                .iter()
                .any(|(kind, user)| kind == expected.0 && user == expected.1),
            "{expected:?} in {heard:?}"
        );
    }
    let log = deliveries(&app, &jane, "/api/webhooks", &janes).await;
    assert_eq!(log.len(), 3);
    for delivery in &log {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["responseStatus"], 200);
        assert_eq!(delivery["responseBody"], "thanks");
        assert!(delivery["durationMs"].is_u64(), "{delivery}");
    }
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A receiver that answers 500 three times and then 200 gets the event on the fourth
/// attempt, each retry waiting its delay of `webhooks.retry_schedule` (±10%): nothing is
/// sent before it, and the attempt is made once it has passed.
async fn a_failing_receiver_gets_the_event_at_the_configured_delays(backend: Backend) {
    let clock = Arc::new(ManualClock::new(twofa_crypto::SystemClock.now()));
    let app = spawn_app_with(
        reachable(backend)
            .clock(clock.clone())
            .set("webhooks.retry_schedule", json!(["1m", "2m", "3m"])),
    )
    .await;
    let jane = app.signed_up("jane").await;
    app.run_pending_jobs().await;
    let server = failing_receiver(3, 500).await;
    let made = endpoint(
        &app,
        &jane,
        "/api/webhooks",
        &hook_url(&server),
        &["webhook.test"],
    )
    .await;
    send_test(&app, &jane, "/api/webhooks", &made).await;
    app.run_pending_jobs().await;
    assert_eq!(received(&server).await.len(), 1, "the first attempt");
    let log = deliveries(&app, &jane, "/api/webhooks", &made).await;
    assert_eq!(log[0]["status"], "pending", "{log:?}");
    assert_eq!(log[0]["responseStatus"], 500);
    assert_eq!(log[0]["responseBody"], "down");

    // Each retry: not before 90% of its delay, by 110% of it.
    for (retry, minutes) in [(2, 1), (3, 2), (4, 3)] {
        let delay = TimeDelta::minutes(minutes);
        clock.advance(delay * 85 / 100);
        app.run_pending_jobs().await;
        assert_eq!(
            received(&server).await.len(),
            retry - 1,
            "retry {retry} waits for its delay"
        );
        clock.advance(delay * 26 / 100);
        app.run_pending_jobs().await;
        assert_eq!(
            received(&server).await.len(),
            retry,
            "retry {retry} is made"
        );
    }
    let requests = received(&server).await;
    let ids: Vec<&str> = requests
        .iter()
        .map(|request| header(request, "webhook-id"))
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one event id: {ids:?}");
    let jane = app.signed_in("jane").await;
    let log = deliveries(&app, &jane, "/api/webhooks", &made).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    assert_eq!(log[0]["attempts"], 4);
    assert_eq!(log[0]["responseStatus"], 200);
    clock.advance(TimeDelta::hours(1));
    app.run_pending_jobs().await;
    assert_eq!(received(&server).await.len(), 4, "nothing after success");
    app.stop().await;
}

/// Without `webhooks.allowed_cidrs`, a URL that resolves to 127.0.0.1 (by name or as a
/// literal) is refused at delivery: nothing reaches the receiver, and the delivery fails at
/// once, saying why.
async fn a_destination_on_loopback_is_refused_unless_allowed(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    app.run_pending_jobs().await;
    let server = receiver(200).await;
    let port = server.address().port();
    for url in [
        format!("http://localhost:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ] {
        let made = endpoint(&app, &jane, "/api/webhooks", &url, &["*"]).await;
        send_test(&app, &jane, "/api/webhooks", &made).await;
        app.run_pending_jobs().await;
        let log = deliveries(&app, &jane, "/api/webhooks", &made).await;
        assert_eq!(log[0]["status"], "failed", "{url}: {log:?}");
        assert_eq!(log[0]["attempts"], 1, "{url}");
        assert_eq!(log[0]["responseStatus"], Value::Null, "{url}");
        assert!(
            log[0]["responseBody"]
                .as_str()
                .unwrap()
                .starts_with("refused"),
            "{url}: {log:?}"
        );
    }
    assert!(received(&server).await.is_empty(), "nothing was sent");
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A redirect is an answer, never followed: its target receives nothing, and the delivery
/// is a failed attempt with the 3xx status.
async fn a_redirect_is_not_followed(backend: Backend) {
    let app = spawn_app_with(reachable(backend).set("webhooks.retry_schedule", json!([]))).await;
    let jane = app.signed_up("jane").await;
    app.run_pending_jobs().await;
    let target = receiver(200).await;
    let redirecting = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", hook_url(&target).as_str()),
        )
        .mount(&redirecting)
        .await;
    let made = endpoint(
        &app,
        &jane,
        "/api/webhooks",
        &hook_url(&redirecting),
        &["*"],
    )
    .await;
    send_test(&app, &jane, "/api/webhooks", &made).await;
    app.run_pending_jobs().await;
    assert_eq!(received(&redirecting).await.len(), 1);
    assert!(
        received(&target).await.is_empty(),
        "the redirect was followed"
    );
    let log = deliveries(&app, &jane, "/api/webhooks", &made).await;
    assert_eq!(log[0]["status"], "failed", "{log:?}");
    assert_eq!(log[0]["responseStatus"], 307);
    app.run_pending_jobs().await;
    app.stop().await;
}

/// After `rotate-secret` deliveries carry two signatures, one by each secret, each accepted
/// by the verifier; a day later only the new secret signs.
async fn a_rotated_secret_signs_beside_the_old_one_for_a_day(backend: Backend) {
    let clock = Arc::new(ManualClock::new(twofa_crypto::SystemClock.now()));
    let app = spawn_app_with(reachable(backend).clock(clock.clone())).await;
    let jane = app.signed_up("jane").await;
    app.run_pending_jobs().await;
    let server = receiver(200).await;
    let made = endpoint(
        &app,
        &jane,
        "/api/webhooks",
        &hook_url(&server),
        &["webhook.test"],
    )
    .await;
    let path = format!("/api/webhooks/{}/rotate-secret", id(&made));
    let rotated = call(&app, &jane, Method::POST, &path, None).await;
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, secret(&made));
    send_test(&app, &jane, "/api/webhooks", &made).await;
    app.run_pending_jobs().await;
    let requests = received(&server).await;
    assert_eq!(requests.len(), 1);
    let signatures = header(&requests[0], "webhook-signature");
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    verified(secret(&made), &requests[0]);
    verified(new_secret, &requests[0]);

    clock.advance(TimeDelta::hours(25));
    let jane = app.signed_in("jane").await;
    send_test(&app, &jane, "/api/webhooks", &made).await;
    app.run_pending_jobs().await;
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    let signatures = header(&requests[1], "webhook-signature");
    assert_eq!(signatures.split(' ').count(), 1, "{signatures}");
    app.run_pending_jobs().await;
    app.stop().await;
}

/// After `webhooks.disable_after_failures` failed deliveries in a row the endpoint is
/// disabled: no more is sent, `/test` is 409; its owner enables it and deliveries resume.
async fn an_endpoint_that_keeps_failing_is_disabled_until_its_owner_enables_it(backend: Backend) {
    let app = spawn_app_with(
        reachable(backend)
            .set("webhooks.retry_schedule", json!([]))
            .set("webhooks.disable_after_failures", 2),
    )
    .await;
    let jane = app.signed_up("jane").await;
    app.run_pending_jobs().await;
    let server = failing_receiver(2, 503).await;
    let made = endpoint(&app, &jane, "/api/webhooks", &hook_url(&server), &["*"]).await;
    let path = format!("/api/webhooks/{}", id(&made));
    for _ in 0..2 {
        send_test(&app, &jane, "/api/webhooks", &made).await;
        app.run_pending_jobs().await;
    }
    let now: Value = call(&app, &jane, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["enabled"], false, "{now}");
    let refused = call(&app, &jane, Method::POST, &format!("{path}/test"), None).await;
    problem(refused, 409, "conflict").await;
    app.signed_in("jane").await;
    app.run_pending_jobs().await;
    assert_eq!(
        received(&server).await.len(),
        2,
        "nothing sent while disabled"
    );

    let enabled = call(
        &app,
        &jane,
        Method::PATCH,
        &path,
        Some(&json!({ "enabled": true })),
    )
    .await;
    assert_eq!(enabled.status(), 200);
    send_test(&app, &jane, "/api/webhooks", &made).await;
    app.run_pending_jobs().await;
    assert_eq!(received(&server).await.len(), 3);
    let log = deliveries(&app, &jane, "/api/webhooks", &made).await;
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A failed delivery is tried once more by hand (202, then delivered); a delivered one is
/// 409.
async fn a_failed_delivery_is_retried_by_hand(backend: Backend) {
    let app = spawn_app_with(reachable(backend).set("webhooks.retry_schedule", json!([]))).await;
    let jane = app.signed_up("jane").await;
    app.run_pending_jobs().await;
    let server = failing_receiver(1, 500).await;
    let made = endpoint(&app, &jane, "/api/webhooks", &hook_url(&server), &["*"]).await;
    let delivery = send_test(&app, &jane, "/api/webhooks", &made).await;
    app.run_pending_jobs().await;
    let log = deliveries(&app, &jane, "/api/webhooks", &made).await;
    assert_eq!(log[0]["status"], "failed", "{log:?}");
    let retry = format!(
        "/api/webhooks/{}/deliveries/{}/retry",
        id(&made),
        id(&delivery)
    );
    let retried = call(&app, &jane, Method::POST, &retry, None).await;
    assert_eq!(retried.status(), 202);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["status"], "pending");
    app.run_pending_jobs().await;
    let log = deliveries(&app, &jane, "/api/webhooks", &made).await;
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    assert_eq!(log[0]["attempts"], 2);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(
        header(&requests[0], "webhook-id"),
        header(&requests[1], "webhook-id"),
        "the same event"
    );
    let again = call(&app, &jane, Method::POST, &retry, None).await;
    problem(again, 409, "conflict").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// No signing secret (the `whsec_` text or its key) nor a signature is put in a job payload
/// the stores keep, an audit event or a log line, across creation, rotation and a delivery
/// signed by both; the audit trail keeps no URL path.
async fn signing_secrets_stay_out_of_jobs_and_logs(backend: Backend) {
    let app = spawn_app_with(reachable(backend)).await;
    let jane = app.signed_up("jane").await;
    let server = receiver(200).await;
    let made = endpoint(&app, &jane, "/api/webhooks", &hook_url(&server), &["*"]).await;
    let path = format!("/api/webhooks/{}/rotate-secret", id(&made));
    let rotated: Value = call(&app, &jane, Method::POST, &path, None)
        .await
        .json()
        .await
        .unwrap();
    send_test(&app, &jane, "/api/webhooks", &made).await;
    app.run_pending_jobs().await;
    let requests = received(&server).await;
    assert!(!requests.is_empty(), "delivered");
    let mut secrets = Vec::new();
    for secret in [secret(&made), rotated["secret"].as_str().unwrap()] {
        secrets.push(secret.to_owned());
        secrets.push(secret.trim_start_matches("whsec_").to_owned());
    }
    for request in &requests {
        for signature in header(request, "webhook-signature").split(' ') {
            secrets.push(signature.trim_start_matches("v1,").to_owned());
        }
    }
    let stored = app.stored_job_payloads().await;
    if app.settings.jobs.backend != twofa::settings::JobsBackend::Memory {
        assert!(
            stored.iter().any(|payload| payload.contains("deliveryId")),
            "the stores keep the delivery jobs: {stored:?}"
        );
    }
    for payload in &stored {
        for secret in &secrets {
            assert!(!payload.contains(secret.as_str()), "{payload}");
        }
    }
    // Nor the audit trail, which keeps the endpoint's scheme and host only (a receiver's
    // token may be in the path).
    let audit = call(&app, &jane, Method::GET, "/api/audit-logs?limit=200", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("webhook.created"), "{audit}");
    assert!(audit.contains("webhook.secret_rotated"), "{audit}");
    assert!(!audit.contains(&hook_url(&server)), "{audit}");
    for secret in &secrets {
        assert!(!audit.contains(secret.as_str()), "{audit}");
    }
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    app.assert_no_secret_in_logs(&secrets);
    app.run_pending_jobs().await;
    app.stop().await;
}

twofa_tests::on_every_backend!(
    the_catalogue_lists_every_event_type,
    an_endpoint_belongs_to_its_owner,
    bad_input_is_refused_naming_the_field,
    an_owner_has_at_most_fifty_endpoints,
    keys_and_roles_bound_what_reaches_the_endpoints,
    events_reach_a_real_receiver_signed_for_an_independent_verifier,
    a_failing_receiver_gets_the_event_at_the_configured_delays,
    a_destination_on_loopback_is_refused_unless_allowed,
    a_redirect_is_not_followed,
    a_rotated_secret_signs_beside_the_old_one_for_a_day,
    an_endpoint_that_keeps_failing_is_disabled_until_its_owner_enables_it,
    a_failed_delivery_is_retried_by_hand,
    signing_secrets_stay_out_of_jobs_and_logs,
);
