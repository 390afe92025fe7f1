//! The `JobQueue` contract: ordering, batch claims, delay, retry, dead letter, idempotency key,
//! lease expiry returning a crashed worker's job, purge, and concurrent claimers (one job or a
//! batch at a time) never sharing a job.

#![expect(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::TimeDelta;
use serde_json::json;
use twofa_domain::{
    JobId, JobQueue, NewJob, QueueCounts, QueueError, UnfinishedJob, UnfinishedState,
};
use twofa_memory::ManualClock;

/// A backend under test.
#[async_trait]
pub trait QueueBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would).
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn JobQueue>, Arc<dyn JobQueue>);
}

const LEASE: Duration = Duration::from_secs(30);

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, json!({"kind": kind}), 5)
}

async fn one(backend: &dyn QueueBackend) -> (Arc<dyn JobQueue>, Arc<ManualClock>) {
    let clock = super::clock();
    let (queue, _) = backend.open(clock.clone()).await;
    (queue, clock)
}

/// Jobs due at the same instant come out in enqueue order; each once.
pub async fn claims_in_enqueue_order(backend: &dyn QueueBackend) {
    let (queue, _clock) = one(backend).await;
    let mut ids = Vec::new();
    // All in the same millisecond of the clock: enqueue order alone decides.
    for kind in ["a", "b", "c"] {
        ids.push(queue.enqueue(job(kind)).await.unwrap());
    }
    for (expected, kind) in ids.iter().zip(["a", "b", "c"]) {
        let claimed = queue.claim(LEASE).await.unwrap().expect("a due job");
        assert_eq!(&claimed.id, expected);
        assert_eq!(claimed.kind, kind);
        assert_eq!(claimed.attempt, 1);
    }
    assert!(queue.claim(LEASE).await.unwrap().is_none());
}

/// A batch claim takes the due jobs oldest first, at most as many as asked, each leased
/// under a claim that completes it; a job not yet due stays behind.
pub async fn claims_a_batch_oldest_first(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    let mut ids = Vec::new();
    for kind in ["a", "b", "c", "d", "e"] {
        ids.push(queue.enqueue(job(kind)).await.unwrap());
    }
    let later = clock_now(&clock) + TimeDelta::minutes(5);
    queue.enqueue(job("later").run_at(later)).await.unwrap();

    let first = queue.claim_batch(LEASE, 3).await.unwrap();
    assert_eq!(
        first.iter().map(|job| job.id).collect::<Vec<_>>(),
        ids[..3],
        "the three oldest, in order"
    );
    assert!(first.iter().all(|job| job.attempt == 1));
    let rest = queue.claim_batch(LEASE, 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|job| job.kind.as_str()).collect::<Vec<_>>(),
        ["d", "e"],
        "what is due, not the job due later"
    );
    assert!(queue.claim_batch(LEASE, 10).await.unwrap().is_empty());
    for claimed in first.iter().chain(&rest) {
        queue.complete(claimed).await.unwrap();
    }
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.running, counts.pending), (0, 1), "{counts:?}");
}

/// A batch completion records every job of a valid claim done and names the stale ones
/// (finished already, or re-claimed after the lease ran out), leaving them as they are.
pub async fn completes_a_batch_and_names_the_stale_claims(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    for kind in ["a", "b", "c"] {
        queue.enqueue(job(kind)).await.unwrap();
    }
    let batch = queue.claim_batch(LEASE, 3).await.unwrap();
    assert_eq!(batch.len(), 3);
    queue.complete(&batch[1]).await.unwrap();
    assert_eq!(
        queue.complete_batch(&batch).await.unwrap(),
        [batch[1].id],
        "the one completed before"
    );
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (0, 0), "{counts:?}");
    assert!(queue.complete_batch(&[]).await.unwrap().is_empty());

    queue.enqueue(job("d")).await.unwrap();
    let stale = queue.claim(LEASE).await.unwrap().unwrap();
    clock.advance(TimeDelta::seconds(31));
    let again = queue
        .claim(LEASE)
        .await
        .unwrap()
        .expect("the lease ran out");
    assert_eq!(again.id, stale.id);
    assert_eq!(
        queue
            .complete_batch(std::slice::from_ref(&stale))
            .await
            .unwrap(),
        [stale.id]
    );
    assert_eq!(
        queue.counts().await.unwrap().running,
        1,
        "the new claim is untouched"
    );
    assert!(queue.complete_batch(&[again]).await.unwrap().is_empty());
    assert_eq!(queue.counts().await.unwrap().running, 0);
}

