//! The worker end to end: a job enqueued by one process is performed by another's worker loop;
//! a backlog enqueued while no worker runs is performed when one starts; health reports queue
//! depth.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::time::Duration;

use twofa::Mode;
use twofa_application::{StepOutcome, jobs::SendEmailPayload};
use twofa_domain::{EmailAddress, NewJob};
use twofa_tests::{AppOptions, Backend, TestApp, eventually, spawn_app_with};

fn test_email(to: &str) -> NewJob {
    SendEmailPayload {
        to: EmailAddress::parse(to).unwrap(),
        template: "test_email".to_owned(),
        params: serde_json::Map::new(),
    }
    .into_job(5)
}

/// Waits until the worker's outbox holds `n` messages.
async fn outbox_reaches(worker: &TestApp, n: usize) -> bool {
    eventually(Duration::from_secs(20), || async {
        worker.outbox().len() >= n
    })
    .await
}

async fn queue_drains(app: &TestApp) -> bool {
    eventually(Duration::from_secs(20), || async {
        let health = app.health_body().await;
        health["checks"]["queue"]["pending"] == 0
    })
    .await
}

async fn performed_across_processes(jobs_backend: &str) {
    let api = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Api)
            .set("jobs.backend", jobs_backend),
    )
    .await;
    let worker = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Worker)
            .background_worker()
            .database(&api.database_url)
            .set("jobs.backend", jobs_backend),
    )
    .await;
    let enqueuer = api.connect_backends().await;
    let mut transaction = enqueuer.unit_of_work.begin().await.unwrap();
    transaction
        .enqueue(test_email("ada@example.com"))
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    assert!(
        outbox_reaches(&worker, 1).await,
        "the worker sent the e-mail"
    );
    let sent = worker.outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["channel"], "email");
    assert_eq!(sent[0]["to"], "ada@example.com");
    assert!(
        api.outbox().is_empty(),
        "the API process sends nothing itself"
    );
    assert!(queue_drains(&api).await);
    enqueuer.close().await;
    worker.stop().await;
    api.stop().await;
}

#[tokio::test]
async fn a_job_enqueued_by_the_api_process_is_performed_by_the_worker_process_over_postgres() {
    Box::pin(performed_across_processes("sql")).await;
}

#[tokio::test]
async fn a_job_enqueued_by_the_api_process_is_performed_by_the_worker_process_over_redis() {
    Box::pin(performed_across_processes("redis")).await;
}

#[tokio::test]
async fn a_backlog_enqueued_while_no_worker_runs_is_performed_when_one_starts() {
    let api = spawn_app_with(AppOptions::new(Backend::PostgresRedis).mode(Mode::Api)).await;
    let enqueuer = api.connect_backends().await;
    for n in 0..3 {
        let mut transaction = enqueuer.unit_of_work.begin().await.unwrap();
        transaction
            .enqueue(test_email(&format!("user{n}@example.com")))
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }
    assert_eq!(api.health_body().await["checks"]["queue"]["pending"], 3);

    let worker = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Worker)
            .background_worker()
            .database(&api.database_url),
    )
    .await;
    assert!(outbox_reaches(&worker, 3).await);
    let mut recipients: Vec<String> = worker
        .outbox()
        .iter()
        .map(|m| m["to"].as_str().unwrap().to_owned())
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        [
            "user0@example.com",
            "user1@example.com",
            "user2@example.com"
        ]
    );
    assert!(queue_drains(&api).await);
    enqueuer.close().await;
    worker.stop().await;
    api.stop().await;
}

#[tokio::test]
async fn health_reports_queue_depth_and_a_dead_letter_degrades_it() {
    for backend in [Backend::Memory, Backend::Sqlite] {
        let app = spawn_app_with(AppOptions::new(backend)).await;
        let health = app.health_body().await;
        assert_eq!(health["checks"]["queue"]["status"], "up", "{backend:?}");
        assert_eq!(health["checks"]["queue"]["failed"], 0);
        assert_eq!(health["status"], "healthy");
        app.stop().await;
    }
    let app = spawn_app_with(AppOptions::new(Backend::Sqlite)).await;
    let backends = app.connect_backends().await;
    let mut transaction = backends.unit_of_work.begin().await.unwrap();
    transaction
        .enqueue(NewJob::new("no.such.kind", serde_json::json!({}), 3))
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    let ran = app.run_pending_jobs().await;
    assert!(matches!(ran[..], [StepOutcome::Dead { .. }]), "{ran:?}");
    let health = app.health().await;
    assert_eq!(health.status(), 200, "degraded still answers 200");
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(
        body["status"], "degraded",
        "a job in the dead letter degrades health"
    );
    assert_eq!(body["checks"]["queue"]["failed"], 1);
    assert_eq!(app.health_ready().await.status(), 200, "and is still ready");
    backends.close().await;
    // The dead letter is the point.
    app.allow_leftover_jobs();
    app.stop().await;
}

/// With `jobs.backend = "redis"` a job is written to the database's outbox with its change and
/// handed to Redis after the commit. A process that crashed between the two leaves the row
/// behind; a worker relays it, and the job is performed exactly once.
#[tokio::test]
async fn a_job_a_crash_left_in_the_outbox_is_relayed_and_performed_once() {
    use sea_orm::{ConnectionTrait as _, Database};

    let api = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Api)
            .set("jobs.backend", "redis"),
    )
    .await;
    // What a unit of work wrote before its process died: the row, never handed over.
    let payload = serde_json::to_string(&test_email("ada@example.com").payload).unwrap();
    let database = Database::connect(&api.database_url).await.unwrap();
    database
        .execute_unprepared(&format!(
            "INSERT INTO job_outbox (id, kind, payload, run_at, idempotency_key, max_attempts, created_at) \
             VALUES ('{}', 'email.send', '{}', NULL, NULL, 5, now() - interval '1 hour')",
            uuid::Uuid::from_u128(0x0b0e_0001),
            payload.replace('\'', "''"),
        ))
        .await
        .unwrap();
    let worker = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .mode(Mode::Worker)
            .background_worker()
            .database(&api.database_url)
            .set("jobs.backend", "redis"),
    )
    .await;
    assert!(
        outbox_reaches(&worker, 1).await,
        "the relayed job was performed"
    );
    assert!(queue_drains(&api).await);
    let left = database
        .query_one_raw(sea_orm::Statement::from_string(
            database.get_database_backend(),
            "SELECT count(*) AS n FROM job_outbox",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.try_get::<i64>("", "n").unwrap(), 0, "the row is gone");
    assert_eq!(worker.outbox().len(), 1, "performed once");
    let _ = database.close().await;
    worker.stop().await;
    api.stop().await;
}
