//! SMS and e-mail second factors through the worker with the real provider adapters: Twilio's
//! Messages API answered by a small HTTP mock in this file (which records every request, to
//! check it exactly), and e-mail delivered to a real SMTP server (Python's aiosmtpd writing a
//! Maildir), read back from what those servers received.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::task::JoinHandle;
use twofa_tests::{
    AppOptions, Backend, PASSWORD, SignedIn, TestApp, amr, eventually, spawn_app_with,
};

const ACCOUNT_SID: &str = "AC0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token";
const SMS_FROM: &str = "+15005550006";
const MAIL_FROM: &str = "twofa@example.com";
const DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Twilio: a minimal HTTP/1.1 server that records requests and answers 201 `queued`.
// ---------------------------------------------------------------------------------------------

/// One request the mock received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    /// Lower-case names.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Recorded {
    /// The form-urlencoded body's fields, in order.
    fn form(&self) -> Vec<(String, String)> {
        std::str::from_utf8(&self.body)
            .unwrap()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(name), form_decode(value))
            })
            .collect()
    }
}

/// `application/x-www-form-urlencoded` text back to a string (`+` is a space, `%XX` a byte).
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The Twilio stand-in; stops accepting when dropped.
struct TwilioMock {
    uri: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl TwilioMock {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(serve(stream, Arc::clone(&recorded)));
            }
        });
        Self {
            uri,
            requests,
            task,
        }
    }

    /// Every request received so far.
    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TwilioMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads requests off one connection (keep-alive) and answers each like Twilio.
async fn serve(stream: tokio::net::TcpStream, requests: Arc<Mutex<Vec<Recorded>>>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length = headers
            .get("content-length")
            .map_or(0, |value| value.parse::<usize>().unwrap());
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        requests.lock().unwrap().push(Recorded {
            method,
            path,
            headers,
            body,
        });
        let answer = r#"{"sid":"SMabcdefabcdefabcdefabcdefabcdefab","status":"queued"}"#;
        let response = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Asserts `request` is the exact Messages API request for an SMS to `to`: its 6-digit code.
fn twilio_code(request: &Recorded, to: &str) -> String {
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(
        request.headers.get("authorization").map(String::as_str),
        Some(
            format!(
                "Basic {}",
                STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
            )
            .as_str()
        )
    );
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    let form: BTreeMap<String, String> = request.form().into_iter().collect();
    assert_eq!(
        form.keys().map(String::as_str).collect::<Vec<_>>(),
        ["Body", "From", "To"],
        "{form:?}"
    );
    assert_eq!(form["To"], to);
    assert_eq!(form["From"], SMS_FROM);
    six_digit_code(&form["Body"]).unwrap_or_else(|| panic!("no code in {:?}", form["Body"]))
}

// ---------------------------------------------------------------------------------------------
// SMTP: aiosmtpd storing every message in a Maildir.
// ---------------------------------------------------------------------------------------------

/// An aiosmtpd process; killed when dropped.
struct Aiosmtpd {
    child: Child,
    port: u16,
    maildir: PathBuf,
    dir: TempDir,
}

impl Aiosmtpd {
    /// Starts `python3 -m aiosmtpd` on a free loopback port and waits until it listens. Fails
    /// (never skips) when the module is missing.
    async fn start() -> Self {
        let probe = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .expect("the SMTP test needs python3 with aiosmtpd (`pip install aiosmtpd`)");
        assert!(
            probe.status.success(),
            "the SMTP test needs Python's aiosmtpd module: run `pip install aiosmtpd` ({})",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let stderr = fs::File::create(dir.path().join("aiosmtpd.log")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("python3 -m aiosmtpd could not be started");
        let mut server = Self {
            child,
            port,
            maildir,
            dir,
        };
        let listening = eventually(DEADLINE, || {
            let is_listening = TcpStream::connect(("127.0.0.1", port)).is_ok();
            async move { is_listening }
        })
        .await;
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("aiosmtpd exited ({status}): {}", server.log());
        }
        assert!(
            listening,
            "aiosmtpd did not listen on 127.0.0.1:{port}: {}",
            server.log()
        );
        server
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("aiosmtpd.log")).unwrap_or_default()
    }

    /// The messages delivered so far, oldest first, with `\n` line ends.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
        files.sort_by_key(|path| modified(path));
        files
            .iter()
            .map(|path| fs::read_to_string(path).unwrap().replace("\r\n", "\n"))
            .collect()
    }

    /// The plain text of the newest message to `to`, waiting (with a deadline) until there are
    /// `count` messages to `to`.
    async fn nth_message_to(&self, to: &str, count: usize) -> String {
        let arrived = eventually(DEADLINE, || {
            let is_there = self.messages_to(to).len() >= count;
            async move { is_there }
        })
        .await;
        assert!(
            arrived,
            "{} of {count} messages to {to} reached the Maildir: {}",
            self.messages_to(to).len(),
            self.log()
        );
        let raw = self.messages_to(to).swap_remove(count - 1);
        assert_eq!(header(&raw, "X-RcptTo"), Some(to), "{raw}");
        assert_eq!(header(&raw, "To"), Some(to), "{raw}");
        assert_eq!(header(&raw, "X-MailFrom"), Some(MAIL_FROM), "{raw}");
        plain_text(&raw)
    }

    fn messages_to(&self, to: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|raw| header(raw, "X-RcptTo") == Some(to))
            .collect()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn modified(path: &Path) -> std::time::SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

/// The value of the first header named `name` in `raw` (headers end at the first blank line).
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let headers = raw.split("\n\n").next().unwrap_or_default();
    headers.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then_some(value.trim())
    })
}

