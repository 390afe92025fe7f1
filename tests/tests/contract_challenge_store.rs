//! The `ChallengeStore` contract against memory and Redis (the shared server `./scripts/test`
//! starts, each case under a key prefix of its own); what only Redis can show (the ttl it was
//! given, a real expiry, a value it did not write); and the store's answer while Redis is
//! down: unavailable at once, never hung.
//!
//! Redis expires keys by its own clock, which a manual clock cannot move: in the contract the
//! Redis backend lets time pass by taking it off the time to live of every key under its
//! prefix (`twofa_tests::let_redis_time_pass`); one test here waits, with a deadline, for a
//! short ttl to run out by Redis's own clock.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail by panicking at the step that broke"
)]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_crypto::OsSecretGenerator;
use twofa_domain::{ChallengeStore, PortError, SecretGenerator as _, StoredEntry};
use twofa_memory::{ManualClock, MemoryChallengeStore};
use twofa_redis::{RedisChallengeStore, RedisConnection, RedisSettings};
use twofa_tests::{
    RedisServer, contract::challenge_store::ChallengeStoreBackend, eventually,
    is_redis_unavailable, let_redis_time_pass, prompt, raw_redis_command,
};

struct Memory;

#[async_trait]
impl ChallengeStoreBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn ChallengeStore>, Arc<dyn ChallengeStore>) {
        let store: Arc<dyn ChallengeStore> = Arc::new(MemoryChallengeStore::new(clock));
        (store.clone(), store)
    }

    async fn let_time_pass(&self, clock: &ManualClock, by: TimeDelta) {
        clock.advance(by);
    }
}

/// A store on a connection of its own (as another process would have) to `url`.
fn redis_store(url: &str, timeout: Duration, prefix: &str) -> RedisChallengeStore {
    let connection = RedisConnection::open(&RedisSettings {
        url: url.to_owned(),
        timeout,
    })
    .unwrap();
    RedisChallengeStore::new(connection, prefix.to_owned())
}

fn fresh_prefix() -> String {
    format!("{{twofa-test-{}}}:challenges:", OsSecretGenerator.hex(8))
}

/// Each case evaluates `Redis::default()` afresh: the prefix is the case's own.
#[derive(Default)]
struct Redis {
    prefix: Mutex<Option<String>>,
}

#[async_trait]
impl ChallengeStoreBackend for Redis {
    async fn open(
        &self,
        _clock: Arc<ManualClock>,
    ) -> (Arc<dyn ChallengeStore>, Arc<dyn ChallengeStore>) {
        let url = twofa_tests::redis_url();
        let prefix = fresh_prefix();
        *self.prefix.lock().unwrap() = Some(prefix.clone());
        let timeout = Duration::from_secs(5);
        (
            Arc::new(redis_store(&url, timeout, &prefix)),
            Arc::new(redis_store(&url, timeout, &prefix)),
        )
    }

    async fn let_time_pass(&self, clock: &ManualClock, by: TimeDelta) {
        clock.advance(by);
        let prefix = self.prefix.lock().unwrap().clone().unwrap();
        let_redis_time_pass(&twofa_tests::redis_url(), &prefix, by).await;
    }
}

mod memory {
    twofa_tests::challenge_store_contract!(super::Memory);
}

mod redis {
    twofa_tests::challenge_store_contract!(super::Redis::default());
}

