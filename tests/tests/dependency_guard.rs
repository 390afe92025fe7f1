//! The core stays free of I/O technology: `twofa-domain` and `twofa-application` reach none of
//! tokio, poem, sea-orm, sqlx, redis, lettre, reqwest or figment, even transitively.

#![expect(
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::process::Command;

const FORBIDDEN: [&str; 10] = [
    "tokio",
    "poem",
    "poem-openapi",
    "sea-orm",
    "sqlx",
    "sqlx-core",
    "redis",
    "lettre",
    "reqwest",
    "figment",
];

/// The names of every package `package` depends on (normal and build edges, all features).
fn dependencies_of(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(twofa_tests::repository_root())
        .args(["tree", "--locked", "--all-features", "-e", "normal,build"])
        .args(["--prefix", "none", "--format", "{p}", "-p", package])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn assert_core(package: &str) {
    let dependencies = dependencies_of(package);
    assert!(
        dependencies.iter().any(|d| d == package),
        "cargo tree listed {package} itself"
    );
    let reached: Vec<_> = dependencies
        .iter()
        .filter(|d| FORBIDDEN.contains(&d.as_str()))
        .collect();
    assert!(reached.is_empty(), "{package} reaches {reached:?}");
}

#[test]
fn the_domain_reaches_no_io_technology() {
    assert_core("twofa-domain");
}

#[test]
fn the_application_reaches_no_io_technology() {
    assert_core("twofa-application");
}

#[test]
fn the_guard_would_see_a_forbidden_crate() {
    // The HTTP adapter does depend on poem and tokio: the same listing must show them.
    let dependencies = dependencies_of("twofa-http");
    assert!(dependencies.iter().any(|d| d == "poem"));
    assert!(dependencies.iter().any(|d| d == "tokio"));
}
