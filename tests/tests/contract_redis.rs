//! The `JobQueue` contract against Redis (the shared server `./scripts/test` starts), each
//! case on keys of its own; and the queue's answer while Redis is down.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail by panicking at the step that broke"
)]

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::TimeDelta;
use serde_json::json;
use twofa_crypto::OsSecretGenerator;
use twofa_domain::{JobQueue, NewJob, QueueError, SecretGenerator as _};
use twofa_memory::ManualClock;
use twofa_redis::{RedisConnection, RedisJobQueue, RedisSettings};
use twofa_tests::{RedisServer, contract::job_queue::QueueBackend, eventually};

struct Redis;

/// A queue on a connection of its own (as another process would have) to `url`.
fn queue(url: &str, timeout: Duration, prefix: &str, clock: Arc<ManualClock>) -> RedisJobQueue {
    let connection = RedisConnection::open(&RedisSettings {
        url: url.to_owned(),
        timeout,
    })
    .unwrap();
    RedisJobQueue::new(
        connection,
        prefix.to_owned(),
        clock,
        Arc::new(OsSecretGenerator),
    )
}

#[async_trait]
impl QueueBackend for Redis {
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn JobQueue>, Arc<dyn JobQueue>) {
        let url = twofa_tests::redis_url();
        let prefix = format!("{{twofa-test-{}}}:jobs:", OsSecretGenerator.hex(8));
        let timeout = Duration::from_secs(5);
        (
            Arc::new(queue(&url, timeout, &prefix, clock.clone())),
            Arc::new(queue(&url, timeout, &prefix, clock)),
        )
    }
}

/// The call's outcome, or `None` when it took over 2 s, four times `redis.timeout` (it hung);
/// the value is dropped to `()` so that outcomes of different calls fit in one list.
async fn prompt<T>(
    call: impl Future<Output = Result<T, QueueError>>,
) -> Option<Result<(), QueueError>> {
    twofa_tests::prompt(call)
        .await
        .map(|outcome| outcome.map(drop))
}

mod job_queue {
    twofa_tests::job_queue_contract!(super::Redis);
}

/// Redis's own ordering choice, within the contract: a job whose lease ran out is claimed as
/// if it fell due when the lease ended, after jobs due before that and before jobs due later.
#[tokio::test]
async fn a_job_whose_lease_ran_out_is_claimed_in_the_order_of_its_lease_end() {
    let clock = twofa_tests::contract::clock();
    let (queue, _) = Redis.open(clock.clone()).await;
    let crashed = queue.enqueue(NewJob::new("a", json!({}), 3)).await.unwrap();
    queue.claim(Duration::from_secs(10)).await.unwrap().unwrap();
    clock.advance(TimeDelta::seconds(5));
    let due_before_the_end = queue.enqueue(NewJob::new("b", json!({}), 3)).await.unwrap();
    clock.advance(TimeDelta::seconds(6));
    let due_after_the_end = queue.enqueue(NewJob::new("c", json!({}), 3)).await.unwrap();
    let lease = Duration::from_mins(1);
    let mut order = Vec::new();
    while let Some(job) = queue.claim(lease).await.unwrap() {
        order.push(job.id);
    }
    assert_eq!(order, [due_before_the_end, crashed, due_after_the_end]);
}

#[tokio::test]
async fn a_stopped_redis_makes_every_call_unavailable_at_once_and_a_restarted_one_serves_again() {
    let mut redis = RedisServer::start().await;
    let queue = queue(
        &redis.url(),
        Duration::from_millis(500),
        "{twofa-outage}:jobs:",
        twofa_tests::contract::clock(),
    );
    queue.enqueue(NewJob::new("a", json!({}), 3)).await.unwrap();
    let claimed = queue.claim(Duration::from_secs(30)).await.unwrap().unwrap();

    redis.stop();

    let lease = Duration::from_secs(30);
    let calls = [
        (
            "enqueue",
            prompt(queue.enqueue(NewJob::new("b", json!({}), 3))).await,
        ),
        ("claim", prompt(queue.claim(lease)).await),
        ("renew", prompt(queue.renew(&claimed, lease)).await),
        ("complete", prompt(queue.complete(&claimed)).await),
        (
            "retry",
            prompt(queue.retry(&claimed, claimed.lease_until, "x")).await,
        ),
        ("bury", prompt(queue.bury(&claimed, "x")).await),
        ("counts", prompt(queue.counts()).await),
        ("purge", prompt(queue.purge(claimed.lease_until)).await),
    ];
    for (call, outcome) in calls {
        assert!(
            matches!(outcome, Some(Err(QueueError::Unavailable(_)))),
            "{call}: {outcome:?}"
        );
    }

    redis.resume().await;
    let recovered = eventually(Duration::from_secs(15), || async {
        queue.counts().await.is_ok()
    })
    .await;
    assert!(recovered, "the queue did not recover after Redis came back");
}