/// The decoded `text/plain` part of a raw message (the whole body when it is not multipart).
fn plain_text(raw: &str) -> String {
    let part = match raw.find("Content-Type: text/plain") {
        Some(start) if header(raw, "Content-Type").is_some_and(|t| t.starts_with("multipart")) => {
            let part = &raw[start..];
            part.find("\n--").map_or(part, |end| &part[..end])
        }
        Some(_) | None => raw,
    };
    let (headers, body) = part.split_once("\n\n").unwrap_or((part, ""));
    let encoding = headers
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case("Content-Transfer-Encoding")
                .then(|| value.trim().to_ascii_lowercase())
        })
        .unwrap_or_default();
    match encoding.as_str() {
        "base64" => String::from_utf8(
            STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .unwrap(),
        )
        .unwrap(),
        "quoted-printable" => quoted_printable_decode(body),
        _ => body.to_owned(),
    }
}

/// Quoted-printable text back to a string (`=\n` is a soft line break, `=XX` a byte).
fn quoted_printable_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'=' {
            if bytes.get(index + 1) == Some(&b'\n') {
                index += 2;
                continue;
            }
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The app.
// ---------------------------------------------------------------------------------------------

/// The first 6-digit run of digits in `text`.
fn six_digit_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 6)
        .map(str::to_owned)
}

/// The token of the `/verify-email?token=` link in `text`.
fn verification_token(text: &str) -> String {
    let marker = "/verify-email?token=";
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no link in {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn ok(response: Response, status: u16) -> Value {
    let actual = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(actual, status, "{body}");
    if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap()
    }
}

async fn authed(app: &TestApp, path: &str, token: &str, body: &Value) -> Response {
    app.request(Method::POST, path)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// SMS by Twilio and e-mail by SMTP: the verification mail, each factor's setup code and the
/// login's SMS code leave through the worker and the real adapters, in the exact shape the
/// providers expect, and the codes they carry enrol the factors and complete the login.
#[tokio::test]
async fn sms_by_twilio_and_email_by_smtp_work_through_the_worker() {
    let twilio = TwilioMock::start().await;
    let smtp = Aiosmtpd::start().await;
    let app = spawn_app_with(
        AppOptions::new(Backend::Sqlite)
            .set("notify.sms", "twilio")
            .set("notify.twilio.account_sid", ACCOUNT_SID)
            .set("notify.twilio.auth_token", AUTH_TOKEN)
            .set("notify.twilio.from", SMS_FROM)
            .set("notify.twilio.base_url", twilio.uri.as_str())
            .set("notify.email", "smtp")
            .set("notify.smtp.host", "127.0.0.1")
            .set("notify.smtp.port", smtp.port)
            .set("notify.smtp.tls", "none")
            .set("notify.smtp.from", MAIL_FROM),
    )
    .await;

    // Sign-up: the verification link arrives by SMTP.
    let user: SignedIn = app.signed_up("jane").await;
    app.run_pending_jobs().await;
    let welcome = smtp.nth_message_to("jane@example.com", 1).await;
    let token = verification_token(&welcome);
    ok(
        app.post_json("/api/email/verify", &json!({ "token": token }))
            .await,
        204,
    )
    .await;

    // The SMS factor: its setup code goes to Twilio.
    let phone = "+14155550123";
    ok(
        authed(
            &app,
            "/api/2fa/sms/setup",
            &user.access_token,
            &json!({ "phoneNumber": phone }),
        )
        .await,
        202,
    )
    .await;
    app.run_pending_jobs().await;
    let requests = twilio.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let code = twilio_code(&requests[0], phone);
    let enabled = ok(
        authed(
            &app,
            "/api/2fa/sms/verify-setup",
            &user.access_token,
            &json!({ "code": code }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(enabled["backupCodes"].as_array().unwrap().len(), 10);

    // The e-mail factor: its setup code goes by SMTP to the new address.
    let address = "jane.codes@example.com";
    ok(
        authed(
            &app,
            "/api/2fa/email/setup",
            &user.access_token,
            &json!({ "email": address }),
        )
        .await,
        202,
    )
    .await;
    app.run_pending_jobs().await;
    let mail = smtp.nth_message_to(address, 1).await;
    let code = six_digit_code(&mail).unwrap_or_else(|| panic!("no code in {mail}"));
    let enabled = ok(
        authed(
            &app,
            "/api/2fa/email/verify-setup",
            &user.access_token,
            &json!({ "code": code }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(enabled, json!({}));

    // A login: the preferred factor's (SMS) code goes to Twilio, and completes the login.
    let challenge = ok(app.login("jane", PASSWORD).await, 200).await;
    assert_eq!(challenge["requiresTwoFactor"], true, "{challenge}");
    assert_eq!(challenge["methods"], json!(["sms", "email", "backup_code"]));
    app.run_pending_jobs().await;
    let requests = twilio.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let code = twilio_code(&requests[1], phone);
    let tokens = ok(
        app.post_json(
            "/api/2fa/verify",
            &json!({ "tempToken": challenge["tempToken"], "code": code }),
        )
        .await,
        200,
    )
    .await;
    assert!(amr(tokens["accessToken"].as_str().unwrap()).contains(&"sms".to_owned()));

    app.run_pending_jobs().await;
    app.stop().await;
}
