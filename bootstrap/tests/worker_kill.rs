//! A worker process killed (SIGKILL) in the middle of a job loses nothing: the job's lease runs
//! out, another worker process takes it, and the e-mail is delivered exactly once. The job is
//! queued by a third process (`twofa notify test-email`), as an API instance would. A worker
//! killed between two attempts at a webhook delivery loses nothing either: another worker
//! makes the retry, and the event is delivered once.
//!
//! Needs PostgreSQL (`TWOFA_TEST_DATABASE_URL`, `TWOFA_TEST_PG_BIN`) and Python's aiosmtpd, as
//! `./scripts/test` provides; fails, naming what is missing, without them.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

mod support;

use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use support::{Running, run, twofa};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with ./scripts/test, which starts PostgreSQL")
    })
}

/// A new PostgreSQL database; its URL.
fn fresh_database() -> String {
    let admin = env("TWOFA_TEST_DATABASE_URL");
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!("twofa_kill_{}_{nanos}", std::process::id());
    let status = Command::new(Path::new(&env("TWOFA_TEST_PG_BIN")).join("psql"))
        .args([
            admin.as_str(),
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .expect("psql runs");
    assert!(status.success(), "cannot create a test database");
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 50 ms until it holds or `deadline` passes.
fn eventually(deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An SMTP server that accepts connections and never says a word: a send to it hangs.
fn silent_smtp_server() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, on_accept) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
            let _ = accepted.send(());
        }
    });
    (port, on_accept)
}

/// A real SMTP server (aiosmtpd) writing each message into a Maildir.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpSink {
    fn start(dir: &Path) -> Self {
        let ready = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ready,
            "python3's aiosmtpd is missing: pip install aiosmtpd (./scripts/test does)"
        );
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let up = eventually(Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "aiosmtpd did not start");
        Self {
            child,
            port,
            maildir,
        }
    }

    fn delivered(&self) -> usize {
        std::fs::read_dir(self.maildir.join("new")).map_or(0, Iterator::count)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `twofa` over the shared database, with SMTP on `smtp_port` and a short lease.
fn over(dir: &Path, database: &str, smtp_port: u16, smtp_timeout: &str) -> Command {
    let mut command = twofa(dir);
    command
        .env("TWOFA_DATABASE__URL", database)
        .env("TWOFA_JOBS__LEASE", "2s")
        .env("TWOFA_JOBS__POLL_INTERVAL", "100ms")
        .env("TWOFA_NOTIFY__EMAIL", "smtp")
        .env("TWOFA_NOTIFY__SMTP__HOST", "127.0.0.1")
        .env("TWOFA_NOTIFY__SMTP__PORT", smtp_port.to_string())
        .env("TWOFA_NOTIFY__SMTP__TLS", "none")
        .env("TWOFA_NOTIFY__SMTP__FROM", "twofa <no-reply@example.com>")
        .env("TWOFA_NOTIFY__SMTP__TIMEOUT", smtp_timeout);
    command
}

#[test]
fn a_job_whose_worker_is_killed_mid_way_is_done_exactly_once_by_another_worker() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database();
    let (silent_port, on_accept) = silent_smtp_server();

    let doomed =
        Running::start(over(dir.path(), &database, silent_port, "5m").args(["--mode", "worker"]));
    let queued = run(over(dir.path(), &database, silent_port, "5m").args([
        "notify",
        "test-email",
        "--to",
        "ada@example.com",
    ]));
    assert!(
        queued.status.success(),
        "{}",
        String::from_utf8_lossy(&queued.stderr)
    );

    on_accept
        .recv_timeout(Duration::from_secs(30))
        .expect("the first worker started sending");
    let mut doomed_child = doomed;
    doomed_child.child.kill().unwrap();
    doomed_child.child.wait().unwrap();

    let sink = SmtpSink::start(dir.path());
    let rescuer =
        Running::start(over(dir.path(), &database, sink.port, "10s").args(["--mode", "worker"]));
    assert!(
        eventually(Duration::from_secs(30), || sink.delivered() >= 1),
        "the second worker delivered the e-mail after the lease ran out"
    );
    let drained = eventually(Duration::from_secs(30), || {
        let (_, body) = rescuer.get("/api/health");
        let health: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        health["checks"]["queue"]["pending"] == 0
    });
    assert!(drained, "the job is done");
    let (_, body) = rescuer.get("/api/health");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["checks"]["queue"]["failed"], 0);
    assert_eq!(sink.delivered(), 1, "delivered exactly once");
    assert!(rescuer.terminate().success());
}

