//! The `AuditLog` contract: append-only events, listed newest first, filtered by user, action
//! and time, paged by cursor; details and request context round-trip.

#![expect(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use serde_json::json;
use twofa_domain::{
    Actor, ActorKind, AuditDetails, AuditLog, AuditQuery, Clock as _, NewAuditEvent, UserId,
};
use twofa_memory::ManualClock;

/// A backend under test.
#[async_trait]
pub trait AuditBackend: Send + Sync {
    /// A new, empty trail keeping time with `clock`.
    async fn open(&self, clock: Arc<ManualClock>) -> Arc<dyn AuditLog>;
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(n))
}

fn event(action: &str, user_id: UserId) -> NewAuditEvent {
    NewAuditEvent {
        user_id: Some(user_id),
        ..NewAuditEvent::new(action, Actor::user(user_id), true)
    }
}

/// Every field comes back as recorded.
pub async fn round_trips_every_field(backend: &dyn AuditBackend) {
    let clock = super::clock();
    let log = backend.open(clock.clone()).await;
    let recorded = NewAuditEvent {
        user_id: Some(user(1)),
        actor: Actor {
            kind: ActorKind::ApiKey,
            id: Some("key-1".to_owned()),
        },
        action: "user.login.failed".to_owned(),
        success: false,
        ip: Some("2001:db8::7".parse().unwrap()),
        user_agent: Some("curl/8.5".to_owned()),
        details: AuditDetails::new(
            json!({"reason": "wrong_password", "attempt": 3, "code": "123456"}),
        ),
    };
    let id = log.append(recorded.clone()).await.unwrap();
    let page = log.query(&AuditQuery::all()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let stored = &page.items[0];
    assert_eq!(stored.id, id);
    assert_eq!(stored.event, recorded);
    assert_eq!(stored.created_at, clock.now());
    assert_eq!(stored.event.details.to_value()["code"], "[redacted]");
    clock.advance(TimeDelta::seconds(1));
    let system = log
        .append(NewAuditEvent::new(
            "maintenance.purged",
            Actor::system(),
            true,
        ))
        .await
        .unwrap();
    let page = log.query(&AuditQuery::all()).await.unwrap();
    assert_eq!(page.items[0].id, system);
    assert_eq!(page.items[0].event.actor, Actor::system());
    assert_eq!(page.items[0].event.user_id, None);
}

/// Newest first, with filters by user, action and time range.
pub async fn lists_newest_first_with_filters(backend: &dyn AuditBackend) {
    let clock = super::clock();
    let log = backend.open(clock.clone()).await;
    let t0 = clock.now();
    log.append(event("user.registered", user(1))).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    log.append(event("user.login.succeeded", user(1)))
        .await
        .unwrap();
    clock.advance(TimeDelta::minutes(1));
    log.append(event("user.registered", user(2))).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    log.append(event("user.login.succeeded", user(1)))
        .await
        .unwrap();

    let all = log.query(&AuditQuery::all()).await.unwrap();
    let times: Vec<_> = all.items.iter().map(|e| e.created_at).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(all.items.len(), 4);
    assert_eq!(all.next_cursor, None);

    let mine = log
        .query(&AuditQuery {
            user_id: Some(user(1)),
            ..AuditQuery::all()
        })
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 3);
    assert!(mine.items.iter().all(|e| e.event.user_id == Some(user(1))));

    let logins = log
        .query(&AuditQuery {
            user_id: Some(user(1)),
            action: Some("user.login.succeeded".to_owned()),
            ..AuditQuery::all()
        })
        .await
        .unwrap();
    assert_eq!(logins.items.len(), 2);

    let window = log
        .query(&AuditQuery {
            since: Some(t0 + TimeDelta::minutes(1)),
            until: Some(t0 + TimeDelta::minutes(3)),
            ..AuditQuery::all()
        })
        .await
        .unwrap();
    assert_eq!(window.items.len(), 2, "since is inclusive, until exclusive");
}

/// Pages by cursor without gaps or repeats; the limit is clamped to 1–200.
pub async fn pages_by_cursor(backend: &dyn AuditBackend) {
    let clock = super::clock();
    let log = backend.open(clock.clone()).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            log.append(event("user.login.succeeded", user(1)))
                .await
                .unwrap(),
        );
        clock.advance(TimeDelta::seconds(1));
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = log
            .query(&AuditQuery {
                limit: 2,
                before,
                ..AuditQuery::all()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|e| e.id));
        match page.next_cursor {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let clamped = log
        .query(&AuditQuery {
            limit: 0,
            ..AuditQuery::all()
        })
        .await
        .unwrap();
    assert_eq!(clamped.items.len(), 1);
    assert!(clamped.next_cursor.is_some());
}

/// A very long `User-Agent` is cut to 512 characters.
pub async fn caps_the_user_agent(backend: &dyn AuditBackend) {
    let log = backend.open(super::clock()).await;
    let mut oversized = event("user.login.failed", user(1));
    oversized.user_agent = Some("é".repeat(2000));
    log.append(oversized).await.unwrap();
    let page = log.query(&AuditQuery::all()).await.unwrap();
    let agent = page.items[0].event.user_agent.clone().unwrap();
    assert_eq!(agent.chars().count(), twofa_memory::USER_AGENT_LIMIT);
}

/// Instantiates every case for `$backend` (an expression implementing `AuditBackend`).
#[macro_export]
macro_rules! audit_log_contract {
    ($backend:expr) => {
        $crate::audit_log_contract!(@cases $backend;
            round_trips_every_field,
            lists_newest_first_with_filters,
            pages_by_cursor,
            caps_the_user_agent,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::audit_log::$case(&$backend).await;
            }
        )*
    };
}
