//! One transaction per change: an account flow whose audit write, job enqueue or commit fails
//! in the middle leaves nothing of its change behind, on every backend, and the same request
//! retried then succeeds. A request cut off by `server.request_timeout` is all or nothing.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;
use twofa_tests::{
    AppOptions, Backend, PASSWORD, SignedIn, TestApp,
    failing_unit_of_work::{FailingUnitOfWork, Faults, Step},
    on_every_backend, spawn_app_with,
};

/// An app whose unit of work fails where `faults` say.
async fn app_with_faults(options: AppOptions) -> (TestApp, Arc<Faults>) {
    let faults = Faults::new();
    let injected = faults.clone();
    let app = spawn_app_with(options.customise(move |backends| {
        backends.unit_of_work = Arc::new(FailingUnitOfWork::new(
            backends.unit_of_work.clone(),
            injected,
        ));
    }))
    .await;
    (app, faults)
}

async fn faulty(backend: Backend) -> (TestApp, Arc<Faults>) {
    app_with_faults(AppOptions::new(backend)).await
}

/// Runs `request` with `step` failing: it must answer 500 and reach the fault.
async fn fails_at<F, Fut>(faults: &Faults, step: Step, request: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = reqwest::Response>,
{
    let before = faults.injected();
    faults.arm(step);
    let response = request().await;
    faults.heal();
    assert_eq!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "a fault in {step:?} answers 500"
    );
    assert!(faults.injected() > before, "the flow reached {step:?}");
}

async fn sessions_of(app: &TestApp, account: &SignedIn) -> usize {
    let response = app
        .with_bearer(Method::GET, "/api/auth/sessions", &account.access_token)
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().len()
}

async fn email_verified(app: &TestApp, account: &SignedIn) -> bool {
    let response = app
        .with_bearer(Method::GET, "/api/email/status", &account.access_token)
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["emailVerified"].as_bool().unwrap()
}

fn mails_to(app: &TestApp, to: &str) -> usize {
    app.outbox()
        .iter()
        .filter(|message| message["to"] == to)
        .count()
}

async fn register_leaves_nothing_and_its_retry_is_created(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    for step in [Step::Enqueue, Step::Audit, Step::Commit] {
        fails_at(&faults, step, || {
            app.register("ada@example.com", "ada", PASSWORD)
        })
        .await;
        assert_eq!(app.login("ada", PASSWORD).await.status(), 401, "no account");
        app.run_pending_jobs().await;
        assert_eq!(mails_to(&app, "ada@example.com"), 0, "no e-mail");
    }
    let retried = app.register("ada@example.com", "ada", PASSWORD).await;
    assert_eq!(
        retried.status(),
        201,
        "the retry is a sign-up, not a conflict"
    );
    app.run_pending_jobs().await;
    assert_eq!(mails_to(&app, "ada@example.com"), 1);
}

async fn a_failed_login_success_starts_no_session(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    let ada = app.signed_up("ada").await;
    for step in [Step::Audit, Step::Commit] {
        fails_at(&faults, step, || app.login("ada", PASSWORD)).await;
        assert_eq!(sessions_of(&app, &ada).await, 1, "no session was left");
    }
    assert_eq!(app.login("ada", PASSWORD).await.status(), 200);
    assert_eq!(sessions_of(&app, &ada).await, 2);
    app.run_pending_jobs().await;
}

async fn a_login_failure_whose_event_cannot_be_written_is_a_500(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    app.signed_up("ada").await;
    fails_at(&faults, Step::Audit, || {
        app.login("ada", "not the password")
    })
    .await;
    assert_eq!(app.login("ada", "not the password").await.status(), 401);
    app.run_pending_jobs().await;
}

