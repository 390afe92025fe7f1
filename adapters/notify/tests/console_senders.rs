//! The console notifiers: one JSON line per message in the development outbox, with the exact
//! fields of CONFIG.md, whole lines under concurrency, and only masked destinations in logs.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{Value, json};
use support::CapturedLogs;
use tokio::task::JoinSet;
use twofa_domain::{
    Clock, EmailAddress, EmailMessage, EmailSender, PhoneNumber, SmsMessage, SmsSender,
};
use twofa_notify::{ConsoleEmailSender, ConsoleSmsSender, DevOutbox};

/// A clock stopped at one instant.
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn outbox(path: &Path) -> DevOutbox {
    let instant = Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 45).unwrap();
    DevOutbox::new(path, Arc::new(FixedClock(instant)))
}

fn sms(body: &str) -> SmsMessage {
    SmsMessage {
        to: PhoneNumber::parse("+14155550123").unwrap(),
        body: body.to_owned(),
    }
}

fn email() -> EmailMessage {
    EmailMessage {
        to: EmailAddress::parse("alice@example.com").unwrap(),
        subject: "Confirm your e-mail address for twofa".to_owned(),
        text: "Open http://127.0.0.1:8080/verify-email?token=abc\n".to_owned(),
        html: Some("<p>html is not written</p>".to_owned()),
    }
}

fn lines(path: &Path) -> Vec<Value> {
    let content = std::fs::read_to_string(path).unwrap();
    assert!(content.ends_with('\n'), "every line is terminated");
    content
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test]
async fn appends_one_json_line_per_message_with_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("nested").join("outbox.jsonl");
    let outbox = outbox(&path);
    let sms_sender = ConsoleSmsSender::new(outbox.clone());
    let email_sender = ConsoleEmailSender::new(outbox);

    sms_sender
        .send(&sms("Your twofa code is 123456"))
        .await
        .unwrap();
    email_sender.send(&email()).await.unwrap();

    let lines = lines(&path);
    assert_eq!(
        lines,
        vec![
            json!({
                "channel": "sms",
                "to": "+14155550123",
                "body": "Your twofa code is 123456",
                "createdAt": "2026-03-01T12:30:45.000Z",
            }),
            json!({
                "channel": "email",
                "to": "alice@example.com",
                "subject": "Confirm your e-mail address for twofa",
                "body": "Open http://127.0.0.1:8080/verify-email?token=abc\n",
                "createdAt": "2026-03-01T12:30:45.000Z",
            }),
        ]
    );
    let created_at = lines[0]["createdAt"].as_str().unwrap();
    DateTime::parse_from_rfc3339(created_at).unwrap();
}

#[tokio::test]
async fn appends_to_an_existing_outbox_and_recreates_a_removed_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data");
    let path = folder.join("outbox.jsonl");
    let sender = ConsoleSmsSender::new(outbox(&path));

    sender.send(&sms("one")).await.unwrap();
    sender.send(&sms("two")).await.unwrap();
    assert_eq!(lines(&path).len(), 2);

    std::fs::remove_dir_all(&folder).unwrap();
    sender.send(&sms("three")).await.unwrap();
    let lines = lines(&path);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["body"], "three");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_write_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.jsonl");
    let outbox = outbox(&path);
    let sms_sender = Arc::new(ConsoleSmsSender::new(outbox.clone()));
    let email_sender = Arc::new(ConsoleEmailSender::new(outbox));
    let mut tasks = JoinSet::new();
    for index in 0..40 {
        let body = format!("{index}:{}", "x".repeat(64 * 1024));
        let sms_sender = Arc::clone(&sms_sender);
        let email_sender = Arc::clone(&email_sender);
        tasks.spawn(async move {
            if index % 2 == 0 {
                sms_sender.send(&sms(&body)).await
            } else {
                let message = EmailMessage {
                    text: body,
                    ..email()
                };
                email_sender.send(&message).await
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }

    let lines = lines(&path);
    assert_eq!(lines.len(), 40);
    let mut indices: Vec<u32> = lines
        .iter()
        .map(|line| {
            let body = line["body"].as_str().unwrap();
            let (index, filler) = body.split_once(':').unwrap();
            assert_eq!(filler.len(), 64 * 1024);
            index.parse().unwrap()
        })
        .collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..40).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_unwritable_outbox_is_a_retryable_failure() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let sender = ConsoleSmsSender::new(outbox(&blocker.join("outbox.jsonl")));

    let error = sender.send(&sms("lost")).await.unwrap_err();
    assert!(
        matches!(error, twofa_domain::SendError::Retryable(_)),
        "{error}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn logs_a_masked_notice_and_never_the_body() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(&dir.path().join("outbox.jsonl"));

    ConsoleSmsSender::new(outbox.clone())
        .send(&sms("Your twofa code is 123456"))
        .await
        .unwrap();
    ConsoleEmailSender::new(outbox)
        .send(&email())
        .await
        .unwrap();

    let text = logs.text();
    assert!(text.contains("+1********23"), "{text}");
    assert!(text.contains("a***@example.com"), "{text}");
    assert!(!text.contains("4155550123"), "{text}");
    assert!(!text.contains("alice@"), "{text}");
    assert!(!text.contains("123456"), "{text}");
    assert!(!text.contains("token=abc"), "{text}");
}
