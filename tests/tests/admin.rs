//! Administration over HTTP, on every backend: only an administrator's access token reaches
//! `/api/admin` (a user is 403 `forbidden`, an API key 403 `insufficient_scope`); accounts are
//! listed and searched, disabled (every session and API key stops at once, on every instance),
//! enabled, stripped of their second factors and deleted, each audited with the administrator
//! as the actor; the administrators' audit view covers every account.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::{Method, Response};
use serde_json::{Value, json};
use twofa_tests::{
    AppOptions, Backend, PASSWORD, SignedIn, TestApp, administrator, app_with_users, problem,
    spawn_app_with, totp_code,
};

async fn admin_call(app: &TestApp, who: &SignedIn, method: Method, path: &str) -> Response {
    app.with_bearer(method, path, &who.access_token).await
}

async fn new_key(app: &TestApp, who: &SignedIn, scopes: &[&str]) -> String {
    let response = app
        .request(Method::POST, "/api/api-keys")
        .bearer_auth(&who.access_token)
        .json(&json!({ "name": "bot", "scopes": scopes }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["apiKey"].as_str().unwrap().to_owned()
}

async fn me_with_key(app: &TestApp, key: &str) -> Response {
    app.request(Method::GET, "/api/auth/me")
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
}

/// Every admin operation of the document: 401 without a token, 403 `forbidden` for a user,
/// 403 `insufficient_scope` for a `*` key of an administrator.
async fn only_an_administrators_access_token_reaches_the_admin_routes(backend: Backend) {
    let (app, users) = app_with_users(AppOptions::new(backend)).await;
    let admin = administrator(&app, users.as_ref(), "root").await;
    let jane = app.signed_up("jane").await;
    let key = new_key(&app, &admin, &["*"]).await;
    let document: Value = app.openapi_json().await.json().await.unwrap();
    let mut checked = 0;
    for (path, methods) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/admin/") {
            continue;
        }
        let path = path
            .replace("{id}", &jane.user_id)
            .replace("{deliveryId}", &jane.user_id);
        for (method, operation) in methods.as_object().unwrap() {
            checked += 1;
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let id = &operation["operationId"];
            // A well-formed body where the route takes one, so the refusal is the caller's.
            let request = |request: reqwest::RequestBuilder| {
                if operation["requestBody"].is_object() {
                    request.json(&json!({ "url": "https://127.0.0.1/hook", "events": ["*"] }))
                } else {
                    request
                }
            };
            let anonymous = request(app.request(method.clone(), &path))
                .send()
                .await
                .unwrap();
            assert_eq!(anonymous.status(), 401, "{id}");
            let user = request(app.request(method.clone(), &path))
                .bearer_auth(&jane.access_token)
                .send()
                .await
                .unwrap();
            let body = problem(user, 403, "forbidden").await;
            assert!(
                body["detail"].as_str().unwrap().contains("administrators"),
                "{id}"
            );
            let with_key = request(app.request(method, &path))
                .header("X-API-Key", &key)
                .send()
                .await
                .unwrap();
            problem(with_key, 403, "insufficient_scope").await;
        }
    }
    assert!(checked >= 16, "{checked}");
    let me = app.me(&jane.access_token).await;
    assert_eq!(me.status(), 200, "nothing was done to jane");
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A disabled account's live access token and API key fail at their next request, and it
/// cannot sign in; enabling it lets it sign in again but brings no ended session back.
async fn a_disabled_user_is_refused_at_the_next_request(backend: Backend) {
    let (app, users) = app_with_users(AppOptions::new(backend)).await;
    let admin = administrator(&app, users.as_ref(), "root").await;
    let jane = app.signed_up("jane").await;
    let key = new_key(&app, &jane, &["user:read"]).await;
    assert_eq!(app.me(&jane.access_token).await.status(), 200);
    assert_eq!(me_with_key(&app, &key).await.status(), 200);

    let path = format!("/api/admin/users/{}/disable", jane.user_id);
    let disabled = admin_call(&app, &admin, Method::POST, &path).await;
    assert_eq!(disabled.status(), 200);
    let disabled: Value = disabled.json().await.unwrap();
    assert_eq!(disabled["id"], jane.user_id.as_str());
    problem(app.me(&jane.access_token).await, 401, "unauthorized").await;
    problem(me_with_key(&app, &key).await, 401, "unauthorized").await;
    problem(app.refresh(&jane.refresh_token).await, 401, "unauthorized").await;
    problem(
        app.login("jane", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;

    let path = format!("/api/admin/users/{}/enable", jane.user_id);
    assert_eq!(
        admin_call(&app, &admin, Method::POST, &path).await.status(),
        200
    );
    problem(app.me(&jane.access_token).await, 401, "unauthorized").await;
    let again = app.signed_in("jane").await;
    assert_eq!(app.me(&again.access_token).await.status(), 200);
    assert_eq!(
        me_with_key(&app, &key).await.status(),
        200,
        "a key was stopped, not revoked: it works while its owner is enabled"
    );

    let trail: Value = admin_call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/admin/audit-logs?userId={}", jane.user_id),
    )
    .await
    .json()
    .await
    .unwrap();
    let actions: Vec<(&str, &Value)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| (event["action"].as_str().unwrap(), &event["actor"]))
        .collect();
    let admin_actor = json!({ "type": "admin", "id": admin.user_id });
    assert!(
        actions.contains(&("user.disabled", &admin_actor)),
        "{trail}"
    );
    assert!(actions.contains(&("user.enabled", &admin_actor)), "{trail}");
    assert!(
        trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["userId"] == jane.user_id.as_str()),
        "{trail}"
    );
    let own = admin_call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/admin/users/{}/disable", admin.user_id),
    )
    .await;
    problem(own, 409, "conflict").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// The list is newest first, searched by a part of the address or username in any case, and
