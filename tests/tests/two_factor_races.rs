//! Every one-time secret of the second factors is consumed by one atomic conditional write:
//! concurrent requests at two API processes over one PostgreSQL and one Redis let exactly one
//! through — a TOTP step, a backup code, an SMS code, and a challenge.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use twofa_tests::{AppOptions, Backend, PASSWORD, TestApp, spawn_app_with, totp_code};

/// Concurrent requests per race.
const RACERS: usize = 8;

/// Both instances seal and open secrets under one key (and sign with one key), as a
/// deployment does.
const SECRETS_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn two_instances() -> (TestApp, TestApp) {
    let first =
        spawn_app_with(AppOptions::new(Backend::PostgresRedis).set("secrets.key", SECRETS_KEY))
            .await;
    let second = spawn_app_with(
        AppOptions::new(Backend::PostgresRedis)
            .database(&first.database_url)
            .set("secrets.key", SECRETS_KEY)
            .set(
                "tokens.dev_key_file",
                first
                    .data_dir()
                    .join("jwt-signing-key.pem")
                    .to_str()
                    .unwrap(),
            ),
    )
    .await;
    (first, second)
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Signs `username` up on `app`, verifies the address and enrols TOTP: the secret and the
/// backup codes.
async fn enrolled(app: &TestApp, username: &str) -> (String, Vec<String>) {
    let user = app.signed_up(username).await;
    let token = app
        .mailed_token(&format!("{username}@example.com"), "verify-email")
        .await;
    json_of(
        app.post_json("/api/email/verify", &json!({ "token": token }))
            .await,
        204,
    )
    .await;
    let setup = json_of(
        app.request(Method::POST, "/api/2fa/totp/setup")
            .bearer_auth(&user.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let confirmed = json_of(
        app.request(Method::POST, "/api/2fa/totp/verify-setup")
            .bearer_auth(&user.access_token)
            .json(&json!({ "code": totp_code(&secret, 0) }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let codes = confirmed["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn temp_token(app: &TestApp, username: &str) -> String {
    let body = json_of(app.login(username, PASSWORD).await, 200).await;
    body["tempToken"].as_str().unwrap().to_owned()
}

/// The statuses of `requests`, sent at once, alternating between the instances.
async fn race(apps: [&TestApp; 2], requests: Vec<(String, Value)>) -> Vec<u16> {
    let sends = requests
        .into_iter()
        .enumerate()
        .map(|(index, (path, body))| {
            let app = apps[index % 2];
            async move { app.post_json(&path, &body).await.status().as_u16() }
        });
    join_all(sends).await
}

fn successes(statuses: &[u16]) -> usize {
    statuses.iter().filter(|status| **status == 200).count()
}

#[tokio::test]
async fn one_totp_step_signs_in_once_across_two_instances() {
    let (first, second) = Box::pin(two_instances()).await;
    let (secret, _) = enrolled(&first, "jane").await;
    let mut tokens = Vec::new();
    for index in 0..RACERS {
        tokens.push(temp_token(if index % 2 == 0 { &first } else { &second }, "jane").await);
    }
    let code = totp_code(&secret, 1);
    let requests = tokens
        .into_iter()
        .map(|token| {
            (
                "/api/2fa/verify".to_owned(),
                json!({ "tempToken": token, "code": code }),
            )
        })
        .collect();
    let statuses = race([&first, &second], requests).await;
    assert_eq!(successes(&statuses), 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|status| [200, 401].contains(status)),
        "{statuses:?}"
    );
    first.run_pending_jobs().await;
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn one_backup_code_signs_in_once_across_two_instances() {
    let (first, second) = Box::pin(two_instances()).await;
    let (_, codes) = enrolled(&first, "jane").await;
    let mut tokens = Vec::new();
    for index in 0..RACERS {
        tokens.push(temp_token(if index % 2 == 0 { &first } else { &second }, "jane").await);
    }
    let requests = tokens
        .into_iter()
        .map(|token| {
            (
                "/api/2fa/verify-backup-code".to_owned(),
                json!({ "tempToken": token, "code": codes[0] }),
            )
        })
        .collect();
    let statuses = race([&first, &second], requests).await;
    assert_eq!(successes(&statuses), 1, "{statuses:?}");
    first.run_pending_jobs().await;
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn one_challenge_is_answered_once_across_two_instances() {
    let (first, second) = Box::pin(two_instances()).await;
    let (_, codes) = enrolled(&first, "jane").await;
    let token = temp_token(&first, "jane").await;
    // Different right answers to one challenge: only one may use it.
    let requests = codes
        .iter()
        .take(RACERS)
        .map(|code| {
            (
                "/api/2fa/verify-backup-code".to_owned(),
                json!({ "tempToken": token, "code": code }),
            )
        })
        .collect();
    let statuses = race([&first, &second], requests).await;
    assert_eq!(successes(&statuses), 1, "{statuses:?}");
    // The losers' backup codes were not spent.
    let jane = json_of(first.login("jane", PASSWORD).await, 200).await;
    assert_eq!(jane["requiresTwoFactor"], true);
    let signed_in = json_of(
        first
            .post_json(
                "/api/2fa/verify-backup-code",
                &json!({ "tempToken": jane["tempToken"], "code": codes[9] }),
            )
            .await,
        200,
    )
    .await;
    let count = json_of(
        first
            .request(Method::GET, "/api/2fa/backup-codes/count")
            .bearer_auth(signed_in["accessToken"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    // One code signed in during the race and one (outside the race) just now: the losers'
    // codes were all given back.
    assert_eq!(count["remaining"], 8, "{count}");
    first.run_pending_jobs().await;
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn one_sms_code_signs_in_once_across_two_instances() {
    let (first, second) = Box::pin(two_instances()).await;
    let user = first.signed_up("jane").await;
    let token = first.mailed_token("jane@example.com", "verify-email").await;
    json_of(
        first
            .post_json("/api/email/verify", &json!({ "token": token }))
            .await,
        204,
    )
    .await;
    let phone = "+14155550123";
    json_of(
        first
            .request(Method::POST, "/api/2fa/sms/setup")
            .bearer_auth(&user.access_token)
            .json(&json!({ "phoneNumber": phone }))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    let sent = |app: &TestApp| {
        app.outbox()
            .iter()
            .rev()
            .filter(|message| message["channel"] == "sms" && message["to"] == phone)
            .find_map(|message| {
                message["body"]
                    .as_str()?
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|word| word.len() == 6)
                    .map(str::to_owned)
            })
            .unwrap()
    };
    first.run_pending_jobs().await;
    let code = sent(&first);
    // The same setup code at once on both instances: one confirmation.
    let confirm = (0..RACERS).map(|index| {
        let app = if index % 2 == 0 { &first } else { &second };
        let request = app
            .request(Method::POST, "/api/2fa/sms/verify-setup")
            .bearer_auth(&user.access_token)
            .json(&json!({ "code": code }));
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(confirm).await;
    assert_eq!(successes(&statuses), 1, "{statuses:?}");

    let challenge = temp_token(&second, "jane").await;
    first.run_pending_jobs().await;
    let code = sent(&first);
    let requests = (0..RACERS)
        .map(|_| {
            (
                "/api/2fa/verify".to_owned(),
                json!({ "tempToken": challenge, "code": code }),
            )
        })
        .collect();
    let statuses = race([&first, &second], requests).await;
    assert_eq!(successes(&statuses), 1, "{statuses:?}");
    first.run_pending_jobs().await;
    second.stop().await;
    first.stop().await;
}
