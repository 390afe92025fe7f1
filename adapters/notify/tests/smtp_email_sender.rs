//! `SmtpEmailSender` against real SMTP servers: aiosmtpd (Python) writing what it receives to a
//! Maildir, and a scripted server in this file that answers chosen replies, to check how each
//! failure is classified.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;
use twofa_domain::{EmailAddress, EmailMessage, EmailSender, SendError};
use twofa_notify::{SmtpEmailSender, SmtpSettings, SmtpSettingsError, SmtpTls};

const FROM: &str = "twofa <no-reply@example.com>";
const TO: &str = "alice@example.com";
const STARTUP_DEADLINE: Duration = Duration::from_secs(15);

/// An aiosmtpd process storing every message in a Maildir; killed when dropped.
struct Aiosmtpd {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: TempDir,
}

impl Aiosmtpd {
    /// Starts `python3 -m aiosmtpd` on a free loopback port and waits until it accepts
    /// connections. Fails (never skips) when the module is missing.
    async fn start() -> Self {
        let probe = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output();
        match probe {
            Ok(output) if output.status.success() => {}
            Ok(output) => panic!(
                "the SMTP tests need Python's aiosmtpd module: run `pip install aiosmtpd` \
                 ({})",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(error) => panic!(
                "the SMTP tests need python3 with the aiosmtpd module (`pip install \
                 aiosmtpd`): {error}"
            ),
        }

        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let stderr = fs::File::create(dir.path().join("aiosmtpd.log")).unwrap();
        let port = free_port();
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
            _dir: dir,
        };
        server.wait_until_listening().await;
        server
    }

    async fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "aiosmtpd exited ({status}) before listening: {}",
                    self.log()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on 127.0.0.1:{} within {STARTUP_DEADLINE:?}: {}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn log(&self) -> String {
        let path = self.maildir.with_file_name("aiosmtpd.log");
        fs::read_to_string(path).unwrap_or_default()
    }

    /// The messages delivered so far, once there are `count` of them, as text with `\n` line
    /// ends.
    async fn messages(&self, count: usize) -> Vec<String> {
        let new = self.maildir.join("new");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let files = files_in(&new);
            if files.len() >= count {
                return files
                    .iter()
                    .map(|path| fs::read_to_string(path).unwrap().replace("\r\n", "\n"))
                    .collect();
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} messages reached the Maildir: {}",
                files.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.to_owned(),
        timeout: Duration::from_secs(5),
    }
}

fn message(html: Option<&str>) -> EmailMessage {
    EmailMessage {
        to: EmailAddress::parse(TO).unwrap(),
        subject: "Your twofa verification code".to_owned(),
        text: "Your code is 123456.\n".to_owned(),
        html: html.map(str::to_owned),
    }
}

/// The value of the first header named `name` in `raw` (unfolded).
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let headers = raw.split("\n\n").next().unwrap_or_default();
    headers.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then_some(value.trim())
    })
}

