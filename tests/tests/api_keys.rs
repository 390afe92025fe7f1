//! API keys over HTTP, on every backend: made and managed with an access token only, shown
//! once, authenticating by `X-API-Key` or `Authorization: Bearer` on exactly the operations
//! their scopes grant (every operation of the OpenAPI document is tried against its
//! `x-required-scope`), refused once revoked, deleted, expired or rescoped, limited per key,
//! scoped to their owner, and named as the actor of what they change.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use twofa_domain::Clock as _;
use twofa_tests::{AppOptions, Backend, SignedIn, TestApp, problem, spawn_app, spawn_app_with};

/// Every concrete scope (all but `*`).
const SCOPES: [&str; 6] = [
    "user:read",
    "2fa:read",
    "2fa:write",
    "webhooks:read",
    "webhooks:write",
    "audit:read",
];

/// The time now, as the service reads it.
fn now() -> DateTime<Utc> {
    twofa_crypto::SystemClock.now()
}

/// How a request presents its key.
#[derive(Debug, Clone, Copy)]
enum Header {
    XApiKey,
    Bearer,
}

async fn create_key(app: &TestApp, who: &SignedIn, body: &Value) -> Response {
    app.request(Method::POST, "/api/api-keys")
        .bearer_auth(&who.access_token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A new key of `who` with `scopes`: its body, with `apiKey`.
async fn new_key(app: &TestApp, who: &SignedIn, scopes: &[&str]) -> Value {
    let response = create_key(app, who, &json!({ "name": "bot", "scopes": scopes })).await;
    assert_eq!(response.status(), 201, "{scopes:?}");
    response.json().await.unwrap()
}

fn secret(key: &Value) -> &str {
    key["apiKey"].as_str().unwrap()
}

async fn with_key(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    header: Header,
) -> Response {
    let request = app.request(method, path);
    let request = match header {
        Header::XApiKey => request.header("X-API-Key", key),
        Header::Bearer => request.bearer_auth(key),
    };
    request.send().await.unwrap()
}

async fn manage(app: &TestApp, who: &SignedIn, method: Method, path: &str) -> Response {
    app.with_bearer(method, path, &who.access_token).await
}

/// A key with `2fa:read` lists the methods and is refused the `2fa:write` routes, in either
/// header; the key is shown once, with the documented fields.
async fn a_key_reaches_only_what_its_scopes_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let created = new_key(&app, &jane, &["2fa:read"]).await;
    let key = secret(&created);
    assert!(key.starts_with("tfa_") && key.len() == 53, "{created}");
    assert_eq!(created["prefix"], json!(&key[..12]));
    assert_eq!(created["scopes"], json!(["2fa:read"]));
    assert_eq!(created["name"], "bot");
    for field in ["expiresAt", "lastUsedAt", "revokedAt"] {
        assert_eq!(created[field], Value::Null, "{field}: {created}");
    }
    for header in [Header::XApiKey, Header::Bearer] {
        let methods = with_key(&app, Method::GET, "/api/2fa/methods", key, header).await;
        assert_eq!(methods.status(), 200, "{header:?}");
        let setup = with_key(&app, Method::POST, "/api/2fa/totp/setup", key, header).await;
        problem(setup, 403, "insufficient_scope").await;
        let me = with_key(&app, Method::GET, "/api/auth/me", key, header).await;
        problem(me, 403, "insufficient_scope").await;
    }
    let listed: Value = manage(&app, &jane, Method::GET, "/api/api-keys")
        .await
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], created["id"]);
    assert!(items[0].get("apiKey").is_none(), "shown once: {listed}");
    assert!(items[0]["lastUsedAt"].is_string(), "{listed}");
    let made_up = format!("tfa_{}", "0".repeat(49));
    let refused = with_key(
        &app,
        Method::GET,
        "/api/2fa/methods",
        &made_up,
        Header::XApiKey,
    )
    .await;
    problem(refused, 401, "unauthorized").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The body an operation of the document needs to reach its handler.
