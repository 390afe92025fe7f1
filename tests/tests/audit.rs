//! `GET /api/audit-logs` over HTTP, on every backend: the caller's own events only, newest
//! first, filtered by action and time, paged by cursor; bad filters are refused with the field
//! named.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::{Method, Response};
use serde_json::Value;
use twofa_tests::{Backend, PASSWORD, SignedIn, TestApp, problem, spawn_app};

async fn audit_logs(app: &TestApp, who: &SignedIn, query: &str) -> Response {
    app.with_bearer(
        Method::GET,
        &format!("/api/audit-logs{query}"),
        &who.access_token,
    )
    .await
}

async fn page(app: &TestApp, who: &SignedIn, query: &str) -> Value {
    let response = audit_logs(app, who, query).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn actions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["action"].as_str().unwrap())
        .collect()
}

/// An app where Jane and Bob signed up, Jane once typed a wrong password, and both signed in.
async fn jane_and_bob(backend: Backend) -> (TestApp, SignedIn, SignedIn) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.register("jane@example.com", "jane", PASSWORD)
            .await
            .status(),
        201
    );
    assert_eq!(
        app.register("bob@example.com", "bob", PASSWORD)
            .await
            .status(),
        201
    );
    assert_eq!(
        app.login("jane@example.com", "not her password")
            .await
            .status(),
        401
    );
    let jane = app.signed_in("jane@example.com").await;
    let bob = app.signed_in("bob@example.com").await;
    (app, jane, bob)
}

/// Jane's trail holds her events and nobody else's, newest first, with who acted and no secret.
async fn the_caller_reads_only_their_own_trail(backend: Backend) {
    let (app, jane, bob) = Box::pin(jane_and_bob(backend)).await;
    let all = page(&app, &jane, "?limit=200").await;
    assert_eq!(all["nextCursor"], Value::Null);
    let items = all["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|item| item["userId"] == jane.user_id.as_str()),
        "{all}"
    );
    let jane_actions = actions(&all);
    for expected in [
        "user.registered",
        "user.login.failed",
        "user.login.succeeded",
    ] {
        assert!(jane_actions.contains(&expected), "{jane_actions:?}");
    }
    assert_eq!(jane_actions.last(), Some(&"user.registered"), "oldest last");
    let times: Vec<&str> = items
        .iter()
        .map(|item| item["createdAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");
    let registered = items.last().unwrap();
    assert_eq!(registered["actor"]["type"], "user");
    assert_eq!(registered["actor"]["id"], jane.user_id.as_str());
    assert_eq!(registered["success"], true);
    assert!(registered["details"].is_object(), "{registered}");
    let failed = items
        .iter()
        .find(|item| item["action"] == "user.login.failed")
        .unwrap();
    assert_eq!(failed["success"], false);
    assert!(!failed.to_string().contains("not her password"), "{failed}");
    let bobs = page(&app, &bob, "").await;
    assert!(
        bobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["userId"] == bob.user_id.as_str()),
        "{bobs}"
    );

    app.run_pending_jobs().await;
    app.stop().await;
}

/// Pages of one add up to the whole in the same order; `action`, `since` and `until` narrow it.
async fn the_trail_pages_and_filters(backend: Backend) {
    let (app, jane, _) = Box::pin(jane_and_bob(backend)).await;
    let all = page(&app, &jane, "?limit=200").await;
    let items = all["items"].as_array().unwrap();
    // Pages of one add up to the whole, in the same order, and end with a null cursor.
    let mut paged = Vec::new();
    let mut query = "?limit=1".to_owned();
    loop {
        let one = page(&app, &jane, &query).await;
        assert_eq!(one["items"].as_array().unwrap().len(), 1, "{one}");
        paged.push(one["items"][0]["id"].clone());
        match one["nextCursor"].as_str() {
            Some(cursor) => query = format!("?limit=1&cursor={cursor}"),
            None => break,
        }
        assert!(paged.len() <= items.len(), "the pages never end");
    }
    let whole: Vec<Value> = items.iter().map(|item| item["id"].clone()).collect();
    assert_eq!(paged, whole);

    let registered = items.last().unwrap();
    let registered_only = page(&app, &jane, "?action=user.registered").await;
    assert_eq!(actions(&registered_only), vec!["user.registered"]);
    let created = registered["createdAt"].as_str().unwrap();
    let since = page(&app, &jane, &format!("?since={}", encode(created))).await;
    assert_eq!(since["items"].as_array().unwrap().len(), items.len());
    let until = page(&app, &jane, &format!("?until={}", encode(created))).await;
    assert_eq!(
        until["items"],
        Value::Array(Vec::new()),
        "until is exclusive"
    );
    let future = page(&app, &jane, "?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["items"], Value::Array(Vec::new()));

    app.run_pending_jobs().await;
    app.stop().await;
}

/// Wrong filters are 400 naming the field; no token is 401.
async fn bad_filters_are_refused(backend: Backend) {
    let (app, jane, _) = Box::pin(jane_and_bob(backend)).await;
    let body = problem(
        audit_logs(
            &app,
            &jane,
            "?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "until", "{body}");
    let body = problem(
        audit_logs(&app, &jane, "?cursor=not-a-cursor").await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "cursor", "{body}");
    problem(
        audit_logs(&app, &jane, "?limit=0").await,
        400,
        "validation_failed",
    )
    .await;
    problem(
        audit_logs(&app, &jane, "?since=yesterday").await,
        400,
        "validation_failed",
    )
    .await;
    problem(app.get("/api/audit-logs").await, 401, "unauthorized").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A timestamp as a query value (`+` would read as a space).
fn encode(value: &str) -> String {
    value.replace('+', "%2B").replace(':', "%3A")
}

twofa_tests::on_every_backend!(
    the_caller_reads_only_their_own_trail,
    the_trail_pages_and_filters,
    bad_filters_are_refused,
);
