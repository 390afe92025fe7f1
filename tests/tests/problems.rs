//! The framework's own errors are RFC 9457 problems, with the request id as `instance`; every
//! response carries `X-Request-Id` and the security headers.

use reqwest::{Method, header};
use twofa_tests::{AppOptions, Backend, problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app(Backend::Memory).await;
    problem(app.get("/api/nope").await, 404, "not_found").await;
    problem(app.get("/elsewhere").await, 404, "not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = spawn_app(Backend::Memory).await;
    let response = app
        .request(Method::DELETE, "/api/health")
        .send()
        .await
        .unwrap();
    problem(response, 405, "method_not_allowed").await;
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem_whether_declared_or_streamed() {
    let app = spawn_app_with(AppOptions::new(Backend::Memory).set("server.body_limit", 1024)).await;
    let declared = app
        .request(Method::POST, "/api/health")
        .header(header::CONTENT_TYPE, "application/json")
        .body(vec![b' '; 2048])
        .send()
        .await
        .unwrap();
    problem(declared, 413, "payload_too_large").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b' '; 512])).collect();
    let streamed = app
        .request(Method::POST, "/api/health")
        .header(header::CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(futures_stream(chunks)))
        .send()
        .await
        .unwrap();
    problem(streamed, 413, "payload_too_large").await;
    app.stop().await;
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::iter(chunks)
}

#[tokio::test]
async fn a_well_formed_request_id_is_reused_and_a_bad_one_replaced() {
    let app = spawn_app(Backend::Memory).await;
    let reused = app
        .request(Method::GET, "/api/health/live")
        .header("x-request-id", "lb-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(reused.headers()["x-request-id"], "lb-42.a_b");
    let replaced = app
        .request(Method::GET, "/api/health/live")
        .header("x-request-id", "has spaces and <script>")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(twofa_http_id_is_well_formed(id), "{id}");
    assert_ne!(id, "has spaces and <script>");
    let fresh = app.get("/api/health/live").await;
    assert!(!fresh.headers()["x-request-id"].is_empty());
    app.stop().await;
}

fn twofa_http_id_is_well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app(Backend::Memory).await;
    for path in ["/api/health/live", "/api/nope", "/api/openapi.json"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains('*'), "{path}: {csp}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "http public_url: no HSTS"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_https_public_url_turns_on_hsts() {
    let app = spawn_app_with(
        AppOptions::new(Backend::Memory).set("server.public_url", "https://auth.example.com"),
    )
    .await;
    let response = app.get("/api/health/live").await;
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_request_over_the_timeout_is_a_503_problem_with_retry_after() {
    // A zero-byte-per-second client: the body never completes, the timeout ends it.
    let app =
        spawn_app_with(AppOptions::new(Backend::Memory).set("server.request_timeout", "300ms"))
            .await;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(receiver));
    let response = app
        .request(Method::POST, "/api/health")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_owned();
    problem(response, 503, "request_timeout").await;
    assert_eq!(retry_after, "1");
    drop(sender);
    app.stop().await;
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test]
async fn cors_answers_the_configured_origins_only() {
    let app = spawn_app_with(
        AppOptions::new(Backend::Memory)
            .set("server.cors_origins", vec!["https://app.example.com"]),
    )
    .await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/api/health")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    problem(refused, 403, "forbidden").await;
    let simple = app
        .request(Method::GET, "/api/health/live")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_configured_origins_no_cors_headers_are_sent() {
    let app = spawn_app(Backend::Memory).await;
    let response = app
        .request(Method::GET, "/api/health/live")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_path_parameter_that_does_not_parse_is_named_as_the_route_names_it() {
    let app = spawn_app(Backend::Memory).await;
    let jane = app.signed_up("jane").await;
    let body = problem(
        app.with_bearer(
            Method::DELETE,
            "/api/auth/sessions/not-a-uuid",
            &jane.access_token,
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["field"], "id", "{body}");
    assert!(
        body["detail"].as_str().unwrap().starts_with("`id`: "),
        "{body}"
    );
    app.run_pending_jobs().await;
    app.stop().await;
}