fn fixture(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "confirmTotp" | "confirmSms" | "confirmEmailFactor" => json!({ "code": "000000" }),
        "setupSms" => json!({ "phoneNumber": "+15555550100" }),
        "setupEmailFactor" => json!({ "email": "elsewhere@example.com" }),
        "changePassword" => json!({
            "currentPassword": twofa_tests::PASSWORD,
            "newPassword": "another long passphrase"
        }),
        "createApiKey" => json!({ "name": "minted", "scopes": ["*"] }),
        "updateApiKey" => json!({ "name": "renamed" }),
        // Refused at delivery (loopback), so no attempt leaves the machine.
        "createWebhook" | "createGlobalWebhook" => {
            json!({ "url": "https://127.0.0.1/hook", "events": ["*"] })
        }
        "updateWebhook" | "updateGlobalWebhook" => json!({ "description": "renamed" }),
        _ => return None,
    })
}

async fn call(app: &TestApp, method: &str, path: &str, operation: &Value, key: &str) -> Response {
    let unknown = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001).to_string();
    let path = path
        .replace("{id}", &unknown)
        .replace("{deliveryId}", &unknown);
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let id = operation["operationId"].as_str().unwrap();
    let request = app.request(method, &path).header("X-API-Key", key);
    let request = if let Some(body) = fixture(id) {
        request.json(&body)
    } else {
        assert_ne!(
            operation["requestBody"]["required"],
            json!(true),
            "{id} needs a body: add one to `fixture`"
        );
        request
    };
    request.send().await.unwrap()
}

