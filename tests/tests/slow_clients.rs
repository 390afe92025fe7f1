//! Slow or greedy clients cannot hold the server, and the server library's own refusals are
//! problems like every other answer: a client trickling its request head, or sending nothing,
//! is disconnected after `server.header_read_timeout`; connections beyond
//! `server.max_connections` are not served until one closes; too many or too large headers are
//! a `431 headers_too_large` problem with `X-Request-Id`.
//!
//! Raw TCP, since an HTTP client library would neither trickle nor send 500 headers. Timeouts
//! here only bound how long a broken server can keep a test waiting.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::time::Duration;

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    time::timeout,
};
use twofa_tests::{AppOptions, Backend, TestApp, spawn_app_with};

/// The longest a test waits for something the server should do at once.
const GUARD: Duration = Duration::from_secs(10);

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// Reads until the peer closes the connection (EOF or a reset), within [`GUARD`]; the bytes
/// it sent before.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    timeout(GUARD, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await
    .expect("the server should have closed the connection");
    received
}

/// One response on a kept-alive connection: the head, and the body its `content-length` says.
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(received[..end].to_vec()).unwrap();
            let length: usize = header(&head, "content-length")
                .expect("a content-length")
                .parse()
                .unwrap();
            let mut body = received[end + 4..].to_vec();
            while body.len() < length {
                let read = stream.read(&mut buffer).await.unwrap();
                assert_ne!(read, 0, "the connection closed mid-body");
                body.extend_from_slice(&buffer[..read]);
            }
            return (head, body);
        }
        let read = stream.read(&mut buffer).await.unwrap();
        assert_ne!(
            read, 0,
            "the connection closed before a response: {received:?}"
        );
        received.extend_from_slice(&buffer[..read]);
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The answer to `request` sent whole on a fresh connection (`Connection: close`).
async fn answer(app: &TestApp, request: &[u8]) -> (String, Vec<u8>) {
    let mut stream = connect(app).await;
    stream.write_all(request).await.unwrap();
    let received = read_until_closed(&mut stream).await;
    let end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no response head in {:?}",
                String::from_utf8_lossy(&received)
            )
        });
    (
        String::from_utf8(received[..end].to_vec()).unwrap(),
        received[end + 4..].to_vec(),
    )
}