#[tokio::test]
async fn delivers_text_and_html_as_multipart_alternative() {
    let server = Aiosmtpd::start().await;
    let sender = SmtpEmailSender::new(settings(server.port)).unwrap();

    sender
        .send(&message(Some("<p>Your code is <b>123456</b>.</p>")))
        .await
        .unwrap();

    let messages = server.messages(1).await;
    assert_eq!(messages.len(), 1);
    let raw = &messages[0];
    assert_eq!(header(raw, "To"), Some(TO), "{raw}");
    assert_eq!(header(raw, "From"), Some(FROM), "{raw}");
    assert_eq!(
        header(raw, "Subject"),
        Some("Your twofa verification code"),
        "{raw}"
    );
    assert_eq!(header(raw, "X-MailFrom"), Some("no-reply@example.com"));
    assert_eq!(header(raw, "X-RcptTo"), Some(TO));
    assert!(header(raw, "Message-ID").is_some(), "{raw}");
    assert!(header(raw, "Date").is_some(), "{raw}");
    assert!(
        header(raw, "Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{raw}"
    );
    let plain = raw.find("Content-Type: text/plain").expect(raw);
    let html = raw.find("Content-Type: text/html").expect(raw);
    assert!(
        plain < html,
        "the plain part comes first, as RFC 2046 wants: {raw}"
    );
    assert!(raw[plain..html].contains("Your code is 123456."), "{raw}");
    assert!(
        raw[html..].contains("<p>Your code is <b>123456</b>.</p>"),
        "{raw}"
    );
}

#[tokio::test]
async fn delivers_plain_text_alone_when_there_is_no_html() {
    let server = Aiosmtpd::start().await;
    let sender = SmtpEmailSender::new(settings(server.port)).unwrap();

    sender.send(&message(None)).await.unwrap();

    let messages = server.messages(1).await;
    let raw = &messages[0];
    assert!(
        header(raw, "Content-Type")
            .unwrap()
            .starts_with("text/plain"),
        "{raw}"
    );
    assert!(!raw.contains("multipart"), "{raw}");
    assert!(raw.contains("Your code is 123456."), "{raw}");
}

#[tokio::test]
async fn reuses_the_transport_for_several_messages() {
    let server = Aiosmtpd::start().await;
    let sender = SmtpEmailSender::new(settings(server.port)).unwrap();

    for _ in 0..3 {
        sender.send(&message(Some("<p>hi</p>"))).await.unwrap();
    }

    assert_eq!(server.messages(3).await.len(), 3);
}

#[tokio::test]
async fn a_port_where_nothing_listens_is_retryable() {
    let sender = SmtpEmailSender::new(settings(free_port())).unwrap();

    let error = sender.send(&message(None)).await.unwrap_err();
    assert!(matches!(error, SendError::Retryable(_)), "{error}");
}

/// How the scripted server behaves.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Greets, accepts EHLO and MAIL, answers RCPT with this reply, accepts DATA.
    Rcpt(&'static str),
    /// Accepts connections and never says a word.
    Silent,
    /// Like `Rcpt("250 …")`, but on its first connection never answers the end of the data.
    StallFirstMessage,
}

/// A minimal SMTP server on a loopback port, following `script`.
async fn scripted_server(script: Script) -> (u16, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut connections = 0;
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            connections += 1;
            match script {
                Script::Silent => held.push(stream),
                Script::Rcpt(reply) => {
                    tokio::spawn(converse(stream, reply, false));
                }
                Script::StallFirstMessage => {
                    tokio::spawn(converse(stream, "250 2.1.5 Ok\r\n", connections == 1));
                }
            }
        }
    });
    (port, task)
}

async fn converse(stream: tokio::net::TcpStream, rcpt_reply: &'static str, is_stalling: bool) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    if writer.write_all(b"220 scripted ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" | "HELO" => "250 scripted\r\n",
            "MAIL" => "250 2.1.0 Ok\r\n",
            "RCPT" => rcpt_reply,
            "DATA" => {
                if writer
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                while let Ok(Some(data)) = lines.next_line().await {
                    if data == "." {
                        break;
                    }
                }
                if is_stalling {
                    std::future::pending::<()>().await;
                }
                "250 2.0.0 Ok: queued\r\n"
            }
            "RSET" | "NOOP" => "250 2.0.0 Ok\r\n",
            "QUIT" => "221 2.0.0 Bye\r\n",
            _ => "502 5.5.2 Command not recognized\r\n",
        };
        if writer.write_all(reply.as_bytes()).await.is_err() || verb == "QUIT" {
            return;
        }
    }
}

#[tokio::test]
async fn a_rejected_recipient_is_permanent_and_its_address_is_masked() {
    let (port, server) = scripted_server(Script::Rcpt(
        "550 5.1.1 <alice@example.com>: Recipient address rejected\r\n",
    ))
    .await;
    let sender = SmtpEmailSender::new(settings(port)).unwrap();

    let error = sender.send(&message(None)).await.unwrap_err();
    server.abort();
    assert!(matches!(error, SendError::Permanent(_)), "{error}");
    let text = error.to_string();
    assert!(text.contains("550"), "{text}");
    assert!(!text.contains(TO), "{text}");
    assert!(text.contains("a***@example.com"), "{text}");
}