/// The payload, kind and attempt budget come back as enqueued.
pub async fn keeps_payload_kind_and_attempts(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    let payload =
        json!({"to": "+15551234567", "nested": {"list": [1, 2.5, "x", null, true]}, "ü": "ñ"});
    let id = queue
        .enqueue(NewJob::new("sms.send", payload.clone(), 7))
        .await
        .unwrap();
    let claimed = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    assert_eq!(claimed.kind, "sms.send");
    assert_eq!(claimed.payload, payload);
    assert_eq!(claimed.max_attempts, 7);
    assert_eq!(claimed.created_at, clock_now(&clock));
    assert_eq!(
        claimed.lease_until,
        clock_now(&clock) + TimeDelta::seconds(30)
    );
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<chrono::Utc> {
    use twofa_domain::Clock as _;
    clock.now()
}

/// A delayed job is not claimed before its time, and is after.
pub async fn delays_a_job_until_its_time(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    queue
        .enqueue(job("later").run_at(clock_now(&clock) + TimeDelta::seconds(10)))
        .await
        .unwrap();
    assert!(queue.claim(LEASE).await.unwrap().is_none());
    assert_eq!(queue.counts().await.unwrap().pending, 1);
    clock.advance(TimeDelta::seconds(9));
    assert!(queue.claim(LEASE).await.unwrap().is_none());
    clock.advance(TimeDelta::seconds(1));
    assert_eq!(queue.claim(LEASE).await.unwrap().unwrap().kind, "later");
}

/// A due job is claimed before a later one enqueued earlier.
pub async fn orders_by_due_time(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    queue
        .enqueue(job("second").run_at(clock_now(&clock) + TimeDelta::seconds(2)))
        .await
        .unwrap();
    queue
        .enqueue(job("first").run_at(clock_now(&clock) + TimeDelta::seconds(1)))
        .await
        .unwrap();
    clock.advance(TimeDelta::seconds(5));
    assert_eq!(queue.claim(LEASE).await.unwrap().unwrap().kind, "first");
    assert_eq!(queue.claim(LEASE).await.unwrap().unwrap().kind, "second");
}

/// A retried job comes back at the retry time, as its next attempt.
pub async fn retries_at_the_given_time(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    let id = queue.enqueue(job("flaky")).await.unwrap();
    let first = queue.claim(LEASE).await.unwrap().unwrap();
    queue
        .retry(
            &first,
            clock_now(&clock) + TimeDelta::seconds(5),
            "503 from the provider",
        )
        .await
        .unwrap();
    assert!(queue.claim(LEASE).await.unwrap().is_none());
    assert_eq!(
        queue.counts().await.unwrap(),
        QueueCounts {
            pending: 1,
            running: 0,
            dead: 0
        }
    );
    clock.advance(TimeDelta::seconds(5));
    let second = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(second.id, id);
    assert_eq!(second.attempt, 2);
    assert_ne!(second.lease_token, first.lease_token);
}

/// A buried job is in the dead letter and never claimed again.
pub async fn buries_into_the_dead_letter(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    queue.enqueue(job("doomed")).await.unwrap();
    let claimed = queue.claim(LEASE).await.unwrap().unwrap();
    queue
        .bury(&claimed, "no handler for job kind `doomed`")
        .await
        .unwrap();
    clock.advance(TimeDelta::days(1));
    assert!(queue.claim(LEASE).await.unwrap().is_none());
    assert_eq!(
        queue.counts().await.unwrap(),
        QueueCounts {
            pending: 0,
            running: 0,
            dead: 1
        }
    );
}

/// Every job not done is listed once with its kind, state, attempts and last error; a running
/// job whose lease ran out is pending, due since the lease ended; the limit bounds the list.
pub async fn lists_the_unfinished_jobs(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    let start = clock_now(&clock);
    let take = |kind: &'static str, lease: Duration| {
        let queue = queue.clone();
        async move {
            let id = queue.enqueue(job(kind)).await.unwrap();
            let claimed = queue.claim(lease).await.unwrap().unwrap();
            assert_eq!(claimed.id, id, "the only due job");
            claimed
        }
    };
    let done = take("done", LEASE).await;
    queue.complete(&done).await.unwrap();
    let dead = take("dead", LEASE).await;
    queue.bury(&dead, "boom").await.unwrap();
    let retried = take("retried", LEASE).await;
    let retry_at = start + TimeDelta::hours(1);
    queue.retry(&retried, retry_at, "flaky").await.unwrap();
    let running = take("running", Duration::from_hours(1)).await;
    let expired = take("expired", LEASE).await;
    clock.advance(TimeDelta::seconds(31));
    let waiting = queue.enqueue(job("waiting")).await.unwrap();

    let mut listed = queue.unfinished(100).await.unwrap();
    listed.sort_by_key(|job| job.id);
    let expected = |id, kind: &str, state, attempts, last_error: Option<&str>| UnfinishedJob {
        id,
        kind: kind.to_owned(),
        state,
        attempts,
        last_error: last_error.map(str::to_owned),
    };
    assert_eq!(
        listed,
        [
            expected(dead.id, "dead", UnfinishedState::Dead, 1, Some("boom")),
            expected(
                retried.id,
                "retried",
                UnfinishedState::Pending { due_at: retry_at },
                1,
                Some("flaky")
            ),
            expected(
                running.id,
                "running",
                UnfinishedState::Running {
                    lease_until: start + TimeDelta::hours(1)
                },
                1,
                None
            ),
            expected(
                expired.id,
                "expired",
                UnfinishedState::Pending {
                    due_at: start + TimeDelta::seconds(30)
                },
                1,
                None
            ),
            expected(
                waiting,
                "waiting",
                UnfinishedState::Pending {
                    due_at: start + TimeDelta::seconds(31)
                },
                0,
                None
            ),
        ]
    );
    let some = queue.unfinished(2).await.unwrap();
    assert_eq!(some.len(), 2);
    assert!(some.iter().all(|job| listed.contains(job)), "{some:?}");
    assert!(queue.unfinished(0).await.unwrap().is_empty());
}

