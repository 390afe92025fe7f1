//! The harness itself: queued jobs run when the test runs them; a job left behind, unprocessed
//! or failed, fails the test when its app is dropped or stopped; a test can change the
//! backends before the app is built over them.

use std::{any::Any, panic::AssertUnwindSafe, sync::Arc};

use futures::FutureExt as _;
use twofa_application::StepOutcome;
use twofa_domain::NewJob;
use twofa_memory::AlwaysUpProbe;
use twofa_tests::{AppOptions, Backend, spawn_app, spawn_app_with};

/// The text of a caught panic.
fn panic_message(panic: Box<dyn Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => panic
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .unwrap_or_default(),
    }
}

/// Signing up queues the verification e-mail and the `user.registered` webhook event; no
/// worker loop runs them: the test does.
#[tokio::test]
async fn queued_jobs_run_when_the_test_runs_them() {
    for backend in Backend::ALL {
        let app = spawn_app(backend).await;
        app.signed_up("jane").await;
        assert!(app.outbox().is_empty(), "{backend:?}");
        let ran = app.run_pending_jobs().await;
        assert!(
            matches!(
                ran[..],
                [StepOutcome::Done { .. }, StepOutcome::Done { .. }]
            ),
            "{backend:?}: {ran:?}"
        );
        assert_eq!(app.outbox().len(), 1, "{backend:?}");
        assert_eq!(app.run_pending_jobs().await, [], "{backend:?}: idle now");
        app.stop().await;
    }
}

/// Dropping an app whose sign-up mail and webhook event never ran fails the test, naming the
/// jobs.
#[tokio::test]
async fn an_unprocessed_job_fails_the_test_when_the_app_is_dropped() {
    for backend in Backend::ALL {
        let app = spawn_app(backend).await;
        app.signed_up("jane").await;
        let dropped = std::panic::catch_unwind(AssertUnwindSafe(|| drop(app)));
        let message = panic_message(dropped.unwrap_err());
        assert!(
            message.starts_with(
                "Unprocessed or failed jobs remain in the queue: 2 pending and due, 0 pending \
                 for later (a retry), 0 running, 0 dead:"
            ),
            "{backend:?}: {message}"
        );
        for kind in ["auth.email_verification.mail", "webhook.event"] {
            assert!(message.contains(kind), "{backend:?}: {kind}: {message}");
        }
    }
}

/// Stopping an app with a job in the dead letter fails the test, with the job's last error.
#[tokio::test]
async fn a_dead_job_fails_the_test_when_the_app_stops() {
    let app = spawn_app(Backend::Sqlite).await;
    let backends = app.connect_backends().await;
    let mut transaction = backends.unit_of_work.begin().await.unwrap();
    transaction
        .enqueue(NewJob::new("no.such.kind", serde_json::json!({}), 3))
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    backends.close().await;
    let ran = app.run_pending_jobs().await;
    assert!(matches!(ran[..], [StepOutcome::Dead { .. }]), "{ran:?}");
    let stopped = AssertUnwindSafe(app.stop()).catch_unwind().await;
    let message = panic_message(stopped.unwrap_err());
    assert!(message.contains(", 1 dead:"), "{message}");
    assert!(
        message.contains("no.such.kind")
            && message.contains("last error: no handler for job kind `no.such.kind`"),
        "{message}"
    );
}

/// A test where leaving jobs is the point says so.
#[tokio::test]
async fn an_app_allowed_to_leave_jobs_ends_with_them_queued() {
    let app = spawn_app(Backend::Memory).await;
    app.signed_up("jane").await;
    app.allow_leftover_jobs();
    app.stop().await;
    let app = spawn_app(Backend::Sqlite).await;
    app.signed_up("jane").await;
    app.allow_leftover_jobs();
    drop(app);
}

/// `customise` changes the backends the app is built over: here, one more health probe.
#[tokio::test]
async fn a_customised_backend_is_the_one_the_app_runs_over() {
    let app = spawn_app_with(AppOptions::new(Backend::Memory).customise(|backends| {
        backends.probes.push(Arc::new(AlwaysUpProbe::new("redis")));
    }))
    .await;
    assert_eq!(app.health_body().await["checks"]["redis"]["status"], "up");
    app.stop().await;
}
