//! The `SessionCache` contract against memory and Redis (the shared server `./scripts/test`
//! starts, each case under a key prefix of its own); what only Redis can show (a value it did
//! not write, the shortest ttls); and the cache's answer while Redis is down: unavailable at
//! once, never hung.
//!
//! Redis expires keys by its own clock, which a manual clock cannot move. So that the same
//! cases hold on both backends without waiting, the Redis backend lets time pass by taking it
//! off the time to live of every key under its prefix (`twofa_tests::let_redis_time_pass`):
//! what is checked is the expiry the adapter asked Redis for, counted by Redis.

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
use twofa_domain::{CachedSession, PortError, SecretGenerator as _, SessionCache};
use twofa_memory::{ManualClock, MemorySessionCache};
use twofa_redis::{RedisConnection, RedisSessionCache, RedisSettings};
use twofa_tests::{
    RedisServer,
    contract::session_cache::{SessionCacheBackend, sid},
    eventually, is_redis_unavailable, let_redis_time_pass, prompt, raw_redis_command,
};

struct Memory;

#[async_trait]
impl SessionCacheBackend for Memory {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn SessionCache>, Arc<dyn SessionCache>) {
        let cache: Arc<dyn SessionCache> = Arc::new(MemorySessionCache::new(clock));
        (cache.clone(), cache)
    }

    async fn let_time_pass(&self, clock: &ManualClock, by: TimeDelta) {
        clock.advance(by);
    }
}

/// A cache on a connection of its own (as another process would have) to `url`.
fn redis_cache(
    url: &str,
    timeout: Duration,
    prefix: &str,
    clock: Arc<ManualClock>,
) -> RedisSessionCache {
    let connection = RedisConnection::open(&RedisSettings {
        url: url.to_owned(),
        timeout,
    })
    .unwrap();
    RedisSessionCache::new(connection, prefix.to_owned(), clock)
}

fn fresh_prefix() -> String {
    format!("{{twofa-test-{}}}:sessions:", OsSecretGenerator.hex(8))
}

/// Each case evaluates `Redis::default()` afresh: the prefix is the case's own.
#[derive(Default)]
struct Redis {
    prefix: Mutex<Option<String>>,
}

#[async_trait]
impl SessionCacheBackend for Redis {
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn SessionCache>, Arc<dyn SessionCache>) {
        let url = twofa_tests::redis_url();
        let prefix = fresh_prefix();
        *self.prefix.lock().unwrap() = Some(prefix.clone());
        let timeout = Duration::from_secs(5);
        (
            Arc::new(redis_cache(&url, timeout, &prefix, clock.clone())),
            Arc::new(redis_cache(&url, timeout, &prefix, clock)),
        )
    }

    async fn let_time_pass(&self, clock: &ManualClock, by: TimeDelta) {
        clock.advance(by);
        let prefix = self.prefix.lock().unwrap().clone().unwrap();
        let_redis_time_pass(&twofa_tests::redis_url(), &prefix, by).await;
    }
}

mod memory {
    twofa_tests::session_cache_contract!(super::Memory);
}

mod redis {
    twofa_tests::session_cache_contract!(super::Redis::default());
}

/// A live answer for a session ending in 30 days.
fn live(clock: &ManualClock) -> CachedSession {
    use twofa_domain::Clock as _;
    CachedSession::Live {
        user_id: uuid::Uuid::from_u128(1).into(),
        expires_at: clock.now() + TimeDelta::days(30),
    }
}

#[tokio::test]
async fn a_value_the_redis_cache_did_not_write_is_unexpected() {
    let clock = twofa_tests::contract::clock();
    let prefix = fresh_prefix();
    let url = twofa_tests::redis_url();
    let cache = redis_cache(&url, Duration::from_secs(5), &prefix, clock);
    for (n, value) in [(1, "live"), (2, "live:someone:soon"), (3, "true")] {
        let key = format!("{prefix}{}", sid(n));
        raw_redis_command(&url, &["SET", &key, value, "PX", "60000"]).await;
        let outcome = cache.get(sid(n)).await;
        assert!(
            matches!(outcome, Err(PortError::Unexpected(_))),
            "{value}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn the_redis_cache_keeps_answers_under_its_prefix_with_the_ttl_it_was_given() {
    let clock = twofa_tests::contract::clock();
    let prefix = fresh_prefix();
    let url = twofa_tests::redis_url();
    let cache = redis_cache(&url, Duration::from_secs(5), &prefix, clock.clone());
    cache
        .put_if_absent(sid(1), live(&clock), Duration::from_mins(1))
        .await
        .unwrap();
    cache.end(sid(2), Duration::from_mins(15)).await.unwrap();
    for (n, ttl_ms) in [(1, 60_000), (2, 900_000)] {
        let key = format!("{prefix}{}", sid(n));
        let left: i64 = raw_redis_command(&url, &["PTTL", &key])
            .await
            .trim_start_matches(':')
            .parse()
            .unwrap();
        assert!(
            (ttl_ms - 5_000..=ttl_ms).contains(&left),
            "{key}: {left} ms left of {ttl_ms}"
        );
    }
}

/// Redis refuses `PX 0`: a zero or sub-millisecond ttl is sent as 1 ms, so the call succeeds
/// and the answer is soon gone.
#[tokio::test]
async fn the_shortest_ttls_are_accepted_by_redis_and_soon_forgotten() {
    let clock = twofa_tests::contract::clock();
    let cache = redis_cache(
        &twofa_tests::redis_url(),
        Duration::from_secs(5),
        &fresh_prefix(),
        clock.clone(),
    );
    cache
        .put_if_absent(sid(1), live(&clock), Duration::from_mins(1))
        .await
        .unwrap();
    cache.end(sid(1), Duration::ZERO).await.unwrap();
    cache
        .put_if_absent(sid(2), CachedSession::Ended, Duration::from_nanos(1))
        .await
        .unwrap();
    cache.end(sid(3), Duration::from_micros(10)).await.unwrap();
    let forgotten = eventually(Duration::from_secs(5), || async {
        for n in 1..=3 {
            if cache.get(sid(n)).await.unwrap().is_some() {
                return false;
            }
        }
        true
    })
    .await;
    assert!(forgotten, "an answer with a 1 ms ttl was still held");
}

#[tokio::test]
async fn a_stopped_redis_makes_the_session_cache_unavailable_at_once() {
    let mut redis = RedisServer::start().await;
    let clock = twofa_tests::contract::clock();
    let cache = redis_cache(
        &redis.url(),
        Duration::from_millis(300),
        "{twofa-outage}:sessions:",
        clock.clone(),
    );
    let ttl = Duration::from_mins(1);
    cache
        .put_if_absent(sid(1), live(&clock), ttl)
        .await
        .unwrap();

    redis.stop();

    let get = prompt(cache.get(sid(1))).await;
    assert!(is_redis_unavailable(get.as_ref()), "get: {get:?}");
    let put = prompt(cache.put_if_absent(sid(2), live(&clock), ttl)).await;
    assert!(is_redis_unavailable(put.as_ref()), "put_if_absent: {put:?}");
    let end = prompt(cache.end(sid(1), ttl)).await;
    assert!(is_redis_unavailable(end.as_ref()), "end: {end:?}");

    redis.resume().await;
    let recovered = eventually(Duration::from_secs(15), || async {
        cache.end(sid(1), ttl).await.is_ok()
    })
    .await;
    assert!(recovered, "the cache did not recover after Redis came back");
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(CachedSession::Ended));
}
