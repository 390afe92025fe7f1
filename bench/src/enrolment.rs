//! Setup of the verify phase: accounts with TOTP enrolled, then one open second-factor
//! challenge for each. Each account goes through `POST /api/auth/register`,
//! `POST /api/2fa/totp/setup` and `POST /api/2fa/totp/verify-setup` (with the code of the
//! current step, which that spends); only when every account is enrolled does each log in
//! (`POST /api/auth/login` → `requiresTwoFactor`), because a challenge lives five minutes and
//! enrolling thousands of accounts may take a good part of that.
//!
//! A request shed with `503 overloaded` is asked again after its `Retry-After`; anything
//! else unexpected stops the benchmark with the answer it got.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::argon2_ceiling::random_bytes;
use crate::load::{PreparedChallenge, Target, problem_code, retry_after};
use crate::totp;

/// How often one request is asked again after `503 overloaded`.
const MAX_ATTEMPTS: u32 = 30;

/// How many finished items between two progress lines on stderr.
const PROGRESS_EVERY: usize = 5000;

/// An account with TOTP enrolled.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub username: String,
    pub password: String,
    /// The TOTP secret's raw bytes.
    pub secret: Vec<u8>,
}

/// A login waiting for its second factor: the account's secret and the challenge's token.
#[derive(Debug, Clone)]
pub struct OpenChallenge {
    pub secret: Vec<u8>,
    pub temp_token: String,
}

/// Registers `count` accounts and enrols TOTP on each, `parallel` accounts at a time. Their
/// names start with a prefix of this run, so a service used before still starts clean.
pub async fn enrol_accounts(
    target: &Arc<Target>,
    count: usize,
    parallel: usize,
) -> anyhow::Result<Vec<Enrolled>> {
    let prefix = format!("bench-2fa-{:08x}", u32::from_le_bytes(random_bytes()));
    let target = Arc::clone(target);
    in_parallel((0..count).collect(), parallel, "enrolled", move |index| {
        let target = Arc::clone(&target);
        let username = format!("{prefix}-{index}");
        async move { enrol(&target, username, format!("correct-horse-battery-{index}")).await }
    })
    .await
}

/// Logs in as every account, `parallel` at a time: one open challenge each, in order.
pub async fn open_challenges(
    target: &Arc<Target>,
    accounts: Vec<Enrolled>,
    parallel: usize,
) -> anyhow::Result<Vec<OpenChallenge>> {
    let target = Arc::clone(target);
    in_parallel(accounts, parallel, "challenged", move |account| {
        let target = Arc::clone(&target);
        async move {
            let answer = post(
                &target,
                "/api/auth/login",
                &json!({"emailOrUsername": account.username, "password": account.password}),
                None,
                StatusCode::OK,
            )
            .await?;
            if answer.get("requiresTwoFactor") != Some(&Value::Bool(true)) {
                bail!(
                    "POST /api/auth/login of an enrolled account asked no second factor: {answer}"
                );
            }
            Ok(OpenChallenge {
                secret: account.secret,
                temp_token: string_field(&answer, "tempToken")?,
            })
        }
    })
    .await
}

/// Each challenge with the code of `step`: the step after the current one, so no account
/// has spent it at setup, and the server (which accepts one step either side) takes it
/// during the next 30 to 60 seconds.
pub fn prepare(challenges: Vec<OpenChallenge>, step: u64) -> Vec<PreparedChallenge> {
    challenges
        .into_iter()
        .map(|challenge| PreparedChallenge {
            code: totp::code(&challenge.secret, step),
            temp_token: challenge.temp_token,
        })
        .collect()
}

/// Registers one account and enrols TOTP on it.
async fn enrol(target: &Target, username: String, password: String) -> anyhow::Result<Enrolled> {
    let registered = post(
        target,
        "/api/auth/register",
        &json!({
            "email": format!("{username}@example.com"),
            "username": username,
            "password": password,
        }),
        None,
        StatusCode::CREATED,
    )
    .await?;
    let access_token = string_field(&registered, "accessToken")?;
    let setup = post(
        target,
        "/api/2fa/totp/setup",
        &json!({}),
        Some(&access_token),
        StatusCode::OK,
    )
    .await?;
    let secret = totp::decode_base32(&string_field(&setup, "secret")?)
        .context("POST /api/2fa/totp/setup answered a secret that is not base32")?;
    let code = totp::code(&secret, totp::current_step()?);
    post(
        target,
        "/api/2fa/totp/verify-setup",
        &json!({"code": code}),
        Some(&access_token),
        StatusCode::OK,
    )
    .await?;
    Ok(Enrolled {
        username,
        password,
        secret,
    })
}