/// The milliseconds left of `key`'s time to live.
async fn pttl(url: &str, key: &str) -> i64 {
    raw_redis_command(url, &["PTTL", key])
        .await
        .trim_start_matches(':')
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_redis_store_keeps_entries_under_its_prefix_with_the_ttl_it_was_given() {
    let prefix = fresh_prefix();
    let url = twofa_tests::redis_url();
    let store = redis_store(&url, Duration::from_secs(5), &prefix);
    store
        .put("login:a", "v", Duration::from_mins(5))
        .await
        .unwrap();
    let key = format!("{prefix}login:a");
    assert_eq!(raw_redis_command(&url, &["TYPE", &key]).await, "+hash");
    let left = pttl(&url, &key).await;
    assert!((295_000..=300_000).contains(&left), "{left} ms left");

    raw_redis_command(&url, &["PEXPIRE", &key, "60000"]).await;
    store.fail("login:a").await.unwrap();
    let left = pttl(&url, &key).await;
    assert!(
        (55_000..=60_000).contains(&left),
        "a failure keeps the ttl: {left} ms left"
    );
    store
        .put("login:a", "w", Duration::from_mins(5))
        .await
        .unwrap();
    let left = pttl(&url, &key).await;
    assert!(
        (295_000..=300_000).contains(&left),
        "a put starts it afresh: {left} ms left"
    );
}

#[tokio::test]
async fn a_short_ttl_runs_out_by_redis_own_clock() {
    let store = redis_store(
        &twofa_tests::redis_url(),
        Duration::from_secs(5),
        &fresh_prefix(),
    );
    store
        .put("otp:u1", "v", Duration::from_millis(50))
        .await
        .unwrap();
    store
        .put("otp:u2", "v", Duration::from_nanos(1))
        .await
        .unwrap();
    store
        .put("otp:u3", "v", Duration::from_mins(5))
        .await
        .unwrap();
    store.put("otp:u3", "v", Duration::ZERO).await.unwrap();
    assert_eq!(
        store.get("otp:u3").await.unwrap(),
        None,
        "a zero ttl removes the entry at once"
    );
    let expired = eventually(Duration::from_secs(5), || async {
        store.get("otp:u1").await.unwrap().is_none() && store.get("otp:u2").await.unwrap().is_none()
    })
    .await;
    assert!(expired, "an entry with a 50 ms ttl was still live");
    assert_eq!(store.fail("otp:u1").await.unwrap(), None);
    assert!(!store.take("otp:u1", "v", 5).await.unwrap());
}

#[tokio::test]
async fn an_entry_the_redis_store_did_not_write_is_unexpected() {
    let prefix = fresh_prefix();
    let url = twofa_tests::redis_url();
    let store = redis_store(&url, Duration::from_secs(5), &prefix);
    raw_redis_command(
        &url,
        &["SET", &format!("{prefix}string"), "v", "PX", "60000"],
    )
    .await;
    raw_redis_command(&url, &["HSET", &format!("{prefix}no-count"), "v", "x"]).await;
    raw_redis_command(&url, &["PEXPIRE", &format!("{prefix}no-count"), "60000"]).await;
    raw_redis_command(
        &url,
        &["HSET", &format!("{prefix}bad-count"), "v", "x", "f", "many"],
    )
    .await;
    raw_redis_command(&url, &["PEXPIRE", &format!("{prefix}bad-count"), "60000"]).await;
    for key in ["string", "no-count", "bad-count"] {
        let outcome = store.get(key).await;
        assert!(
            matches!(outcome, Err(PortError::Unexpected(_))),
            "get {key}: {outcome:?}"
        );
    }
    let take = store.take("string", "v", 5).await;
    assert!(matches!(take, Err(PortError::Unexpected(_))), "{take:?}");
    let fail = store.fail("bad-count").await;
    assert!(matches!(fail, Err(PortError::Unexpected(_))), "{fail:?}");
}

#[tokio::test]
async fn a_stopped_redis_makes_the_challenge_store_unavailable_at_once() {
    let mut redis = RedisServer::start().await;
    let store = redis_store(
        &redis.url(),
        Duration::from_millis(300),
        "{twofa-outage}:challenges:",
    );
    let ttl = Duration::from_mins(5);
    store.put("login:a", "v", ttl).await.unwrap();

    redis.stop();

    let put = prompt(store.put("login:b", "v", ttl)).await;
    assert!(is_redis_unavailable(put.as_ref()), "put: {put:?}");
    let get = prompt(store.get("login:a")).await;
    assert!(is_redis_unavailable(get.as_ref()), "get: {get:?}");
    let take = prompt(store.take("login:a", "v", 5)).await;
    assert!(is_redis_unavailable(take.as_ref()), "take: {take:?}");
    let fail = prompt(store.fail("login:a")).await;
    assert!(is_redis_unavailable(fail.as_ref()), "fail: {fail:?}");
    let remove = prompt(store.remove("login:a")).await;
    assert!(is_redis_unavailable(remove.as_ref()), "remove: {remove:?}");

    redis.resume().await;
    let recovered = eventually(Duration::from_secs(15), || async {
        store.put("login:c", "v", ttl).await.is_ok()
    })
    .await;
    assert!(recovered, "the store did not recover after Redis came back");
    assert_eq!(
        store.get("login:c").await.unwrap(),
        Some(StoredEntry {
            value: "v".into(),
            failures: 0
        })
    );
    assert!(store.take("login:c", "v", 5).await.unwrap());
}