/// paged by cursor; an unknown id is 404.
async fn accounts_are_listed_searched_and_paged(backend: Backend) {
    let (app, users) = app_with_users(AppOptions::new(backend)).await;
    let admin = administrator(&app, users.as_ref(), "root").await;
    for name in ["alice", "alicia", "bob"] {
        app.signed_up(name).await;
    }
    let list = |query: String| {
        let app = &app;
        let admin = &admin;
        async move {
            let response =
                admin_call(app, admin, Method::GET, &format!("/api/admin/users{query}")).await;
            assert_eq!(response.status(), 200, "{query}");
            response.json::<Value>().await.unwrap()
        }
    };
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&list("?q=ALIC".to_owned()).await),
        ["alicia", "alice"]
    );
    assert_eq!(names(&list("?q=bob%40EXAMPLE".to_owned()).await), ["bob"]);
    assert_eq!(
        names(&list("?q=nobody".to_owned()).await),
        Vec::<String>::new()
    );
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = list(format!("?limit=1{cursor}")).await;
        seen.extend(names(&page));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["bob", "alicia", "alice", "root"]);
    let unknown = admin_call(
        &app,
        &admin,
        Method::GET,
        "/api/admin/users/01900000-0000-7000-8000-000000000001",
    )
    .await;
    problem(unknown, 404, "not_found").await;
    app.run_pending_jobs().await;
    app.stop().await;
}