/// POSTs `body` (with `bearer` as the access token, when given) and returns the answer's
/// JSON when its status is `expected`.
async fn post(
    target: &Target,
    path: &str,
    body: &Value,
    bearer: Option<&str>,
    expected: StatusCode,
) -> anyhow::Result<Value> {
    for _ in 0..MAX_ATTEMPTS {
        let mut request = target.client().post(target.url(path)).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {path} failed"))?;
        let status = response.status();
        let wait = retry_after(response.headers()).unwrap_or(Duration::from_secs(1));
        let answer = match response.bytes().await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if status == expected {
            return Ok(answer);
        }
        if status == StatusCode::NOT_FOUND && answer.is_null() {
            bail!("POST {path} answered 404: this twofa binary has no such route");
        }
        if status == StatusCode::SERVICE_UNAVAILABLE && problem_code(&answer) == "overloaded" {
            tokio::time::sleep(wait).await;
            continue;
        }
        bail!("POST {path} answered {status}: {answer}");
    }
    bail!("POST {path} was still overloaded after {MAX_ATTEMPTS} attempts")
}

/// The string field `name` of an answer.
fn string_field(answer: &Value, name: &str) -> anyhow::Result<String> {
    answer
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the answer has no string `{name}`: {answer}"))
}

/// Runs `work` on every item, `parallel` at a time; the results keep the items' order. The
/// first error stops it (the remaining tasks are dropped with the `JoinSet`).
async fn in_parallel<T, R, F, Fut>(
    items: Vec<T>,
    parallel: usize,
    done_label: &'static str,
    work: F,
) -> anyhow::Result<Vec<R>>
where
    T: Clone + Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<R>> + Send,
{
    let count = items.len();
    let items = Arc::new(items);
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..parallel.clamp(1, count.max(1)) {
        let items = Arc::clone(&items);
        let work = Arc::clone(&work);
        let next = Arc::clone(&next);
        let finished = Arc::clone(&finished);
        tasks.spawn(async move {
            let mut results = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index).cloned() else {
                    break;
                };
                results.push((index, work(item).await?));
                let total = finished.fetch_add(1, Ordering::Relaxed) + 1;
                if total.is_multiple_of(PROGRESS_EVERY) {
                    eprintln!("twofa-bench: {total} of {count} {done_label}");
                }
            }
            anyhow::Ok(results)
        });
    }
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(count).collect();
    while let Some(done) = tasks.join_next().await {
        for (index, result) in done.context("a setup task stopped")?? {
            if let Some(slot) = slots.get_mut(index) {
                *slot = Some(result);
            }
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

/// How long the setup's jobs may take to be worked off.
const DRAIN_TIMEOUT: Duration = Duration::from_mins(10);

/// A wait for the job queue to empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drain {
    /// Jobs pending when the wait began.
    pub pending_at_start: u64,
    /// How long until none was.
    pub took: Duration,
}

/// Waits until `GET /api/health` reports no pending job: after the setup, so the verify phase
/// pays only for its own jobs, not for the backlog the setup queued (`user.registered`,
/// `2fa.enabled`, … events); after the verify phase, to tell how far the worker fell behind.
pub async fn drain_queue(target: &Target) -> anyhow::Result<Drain> {
    let started = std::time::Instant::now();
    let mut pending_at_start = None;
    loop {
        let answer = target
            .client()
            .get(target.url("/api/health"))
            .send()
            .await
            .context("GET /api/health")?;
        let body: Value = answer.json().await.context("GET /api/health: the body")?;
        let Some(pending) = body
            .pointer("/checks/queue/pending")
            .and_then(Value::as_u64)
        else {
            bail!("GET /api/health reports no queue depth: {body}");
        };
        let pending_at_start = *pending_at_start.get_or_insert(pending);
        if pending == 0 {
            return Ok(Drain {
                pending_at_start,
                took: started.elapsed(),
            });
        }
        if started.elapsed() > DRAIN_TIMEOUT {
            bail!(
                "{pending} jobs still pending after {}s: the worker is not keeping up",
                DRAIN_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