/// Asserts a `431 headers_too_large` problem whose `instance` is its `X-Request-Id`.
fn assert_headers_too_large(head: &str, body: &[u8]) {
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
    assert_eq!(
        header(head, "content-type"),
        Some("application/problem+json"),
        "{head}"
    );
    let request_id = header(head, "x-request-id").expect("an X-Request-Id");
    let problem: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(problem["code"], "headers_too_large", "{problem}");
    assert_eq!(problem["status"], 431);
    assert_eq!(problem["type"], "urn:twofa:problem:headers_too_large");
    assert!(problem["detail"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(problem["instance"], request_id);
}

#[tokio::test]
async fn a_client_trickling_its_header_lines_is_disconnected_after_the_header_read_timeout() {
    let app =
        spawn_app_with(AppOptions::new(Backend::Memory).set("server.header_read_timeout", "1s"))
            .await;
    let stream = connect(&app).await;
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: twofa\r\n")
        .await
        .unwrap();
    // A header line every 200 ms for 30 s: the head is never finished, the line never idle.
    let trickle = tokio::spawn(async move {
        for line in 0..150 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let sent = writer
                .write_all(format!("X-Trickle-{line}: 1\r\n").as_bytes())
                .await;
            if sent.is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    timeout(GUARD, reader.read_to_end(&mut received))
        .await
        .expect("a trickling client should be disconnected")
        .ok();
    assert!(
        received.is_empty(),
        "nothing is answered to an unfinished head: {}",
        String::from_utf8_lossy(&received)
    );
    trickle.abort();
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_connects_and_sends_nothing_is_disconnected_after_the_header_read_timeout() {
    let app =
        spawn_app_with(AppOptions::new(Backend::Memory).set("server.header_read_timeout", "1s"))
            .await;
    let mut silent = connect(&app).await;
    assert!(read_until_closed(&mut silent).await.is_empty());
    // Likewise a kept-alive connection that sends no second request.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /api/health/live HTTP/1.1\r\nHost: twofa\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = timeout(GUARD, read_response(&mut kept)).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(read_until_closed(&mut kept).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn connections_beyond_max_connections_are_served_only_once_one_closes() {
    let app =
        spawn_app_with(AppOptions::new(Backend::Memory).set("server.max_connections", 2)).await;
    let request = b"GET /api/health/live HTTP/1.1\r\nHost: twofa\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream.write_all(request).await.unwrap();
        let (head, _) = timeout(GUARD, read_response(&mut stream)).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        open.push(stream);
    }
    let mut third = connect(&app).await;
    third.write_all(request).await.unwrap();
    // A served connection answers within milliseconds; half a second of silence means it
    // waits (a slow machine can only make this pass wrongly, never fail wrongly).
    assert!(
        timeout(Duration::from_millis(500), read_response(&mut third))
            .await
            .is_err(),
        "a third connection was served while two were open"
    );
    drop(open.pop());
    let (head, _) = timeout(GUARD, read_response(&mut third))
        .await
        .expect("the waiting connection should be served once one closes");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    // The slot is reused, not lost: the third connection's own next request is served too.
    third.write_all(request).await.unwrap();
    let (head, _) = timeout(GUARD, read_response(&mut third)).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    app.stop().await;
}

#[tokio::test]
async fn five_hundred_headers_are_a_431_problem_with_a_request_id() {
    let app = spawn_app_with(AppOptions::new(Backend::Memory)).await;
    let mut request = b"GET /api/health HTTP/1.1\r\nHost: twofa\r\nConnection: close\r\n".to_vec();
    for index in 0..500 {
        request.extend_from_slice(format!("X-Header-{index}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let (head, body) = answer(&app, &request).await;
    assert_headers_too_large(&head, &body);
    app.stop().await;
}

#[tokio::test]
async fn a_head_over_max_header_bytes_is_a_431_problem_with_a_request_id() {
    let app = spawn_app_with(AppOptions::new(Backend::Memory)).await;
    // 8 headers of 4 KiB: few fields, but twice the default 16 KiB.
    let mut request = b"GET /api/health HTTP/1.1\r\nHost: twofa\r\nConnection: close\r\n".to_vec();
    for index in 0..8 {
        request.extend_from_slice(format!("X-Big-{index}: {}\r\n", "v".repeat(4096)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let (head, body) = answer(&app, &request).await;
    assert_headers_too_large(&head, &body);
    app.stop().await;
}

#[tokio::test]
async fn a_head_within_the_limits_is_served() {
    let app = spawn_app_with(AppOptions::new(Backend::Memory)).await;
    let mut request =
        b"GET /api/health/live HTTP/1.1\r\nHost: twofa\r\nConnection: close\r\n".to_vec();
    for index in 0..90 {
        request.extend_from_slice(format!("X-Header-{index}: {}\r\n", "v".repeat(100)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let (head, _) = answer(&app, &request).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem_with_a_request_id() {
    let app = spawn_app_with(AppOptions::new(Backend::Memory).set("server.body_limit", 1024)).await;
    let mut request = b"POST /api/health HTTP/1.1\r\nHost: twofa\r\nConnection: close\r\n\
        Content-Type: application/json\r\nContent-Length: 2048\r\n\r\n"
        .to_vec();
    request.extend_from_slice(&[b' '; 2048]);
    let (head, body) = answer(&app, &request).await;
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/problem+json")
    );
    let request_id = header(&head, "x-request-id").expect("an X-Request-Id");
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "payload_too_large", "{problem}");
    assert_eq!(problem["instance"], request_id);
    app.stop().await;
}
