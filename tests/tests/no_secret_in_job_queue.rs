//! No live secret is readable in the job queue (SECURITY.md): after a sign-up, a new
//! verification link and a reset request, with their jobs run, no job payload the stores still
//! hold (done jobs included, as a dump or a backup would show them) nor any job the worker
//! claimed holds a token that was mailed, and the mailed links work. On every backend, and
//! with the Redis job queue (whose jobs pass through the database's `job_outbox`).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::json;
use twofa_domain::{ClaimedJob, JobId, JobQueue, NewJob, QueueCounts, QueueError, UnfinishedJob};
use twofa_tests::{AppOptions, Backend, PASSWORD, TestApp, spawn_app_with};

/// The payloads of the jobs a queue was handed or handed out, as JSON text: a queue in process
/// memory keeps them where no store shows them, so the test looks at what passed through.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn add(&self, payload: &serde_json::Value) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(payload.to_string());
    }

    fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The app's queue, noting the payload of every job enqueued or claimed through it.
struct Watched {
    inner: Arc<dyn JobQueue>,
    seen: Arc<Seen>,
}

#[async_trait]
impl JobQueue for Watched {
    async fn enqueue(&self, job: NewJob) -> Result<JobId, QueueError> {
        self.seen.add(&job.payload);
        self.inner.enqueue(job).await
    }

    async fn claim(&self, lease: Duration) -> Result<Option<ClaimedJob>, QueueError> {
        let job = self.inner.claim(lease).await?;
        if let Some(job) = &job {
            self.seen.add(&job.payload);
        }
        Ok(job)
    }

    async fn renew(&self, job: &ClaimedJob, lease: Duration) -> Result<DateTime<Utc>, QueueError> {
        self.inner.renew(job, lease).await
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<(), QueueError> {
        self.inner.complete(job).await
    }

    async fn retry(
        &self,
        job: &ClaimedJob,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        self.inner.retry(job, at, error).await
    }

    async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), QueueError> {
        self.inner.bury(job, error).await
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        self.inner.counts().await
    }

    async fn unfinished(&self, limit: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
        self.inner.unfinished(limit).await
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, QueueError> {
        self.inner.purge(before).await
    }
}

/// Every token of a link mailed so far, in the order mailed, with the link's path.
fn mailed_tokens(app: &TestApp) -> Vec<(String, String)> {
    let mut tokens = Vec::new();
    for message in app.outbox() {
        let body = message["body"].as_str().unwrap_or_default();
        for path in ["verify-email", "reset-password"] {
            let marker = format!("/{path}?token=");
            let mut rest = body;
            while let Some(start) = rest.find(&marker) {
                rest = &rest[start + marker.len()..];
                let token: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                tokens.push((path.to_owned(), token));
            }
        }
    }
    tokens.dedup();
    tokens
}

async fn no_job_payload_holds_a_mailed_link(options: AppOptions) {
    let seen = Arc::new(Seen::default());
    let watching = seen.clone();
    let app = spawn_app_with(
        options
            .set("auth.verification_resend_cooldown", "1ms")
            .customise(move |backends| {
                backends.queue = Arc::new(Watched {
                    inner: backends.queue.clone(),
                    seen: watching,
                });
            }),
    )
    .await;
    let ada = app.signed_up("ada").await;
    app.run_pending_jobs().await;
    let resend = app
        .with_bearer(
            Method::POST,
            "/api/email/send-verification",
            &ada.access_token,
        )
        .await;
    assert_eq!(resend.status(), 202);
    app.run_pending_jobs().await;
    let forgot = app
        .post_json(
            "/api/auth/password/forgot",
            &json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(forgot.status(), 202);
    app.run_pending_jobs().await;

    let tokens = mailed_tokens(&app);
    let paths: Vec<&str> = tokens.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        ["verify-email", "verify-email", "reset-password"],
        "two verification links and a reset link were mailed"
    );
    let stored = app.stored_job_payloads().await;
    if app.settings.jobs.backend != twofa::settings::JobsBackend::Memory {
        assert!(
            stored
                .iter()
                .any(|payload| payload.contains("ada@example.com")),
            "the stores still hold the finished jobs (the reset request's among them): {stored:?}"
        );
    }
    let passed = seen.all();
    assert!(!passed.is_empty(), "the worker claimed the jobs");
    for (path, token) in &tokens {
        assert!(token.len() >= 32, "a whole token: {token}");
        for (place, payloads) in [("stored", &stored), ("claimed", &passed)] {
            for payload in payloads {
                assert!(
                    !payload.contains(token.as_str()),
                    "a {place} job payload holds the live {path} token: {payload}"
                );
            }
        }
    }

    // The links mailed still work.
    let verify_token = &tokens[1].1;
    let verified = app
        .post_json("/api/email/verify", &json!({ "token": verify_token }))
        .await;
    assert_eq!(verified.status(), 204);
    let reset_token = &tokens[2].1;
    let reset = app
        .post_json(
            "/api/auth/password/reset",
            &json!({ "token": reset_token, "newPassword": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(reset.status(), 204);
    assert_eq!(
        app.login("ada", "a brand new passphrase").await.status(),
        200
    );
    assert_eq!(app.login("ada", PASSWORD).await.status(), 401);
    app.run_pending_jobs().await;
}

#[tokio::test]
async fn memory() {
    Box::pin(no_job_payload_holds_a_mailed_link(AppOptions::new(
        Backend::Memory,
    )))
    .await;
}

#[tokio::test]
async fn sqlite() {
    Box::pin(no_job_payload_holds_a_mailed_link(AppOptions::new(
        Backend::Sqlite,
    )))
    .await;
}

#[tokio::test]
async fn postgres_with_the_sql_job_queue() {
    Box::pin(no_job_payload_holds_a_mailed_link(AppOptions::new(
        Backend::PostgresRedis,
    )))
    .await;
}

#[tokio::test]
async fn postgres_with_the_redis_job_queue() {
    Box::pin(no_job_payload_holds_a_mailed_link(
        AppOptions::new(Backend::PostgresRedis).set("jobs.backend", "redis"),
    ))
    .await;
}