/// A receiver on loopback: answers `failures` requests with 500, then 200; sends each
/// request's `webhook-id` and answered status down the channel.
fn scripted_receiver(failures: usize) -> (u16, mpsc::Receiver<(String, u16)>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for (index, stream) in listener.incoming().map_while(Result::ok).enumerate() {
            let mut reader = BufReader::new(stream);
            let (mut id, mut length) = (String::new(), 0_usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("webhook-id:") {
                    line["webhook-id:".len()..].trim().clone_into(&mut id);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if index < failures { 500 } else { 200 };
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = sender.send((id, status));
        }
    });
    (port, received)
}

/// `twofa` over the shared database, reaching receivers on loopback, retrying a delivery
/// once after 5 s.
fn webhooks_over(dir: &Path, database: &str) -> Command {
    let mut command = twofa(dir);
    command
        .env("TWOFA_DATABASE__URL", database)
        .env("TWOFA_JOBS__LEASE", "2s")
        .env("TWOFA_JOBS__POLL_INTERVAL", "100ms")
        .env("TWOFA_WEBHOOKS__ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#)
        .env("TWOFA_WEBHOOKS__RETRY_SCHEDULE", r#"["5s"]"#);
    command
}

fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

#[test]
fn a_webhook_whose_worker_is_killed_between_attempts_is_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database();
    let (port, requests) = scripted_receiver(1);
    let api = Running::start(webhooks_over(dir.path(), &database).args(["--mode", "api"]));
    let doomed = Running::start(webhooks_over(dir.path(), &database).args(["--mode", "worker"]));

    let (status, body) = api.request(
        "POST",
        "/api/auth/register",
        "",
        Some(r#"{"email":"ada@example.com","username":"ada","password":"correct horse battery staple"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let bearer = format!(
        "Authorization: Bearer {}\r\n",
        json_of(&body)["accessToken"].as_str().unwrap()
    );
    let (status, body) = api.request(
        "POST",
        "/api/webhooks",
        &bearer,
        Some(&format!(
            r#"{{"url":"http://127.0.0.1:{port}/hook","events":["webhook.test"]}}"#
        )),
    );
    assert_eq!(status, 201, "{body}");
    let endpoint = json_of(&body)["id"].as_str().unwrap().to_owned();
    let (status, body) = api.request(
        "POST",
        &format!("/api/webhooks/{endpoint}/test"),
        &bearer,
        None,
    );
    assert_eq!(status, 202, "{body}");
    let log = || {
        let (_, body) = api.request(
            "GET",
            &format!("/api/webhooks/{endpoint}/deliveries"),
            &bearer,
            None,
        );
        json_of(&body)["items"][0].clone()
    };

    let (first_id, first) = requests
        .recv_timeout(Duration::from_secs(30))
        .expect("the first worker made the first attempt");
    assert_eq!(first, 500);
    assert!(
        eventually(Duration::from_secs(30), || log()["attempts"] == 1),
        "the first attempt is recorded: {}",
        log()
    );
    let mut doomed = doomed;
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();

    let rescuer = Running::start(webhooks_over(dir.path(), &database).args(["--mode", "worker"]));
    let (second_id, second) = requests
        .recv_timeout(Duration::from_secs(30))
        .expect("the second worker made the retry");
    assert_eq!((second_id.as_str(), second), (first_id.as_str(), 200));
    assert!(
        eventually(Duration::from_secs(30), || log()["status"] == "delivered"),
        "{}",
        log()
    );
    let drained = eventually(Duration::from_secs(30), || {
        let (_, body) = rescuer.get("/api/health");
        let health: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        health["checks"]["queue"]["pending"] == 0
    });
    assert!(drained, "every job is done");
    assert_eq!(log()["attempts"], 2, "{}", log());
    assert!(
        requests.try_recv().is_err(),
        "delivered once: no request after the 200"
    );
    assert!(rescuer.terminate().success());
    assert!(api.terminate().success());
}
