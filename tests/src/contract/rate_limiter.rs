//! The `RateLimiter` contract: exactly `max` attempts per fixed window, then `Limited` until
//! the window ends; `remaining` and `reset`; independent keys; `check` not counting; `clear`
//! forgetting; `forgive` taking one attempt back; handles on one store sharing counts; and exactly `max` allowed out of many
//! concurrent attempts over two handles.

#![expect(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_domain::{Decision, Limit, RateLimiter};
use twofa_memory::ManualClock;

/// A backend under test.
#[async_trait]
pub trait RateLimiterBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would).
    async fn open(&self, clock: Arc<ManualClock>) -> (Arc<dyn RateLimiter>, Arc<dyn RateLimiter>);
}

/// 3 attempts a minute.
pub const LIMIT: Limit = Limit {
    max: 3,
    window: Duration::from_mins(1),
};

fn allowed(remaining: u32, reset_secs: u64) -> Decision {
    Decision::Allowed {
        remaining,
        reset: Duration::from_secs(reset_secs),
    }
}

fn limited(retry_after_secs: u64) -> Decision {
    Decision::Limited {
        retry_after: Duration::from_secs(retry_after_secs),
    }
}

async fn one(backend: &dyn RateLimiterBackend) -> (Arc<dyn RateLimiter>, Arc<ManualClock>) {
    let clock = super::clock();
    let (limiter, _) = backend.open(clock.clone()).await;
    (limiter, clock)
}

/// `max` hits are allowed, the next is limited until the window ends.
pub async fn allows_exactly_max_per_window_then_limits(backend: &dyn RateLimiterBackend) {
    let (limiter, clock) = one(backend).await;
    for _ in 0..LIMIT.max {
        let decision = limiter.hit("ip:203.0.113.7", LIMIT).await.unwrap();
        assert!(matches!(decision, Decision::Allowed { .. }), "{decision:?}");
    }
    assert_eq!(
        limiter.hit("ip:203.0.113.7", LIMIT).await.unwrap(),
        limited(60)
    );
    clock.advance(TimeDelta::seconds(45));
    assert_eq!(
        limiter.hit("ip:203.0.113.7", LIMIT).await.unwrap(),
        limited(15)
    );
}

/// Each allowed hit says how many are left and when the window resets.
pub async fn remaining_counts_down_and_reset_is_the_time_left(backend: &dyn RateLimiterBackend) {
    let (limiter, clock) = one(backend).await;
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(2, 60));
    clock.advance(TimeDelta::seconds(10));
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(1, 50));
    clock.advance(TimeDelta::seconds(10));
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(0, 40));
    clock.advance(TimeDelta::seconds(10));
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), limited(30));
}

/// Hammering a limited key keeps it limited, but only until its window ends: the window is
/// fixed from the first hit, and then a full allowance starts again.
pub async fn the_window_resets_when_it_passes(backend: &dyn RateLimiterBackend) {
    let (limiter, clock) = one(backend).await;
    for _ in 0..LIMIT.max {
        limiter.hit("k", LIMIT).await.unwrap();
    }
    for _ in 0..59 {
        clock.advance(TimeDelta::seconds(1));
        assert!(matches!(
            limiter.hit("k", LIMIT).await.unwrap(),
            Decision::Limited { .. }
        ));
    }
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), limited(1));
    clock.advance(TimeDelta::seconds(1));
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(2, 60));
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(1, 60));
}

/// One key's count does not touch another's.
pub async fn keys_are_independent(backend: &dyn RateLimiterBackend) {
    let (limiter, _) = one(backend).await;
    for _ in 0..=LIMIT.max {
        limiter.hit("account:1", LIMIT).await.unwrap();
    }
    assert_eq!(limiter.hit("account:1", LIMIT).await.unwrap(), limited(60));
    assert_eq!(
        limiter.hit("account:2", LIMIT).await.unwrap(),
        allowed(2, 60)
    );
    assert_eq!(
        limiter.check("account:3", LIMIT).await.unwrap(),
        allowed(3, 60)
    );
}

/// `check` answers what the next hit would get and counts nothing.
pub async fn check_does_not_count(backend: &dyn RateLimiterBackend) {
    let (limiter, clock) = one(backend).await;
    for _ in 0..10 {
        assert_eq!(limiter.check("k", LIMIT).await.unwrap(), allowed(3, 60));
    }
    limiter.hit("k", LIMIT).await.unwrap();
    clock.advance(TimeDelta::seconds(20));
    for _ in 0..10 {
        assert_eq!(limiter.check("k", LIMIT).await.unwrap(), allowed(2, 40));
    }
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(1, 40));
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(0, 40));
    assert_eq!(limiter.check("k", LIMIT).await.unwrap(), limited(40));
    clock.advance(TimeDelta::seconds(40));
    assert_eq!(limiter.check("k", LIMIT).await.unwrap(), allowed(3, 60));
}

