//! The job outbox of `JobsTarget::After`: handed over after the commit, kept when the
//! hand-over fails, relayed exactly once.

use std::{collections::HashSet, time::Duration};

use chrono::TimeDelta;
use serde_json::json;
use twofa_domain::{Clock as _, NewJob, PortError, QueueCounts, UnitOfWork as _};
use twofa_sql::JobsTarget;

use crate::{
    fixture::{Backend, Fixture, welcome},
    recording_queue::{Mode, Recording},
};

on_both_backends!(
    a_committed_job_is_handed_over_and_leaves_the_outbox,
    a_dropped_transaction_hands_over_nothing,
    a_job_whose_hand_over_failed_is_relayed_exactly_once,
    the_relay_delivers_what_a_crash_left_behind_oldest_first,
    the_relay_stops_at_a_refusing_queue_and_keeps_the_row,
    the_relay_works_through_more_than_one_batch,
    a_row_that_cannot_be_read_does_not_hold_up_the_rows_behind_it,
);

async fn a_committed_job_is_handed_over_and_leaves_the_outbox(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let queue = Recording::new(Mode::Accept);
    let mut transaction = fixture
        .unit_of_work(JobsTarget::After(queue.clone()))
        .begin()
        .await
        .unwrap();
    let keyed = NewJob::new("email.send", json!({"n": 2}), 3).idempotency_key("welcome:jane");
    transaction.enqueue(welcome()).await.unwrap();
    transaction.enqueue(keyed.clone()).await.unwrap();
    assert!(
        queue.held().is_empty(),
        "nothing is handed over before the commit"
    );
    transaction.commit().await.unwrap();

    let held = queue.held();
    assert_eq!(held.len(), 2);
    assert_eq!(held[0].kind, "email.send");
    assert_eq!(held[0].payload, welcome().payload);
    assert!(
        held[0]
            .idempotency_key
            .as_deref()
            .is_some_and(|key| key.starts_with("outbox:")),
        "{held:?}"
    );
    assert_eq!(held[1], keyed, "a job's own key is kept");
    assert_eq!(fixture.outbox().pending().await.unwrap(), 0);
    assert_eq!(
        fixture.queue_counts().await,
        QueueCounts::default(),
        "the SQL queue is not used"
    );
}

async fn a_dropped_transaction_hands_over_nothing(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let queue = Recording::new(Mode::Accept);
    let mut transaction = fixture
        .unit_of_work(JobsTarget::After(queue.clone()))
        .begin()
        .await
        .unwrap();
    transaction.enqueue(welcome()).await.unwrap();
    drop(transaction);
    assert_eq!(fixture.outbox().pending().await.unwrap(), 0);
    fixture.clock.advance(TimeDelta::minutes(5));
    assert_eq!(
        fixture
            .outbox()
            .relay(queue.as_ref(), Duration::ZERO)
            .await
            .unwrap(),
        0
    );
    assert_eq!(queue.calls(), 0);
}

