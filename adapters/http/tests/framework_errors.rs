//! The framework's own errors on a route with a JSON body and a query parameter, through the
//! same layer the service uses: each is a problem with the right status and code.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::{sync::Arc, time::Duration};

use poem::{Endpoint, Route, http::StatusCode, test::TestClient};
use poem_openapi::{Object, OpenApi, OpenApiService, param::Query, payload::Json};
use serde_json::Value;
use twofa_http::{HttpSettings, JsonBody, with_layer};
use twofa_memory::SeededSecretGenerator;

#[derive(Debug, Object, serde::Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct Signup {
    email_address: String,
    age: u32,
}

#[derive(Debug, Object)]
struct Echo {
    email: String,
}

struct TestApi;

#[OpenApi]
impl TestApi {
    #[oai(path = "/api/signup", method = "post", operation_id = "signup")]
    async fn signup(&self, body: JsonBody<Signup>) -> Json<Echo> {
        Json(Echo {
            email: body.0.email_address,
        })
    }

    #[oai(path = "/api/items", method = "get", operation_id = "items")]
    async fn items(&self, limit: Query<u32>) -> Json<u32> {
        Json(limit.0)
    }
}

fn client() -> TestClient<impl Endpoint> {
    let settings = HttpSettings {
        body_limit: 256,
        max_headers: 10,
        max_header_bytes: 1024,
        request_timeout: Duration::from_secs(5),
        trusted_proxies: Vec::new(),
        cors_origins: Vec::new(),
        is_https: false,
    };
    let routes = Route::new().nest("/", OpenApiService::new(TestApi, "test", "1"));
    TestClient::new(with_layer(
        routes,
        &settings,
        Arc::new(SeededSecretGenerator::new(1)),
    ))
}

async fn problem(response: poem::test::TestResponse, status: StatusCode, code: &str) -> Value {
    response.assert_status(status);
    response.assert_content_type("application/problem+json");
    let request_id = response.0.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value =
        serde_json::from_str(&response.0.into_body().into_string().await.unwrap()).unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["instance"], request_id);
    body
}

#[tokio::test]
async fn a_valid_body_reaches_the_handler() {
    let response = client()
        .post("/api/signup")
        .content_type("application/json")
        .body(r#"{"emailAddress": "a@example.com", "age": 30, "unknown": 1}"#)
        .send()
        .await;
    response.assert_status_is_ok();
    response
        .assert_json(serde_json::json!({"email": "a@example.com"}))
        .await;
}

#[tokio::test]
async fn unparsable_json_is_malformed_body() {
    let response = client()
        .post("/api/signup")
        .content_type("application/json")
        .body(r#"{"emailAddress": "#)
        .send()
        .await;
    problem(response, StatusCode::BAD_REQUEST, "malformed_body").await;
}

#[tokio::test]
async fn a_missing_field_is_validation_failed_naming_it() {
    let response = client()
        .post("/api/signup")
        .content_type("application/json")
        .body(r#"{"age": 30}"#)
        .send()
        .await;
    let body = problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "emailAddress");
}

#[tokio::test]
async fn a_wrong_type_is_validation_failed_naming_the_field() {
    let response = client()
        .post("/api/signup")
        .content_type("application/json")
        .body(r#"{"emailAddress": "a@example.com", "age": "old"}"#)
        .send()
        .await;
    let body = problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "age");
}

#[tokio::test]
async fn a_wrong_content_type_is_unsupported_media_type() {
    let response = client()
        .post("/api/signup")
        .content_type("text/plain")
        .body(r#"{"emailAddress": "a@example.com", "age": 1}"#)
        .send()
        .await;
    problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn no_content_type_is_unsupported_media_type() {
    let response = client()
        .post("/api/signup")
        .body(r#"{"emailAddress": "a@example.com", "age": 1}"#)
        .send()
        .await;
    problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_payload_too_large() {
    let response = client()
        .post("/api/signup")
        .content_type("application/json")
        .body(format!(
            r#"{{"emailAddress": "{}", "age": 1}}"#,
            "a".repeat(400)
        ))
        .send()
        .await;
    problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn a_missing_parameter_is_validation_failed_naming_it() {
    let response = client().get("/api/items").send().await;
    let body = problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn a_mistyped_parameter_is_validation_failed_naming_it() {
    let response = client()
        .get("/api/items")
        .query("limit", &"many")
        .send()
        .await;
    let body = problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn an_unknown_route_and_a_wrong_method_are_problems() {
    problem(
        client().get("/api/none").send().await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        client().put("/api/items").send().await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn a_panicking_handler_is_a_generic_internal_problem() {
    struct PanicApi;
    #[OpenApi]
    impl PanicApi {
        #[oai(path = "/api/boom", method = "get", operation_id = "boom")]
        async fn boom(&self) -> Json<u32> {
            panic!("secret internal detail: relation users");
        }
    }
    let settings = HttpSettings {
        body_limit: 256,
        max_headers: 100,
        max_header_bytes: 16384,
        request_timeout: Duration::from_secs(5),
        trusted_proxies: Vec::new(),
        cors_origins: Vec::new(),
        is_https: false,
    };
    let routes = Route::new().nest("/", OpenApiService::new(PanicApi, "test", "1"));
    let client = TestClient::new(with_layer(
        routes,
        &settings,
        Arc::new(SeededSecretGenerator::new(1)),
    ));
    let body = problem(
        client.get("/api/boom").send().await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    )
    .await;
    assert!(!body.to_string().contains("secret internal detail"));
}

#[tokio::test]
async fn more_header_fields_than_max_headers_are_a_431_problem() {
    let client = client();
    let mut request = client.get("/api/items?limit=1");
    for index in 0..11 {
        request = request.header(format!("x-field-{index}"), "v");
    }
    let body = problem(
        request.send().await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    )
    .await;
    assert_eq!(body["type"], "urn:twofa:problem:headers_too_large");
}

#[tokio::test]
async fn a_head_longer_than_max_header_bytes_is_a_431_problem() {
    problem(
        client()
            .get("/api/items?limit=1")
            .header("x-long", "v".repeat(1024))
            .send()
            .await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    )
    .await;
}

#[tokio::test]
async fn a_head_within_both_header_limits_reaches_the_handler() {
    let client = client();
    let mut request = client.get("/api/items?limit=7");
    for index in 0..9 {
        request = request.header(format!("x-field-{index}"), "v".repeat(50));
    }
    let response = request.send().await;
    response.assert_status_is_ok();
    response.assert_text("7").await;
}