/// `clear` forgets a key's count, and only that key's.
pub async fn clear_forgets_the_key(backend: &dyn RateLimiterBackend) {
    let (limiter, clock) = one(backend).await;
    for _ in 0..=LIMIT.max {
        limiter.hit("k", LIMIT).await.unwrap();
        limiter.hit("other", LIMIT).await.unwrap();
    }
    clock.advance(TimeDelta::seconds(30));
    limiter.clear("k").await.unwrap();
    assert_eq!(limiter.check("k", LIMIT).await.unwrap(), allowed(3, 60));
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(2, 60));
    assert_eq!(limiter.hit("other", LIMIT).await.unwrap(), limited(30));
    limiter.clear("never-hit").await.unwrap();
}

/// `forgive` takes back one counted attempt of the open window, never below zero and never
/// moving the window; on a key with no window it does nothing.
pub async fn forgive_takes_back_one_attempt(backend: &dyn RateLimiterBackend) {
    let (limiter, clock) = one(backend).await;
    limiter.forgive("never-hit").await.unwrap();
    assert_eq!(
        limiter.check("never-hit", LIMIT).await.unwrap(),
        allowed(3, 60)
    );
    for _ in 0..=LIMIT.max {
        limiter.hit("k", LIMIT).await.unwrap();
    }
    clock.advance(TimeDelta::seconds(20));
    assert_eq!(limiter.check("k", LIMIT).await.unwrap(), limited(40));
    limiter.forgive("k").await.unwrap();
    limiter.forgive("k").await.unwrap();
    assert_eq!(limiter.check("k", LIMIT).await.unwrap(), allowed(1, 40));
    for _ in 0..10 {
        limiter.forgive("k").await.unwrap();
    }
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(2, 40));
    clock.advance(TimeDelta::seconds(40));
    limiter.forgive("k").await.unwrap();
    assert_eq!(limiter.hit("k", LIMIT).await.unwrap(), allowed(2, 60));
}

/// Two handles on one store (two instances) count against one limit.
pub async fn two_handles_share_the_count(backend: &dyn RateLimiterBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock.clone()).await;
    assert_eq!(a.hit("k", LIMIT).await.unwrap(), allowed(2, 60));
    clock.advance(TimeDelta::seconds(5));
    assert_eq!(b.hit("k", LIMIT).await.unwrap(), allowed(1, 55));
    assert_eq!(a.check("k", LIMIT).await.unwrap(), allowed(1, 55));
    assert_eq!(a.hit("k", LIMIT).await.unwrap(), allowed(0, 55));
    assert_eq!(b.hit("k", LIMIT).await.unwrap(), limited(55));
    b.clear("k").await.unwrap();
    assert_eq!(a.hit("k", LIMIT).await.unwrap(), allowed(2, 60));
}

/// Of many concurrent hits over two handles, exactly `max` are allowed.
pub async fn concurrent_hits_allow_exactly_max(backend: &dyn RateLimiterBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock).await;
    let limit = Limit {
        max: 25,
        window: Duration::from_mins(1),
    };
    let tasks: Vec<_> = (0..100)
        .map(|n| {
            let limiter = if n % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { limiter.hit("hot", limit).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    let mut remaining = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Decision::Allowed {
                remaining: left, ..
            } => {
                allowed += 1;
                remaining.push(left);
            }
            Decision::Limited { .. } => {}
        }
    }
    assert_eq!(allowed, limit.max);
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..limit.max).collect::<Vec<_>>(),
        "one per count"
    );
}

/// Instantiates the contract for a backend: `rate_limiter_contract!(MyBackend);` inside a
/// module of an integration test.
#[macro_export]
macro_rules! rate_limiter_contract {
    ($backend:expr) => {
        $crate::rate_limiter_contract!(@cases $backend;
            allows_exactly_max_per_window_then_limits,
            remaining_counts_down_and_reset_is_the_time_left,
            the_window_resets_when_it_passes,
            keys_are_independent,
            check_does_not_count,
            clear_forgets_the_key,
            forgive_takes_back_one_attempt,
            two_handles_share_the_count,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_hits_allow_exactly_max() {
            $crate::contract::rate_limiter::concurrent_hits_allow_exactly_max(&$backend).await;
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::rate_limiter::$case(&$backend).await;
            }
        )*
    };
}
