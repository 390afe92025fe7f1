//! The real `twofa` binary, as an operator runs it: the embedded default with no other
//! server, a restart, worker mode, `migrate`, `openapi`, `admin create`, `--version`,
//! configuration errors, and a clean exit on SIGTERM.

use std::path::Path;

mod support;

use support::{Running, run, twofa};

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

#[test]
fn secrets_rotate_reseals_under_the_current_key_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(twofa(dir.path()).args(["secrets", "rotate"]));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("0 secret(s) resealed under key "),
        "{stdout}"
    );
}

/// `twofa admin create` with the password piped to standard input.
#[expect(clippy::unwrap_used, reason = "test support fails loudly")]
fn create_admin(dir: &Path, email: &str, username: &str, stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = twofa(dir)
        .args(["admin", "create", "--email", email, "--username", username])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn admin_create_makes_an_administrator_from_a_password_on_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let password = "a long administrator passphrase";
    let made = create_admin(
        dir.path(),
        "root@example.com",
        "root",
        &format!("{password}\n"),
    );
    let stdout = String::from_utf8(made.stdout).unwrap();
    assert!(
        made.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(stdout.contains("administrator root"), "{stdout}");
    assert!(!stdout.contains(password));

    let again = create_admin(
        dir.path(),
        "root@example.com",
        "root2",
        &format!("{password}\n"),
    );
    assert!(!again.status.success(), "a taken address is refused");
    let weak = create_admin(dir.path(), "other@example.com", "other", "short\n");
    assert!(!weak.status.success());
    let stderr = String::from_utf8(weak.stderr).unwrap();
    assert!(stderr.contains("--password"), "{stderr}");
    assert!(!stderr.contains("short\n"), "{stderr}");
    let empty = create_admin(dir.path(), "other@example.com", "other", "");
    assert!(!empty.status.success(), "no password, no account");
    let as_argument = run(twofa(dir.path()).args([
        "admin",
        "create",
        "--email",
        "x@example.com",
        "--username",
        "x",
        "--password",
        "p",
    ]));
    assert_eq!(
        as_argument.status.code(),
        Some(2),
        "there is no --password argument"
    );

    let service = Running::start(&mut twofa(dir.path()));
    let (status, body) = service.request(
        "POST",
        "/api/auth/login",
        "",
        Some(&format!(
            r#"{{"emailOrUsername":"root","password":"{password}"}}"#
        )),
    );
    assert_eq!(status, 200, "{body}");
    let login: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(login["user"]["role"], "admin", "{body}");
    assert_eq!(login["user"]["emailVerified"], true, "{body}");
    let token = login["accessToken"].as_str().unwrap();
    let (status, body) = service.request(
        "GET",
        "/api/admin/users",
        &format!("Authorization: Bearer {token}\r\n"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("root@example.com"), "{body}");
    assert!(service.terminate().success());
}