/// Every authenticated operation of the document, tried with keys: one with exactly its
/// `x-required-scope` reaches it; one with every other scope gets 403 `insufficient_scope`;
/// an operation without a required scope refuses even a `*` key.
async fn every_operation_enforces_the_scope_the_document_gives_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let document: Value = app.openapi_json().await.json().await.unwrap();
    let mut keys = std::collections::HashMap::new();
    for scope in SCOPES {
        let others: Vec<&str> = SCOPES.into_iter().filter(|s| *s != scope).collect();
        let only = new_key(&app, &jane, &[scope]).await;
        let without = new_key(&app, &jane, &others).await;
        keys.insert(
            scope,
            (secret(&only).to_owned(), secret(&without).to_owned()),
        );
    }
    let all = new_key(&app, &jane, &["*"]).await;
    let mut checked = 0;
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            if operation["security"].as_array().is_none_or(Vec::is_empty) {
                continue;
            }
            checked += 1;
            if let Some(scope) = operation["x-required-scope"].as_str() {
                let (only, without) = &keys[scope];
                let refused = call(&app, method, path, operation, without).await;
                let refused_status = refused.status();
                let body: Value = refused.json().await.unwrap_or_default();
                assert_eq!(refused_status, 403, "{id} without {scope}: {body}");
                assert_eq!(body["code"], "insufficient_scope", "{id}: {body}");
                let allowed = call(&app, method, path, operation, only).await;
                let status = allowed.status();
                let body: Value = allowed.json().await.unwrap_or_default();
                assert_ne!(status, 401, "{id} with {scope}: {body}");
                assert_ne!(body["code"], "insufficient_scope", "{id} with {scope}");
                assert_ne!(status, 400, "{id} with {scope}: {body}");
            } else {
                let refused = call(&app, method, path, operation, secret(&all)).await;
                let status = refused.status();
                let body: Value = refused.json().await.unwrap_or_default();
                assert_eq!(status, 403, "{id} with a * key: {body}");
                assert_eq!(body["code"], "insufficient_scope", "{id}: {body}");
                assert_eq!(
                    operation["security"],
                    json!([{ "BearerAuth": [] }]),
                    "{id} offers only the access token"
                );
            }
        }
    }
    assert!(checked >= 25, "{checked} operations checked");
    let listed: Value = manage(&app, &jane, Method::GET, "/api/api-keys")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        SCOPES.len() * 2 + 1,
        "no key minted another: {listed}"
    );
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A scope change holds from the next request.
async fn a_scope_change_holds_from_the_next_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let created = new_key(&app, &jane, &["user:read"]).await;
    let id = created["id"].as_str().unwrap();
    let key = secret(&created).to_owned();
    let me = |key: String| {
        let app = &app;
        async move { with_key(app, Method::GET, "/api/auth/me", &key, Header::XApiKey).await }
    };
    assert_eq!(me(key.clone()).await.status(), 200);

    let patched = app
        .request(Method::PATCH, &format!("/api/api-keys/{id}"))
        .bearer_auth(&jane.access_token)
        .json(&json!({ "scopes": ["audit:read"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["scopes"], json!(["audit:read"]));
    assert_eq!(patched["name"], "bot", "an absent field stays");
    problem(me(key.clone()).await, 403, "insufficient_scope").await;
    let audit = with_key(&app, Method::GET, "/api/audit-logs", &key, Header::Bearer).await;
    assert_eq!(audit.status(), 200);
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Rotation retires the old key at once; revocation and deletion hold from the next request;
/// a revoked key is not rotated.
async fn rotated_revoked_and_deleted_keys_fail_from_the_next_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let created = new_key(&app, &jane, &["audit:read", "user:read"]).await;
    let id = created["id"].as_str().unwrap();
    let key = secret(&created).to_owned();
    let me = |key: String| {
        let app = &app;
        async move { with_key(app, Method::GET, "/api/auth/me", &key, Header::XApiKey).await }
    };

    let rotated = manage(
        &app,
        &jane,
        Method::POST,
        &format!("/api/api-keys/{id}/rotate"),
    )
    .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    assert_eq!(rotated["id"], id);
    let new_secret = secret(&rotated).to_owned();
    assert_ne!(new_secret, key);
    let old = with_key(&app, Method::GET, "/api/audit-logs", &key, Header::XApiKey).await;
    problem(old, 401, "unauthorized").await;
    let new = with_key(
        &app,
        Method::GET,
        "/api/audit-logs",
        &new_secret,
        Header::XApiKey,
    )
    .await;
    assert_eq!(new.status(), 200);

    let revoked = manage(
        &app,
        &jane,
        Method::POST,
        &format!("/api/api-keys/{id}/revoke"),
    )
    .await;
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await.unwrap();
    assert!(revoked["revokedAt"].is_string(), "{revoked}");
    let after = with_key(
        &app,
        Method::GET,
        "/api/audit-logs",
        &new_secret,
        Header::XApiKey,
    )
    .await;
    problem(after, 401, "unauthorized").await;
    let again = manage(
        &app,
        &jane,
        Method::POST,
        &format!("/api/api-keys/{id}/revoke"),
    )
    .await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        again["revokedAt"], revoked["revokedAt"],
        "revoking twice changes nothing"
    );
    let rotate_revoked = manage(
        &app,
        &jane,
        Method::POST,
        &format!("/api/api-keys/{id}/rotate"),
    )
    .await;
    problem(rotate_revoked, 409, "conflict").await;

    let doomed = new_key(&app, &jane, &["user:read"]).await;
    let doomed_id = doomed["id"].as_str().unwrap();
    assert_eq!(me(secret(&doomed).to_owned()).await.status(), 200);
    let deleted = manage(
        &app,
        &jane,
        Method::DELETE,
        &format!("/api/api-keys/{doomed_id}"),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    problem(me(secret(&doomed).to_owned()).await, 401, "unauthorized").await;
    let gone = manage(
        &app,
        &jane,
        Method::GET,
        &format!("/api/api-keys/{doomed_id}"),
    )
    .await;
    problem(gone, 404, "not_found").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Another user's key id answers 404 on every route, and changes nothing.
async fn another_users_key_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let bob = app.signed_up("bob").await;
    let janes = new_key(&app, &jane, &["user:read"]).await;
    let id = janes["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/api/api-keys/{id}")),
        (Method::DELETE, format!("/api/api-keys/{id}")),
        (Method::POST, format!("/api/api-keys/{id}/rotate")),
        (Method::POST, format!("/api/api-keys/{id}/revoke")),
    ] {
        let response = manage(&app, &bob, method.clone(), &path).await;
        problem(response, 404, "not_found").await;
    }
    let patch = app
        .request(Method::PATCH, &format!("/api/api-keys/{id}"))
        .bearer_auth(&bob.access_token)
        .json(&json!({ "name": "mine now" }))
        .send()
        .await
        .unwrap();
    problem(patch, 404, "not_found").await;
    let bobs: Value = manage(&app, &bob, Method::GET, "/api/api-keys")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["items"], json!([]));
    let still = with_key(
        &app,
        Method::GET,
        "/api/auth/me",
        secret(&janes),
        Header::XApiKey,
    )
    .await;
    assert_eq!(still.status(), 200, "bob's attempts changed nothing");
    let me: Value = still.json().await.unwrap();
    assert_eq!(me["id"], jane.user_id.as_str());
    app.run_pending_jobs().await;
    app.stop().await;
}

