//! `TwilioSmsSender` against a wiremock server standing in for Twilio: the exact request of the
//! Messages API, and the split of Twilio's answers into retryable and permanent failures.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use serde_json::json;
use support::CapturedLogs;
use twofa_domain::{PhoneNumber, SendError, SmsMessage, SmsSender};
use twofa_notify::{TwilioSettings, TwilioSettingsError, TwilioSmsSender};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT_SID: &str = "AC123";
const AUTH_TOKEN: &str = "token";
const MESSAGES_PATH: &str = "/2010-04-01/Accounts/AC123/Messages.json";
const TO: &str = "+15005550006";
const BODY: &str = "Your twofa code is 123456";

fn settings(base_url: &str) -> TwilioSettings {
    TwilioSettings {
        account_sid: ACCOUNT_SID.to_owned(),
        auth_token: SecretString::from(AUTH_TOKEN),
        from: Some("+15005550001".to_owned()),
        messaging_service_sid: None,
        base_url: base_url.to_owned(),
        timeout: Duration::from_secs(5),
    }
}

fn sender(server: &MockServer) -> TwilioSmsSender {
    TwilioSmsSender::new(settings(&server.uri())).unwrap()
}

fn message() -> SmsMessage {
    SmsMessage {
        to: PhoneNumber::parse(TO).unwrap(),
        body: BODY.to_owned(),
    }
}

/// Matches a form-urlencoded body whose fields are exactly these (no more, no fewer).
struct FormIs(BTreeMap<String, String>);

impl FormIs {
    fn new(fields: &[(&str, &str)]) -> Self {
        Self(
            fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }
}

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body) else {
            return false;
        };
        let count = pairs.len();
        let fields: BTreeMap<String, String> = pairs.into_iter().collect();
        count == fields.len() && fields == self.0
    }
}

/// `Basic base64("AC123:token")`.
fn expected_authorization() -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    )
}

