//! The webhook routes over HTTP, on every backend: the event catalogue.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::Method;
use serde_json::Value;
use twofa_tests::{Backend, problem, spawn_app};

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
    }
    problem(app.get("/api/webhooks/events").await, 401, "unauthorized").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

twofa_tests::on_every_backend!(the_catalogue_lists_every_event_type);
