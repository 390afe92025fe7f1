//! The service's logs in tests: one subscriber per test process, installed by the first app
//! started, that keeps every line the service logs (`debug` for the twofa crates, `info` for
//! the rest) in memory for the test to read, and prints them to stderr as well when `TEST_LOG`
//! is set to anything (filtered by `RUST_LOG` when that is set too). It is built from the
//! binary's own parts (`twofa::telemetry`), as compact text with the spans' fields.
//!
//! An app's `log.*` settings change nothing here: the binary installs its subscriber from
//! `main`, not from `Application`.
//!
//! The capture is per process: nextest runs each test in a process of its own, `cargo test`
//! runs a binary's tests side by side in one, where a test reads the others' lines too.

use std::{
    fmt::Write as _,
    sync::{Mutex, OnceLock, PoisonError},
};

use tracing_subscriber::{
    EnvFilter, Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};
use twofa::telemetry::{env_filter, format_layer};

/// What the capture keeps; also what `TEST_LOG` prints unless `RUST_LOG` says otherwise.
pub const CAPTURE_FILTER: &str = "info,twofa=debug";

/// A secret shorter than this could appear in the logs by chance; the checks refuse it.
pub const MIN_SECRET_CHARS: usize = 6;

/// Lines shown per secret found; the rest are counted.
const LINES_SHOWN: usize = 3;

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Installs the subscriber, once per process; later calls do nothing.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let capture = format_layer(false, false, || CaptureWriter)
            .with_filter(EnvFilter::new(CAPTURE_FILTER));
        let is_test_log = std::env::var_os("TEST_LOG").is_some_and(|value| !value.is_empty());
        let stderr = is_test_log.then(|| {
            format_layer(false, true, std::io::stderr).with_filter(env_filter(CAPTURE_FILTER))
        });
        let installed = tracing_subscriber::registry()
            .with(capture)
            .with(stderr)
            .try_init();
        if let Err(error) = installed {
            panic!("the test harness must install the process's only subscriber: {error}");
        }
    });
}

/// Every line captured so far in this process.
pub fn captured_logs() -> String {
    let captured = CAPTURED.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&captured).into_owned()
}

/// One description per secret of `secrets` found in `logs`, naming the secret by its place in
/// the list and showing the lines holding it with every secret replaced by `<secret>`; empty
/// when none appears.
///
/// # Panics
/// When a secret is shorter than [`MIN_SECRET_CHARS`]: it would match by chance.
pub fn secrets_in(logs: &str, secrets: &[&str]) -> Vec<String> {
    for (n, secret) in secrets.iter().enumerate() {
        assert!(
            secret.chars().count() >= MIN_SECRET_CHARS,
            "secret #{n} has {} characters: one shorter than {MIN_SECRET_CHARS} would match the \
             logs by chance",
            secret.chars().count()
        );
    }
    let redact = |line: &str| {
        secrets.iter().fold(line.to_owned(), |line, secret| {
            line.replace(secret, "<secret>")
        })
    };
    secrets
        .iter()
        .enumerate()
        .filter_map(|(n, secret)| {
            let lines: Vec<&str> = logs.lines().filter(|line| line.contains(secret)).collect();
            if lines.is_empty() {
                return None;
            }
            let mut found = format!(
                "secret #{n} ({} characters) appears in {} line(s):",
                secret.chars().count(),
                lines.len()
            );
            for line in lines.iter().take(LINES_SHOWN) {
                found.push_str("\n    ");
                found.push_str(&redact(line));
            }
            if lines.len() > LINES_SHOWN {
                let _ = write!(found, "\n    … and {} more", lines.len() - LINES_SHOWN);
            }
            Some(found)
        })
        .collect()
}

/// [`secrets_in`] the lines captured so far.
pub fn secrets_in_logs(secrets: &[&str]) -> Vec<String> {
    secrets_in(&captured_logs(), secrets)
}

/// Panics, listing them, when any of `secrets` appears in the lines captured so far.
///
/// # Panics
/// When one appears, or one is shorter than [`MIN_SECRET_CHARS`].
pub fn assert_no_secret_in_logs(secrets: &[&str]) {
    let found = secrets_in_logs(secrets);
    assert!(
        found.is_empty(),
        "{} of {} secrets appear in the logs:\n{}",
        found.len(),
        secrets.len(),
        found.join("\n")
    );
}

/// Appends to [`CAPTURED`]; the fmt layer writes each line in one call.
struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
