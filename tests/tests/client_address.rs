//! Behind a trusted proxy, the address a login's session and audit event record is the client
//! the proxy reports, walking `X-Forwarded-For` from the right: junk the client wrote left of
//! its own entry is never read, an entry with a port names its address, and an entry that does
//! not parse (a leading-zero octet) is answered with the last trusted hop, never a proxy's
//! address chosen by the client.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::Method;
use serde_json::{Value, json};
use twofa_tests::{AppOptions, Backend, PASSWORD, SignedIn, TestApp, spawn_app_with};

/// The address the session of a login sent with `X-Forwarded-For: forwarded` records, and the
/// one its `user.login.succeeded` event records.
async fn recorded_address(app: &TestApp, forwarded: &str) -> (String, String) {
    let login = app
        .request(Method::POST, "/api/auth/login")
        .header("X-Forwarded-For", forwarded)
        .json(&json!({ "emailOrUsername": "jane", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "login with {forwarded}");
    let signed_in = SignedIn::from_body(&login.json().await.unwrap());
    let sessions: Value = app
        .with_bearer(Method::GET, "/api/auth/sessions", &signed_in.access_token)
        .await
        .json()
        .await
        .unwrap();
    let session = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == true)
        .unwrap();
    let backends = app.connect_backends().await;
    let events = backends
        .audit
        .query(&twofa_domain::AuditQuery {
            action: Some("user.login.succeeded".to_owned()),
            ..twofa_domain::AuditQuery::all()
        })
        .await
        .unwrap();
    backends.close().await;
    let audited = events.items[0].event.ip.unwrap().to_string();
    (session["ip"].as_str().unwrap().to_owned(), audited)
}

#[tokio::test]
async fn the_recorded_address_is_the_client_the_trusted_proxy_reports() {
    // SQLite: the audit trail is readable from the test, the app connecting from 127.0.0.1.
    let app = spawn_app_with(
        AppOptions::new(Backend::Sqlite).set("server.trusted_proxies", json!(["127.0.0.1/32"])),
    )
    .await;
    app.signed_up("jane").await;
    for (forwarded, client) in [
        ("junk, 198.51.100.7", "198.51.100.7"),
        ("198.51.100.7:4711", "198.51.100.7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("203.0.113.5, 198.51.100.8, 127.0.0.1", "198.51.100.8"),
        // The client's own entry does not parse: the last trusted hop, the proxy itself.
        ("010.0.0.1", "127.0.0.1"),
        ("198.51.100.7, junk", "127.0.0.1"),
    ] {
        let (session, audited) = recorded_address(&app, forwarded).await;
        assert_eq!(
            (session.as_str(), audited.as_str()),
            (client, client),
            "X-Forwarded-For: {forwarded}"
        );
    }
    app.run_pending_jobs().await;
    app.stop().await;
}