/// The same idempotency key enqueues once and answers the first id.
pub async fn enqueues_once_per_idempotency_key(backend: &dyn QueueBackend) {
    let (queue, _) = one(backend).await;
    let first = queue
        .enqueue(job("purge").idempotency_key("maintenance:2026-11-25T10"))
        .await
        .unwrap();
    let again = queue
        .enqueue(job("purge").idempotency_key("maintenance:2026-11-25T10"))
        .await
        .unwrap();
    let other = queue
        .enqueue(job("purge").idempotency_key("maintenance:2026-11-25T11"))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_eq!(queue.counts().await.unwrap().pending, 2);
}

/// A claimed job whose worker stopped renewing its lease goes back to the queue; the stale
/// claim can no longer complete it.
pub async fn returns_a_job_whose_lease_expired(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    let id = queue.enqueue(job("long")).await.unwrap();
    let crashed = queue.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(
        queue.counts().await.unwrap(),
        QueueCounts {
            pending: 0,
            running: 1,
            dead: 0
        }
    );
    clock.advance(TimeDelta::seconds(29));
    assert!(queue.claim(LEASE).await.unwrap().is_none(), "still leased");
    clock.advance(TimeDelta::seconds(1));
    let reclaimed = queue
        .claim(LEASE)
        .await
        .unwrap()
        .expect("the lease expired");
    assert_eq!(reclaimed.id, id);
    assert_eq!(reclaimed.attempt, 2);
    assert!(matches!(
        queue.complete(&crashed).await,
        Err(QueueError::LeaseLost)
    ));
    assert!(matches!(
        queue.renew(&crashed, LEASE).await,
        Err(QueueError::LeaseLost)
    ));
    queue.complete(&reclaimed).await.unwrap();
    assert_eq!(queue.counts().await.unwrap(), QueueCounts::default());
}

/// Renewing a lease keeps the job from other claimers.
pub async fn renewing_keeps_the_lease(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    queue.enqueue(job("long")).await.unwrap();
    let claimed = queue.claim(LEASE).await.unwrap().unwrap();
    clock.advance(TimeDelta::seconds(20));
    let until = queue.renew(&claimed, LEASE).await.unwrap();
    assert_eq!(until, clock_now(&clock) + TimeDelta::seconds(30));
    clock.advance(TimeDelta::seconds(20));
    assert!(queue.claim(LEASE).await.unwrap().is_none());
    queue.complete(&claimed).await.unwrap();
}

/// A completed job is gone from the counts and is not claimed again.
pub async fn completes_a_job_once(backend: &dyn QueueBackend) {
    let (queue, _) = one(backend).await;
    queue.enqueue(job("once")).await.unwrap();
    let claimed = queue.claim(LEASE).await.unwrap().unwrap();
    queue.complete(&claimed).await.unwrap();
    assert!(queue.claim(LEASE).await.unwrap().is_none());
    assert!(matches!(
        queue.complete(&claimed).await,
        Err(QueueError::LeaseLost)
    ));
    assert!(matches!(
        queue.retry(&claimed, claimed.lease_until, "late").await,
        Err(QueueError::LeaseLost)
    ));
    assert_eq!(queue.counts().await.unwrap(), QueueCounts::default());
}

