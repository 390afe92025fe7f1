//! The refresh grace over HTTP, on every backend: inside `tokens.refresh_reuse_grace` a
//! just-rotated refresh token is honoured once more (two tabs), and no more: of many refreshes
//! with one token at once, at most two answer a pair, and the rest end the session, so the
//! pairs those two answered die with it.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use futures::future::join_all;
use reqwest::Method;
use serde_json::Value;
use twofa_tests::{AppOptions, Backend, SignedIn, spawn_app_with};

/// How many refreshes with one token race.
const RACERS: usize = 20;

/// Twenty refreshes with one token at once, inside the grace: at most two answer 200 (the
/// rotation and its one repeat), every other 401; the third presentation ended the session, so
/// the refresh and access tokens the winners got are refused, and so is the first token.
async fn concurrent_refreshes_of_one_token_end_the_session_after_two(backend: Backend) {
    let app =
        spawn_app_with(AppOptions::new(backend).set("tokens.refresh_reuse_grace", "1h")).await;
    let jane = app.signed_up("jane").await;
    let responses = join_all((0..RACERS).map(|_| app.refresh(&jane.refresh_token))).await;
    let mut winners = Vec::new();
    let mut statuses = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        statuses.push(status);
        if status == 200 {
            let body: Value = response.json().await.unwrap();
            winners.push(SignedIn::from_body(&body));
        }
    }
    assert!(
        (1..=2).contains(&winners.len()),
        "{} refreshes answered 200: {statuses:?}",
        winners.len()
    );
    assert_eq!(
        statuses.iter().filter(|&&status| status == 401).count(),
        RACERS - winners.len(),
        "{statuses:?}"
    );

    for winner in &winners {
        assert_eq!(app.refresh(&winner.refresh_token).await.status(), 401);
        assert_eq!(app.me(&winner.access_token).await.status(), 401);
    }
    assert_eq!(app.me(&jane.access_token).await.status(), 401);
    assert_eq!(app.refresh(&jane.refresh_token).await.status(), 401);
    let fresh = app.signed_in("jane").await;
    let sessions: Value = app
        .with_bearer(Method::GET, "/api/auth/sessions", &fresh.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"].as_array().unwrap().len(), 1, "{sessions}");
    app.run_pending_jobs().await;
    app.stop().await;
}

/// One token refreshed three times in a row, inside the grace: the first two answer a pair of
/// the same session, the third is reuse: 401, and both pairs die.
async fn a_third_refresh_with_one_token_ends_the_session(backend: Backend) {
    let app =
        spawn_app_with(AppOptions::new(backend).set("tokens.refresh_reuse_grace", "1h")).await;
    let jane = app.signed_up("jane").await;
    let mut pairs = Vec::new();
    for _ in 0..2 {
        let response = app.refresh(&jane.refresh_token).await;
        assert_eq!(response.status(), 200);
        pairs.push(SignedIn::from_body(&response.json().await.unwrap()));
    }
    assert_eq!(app.refresh(&jane.refresh_token).await.status(), 401);
    for pair in &pairs {
        assert_eq!(app.me(&pair.access_token).await.status(), 401);
        assert_eq!(app.refresh(&pair.refresh_token).await.status(), 401);
    }
    app.run_pending_jobs().await;
    app.stop().await;
}

twofa_tests::on_every_backend!(
    concurrent_refreshes_of_one_token_end_the_session_after_two,
    a_third_refresh_with_one_token_ends_the_session,
);