#[tokio::test]
async fn a_temporary_refusal_is_retryable() {
    let (port, server) =
        scripted_server(Script::Rcpt("450 4.2.0 Mailbox busy, try again later\r\n")).await;
    let sender = SmtpEmailSender::new(settings(port)).unwrap();

    let error = sender.send(&message(None)).await.unwrap_err();
    server.abort();
    assert!(matches!(error, SendError::Retryable(_)), "{error}");
    assert!(error.to_string().contains("450"), "{error}");
}

#[tokio::test]
async fn a_server_that_never_greets_is_retryable_after_the_timeout() {
    let (port, server) = scripted_server(Script::Silent).await;
    let sender = SmtpEmailSender::new(SmtpSettings {
        timeout: Duration::from_millis(300),
        ..settings(port)
    })
    .unwrap();

    let started = Instant::now();
    let error = sender.send(&message(None)).await.unwrap_err();
    server.abort();
    assert!(matches!(error, SendError::Retryable(_)), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_scripted_server_accepts_a_message() {
    let (port, server) = scripted_server(Script::Rcpt("250 2.1.5 Ok\r\n")).await;
    let sender = SmtpEmailSender::new(settings(port)).unwrap();

    sender.send(&message(Some("<p>hi</p>"))).await.unwrap();
    server.abort();
}

#[tokio::test]
async fn after_a_timeout_mid_dialogue_the_next_send_uses_a_fresh_connection() {
    let (port, server) = scripted_server(Script::StallFirstMessage).await;
    let sender = SmtpEmailSender::new(SmtpSettings {
        timeout: Duration::from_millis(500),
        ..settings(port)
    })
    .unwrap();

    let error = sender.send(&message(None)).await.unwrap_err();
    assert!(matches!(error, SendError::Retryable(_)), "{error}");
    // Let lettre hand the abandoned connection back to its pool, as it does in the background.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    sender.send(&message(None)).await.unwrap();
    server.abort();
}

#[tokio::test]
async fn a_from_that_is_not_a_mailbox_is_refused() {
    let result = SmtpEmailSender::new(SmtpSettings {
        from: "twofa no-reply".to_owned(),
        ..settings(25)
    });
    let error = result.unwrap_err();
    assert!(matches!(error, SmtpSettingsError::InvalidFrom { .. }));
    assert!(error.to_string().contains("notify.smtp.from"), "{error}");
}

#[tokio::test]
async fn a_username_without_a_password_is_refused() {
    let result = SmtpEmailSender::new(SmtpSettings {
        username: Some("mailer".to_owned()),
        ..settings(25)
    });
    assert!(matches!(
        result,
        Err(SmtpSettingsError::IncompleteCredentials)
    ));
}

#[tokio::test]
async fn tls_settings_build_for_a_host_name() {
    for tls in [SmtpTls::StartTls, SmtpTls::Tls] {
        let result = SmtpEmailSender::new(SmtpSettings {
            host: "smtp.example.com".to_owned(),
            tls,
            ..settings(587)
        });
        assert!(result.is_ok(), "{tls:?}");
    }
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    let result = SmtpEmailSender::new(settings(25));
    assert!(matches!(result, Err(SmtpSettingsError::NoRuntime)));
}

#[test]
fn tls_modes_read_as_the_configuration_writes_them() {
    for (text, tls) in [
        ("\"starttls\"", SmtpTls::StartTls),
        ("\"tls\"", SmtpTls::Tls),
        ("\"none\"", SmtpTls::None),
    ] {
        assert_eq!(serde_json::from_str::<SmtpTls>(text).unwrap(), tls);
    }
}