/// After reset-2fa the account signs in with its password alone and has no factor left.
async fn reset_2fa_removes_every_factor(backend: Backend) {
    let (app, users) =
        app_with_users(AppOptions::new(backend).set("auth.require_verified_email", false)).await;
    let admin = administrator(&app, users.as_ref(), "root").await;
    let jane = app.signed_up("jane").await;
    let setup: Value = admin_call(&app, &jane, Method::POST, "/api/2fa/totp/setup")
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap();
    let confirmed = app
        .request(Method::POST, "/api/2fa/totp/verify-setup")
        .bearer_auth(&jane.access_token)
        .json(&json!({ "code": totp_code(secret, 0) }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let login: Value = app.login("jane", PASSWORD).await.json().await.unwrap();
    assert_eq!(login["requiresTwoFactor"], true, "{login}");

    let path = format!("/api/admin/users/{}/reset-2fa", jane.user_id);
    let reset = admin_call(&app, &admin, Method::POST, &path).await;
    assert_eq!(reset.status(), 200);
    let reset: Value = reset.json().await.unwrap();
    assert_eq!(reset["twoFactorEnabled"], false, "{reset}");
    let login = app.login("jane", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    assert!(login["accessToken"].is_string(), "{login}");
    let methods: Value = admin_call(&app, &jane, Method::GET, "/api/2fa/methods")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(methods["items"], json!([]), "{methods}");
    app.run_pending_jobs().await;
    app.stop().await;
}

/// A deleted account's tokens and keys fail at once; its audit trail stays for administrators.
async fn a_deleted_user_fails_at_once_and_its_trail_stays(backend: Backend) {
    let (app, users) = app_with_users(AppOptions::new(backend)).await;
    let admin = administrator(&app, users.as_ref(), "root").await;
    let jane = app.signed_up("jane").await;
    let key = new_key(&app, &jane, &["user:read"]).await;
    let path = format!("/api/admin/users/{}", jane.user_id);
    assert_eq!(
        admin_call(&app, &admin, Method::DELETE, &path)
            .await
            .status(),
        204
    );
    problem(app.me(&jane.access_token).await, 401, "unauthorized").await;
    problem(me_with_key(&app, &key).await, 401, "unauthorized").await;
    problem(
        admin_call(&app, &admin, Method::GET, &path).await,
        404,
        "not_found",
    )
    .await;
    problem(
        admin_call(&app, &admin, Method::DELETE, &path).await,
        404,
        "not_found",
    )
    .await;
    let trail: Value = admin_call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/admin/audit-logs?userId={}", jane.user_id),
    )
    .await
    .json()
    .await
    .unwrap();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"user.deleted"), "{trail}");
    assert!(actions.contains(&"user.registered"), "{trail}");
    let everyone: Value = admin_call(&app, &admin, Method::GET, "/api/admin/audit-logs?limit=200")
        .await
        .json()
        .await
        .unwrap();
    let subjects: std::collections::HashSet<&str> = everyone["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["userId"].as_str())
        .collect();
    assert!(subjects.contains(admin.user_id.as_str()) && subjects.contains(jane.user_id.as_str()));
    app.run_pending_jobs().await;
    app.stop().await;
}

twofa_tests::on_every_backend!(
    only_an_administrators_access_token_reaches_the_admin_routes,
    a_disabled_user_is_refused_at_the_next_request,
    accounts_are_listed_searched_and_paged,
    reset_2fa_removes_every_factor,
    a_deleted_user_fails_at_once_and_its_trail_stays,
);

/// Two API instances over one PostgreSQL and one Redis: after a disable through one, the
/// user's access token and API key fail at their next request to the other.
#[tokio::test]
async fn a_disable_holds_on_every_instance() {
    let (first, users) = app_with_users(AppOptions::new(Backend::PostgresRedis)).await;
    let key_file = first.data_dir().join("jwt-signing-key.pem");
    let second = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .database(&first.database_url)
            .set("tokens.dev_key_file", key_file.to_str().unwrap()),
    )
    .await;
    let admin = administrator(&first, users.as_ref(), "root").await;
    let jane = first.signed_up("jane").await;
    let key = new_key(&first, &jane, &["user:read"]).await;
    assert_eq!(
        second.me(&jane.access_token).await.status(),
        200,
        "cached as live there"
    );
    assert_eq!(me_with_key(&second, &key).await.status(), 200);
    let path = format!("/api/admin/users/{}/disable", jane.user_id);
    assert_eq!(
        admin_call(&first, &admin, Method::POST, &path)
            .await
            .status(),
        200
    );
    problem(second.me(&jane.access_token).await, 401, "unauthorized").await;
    problem(me_with_key(&second, &key).await, 401, "unauthorized").await;
    first.run_pending_jobs().await;
    second.run_pending_jobs().await;
    first.stop().await;
    second.stop().await;
}
