//! The harness itself: queued jobs run when the test runs them; a test can change the
//! backends before the app is built over them.

use std::sync::Arc;

use twofa_application::StepOutcome;
use twofa_memory::AlwaysUpProbe;
use twofa_tests::{AppOptions, Backend, spawn_app, spawn_app_with};

/// Signing up queues the verification e-mail; no worker loop sends it: the test does.
#[tokio::test]
async fn queued_jobs_run_when_the_test_runs_them() {
    for backend in Backend::ALL {
        let app = spawn_app(backend).await;
        app.signed_up("jane").await;
        assert!(app.outbox().is_empty(), "{backend:?}");
        let ran = app.run_pending_jobs().await;
        assert!(
            matches!(ran[..], [StepOutcome::Done { .. }]),
            "{backend:?}: {ran:?}"
        );
        assert_eq!(app.outbox().len(), 1, "{backend:?}");
        assert_eq!(app.run_pending_jobs().await, [], "{backend:?}: idle now");
        app.stop().await;
    }
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
