//! `problem`: the assertion every black-box test makes of an error answer.

use reqwest::{Response, header};
use serde_json::Value;

/// Asserts that `response` is the RFC 9457 problem API.md describes, with `status` and
/// `code`: `application/problem+json`, `type` `urn:twofa:problem:<code>`, a title and a
/// detail, and `instance` the request id; answers the body for further checks.
///
/// # Panics
/// When any of that does not hold.
pub async fn problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "expected {status} {code}");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("the request id is text")
        .to_owned();
    let body: Value = response.json().await.expect("a problem body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["type"], format!("urn:twofa:problem:{code}"), "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert_eq!(body["instance"], request_id, "{body}");
    body
}
