//! Closed-loop load: `concurrency` tasks each send a request, wait for its answer and send
//! the next, until the phase's time is up. Every answer is counted: successes (whose latency
//! is kept), load shed (`503 overloaded`, after which the task waits the `Retry-After` it was
//! given instead of asking again at once), and every other outcome by kind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::cpu_clock::CpuClock;
use crate::latency::Latencies;
use crate::report::to_f64;

/// The longest one request may take before it counts as a `timeout` error.
const REQUEST_TIMEOUT: Duration = Duration::from_mins(1);

/// The wait after a `503 overloaded` without a usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The wait after a transport error (refused, reset), so a dead server is not hammered.
const TRANSPORT_BACK_OFF: Duration = Duration::from_millis(100);

/// The running service and the HTTP client that reaches it (one pool of keep-alive
/// connections shared by every task).
#[derive(Debug)]
pub struct Target {
    client: reqwest::Client,
    base_url: String,
}

impl Target {
    /// A client for the service at `base_url` (`http://host:port`).
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `path` (starting with `/`) on the service.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// A user the login phase signs in as.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// A second-factor challenge the verify phase answers, once: the `tempToken` of a login and
/// the TOTP code that completes it.
#[derive(Debug, Clone)]
pub struct PreparedChallenge {
    pub temp_token: String,
    pub code: String,
}

/// The request a phase repeats.
#[derive(Debug, Clone)]
pub enum Probe {
    /// `GET /api/health/live`, expecting 200: the cheapest route, for the generator's ceiling.
    HealthLive,
    /// `POST /api/auth/login` as each user in turn, expecting 200 with an access token.
    Login(Arc<Vec<Credentials>>),
    /// `POST /api/2fa/verify` with each challenge once, in turn, expecting 200 with an access
    /// token; the phase ends early when every challenge has been sent.
    Verify(Arc<Vec<PreparedChallenge>>),
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// `503 overloaded`: shed by the server, to be asked again after `retry_after`.
    Overloaded {
        retry_after: Duration,
    },
    /// Anything else, by kind (`"401 invalid_credentials"`, `"timeout"`, …).
    Failed(String),
}

impl Probe {
    /// Sends the request of turn `turn` and tells how it ended.
    async fn send(&self, target: &Target, turn: usize) -> Outcome {
        match self {
            Self::HealthLive => {
                let sent = target
                    .client()
                    .get(target.url("/api/health/live"))
                    .send()
                    .await;
                outcome(sent, |_| true).await
            }
            Self::Login(users) => {
                let Some(user) = users.get(turn % users.len().max(1)) else {
                    return Outcome::Failed("no users".to_owned());
                };
                let sent = target
                    .client()
                    .post(target.url("/api/auth/login"))
                    .json(&json!({
                        "emailOrUsername": user.username,
                        "password": user.password,
                    }))
                    .send()
                    .await;
                outcome(sent, has_access_token).await
            }
            Self::Verify(challenges) => {
                let Some(challenge) = challenges.get(turn) else {
                    return Outcome::Failed("no challenge left".to_owned());
                };
                let sent = target
                    .client()
                    .post(target.url("/api/2fa/verify"))
                    .json(&json!({
                        "tempToken": challenge.temp_token,
                        "code": challenge.code,
                    }))
                    .send()
                    .await;
                outcome(sent, has_access_token).await
            }
        }
    }

    /// Whether turn `turn` has nothing left to send: only a list used once runs out.
    fn is_exhausted(&self, turn: usize) -> bool {
        match self {
            Self::HealthLive | Self::Login(_) => false,
            Self::Verify(challenges) => turn >= challenges.len(),
        }
    }
}

/// Whether a login answer carries tokens (not a second-factor challenge).
pub fn has_access_token(body: &Value) -> bool {
    body.get("accessToken").is_some_and(Value::is_string)
}

/// Reads the whole answer (so its connection is reused) and classifies it: 2xx with a body
/// `is_complete` accepts is success.
async fn outcome(
    sent: Result<reqwest::Response, reqwest::Error>,
    is_complete: impl Fn(&Value) -> bool,
) -> Outcome {
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Outcome::Failed(transport_kind(&error).to_owned()),
    };
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return Outcome::Failed(transport_kind(&error).to_owned()),
    };
    let json = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    if status.is_success() {
        if is_complete(&json) {
            Outcome::Succeeded
        } else if json.get("requiresTwoFactor").is_some() {
            Outcome::Failed(format!("{} requiresTwoFactor", status.as_u16()))
        } else {
            Outcome::Failed(format!("{} unexpected body", status.as_u16()))
        }
    } else {
        let code = problem_code(&json);
        if status == StatusCode::SERVICE_UNAVAILABLE && code == "overloaded" {
            Outcome::Overloaded {
                retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            }
        } else {
            Outcome::Failed(format!("{} {code}", status.as_u16()))
        }
    }
}

/// The `code` of an RFC 9457 problem body, or `-` when there is none.
pub fn problem_code(body: &Value) -> &str {
    body.get("code").and_then(Value::as_str).unwrap_or("-")
}

/// `Retry-After` in whole seconds, when present and well-formed.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() {
        "body"
    } else {
        "transport"
    }
}