/// A mock of the Messages API that answers `status` with `body` to the exact request only.
async fn expect_exact_request(
    server: &MockServer,
    form: FormIs,
    status: u16,
    body: serde_json::Value,
) {
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .and(header("authorization", expected_authorization().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(form)
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

/// Any POST to the Messages API answers `response`.
async fn answer(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(response)
        .mount(server)
        .await;
}

fn twilio_error(code: u32, message: &str, status: u16) -> serde_json::Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

fn queued() -> serde_json::Value {
    json!({"sid": "SMabcdefabcdefabcdefabcdefabcdefab", "status": "queued"})
}

#[tokio::test]
async fn sends_the_exact_messages_api_request_with_from() {
    let server = MockServer::start().await;
    let form = FormIs::new(&[("To", TO), ("From", "+15005550001"), ("Body", BODY)]);
    expect_exact_request(&server, form, 201, queued()).await;

    sender(&server).send(&message()).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url.path(), MESSAGES_PATH);
    assert_eq!(
        requests[0].headers.get("authorization").unwrap(),
        expected_authorization().as_str()
    );
    server.verify().await;
}

#[tokio::test]
async fn sends_messaging_service_sid_instead_of_from_when_configured() {
    let server = MockServer::start().await;
    let form = FormIs::new(&[
        ("To", TO),
        ("MessagingServiceSid", "MG0123456789"),
        ("Body", BODY),
    ]);
    expect_exact_request(&server, form, 201, queued()).await;
    let sender = TwilioSmsSender::new(TwilioSettings {
        from: None,
        messaging_service_sid: Some("MG0123456789".to_owned()),
        ..settings(&server.uri())
    })
    .unwrap();

    sender.send(&message()).await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn encodes_special_characters_of_the_body() {
    let server = MockServer::start().await;
    let body = "Code: 123 456 & more = 100% +ok\nline two é";
    let form = FormIs::new(&[("To", TO), ("From", "+15005550001"), ("Body", body)]);
    expect_exact_request(&server, form, 200, queued()).await;
    let message = SmsMessage {
        body: body.to_owned(),
        ..message()
    };

    sender(&server).send(&message).await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn keeps_a_path_prefix_of_the_base_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/proxy{MESSAGES_PATH}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(queued()))
        .expect(1)
        .mount(&server)
        .await;
    let sender = TwilioSmsSender::new(settings(&format!("{}/proxy/", server.uri()))).unwrap();

    sender.send(&message()).await.unwrap();
    server.verify().await;
}

async fn send_answered(response: ResponseTemplate) -> SendError {
    let server = MockServer::start().await;
    answer(&server, response).await;
    sender(&server).send(&message()).await.unwrap_err()
}

#[tokio::test]
async fn too_many_requests_is_retryable() {
    let error = send_answered(ResponseTemplate::new(429).set_body_json(twilio_error(
        20429,
        "Too Many Requests",
        429,
    )))
    .await;
    assert!(matches!(error, SendError::Retryable(_)), "{error}");
    assert!(error.to_string().contains("20429"), "{error}");
}

#[tokio::test]
async fn server_errors_are_retryable() {
    for status in [500, 502, 503] {
        let error = send_answered(ResponseTemplate::new(status)).await;
        assert!(
            matches!(error, SendError::Retryable(_)),
            "{status}: {error}"
        );
        assert!(error.to_string().contains(&status.to_string()), "{error}");
    }
}

#[tokio::test]
async fn an_invalid_number_is_permanent_with_twilio_code_and_message() {
    let error = send_answered(ResponseTemplate::new(400).set_body_json(twilio_error(
        21211,
        "Invalid 'To' Phone Number",
        400,
    )))
    .await;
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
    let text = error.to_string();
    assert!(text.contains("21211"), "{text}");
    assert!(text.contains("Invalid 'To' Phone Number"), "{text}");
    assert!(text.contains("400"), "{text}");
}

#[tokio::test]
async fn bad_credentials_are_permanent() {
    let error = send_answered(ResponseTemplate::new(401).set_body_json(twilio_error(
        20003,
        "Authenticate",
        401,
    )))
    .await;
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
    assert!(error.to_string().contains("20003"), "{error}");
}

#[tokio::test]
async fn a_refusal_never_carries_the_full_number_or_the_body() {
    let echoed = format!(
        "The 'To' number {TO} is not a valid phone number ({}), body: {BODY}",
        &TO[1..]
    );
    let error =
        send_answered(ResponseTemplate::new(400).set_body_json(twilio_error(21211, &echoed, 400)))
            .await;
    let text = format!("{error} {error:?}");
    assert!(!text.contains(&TO[1..]), "{text}");
    assert!(!text.contains("123456"), "{text}");
    assert!(text.contains("+1********06"), "{text}");
}

#[tokio::test]
async fn an_error_answer_that_is_not_json_is_still_classified() {
    let error =
        send_answered(ResponseTemplate::new(404).set_body_string("<html>nope</html>")).await;
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_permanent() {
    let error = send_answered(
        ResponseTemplate::new(301).insert_header("location", "http://127.0.0.1:9/elsewhere"),
    )
    .await;
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_is_retryable() {
    let server = MockServer::start().await;
    answer(
        &server,
        ResponseTemplate::new(201)
            .set_body_json(queued())
            .set_delay(Duration::from_secs(30)),
    )
    .await;
    let sender = TwilioSmsSender::new(TwilioSettings {
        timeout: Duration::from_millis(300),
        ..settings(&server.uri())
    })
    .unwrap();

    let started = std::time::Instant::now();
    let error = sender.send(&message()).await.unwrap_err();
    assert!(matches!(error, SendError::Retryable(_)), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sender = TwilioSmsSender::new(settings(&format!("http://127.0.0.1:{port}"))).unwrap();

    let error = sender.send(&message()).await.unwrap_err();
    assert!(matches!(error, SendError::Retryable(_)), "{error}");
}

#[test]
fn exactly_one_of_from_and_messaging_service_sid_is_required() {
    let neither = TwilioSmsSender::new(TwilioSettings {
        from: None,
        messaging_service_sid: Some("  ".to_owned()),
        ..settings(TwilioSettings::DEFAULT_BASE_URL)
    });
    assert!(matches!(neither, Err(TwilioSettingsError::NoSender)));

    let both = TwilioSmsSender::new(TwilioSettings {
        messaging_service_sid: Some("MG1".to_owned()),
        ..settings(TwilioSettings::DEFAULT_BASE_URL)
    });
    assert!(matches!(both, Err(TwilioSettingsError::BothSenders)));
    let message = TwilioSettingsError::BothSenders.to_string();
    assert!(message.contains("notify.twilio.from"), "{message}");
}

#[test]
fn an_account_sid_that_could_change_the_path_is_refused() {
    for sid in ["", "AC1/../x", "AC 1", "AC1?x=1"] {
        let result = TwilioSmsSender::new(TwilioSettings {
            account_sid: sid.to_owned(),
            ..settings(TwilioSettings::DEFAULT_BASE_URL)
        });
        assert!(
            matches!(result, Err(TwilioSettingsError::InvalidAccountSid)),
            "{sid}"
        );
    }
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    let result = TwilioSmsSender::new(settings("ftp://api.twilio.com"));
    assert!(matches!(
        result,
        Err(TwilioSettingsError::InvalidBaseUrl(_))
    ));
}

#[test]
fn the_debug_form_does_not_show_the_auth_token() {
    let sender = TwilioSmsSender::new(TwilioSettings {
        auth_token: SecretString::from("s3cr3t-auth-token"),
        ..settings(TwilioSettings::DEFAULT_BASE_URL)
    })
    .unwrap();
    assert!(!format!("{sender:?}").contains("s3cr3t-auth-token"));
}

#[tokio::test(flavor = "current_thread")]
async fn logs_only_the_masked_number_and_never_the_body() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start().await;
    answer(&server, ResponseTemplate::new(201).set_body_json(queued())).await;
    sender(&server).send(&message()).await.unwrap();
    server.reset().await;
    answer(
        &server,
        ResponseTemplate::new(400).set_body_json(twilio_error(21211, "Invalid", 400)),
    )
    .await;
    sender(&server).send(&message()).await.unwrap_err();

    let text = logs.text();
    assert!(text.contains("+1********06"), "{text}");
    assert!(!text.contains(&TO[1..]), "{text}");
    assert!(!text.contains("123456"), "{text}");
}