/// Bad bodies are refused with the field named, and make no key.
async fn bad_keys_are_refused_with_the_field_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let past = (now() - TimeDelta::hours(1)).to_rfc3339();
    for (body, field) in [
        (json!({ "name": "", "scopes": ["*"] }), "name"),
        (json!({ "name": "bot", "scopes": [] }), "scopes"),
        (json!({ "name": "bot", "scopes": ["admin"] }), "scopes"),
        (
            json!({ "name": "bot", "scopes": ["*"], "expiresAt": past }),
            "expiresAt",
        ),
    ] {
        let response = create_key(&app, &jane, &body).await;
        let body = problem(response, 400, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    let wrong_type = create_key(&app, &jane, &json!({ "name": "bot", "scopes": "*" })).await;
    assert_eq!(wrong_type.status(), 400);
    let listed: Value = manage(&app, &jane, Method::GET, "/api/api-keys")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
    problem(app.get("/api/api-keys").await, 401, "unauthorized").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// What a key changes is audited with the key as the actor.
async fn a_key_is_the_actor_of_what_it_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let created = new_key(&app, &jane, &["2fa:write", "audit:read"]).await;
    let key = secret(&created);
    let revoked = with_key(
        &app,
        Method::DELETE,
        "/api/2fa/devices",
        key,
        Header::XApiKey,
    )
    .await;
    assert_eq!(revoked.status(), 204);
    let trail: Value = with_key(
        &app,
        Method::GET,
        "/api/audit-logs?action=device.revoked",
        key,
        Header::XApiKey,
    )
    .await
    .json()
    .await
    .unwrap();
    let event = &trail["items"][0];
    assert_eq!(
        event["actor"],
        json!({ "type": "api_key", "id": created["id"] }),
        "{trail}"
    );
    assert_eq!(event["userId"], jane.user_id.as_str());
    let trail: Value = with_key(
        &app,
        Method::GET,
        "/api/audit-logs?action=api_key.created",
        key,
        Header::XApiKey,
    )
    .await
    .json()
    .await
    .unwrap();
    let event = &trail["items"][0];
    assert_eq!(
        event["actor"],
        json!({ "type": "user", "id": jane.user_id }),
        "{trail}"
    );
    assert_eq!(event["details"]["apiKeyId"], created["id"]);
    assert!(!trail.to_string().contains(key), "no key in the trail");
    app.run_pending_jobs().await;
    let logs = app.captured_logs();
    assert!(!logs.contains(&key[12..]), "no key in the logs");
    app.stop().await;
}

/// Past `api_keys.rate_limit_per_minute` a key gets 429 with `Retry-After`; another key of the
/// same user does not.
async fn each_key_has_its_own_rate_limit(backend: Backend) {
    let app =
        spawn_app_with(AppOptions::new(backend).set("api_keys.rate_limit_per_minute", 3)).await;
    let jane = app.signed_up("jane").await;
    let busy = new_key(&app, &jane, &["user:read"]).await;
    let idle = new_key(&app, &jane, &["user:read"]).await;
    for _ in 0..3 {
        let response = with_key(
            &app,
            Method::GET,
            "/api/auth/me",
            secret(&busy),
            Header::XApiKey,
        )
        .await;
        assert_eq!(response.status(), 200);
    }
    let limited = with_key(
        &app,
        Method::GET,
        "/api/auth/me",
        secret(&busy),
        Header::XApiKey,
    )
    .await;
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited, 429, "rate_limited").await;
    let other = with_key(
        &app,
        Method::GET,
        "/api/auth/me",
        secret(&idle),
        Header::XApiKey,
    )
    .await;
    assert_eq!(other.status(), 200);
    assert_eq!(
        app.me(&jane.access_token).await.status(),
        200,
        "the user is not limited"
    );
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A key past its `expiresAt` is refused (time moved on by a manual clock).
async fn an_expired_key_is_refused(backend: Backend) {
    let clock = Arc::new(twofa_memory::ManualClock::new(now()));
    let shared = clock.clone();
    let app =
        spawn_app_with(AppOptions::new(backend).customise(move |backends| backends.clock = shared))
            .await;
    let jane = app.signed_up("jane").await;
    let expires_at = (now() + TimeDelta::hours(1)).to_rfc3339();
    let response = create_key(
        &app,
        &jane,
        &json!({ "name": "short-lived", "scopes": ["user:read"], "expiresAt": expires_at }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert!(created["expiresAt"].is_string(), "{created}");
    let me = with_key(
        &app,
        Method::GET,
        "/api/auth/me",
        secret(&created),
        Header::XApiKey,
    )
    .await;
    assert_eq!(me.status(), 200);
    clock.advance(TimeDelta::minutes(61));
    let me = with_key(
        &app,
        Method::GET,
        "/api/auth/me",
        secret(&created),
        Header::XApiKey,
    )
    .await;
    problem(me, 401, "unauthorized").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The key list pages newest first: `limit` keys and a `nextCursor` while more remain.
async fn the_key_list_pages_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let jane = app.signed_up("jane").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(new_key(&app, &jane, &["user:read"]).await["id"].clone());
    }
    ids.reverse();
    let first: Value = app
        .with_bearer(Method::GET, "/api/api-keys?limit=2", &jane.access_token)
        .await
        .json()
        .await
        .unwrap();
    let items: Vec<Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["id"].clone())
        .collect();
    assert_eq!(items, ids[..2]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest: Value = app
        .with_bearer(
            Method::GET,
            &format!("/api/api-keys?limit=2&cursor={cursor}"),
            &jane.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["id"], ids[2]);
    assert_eq!(rest["nextCursor"], Value::Null);
    app.run_pending_jobs().await;
    app.stop().await;
}

twofa_tests::on_every_backend!(
    a_key_reaches_only_what_its_scopes_grant,
    every_operation_enforces_the_scope_the_document_gives_it,
    a_scope_change_holds_from_the_next_request,
    rotated_revoked_and_deleted_keys_fail_from_the_next_request,
    another_users_key_is_not_found,
    bad_keys_are_refused_with_the_field_named,
    a_key_is_the_actor_of_what_it_changes,
    each_key_has_its_own_rate_limit,
    an_expired_key_is_refused,
    the_key_list_pages_newest_first,
);

/// Two API instances over one database: a key revoked through one is refused by the other
/// at its next request.
#[tokio::test]
async fn a_revocation_holds_on_every_instance() {
    let first = spawn_app(Backend::PostgresRedis).await;
    let second =
        spawn_app_with(AppOptions::new(Backend::PostgresRedis).database(&first.database_url)).await;
    let jane = first.signed_up("jane").await;
    let created = new_key(&first, &jane, &["user:read"]).await;
    let key = secret(&created);
    let id = created["id"].as_str().unwrap();
    let me = with_key(&second, Method::GET, "/api/auth/me", key, Header::XApiKey).await;
    assert_eq!(me.status(), 200);
    let revoked = manage(
        &first,
        &jane,
        Method::POST,
        &format!("/api/api-keys/{id}/revoke"),
    )
    .await;
    assert_eq!(revoked.status(), 200);
    let me = with_key(&second, Method::GET, "/api/auth/me", key, Header::Bearer).await;
    problem(me, 401, "unauthorized").await;
    first.run_pending_jobs().await;
    second.run_pending_jobs().await;
    first.stop().await;
    second.stop().await;
}
