//! The `RateLimiter` contract against memory, Redis (the shared server `./scripts/test`
//! starts, each case on keys of its own) and the fallback over Redis; and the limits' answer
//! while Redis is down: the Redis limiter is unavailable at once, the fallback keeps limiting.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail by panicking at the step that broke"
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_crypto::OsSecretGenerator;
use twofa_domain::{Decision, Limit, PortError, RateLimiter, SecretGenerator as _};
use twofa_memory::{
    ManualClock,
    memory_rate_limiter::{FallbackRateLimiter, MemoryRateLimiter},
};
use twofa_redis::{RedisConnection, RedisSettings, redis_rate_limiter::RedisRateLimiter};
use twofa_tests::{
    RedisServer, contract::rate_limiter::RateLimiterBackend, eventually, is_redis_unavailable,
    prompt,
};

struct Memory;

#[async_trait]
impl RateLimiterBackend for Memory {
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn RateLimiter>, Arc<dyn RateLimiter>) {
        let limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(clock));
        (limiter.clone(), limiter)
    }
}

/// A limiter on a connection of its own (as another process would have) to `url`.
fn redis_limiter(
    url: &str,
    timeout: Duration,
    prefix: &str,
    clock: Arc<ManualClock>,
) -> RedisRateLimiter {
    let connection = RedisConnection::open(&RedisSettings {
        url: url.to_owned(),
        timeout,
    })
    .unwrap();
    RedisRateLimiter::new(connection, prefix.to_owned(), clock)
}

fn fresh_prefix() -> String {
    format!("twofa-test-{}:rate:", OsSecretGenerator.hex(8))
}

struct Redis;

#[async_trait]
impl RateLimiterBackend for Redis {
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn RateLimiter>, Arc<dyn RateLimiter>) {
        let url = twofa_tests::redis_url();
        let prefix = fresh_prefix();
        let timeout = Duration::from_secs(5);
        (
            Arc::new(redis_limiter(&url, timeout, &prefix, clock.clone())),
            Arc::new(redis_limiter(&url, timeout, &prefix, clock)),
        )
    }
}

/// What production wires: Redis with per-process counters behind it, one per instance.
struct FallbackOverRedis;

#[async_trait]
impl RateLimiterBackend for FallbackOverRedis {
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn RateLimiter>, Arc<dyn RateLimiter>) {
        let url = twofa_tests::redis_url();
        let prefix = fresh_prefix();
        let timeout = Duration::from_secs(5);
        let instance = |clock: Arc<ManualClock>| -> Arc<dyn RateLimiter> {
            Arc::new(FallbackRateLimiter::new(
                Arc::new(redis_limiter(&url, timeout, &prefix, clock.clone())),
                MemoryRateLimiter::new(clock),
            ))
        };
        (instance(clock.clone()), instance(clock))
    }
}

mod memory {
    twofa_tests::rate_limiter_contract!(super::Memory);
}

mod redis {
    twofa_tests::rate_limiter_contract!(super::Redis);
}

mod fallback_over_redis {
    twofa_tests::rate_limiter_contract!(super::FallbackOverRedis);
}

const LIMIT: Limit = Limit {
    max: 3,
    window: Duration::from_mins(1),
};

#[tokio::test]
async fn a_stopped_redis_makes_the_redis_limiter_unavailable_at_once() {
    let mut redis = RedisServer::start().await;
    let clock = twofa_tests::contract::clock();
    let limiter = redis_limiter(
        &redis.url(),
        Duration::from_millis(300),
        "twofa-outage:rate:",
        clock,
    );
    assert!(matches!(
        limiter.hit("k", LIMIT).await.unwrap(),
        Decision::Allowed { remaining: 2, .. }
    ));

    redis.stop();

    let hit = prompt(limiter.hit("k", LIMIT)).await;
    assert!(is_redis_unavailable(hit.as_ref()), "hit: {hit:?}");
    let check = prompt(limiter.check("k", LIMIT)).await;
    assert!(is_redis_unavailable(check.as_ref()), "check: {check:?}");
    let clear = prompt(limiter.clear("k")).await;
    assert!(is_redis_unavailable(clear.as_ref()), "clear: {clear:?}");
}

#[tokio::test]
async fn while_redis_is_down_the_fallback_keeps_limiting_and_reports_the_outage_once() {
    let mut redis = RedisServer::start().await;
    let clock = twofa_tests::contract::clock();
    let outages = Arc::new(AtomicUsize::new(0));
    let recoveries = Arc::new(AtomicUsize::new(0));
    let limiter = FallbackRateLimiter::new(
        Arc::new(redis_limiter(
            &redis.url(),
            Duration::from_millis(300),
            "twofa-outage:rate:",
            clock.clone(),
        )),
        MemoryRateLimiter::new(clock.clone()),
    )
    .on_outage({
        let outages = outages.clone();
        move |error| {
            assert!(matches!(error, PortError::Unavailable { .. }));
            outages.fetch_add(1, Ordering::Relaxed);
        }
    })
    .on_recovery({
        let recoveries = recoveries.clone();
        move || {
            recoveries.fetch_add(1, Ordering::Relaxed);
        }
    });
    limiter.hit("before", LIMIT).await.unwrap();

    redis.stop();

    for remaining in (0..LIMIT.max).rev() {
        assert_eq!(
            prompt(limiter.hit("ip:198.51.100.1", LIMIT))
                .await
                .unwrap()
                .unwrap(),
            Decision::Allowed {
                remaining,
                reset: LIMIT.window
            }
        );
    }
    for _ in 0..5 {
        assert_eq!(
            prompt(limiter.hit("ip:198.51.100.1", LIMIT))
                .await
                .unwrap()
                .unwrap(),
            Decision::Limited {
                retry_after: LIMIT.window
            }
        );
    }
    assert!(matches!(
        limiter.check("ip:198.51.100.1", LIMIT).await.unwrap(),
        Decision::Limited { .. }
    ));
    // The attempt made before the outage was counted here too: no fresh allowance.
    assert!(matches!(
        limiter.hit("before", LIMIT).await.unwrap(),
        Decision::Allowed { remaining: 1, .. }
    ));
    assert!(limiter.is_degraded());
    assert_eq!(outages.load(Ordering::Relaxed), 1, "one report per outage");

    clock.advance(TimeDelta::seconds(60));
    assert!(matches!(
        limiter.hit("ip:198.51.100.1", LIMIT).await.unwrap(),
        Decision::Allowed { remaining: 2, .. }
    ));

    redis.resume().await;
    let recovered = eventually(Duration::from_secs(15), || async {
        limiter.check("k", LIMIT).await.is_ok() && !limiter.is_degraded()
    })
    .await;
    assert!(recovered, "the fallback did not go back to Redis");
    assert_eq!(recoveries.load(Ordering::Relaxed), 1);
    assert_eq!(outages.load(Ordering::Relaxed), 1);
}
