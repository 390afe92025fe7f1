//! Setup of the login phase: registering its users (`POST /api/auth/register`), then one
//! login to show that the service signs them in. Register hashes a password too, so it is
//! held to `parallel` requests at once, and a request shed with `503 overloaded` is asked
//! again after its `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::argon2_ceiling::random_bytes;
use crate::load::{Credentials, Target, has_access_token, problem_code, retry_after};

/// How often one registration is asked again after `503 overloaded`.
const MAX_ATTEMPTS: u32 = 30;

/// Registers `count` users with `parallel` requests at once; their names start with a
/// prefix of this run, so a benchmark against a service it already used still starts clean.
pub async fn register_users(
    target: &Arc<Target>,
    count: usize,
    parallel: usize,
) -> anyhow::Result<Vec<Credentials>> {
    let prefix = format!("bench-{:08x}", u32::from_le_bytes(random_bytes()));
    let users: Arc<Vec<Credentials>> = Arc::new(
        (0..count)
            .map(|index| Credentials {
                username: format!("{prefix}-{index}"),
                password: format!("correct-horse-battery-{index}"),
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..parallel.clamp(1, count.max(1)) {
        let target = Arc::clone(target);
        let users = Arc::clone(&users);
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            while let Some(user) = users.get(next.fetch_add(1, Ordering::Relaxed)) {
                register(&target, user).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a registration task stopped")??;
    }
    Ok(users.to_vec())
}

/// Registers one user: 201, or an error that says why not.
async fn register(target: &Target, user: &Credentials) -> anyhow::Result<()> {
    let body = json!({
        "email": format!("{}@example.com", user.username),
        "username": user.username,
        "password": user.password,
    });
    for _ in 0..MAX_ATTEMPTS {
        let response = target
            .client()
            .post(target.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .context("POST /api/auth/register failed")?;
        let status = response.status();
        let wait = retry_after(response.headers()).unwrap_or(Duration::from_secs(1));
        let answer = answer_body(response).await;
        match status {
            StatusCode::CREATED => return Ok(()),
            StatusCode::NOT_FOUND => bail!(
                "POST /api/auth/register answered 404: this twofa binary has no account \
                 routes yet, so there is no login to measure"
            ),
            StatusCode::SERVICE_UNAVAILABLE if problem_code(&answer) == "overloaded" => {
                tokio::time::sleep(wait).await;
            }
            other => bail!("POST /api/auth/register answered {other}: {answer}"),
        }
    }
    bail!("POST /api/auth/register was still overloaded after {MAX_ATTEMPTS} attempts")
}

/// Signs in as the first user once: 200 with an access token, or an error that says why not.
pub async fn check_login(target: &Target, users: &[Credentials]) -> anyhow::Result<()> {
    let Some(user) = users.first() else {
        bail!("no users to sign in as");
    };
    let response = target
        .client()
        .post(target.url("/api/auth/login"))
        .json(&json!({"emailOrUsername": user.username, "password": user.password}))
        .send()
        .await
        .context("POST /api/auth/login failed")?;
    let status = response.status();
    let answer = answer_body(response).await;
    if status == StatusCode::NOT_FOUND {
        bail!("POST /api/auth/login answered 404: this twofa binary has no login route yet");
    }
    if status != StatusCode::OK || !has_access_token(&answer) {
        bail!("POST /api/auth/login of a new user answered {status}: {answer}");
    }
    Ok(())
}

/// The answer's JSON body, or `null` when it has none.
async fn answer_body(response: reqwest::Response) -> Value {
    match response.bytes().await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}