async fn a_failed_refresh_keeps_the_old_token(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    let ada = app.signed_up("ada").await;
    fails_at(&faults, Step::Commit, || app.refresh(&ada.refresh_token)).await;
    // The rotation was rolled back: the token is still the current one.
    let refreshed = app.refresh(&ada.refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    app.run_pending_jobs().await;
}

async fn a_reuse_whose_event_cannot_be_written_ends_nothing(backend: Backend) {
    let options = AppOptions::new(backend).set("tokens.refresh_reuse_grace", "0s");
    let (app, faults) = app_with_faults(options).await;
    let ada = app.signed_up("ada").await;
    let rotated = app.refresh(&ada.refresh_token).await;
    assert_eq!(rotated.status(), 200);
    let next = SignedIn::from_body(&rotated.json().await.unwrap());
    fails_at(&faults, Step::Audit, || app.refresh(&ada.refresh_token)).await;
    assert_eq!(app.me(&next.access_token).await.status(), 200, "still live");
    // Retried, the reuse ends the session.
    assert_eq!(app.refresh(&ada.refresh_token).await.status(), 401);
    assert_eq!(app.me(&next.access_token).await.status(), 401);
    app.run_pending_jobs().await;
}

async fn a_failed_logout_keeps_the_session(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    let ada = app.signed_up("ada").await;
    for step in [Step::Audit, Step::Commit] {
        fails_at(&faults, step, || app.logout(&ada.refresh_token)).await;
        assert_eq!(app.me(&ada.access_token).await.status(), 200, "still live");
    }
    assert_eq!(app.logout(&ada.refresh_token).await.status(), 204);
    assert_eq!(app.me(&ada.access_token).await.status(), 401);
    app.run_pending_jobs().await;
}

async fn failed_revocations_end_no_session(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    let ada = app.signed_up("ada").await;
    let other = app.signed_in("ada").await;
    let page: serde_json::Value = app
        .with_bearer(Method::GET, "/api/auth/sessions", &ada.access_token)
        .await
        .json()
        .await
        .unwrap();
    let other_id = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_path = format!("/api/auth/sessions/{other_id}");
    let revoke_one = || app.with_bearer(Method::DELETE, &other_path, &ada.access_token);
    let revoke_all =
        || app.with_bearer(Method::POST, "/api/auth/revoke-sessions", &ada.access_token);
    fails_at(&faults, Step::Audit, revoke_one).await;
    fails_at(&faults, Step::Audit, revoke_all).await;
    assert_eq!(app.me(&other.access_token).await.status(), 200);
    assert_eq!(sessions_of(&app, &ada).await, 2);
    assert_eq!(revoke_one().await.status(), 204);
    assert_eq!(app.me(&other.access_token).await.status(), 401);
    assert_eq!(revoke_all().await.status(), 204);
    assert_eq!(app.me(&ada.access_token).await.status(), 401);
    app.run_pending_jobs().await;
}

async fn a_failed_password_change_keeps_the_old_password_and_the_sessions(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    let ada = app.signed_up("ada").await;
    let other = app.signed_in("ada").await;
    let change = || {
        app.request(Method::POST, "/api/auth/password/change")
            .bearer_auth(&ada.access_token)
            .json(&json!({"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}))
            .send()
    };
    let change = || async { change().await.unwrap() };
    let wrong = || async {
        app.request(Method::POST, "/api/auth/password/change")
            .bearer_auth(&ada.access_token)
            .json(&json!({"currentPassword": "not the password", "newPassword": "a brand new passphrase"}))
            .send()
            .await
            .unwrap()
    };
    // The failed check's event cannot be written: a 500, and the retry is the plain refusal.
    fails_at(&faults, Step::Audit, wrong).await;
    assert_eq!(wrong().await.status(), 401);
    for step in [Step::Audit, Step::Commit] {
        fails_at(&faults, step, change).await;
        assert_eq!(app.me(&other.access_token).await.status(), 200);
        assert_eq!(app.login("ada", PASSWORD).await.status(), 200);
    }
    assert_eq!(change().await.status(), 204);
    assert_eq!(app.me(&other.access_token).await.status(), 401);
    assert_eq!(
        app.login("ada", "a brand new passphrase").await.status(),
        200
    );
    app.run_pending_jobs().await;
}

async fn failed_resets_keep_the_link_and_the_password(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    let ada = app.signed_up("ada").await;
    app.run_pending_jobs().await;
    let forgot_body = json!({"email": "ada@example.com"});
    let forgot = || app.post_json("/api/auth/password/forgot", &forgot_body);
    fails_at(&faults, Step::Enqueue, forgot).await;
    app.run_pending_jobs().await;
    assert_eq!(
        mails_to(&app, "ada@example.com"),
        1,
        "only the sign-up mail"
    );
    // No cooldown started for the request that failed.
    assert_eq!(forgot().await.status(), 202);
    let token = app.mailed_token("ada@example.com", "reset-password").await;
    let reset_body = json!({"token": token, "newPassword": "a brand new passphrase"});
    let reset = || app.post_json("/api/auth/password/reset", &reset_body);
    for step in [Step::Audit, Step::Commit] {
        fails_at(&faults, step, reset).await;
        assert_eq!(app.me(&ada.access_token).await.status(), 200);
        assert_eq!(app.login("ada", PASSWORD).await.status(), 200);
    }
    assert_eq!(reset().await.status(), 204, "the link still works");
    assert_eq!(app.me(&ada.access_token).await.status(), 401);
    app.run_pending_jobs().await;
}

async fn failed_verifications_leave_the_address_unverified(backend: Backend) {
    let (app, faults) = faulty(backend).await;
    let ada = app.signed_up("ada").await;
    let token = app.mailed_token("ada@example.com", "verify-email").await;
    let verify_body = json!({ "token": token });
    let verify = || app.post_json("/api/email/verify", &verify_body);
    for step in [Step::Audit, Step::Commit] {
        fails_at(&faults, step, verify).await;
        assert!(!email_verified(&app, &ada).await);
    }
    assert_eq!(verify().await.status(), 204, "the link still works");
    assert!(email_verified(&app, &ada).await);
    app.run_pending_jobs().await;
}

async fn a_failed_verification_mail_sends_nothing_and_starts_no_cooldown(backend: Backend) {
    let options = AppOptions::new(backend).set("auth.verification_resend_cooldown", "1s");
    let (app, faults) = app_with_faults(options).await;
    let ada = app.signed_up("ada").await;
    app.run_pending_jobs().await;
    // Wait out register's own cooldown by polling, not sleeping blindly.
    let send = || {
        app.with_bearer(
            Method::POST,
            "/api/email/send-verification",
            &ada.access_token,
        )
    };
    assert!(
        twofa_tests::eventually(std::time::Duration::from_secs(5), || async {
            faults.arm(Step::Audit);
            let status = send().await.status();
            faults.heal();
            status == StatusCode::INTERNAL_SERVER_ERROR
        })
        .await,
        "past the cooldown, the send reaches its audit write"
    );
    app.run_pending_jobs().await;
    assert_eq!(
        mails_to(&app, "ada@example.com"),
        1,
        "only the sign-up mail"
    );
    assert_eq!(send().await.status(), 202, "no cooldown was started");
    app.run_pending_jobs().await;
    assert_eq!(mails_to(&app, "ada@example.com"), 2);
}

async fn a_request_cut_off_by_the_timeout_is_all_or_nothing(backend: Backend) {
    let options = AppOptions::new(backend).set("server.request_timeout", "300ms");
    let (app, faults) = app_with_faults(options).await;
    // Nothing: the work reaches its commit only after the client was answered 503, so it
    // rolls back (a retry after a 503 must not meet a half-done or a done change).
    let release = faults.hold_next(Step::Audit);
    let cut_off = app.register("ada@example.com", "ada", PASSWORD).await;
    assert_eq!(cut_off.status(), 503);
    let body: serde_json::Value = cut_off.json().await.unwrap();
    assert_eq!(body["code"], "request_timeout");
    release.send(true).unwrap();
    // The retry waits for the cut-off work to roll back (its writes hold the account's keys)
    // and is a sign-up, not a conflict.
    let retried = app.register("ada@example.com", "ada", PASSWORD).await;
    assert_eq!(retried.status(), 201);
    app.run_pending_jobs().await;
    assert_eq!(
        mails_to(&app, "ada@example.com"),
        1,
        "one sign-up, one e-mail"
    );
    // All: a commit already under way when the timeout fires finishes whole.
    let release = faults.hold_next_commit();
    let cut_off = app.register("bob@example.com", "bob", PASSWORD).await;
    assert_eq!(cut_off.status(), 503);
    release.send(true).unwrap();
    assert!(
        twofa_tests::eventually(std::time::Duration::from_secs(10), || async {
            app.login("bob", PASSWORD).await.status() == 200
        })
        .await,
        "the commit under way finished its work"
    );
    app.run_pending_jobs().await;
    assert_eq!(mails_to(&app, "bob@example.com"), 1, "with its e-mail");
    assert_eq!(faults.injected(), 0);
}

on_every_backend!(
    register_leaves_nothing_and_its_retry_is_created,
    a_failed_login_success_starts_no_session,
    a_login_failure_whose_event_cannot_be_written_is_a_500,
    a_failed_refresh_keeps_the_old_token,
    a_reuse_whose_event_cannot_be_written_ends_nothing,
    a_failed_logout_keeps_the_session,
    failed_revocations_end_no_session,
    a_failed_password_change_keeps_the_old_password_and_the_sessions,
    failed_resets_keep_the_link_and_the_password,
    failed_verifications_leave_the_address_unverified,
    a_failed_verification_mail_sends_nothing_and_starts_no_cooldown,
    a_request_cut_off_by_the_timeout_is_all_or_nothing,
);
