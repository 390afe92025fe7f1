//! The committed OpenAPI document is what the code generates, and what is served.

#![expect(
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

use reqwest::header;
use twofa_tests::{Backend, repository_root, spawn_app};

fn committed() -> String {
    std::fs::read_to_string(repository_root().join("openapi/openapi.json"))
        .expect("openapi/openapi.json is committed")
}

#[test]
fn the_committed_document_matches_the_code() {
    let generated = format!("{}\n", twofa_http::openapi_document(twofa::VERSION));
    assert!(
        committed() == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_byte_for_byte() {
    let app = spawn_app(Backend::Memory).await;
    let response = app.openapi_json().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let served = response.text().await.unwrap();
    assert_eq!(served, twofa_http::openapi_document(twofa::VERSION));
    app.stop().await;
}

#[tokio::test]
async fn the_docs_page_is_served_under_a_csp_with_no_wildcard() {
    let app = spawn_app(Backend::Memory).await;
    let response = app.docs().await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(!csp.contains('*'), "{csp}");
    assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("getHealth"));
    app.stop().await;
}