/// What one phase measured.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    /// Requests answered or failed (a shed request asked again counts twice).
    pub requests: u64,
    pub succeeded: u64,
    /// `503 overloaded` answers.
    pub overloaded: u64,
    /// Every other outcome, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Latencies of the successful requests.
    pub latencies: Latencies,
    /// From the first request sent to the last answer received.
    pub elapsed: Duration,
    /// CPU seconds this process used during the phase.
    pub own_cpu_seconds: f64,
    /// CPU seconds the server used during the phase, when its process id is known.
    pub server_cpu_seconds: Option<f64>,
}

impl Phase {
    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            to_f64(self.succeeded) / seconds
        } else {
            0.0
        }
    }

    /// Requests that failed in a way other than load shedding.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Fails, naming the errors seen, when not a single request of the phase succeeded.
    pub fn require_some_success(&self, what: &str) -> anyhow::Result<()> {
        if self.succeeded > 0 {
            return Ok(());
        }
        bail!(
            "no {what} succeeded in {} requests ({} overloaded; errors: {:?})",
            self.requests,
            self.overloaded,
            self.errors
        )
    }
}

/// One task's counts.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    succeeded: u64,
    overloaded: u64,
    errors: BTreeMap<String, u64>,
    latencies: Vec<Duration>,
}

/// Runs `probe` from `concurrency` tasks for `duration`, or until a probe used once has sent
/// everything; requests in flight when the time is up are waited for and counted.
pub async fn run(
    target: &Arc<Target>,
    probe: &Probe,
    concurrency: usize,
    duration: Duration,
    own_cpu: &CpuClock,
    server_cpu: Option<&CpuClock>,
) -> anyhow::Result<Phase> {
    let turns = Arc::new(AtomicUsize::new(0));
    let own_before = own_cpu.seconds()?;
    let server_before = server_cpu.map(CpuClock::seconds).transpose()?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        tasks.spawn(drive(
            Arc::clone(target),
            probe.clone(),
            deadline,
            Arc::clone(&turns),
        ));
    }
    let mut phase = Phase::default();
    let mut latencies = Vec::new();
    while let Some(tally) = tasks.join_next().await {
        let tally = tally.context("a load task stopped")?;
        phase.requests += tally.requests;
        phase.succeeded += tally.succeeded;
        phase.overloaded += tally.overloaded;
        for (kind, count) in tally.errors {
            *phase.errors.entry(kind).or_default() += count;
        }
        latencies.extend(tally.latencies);
    }
    phase.elapsed = start.elapsed();
    phase.own_cpu_seconds = own_cpu.seconds()? - own_before;
    if let (Some(clock), Some(before)) = (server_cpu, server_before) {
        phase.server_cpu_seconds = Some(clock.seconds()? - before);
    }
    phase.latencies = Latencies::of(&mut latencies);
    Ok(phase)
}

/// One task: request, answer, next request, until `deadline` or the probe is exhausted.
async fn drive(
    target: Arc<Target>,
    probe: Probe,
    deadline: Instant,
    turns: Arc<AtomicUsize>,
) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let turn = turns.fetch_add(1, Ordering::Relaxed);
        if probe.is_exhausted(turn) {
            break;
        }
        let sent = Instant::now();
        let outcome = probe.send(&target, turn).await;
        let latency = sent.elapsed();
        tally.requests += 1;
        match outcome {
            Outcome::Succeeded => {
                tally.succeeded += 1;
                tally.latencies.push(latency);
            }
            Outcome::Overloaded { retry_after } => {
                tally.overloaded += 1;
                wait_until_before(deadline, retry_after).await;
            }
            Outcome::Failed(kind) => {
                let is_transport = !kind.starts_with(|c: char| c.is_ascii_digit());
                *tally.errors.entry(kind).or_default() += 1;
                if is_transport {
                    wait_until_before(deadline, TRANSPORT_BACK_OFF).await;
                }
            }
        }
    }
    tally
}

/// Sleeps `wait`, or until `deadline` if that comes first.
async fn wait_until_before(deadline: Instant, wait: Duration) {
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(wait.min(left)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_date_or_missing_retry_after_is_none() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn a_problem_code_is_read_from_the_body() {
        assert_eq!(problem_code(&json!({"code": "overloaded"})), "overloaded");
        assert_eq!(problem_code(&Value::Null), "-");
    }

    #[test]
    fn a_login_answer_with_tokens_is_complete_and_a_challenge_is_not() {
        assert!(has_access_token(&json!({"accessToken": "a.b.c"})));
        assert!(!has_access_token(
            &json!({"requiresTwoFactor": true, "tempToken": "t"})
        ));
    }

    #[test]
    fn only_a_verify_probe_runs_out_and_only_past_its_last_challenge() {
        let challenge = PreparedChallenge {
            temp_token: "t".to_owned(),
            code: "123456".to_owned(),
        };
        let verify = Probe::Verify(Arc::new(vec![challenge.clone(), challenge]));
        assert!(!verify.is_exhausted(1));
        assert!(verify.is_exhausted(2));
        assert!(!Probe::HealthLive.is_exhausted(usize::MAX));
    }

    #[test]
    fn throughput_is_successes_per_second() {
        let phase = Phase {
            succeeded: 50,
            elapsed: Duration::from_secs(2),
            ..Phase::default()
        };
        assert!((phase.throughput() - 25.0).abs() < 1e-9);
    }
}