/// Purge deletes finished jobs older than the cut-off, frees their idempotency keys, and
/// keeps everything else.
pub async fn purges_finished_jobs_past_retention(backend: &dyn QueueBackend) {
    let (queue, clock) = one(backend).await;
    queue
        .enqueue(job("done").idempotency_key("k"))
        .await
        .unwrap();
    queue.enqueue(job("dead")).await.unwrap();
    let done = queue.claim(LEASE).await.unwrap().unwrap();
    queue.complete(&done).await.unwrap();
    let dead = queue.claim(LEASE).await.unwrap().unwrap();
    queue.bury(&dead, "permanent").await.unwrap();
    queue
        .enqueue(job("waiting").run_at(clock_now(&clock) + TimeDelta::days(30)))
        .await
        .unwrap();
    assert_eq!(
        queue.purge(clock_now(&clock)).await.unwrap(),
        0,
        "finished just now"
    );
    clock.advance(TimeDelta::days(8));
    assert_eq!(
        queue
            .purge(clock_now(&clock) - TimeDelta::days(7))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        queue.counts().await.unwrap(),
        QueueCounts {
            pending: 1,
            running: 0,
            dead: 0
        }
    );
    let fresh = queue
        .enqueue(job("done").idempotency_key("k"))
        .await
        .unwrap();
    assert_ne!(fresh, done.id, "the key was freed with its job");
}

/// Claimers on two handles (two processes), of one job or a batch at a time, never take the
/// same job, and together take all.
pub async fn concurrent_claimers_never_share_a_job(backend: &dyn QueueBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock.clone()).await;
    let mut enqueued = Vec::new();
    for n in 0..60 {
        enqueued.push(
            a.enqueue(NewJob::new("n", json!({ "n": n }), 3))
                .await
                .unwrap(),
        );
    }
    let mut workers = Vec::new();
    // Two claim one job at a time, two claim batches.
    for (queue, batch) in [
        (a.clone(), 1),
        (b.clone(), 1),
        (a.clone(), 7),
        (b.clone(), 7),
    ] {
        workers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let jobs = queue.claim_batch(LEASE, batch).await.unwrap();
                if jobs.is_empty() {
                    break;
                }
                for job in jobs {
                    queue.complete(&job).await.unwrap();
                    taken.push(job.id);
                }
            }
            taken
        }));
    }
    let mut seen: HashMap<JobId, u32> = HashMap::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), enqueued.len(), "every job was taken");
    assert!(
        seen.values().all(|n| *n == 1),
        "a job was taken twice: {seen:?}"
    );
}

/// Concurrent enqueues with one idempotency key, from two handles, make one job.
pub async fn concurrent_enqueues_with_one_key_make_one_job(backend: &dyn QueueBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock.clone()).await;
    let mut enqueuers = Vec::new();
    for queue in [
        a.clone(),
        b.clone(),
        a.clone(),
        b.clone(),
        a.clone(),
        b.clone(),
    ] {
        enqueuers.push(tokio::spawn(async move {
            queue
                .enqueue(job("purge").idempotency_key("maintenance:once"))
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for enqueuer in enqueuers {
        ids.push(enqueuer.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every enqueue answered the same job: {ids:?}");
    assert_eq!(a.counts().await.unwrap().pending, 1);
}

/// Instantiates every case for `$backend` (an expression implementing `QueueBackend`).
#[macro_export]
macro_rules! job_queue_contract {
    ($backend:expr) => {
        $crate::job_queue_contract!(@cases $backend;
            claims_in_enqueue_order,
            claims_a_batch_oldest_first,
            completes_a_batch_and_names_the_stale_claims,
            keeps_payload_kind_and_attempts,
            delays_a_job_until_its_time,
            orders_by_due_time,
            retries_at_the_given_time,
            buries_into_the_dead_letter,
            lists_the_unfinished_jobs,
            enqueues_once_per_idempotency_key,
            returns_a_job_whose_lease_expired,
            renewing_keeps_the_lease,
            completes_a_job_once,
            purges_finished_jobs_past_retention,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_claimers_never_share_a_job() {
            $crate::contract::job_queue::concurrent_claimers_never_share_a_job(&$backend).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_enqueues_with_one_key_make_one_job() {
            $crate::contract::job_queue::concurrent_enqueues_with_one_key_make_one_job(&$backend)
                .await;
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::job_queue::$case(&$backend).await;
            }
        )*
    };
}