async fn a_job_whose_hand_over_failed_is_relayed_exactly_once(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    // The queue takes the job but its answer is lost: the outbox keeps the row.
    let queue = Recording::new(Mode::AcceptThenFail);
    let mut transaction = fixture
        .unit_of_work(JobsTarget::After(queue.clone()))
        .begin()
        .await
        .unwrap();
    transaction.enqueue(welcome()).await.unwrap();
    transaction
        .commit()
        .await
        .expect("the change is durable although the hand-over failed");
    assert_eq!(fixture.outbox().pending().await.unwrap(), 1);

    queue.set(Mode::Accept);
    let outbox = fixture.outbox();
    fixture.clock.advance(TimeDelta::seconds(61));
    assert_eq!(
        outbox
            .relay(queue.as_ref(), Duration::from_mins(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(outbox.pending().await.unwrap(), 0);
    assert_eq!(
        outbox.relay(queue.as_ref(), Duration::ZERO).await.unwrap(),
        0
    );
    assert_eq!(
        queue.calls(),
        2,
        "handed over twice: at the commit, by the relay"
    );
    let held = queue.held();
    assert_eq!(held.len(), 1, "the idempotency key made the second a no-op");
    let keys: HashSet<_> = queue.keys().into_iter().collect();
    assert_eq!(keys.len(), 1, "both hand-overs carried one key: {keys:?}");
}

async fn the_relay_delivers_what_a_crash_left_behind_oldest_first(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    // A queue that refuses stands in for a process that died after the commit.
    let down = Recording::new(Mode::Refuse);
    let unit_of_work = fixture.unit_of_work(JobsTarget::After(down.clone()));
    let run_at = fixture.clock.now() + TimeDelta::hours(1);
    let jobs = [
        NewJob::new("email.send", json!({"n": 1}), 5),
        NewJob::new("sms.send", json!({"n": 2}), 3)
            .run_at(run_at)
            .idempotency_key("sms:2"),
        NewJob::new("webhook.deliver", json!({"n": 3}), 7),
    ];
    for job in &jobs {
        let mut transaction = unit_of_work.begin().await.unwrap();
        transaction.enqueue(job.clone()).await.unwrap();
        transaction.commit().await.unwrap();
        fixture.clock.advance(TimeDelta::seconds(10));
    }
    let outbox = fixture.outbox();
    assert_eq!(outbox.pending().await.unwrap(), 3);

    let queue = Recording::new(Mode::Accept);
    // Only the rows older than 15 s: the first two.
    assert_eq!(
        outbox
            .relay(queue.as_ref(), Duration::from_secs(15))
            .await
            .unwrap(),
        2
    );
    assert_eq!(outbox.pending().await.unwrap(), 1);
    assert_eq!(
        outbox.relay(queue.as_ref(), Duration::ZERO).await.unwrap(),
        1
    );
    let held = queue.held();
    let kinds: Vec<_> = held.iter().map(|job| job.kind.as_str()).collect();
    assert_eq!(kinds, ["email.send", "sms.send", "webhook.deliver"]);
    assert_eq!(
        held[1], jobs[1],
        "run_at, key, payload and attempts survive the outbox"
    );
    assert_eq!(held[2].max_attempts, 7);
    assert!(
        held[0]
            .idempotency_key
            .as_deref()
            .is_some_and(|key| key.starts_with("outbox:"))
    );
    assert_eq!(outbox.pending().await.unwrap(), 0);
}

async fn the_relay_stops_at_a_refusing_queue_and_keeps_the_row(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let queue = Recording::new(Mode::Refuse);
    let unit_of_work = fixture.unit_of_work(JobsTarget::After(queue.clone()));
    for _ in 0..2 {
        let mut transaction = unit_of_work.begin().await.unwrap();
        transaction.enqueue(welcome()).await.unwrap();
        transaction.commit().await.unwrap();
    }
    let calls_at_commit = queue.calls();
    fixture.clock.advance(TimeDelta::minutes(1));
    let error = fixture
        .outbox()
        .relay(queue.as_ref(), Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            PortError::Unavailable {
                dependency: "job queue",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        queue.calls(),
        calls_at_commit + 1,
        "stopped at the first refusal"
    );
    assert_eq!(fixture.outbox().pending().await.unwrap(), 2);
}

async fn the_relay_works_through_more_than_one_batch(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let down = Recording::new(Mode::Refuse);
    let mut transaction = fixture
        .unit_of_work(JobsTarget::After(down))
        .begin()
        .await
        .unwrap();
    for n in 0..250 {
        transaction
            .enqueue(NewJob::new("email.send", json!({ "n": n }), 5))
            .await
            .unwrap();
    }
    transaction.commit().await.unwrap();
    assert_eq!(fixture.outbox().pending().await.unwrap(), 250);
    fixture.clock.advance(TimeDelta::seconds(1));
    let queue = Recording::new(Mode::Accept);
    assert_eq!(
        fixture
            .outbox()
            .relay(queue.as_ref(), Duration::ZERO)
            .await
            .unwrap(),
        250
    );
    assert_eq!(queue.held().len(), 250);
    assert_eq!(fixture.outbox().pending().await.unwrap(), 0);
}

async fn a_row_that_cannot_be_read_does_not_hold_up_the_rows_behind_it(backend: Backend) {
    use sea_orm::ConnectionTrait as _;

    let fixture = Fixture::open(backend).await;
    let unit_of_work = fixture.unit_of_work(JobsTarget::After(Recording::new(Mode::Refuse)));
    for n in 0..2 {
        let mut transaction = unit_of_work.begin().await.unwrap();
        transaction
            .enqueue(NewJob::new("email.send", json!({ "n": n }), 5))
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        fixture.clock.advance(TimeDelta::seconds(1));
    }
    // The oldest row is corrupt: it can never be handed over.
    fixture
        .database
        .connection()
        .execute_unprepared(
            "UPDATE job_outbox SET payload = 'not json' \
             WHERE created_at = (SELECT min(created_at) FROM job_outbox)",
        )
        .await
        .unwrap();
    let queue = Recording::new(Mode::Accept);
    for round in 0..2 {
        let relayed = fixture
            .outbox()
            .relay(queue.as_ref(), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(relayed, 1 - round, "round {round}: the good row, once");
    }
    assert_eq!(queue.held().len(), 1);
    assert_eq!(queue.held()[0].payload, json!({ "n": 1 }));
    assert_eq!(
        fixture.outbox().pending().await.unwrap(),
        1,
        "the corrupt row stays for an operator"
    );
}
