//! The real `twofa` binary, as an operator runs it: the embedded default with no other
//! server, a restart, worker mode, `migrate`, `openapi`, `--version`, configuration errors,
//! and a clean exit on SIGTERM.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const BINARY: &str = env!("CARGO_BIN_EXE_twofa");

fn twofa(dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("TWOFA_SERVER__LISTEN", "127.0.0.1:0")
        .env("TWOFA_LOG__FORMAT", "json")
        .stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("twofa runs")
}

/// A running `twofa` and the address it announced.
struct Running {
    child: Child,
    address: SocketAddr,
}

impl Running {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("twofa starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let address = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .filter(|log| log["fields"]["message"] == "twofa is listening")
                    .and_then(|log| log["fields"]["address"].as_str().map(str::to_owned));
                if let Some(address) = address {
                    let _ = sender.send(address);
                }
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_mins(1))
            .expect("twofa announced its address");
        Self {
            child,
            address: address.parse().expect("a socket address"),
        }
    }

    /// `GET path`: the status code and body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.address).expect("connects");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let body = response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        (status, body)
    }

    /// Sends SIGTERM and waits for the exit, polling with a deadline.
    fn terminate(mut self) -> std::process::ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "twofa did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn version_prints_the_name_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(twofa(dir.path()).arg("--version"));
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("twofa {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(twofa(dir.path()).arg("openapi"));
    assert!(output.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json"),
    )
    .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
}

#[test]
fn a_bad_value_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(twofa(dir.path()).env("TWOFA_SERVER__BODY_LIMIT", "lots"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("server.body_limit"), "{stderr}");
}

#[test]
fn a_missing_config_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(twofa(dir.path()).args(["--config", "missing.toml"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("missing.toml")
    );
}

#[test]
fn production_without_postgres_refuses_to_start_saying_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(twofa(dir.path()).env("TWOFA_ENVIRONMENT", "production"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("TWOFA_DATABASE__URL"), "{stderr}");
}

#[test]
fn the_embedded_default_serves_with_no_other_server_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = Running::start(&mut twofa(dir.path()));
    assert_eq!(first.get("/api/health/live").0, 200);
    let (status, body) = first.get("/api/health");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"healthy\""), "{body}");
    assert!(first.terminate().success(), "a clean exit on SIGTERM");
    let database = dir.path().join("data/twofa.db");
    assert!(database.exists(), "the SQLite file is created under ./data");
    let size = std::fs::metadata(&database).unwrap().len();

    let second = Running::start(&mut twofa(dir.path()));
    assert_eq!(second.get("/api/health/live").0, 200);
    assert!(second.terminate().success());
    assert!(std::fs::metadata(&database).unwrap().len() >= size);
}

#[test]
fn worker_mode_serves_only_health() {
    let dir = tempfile::tempdir().unwrap();
    let worker = Running::start(twofa(dir.path()).args(["--mode", "worker"]));
    assert_eq!(worker.get("/api/health/live").0, 200);
    assert_eq!(worker.get("/api/health/ready").0, 200);
    let (status, body) = worker.get("/api/openapi.json");
    assert_eq!(status, 404, "{body}");
    assert!(worker.terminate().success());
}

#[test]
fn migrate_applies_the_schema_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(twofa(dir.path()).arg("migrate"));
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8(first.stdout).unwrap();
    assert!(!stdout.starts_with("twofa: 0 "), "{stdout}");
    let second = run(twofa(dir.path()).arg("migrate"));
    assert!(second.status.success());
    assert!(
        String::from_utf8(second.stdout)
            .unwrap()
            .starts_with("twofa: 0 migration(s)")
    );
}
