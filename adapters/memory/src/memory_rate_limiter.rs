//! `MemoryRateLimiter`: the `RateLimiter` port in process memory (tests, the embedded mode,
//! and the per-process counters rate limits fall back to while Redis is down); and
//! `FallbackRateLimiter`, which puts those counters behind a shared limiter.
//!
//! Semantics, shared with every adapter of the port (the contract suite checks them):
//! - a fixed window per key, opened by the key's first hit and lasting `limit.window`; the
//!   hit that opens it counts as its first attempt;
//! - `hit` counts one attempt and answers `Allowed` while the count, this hit included, is at
//!   most `limit.max`, with `remaining = max - count` and `reset` = time left in the window;
//!   beyond that it answers `Limited` with `retry_after` = time left in the window;
//! - a limited hit is counted too (the count is the attempts made, not the attempts allowed),
//!   but never moves the window: an attacker hammering a limited key stays limited until the
//!   window ends, and no longer;
//! - `check` answers what the next hit would get, without counting: `Allowed` with
//!   `remaining = max - count` (the full window as `reset` when no window is open), or
//!   `Limited` once `count >= max`;
//! - `clear` forgets the key; its next hit opens a new window.
//!
//! Should the clock go back, `reset` and `retry_after` never exceed the window.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{Clock, Decision, Limit, PortError, RateLimiter, is_per_address_key};

/// Keys a `MemoryRateLimiter` tracks at most, unless built `with_max_keys`.
///
/// About 150 bytes per key plus the key itself: some 20 MB at the cap.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// One key's open window.
#[derive(Debug, Clone, Copy)]
struct Window {
    end: DateTime<Utc>,
    count: u32,
}

/// The windows, and the same keys ordered by the end of their window (all of them, and the
/// per-address ones apart), so that expired windows and the per-address window to drop first
/// are found without a scan.
#[derive(Debug, Default)]
struct Windows {
    by_key: HashMap<Arc<str>, Window>,
    by_end: BTreeSet<(DateTime<Utc>, Arc<str>)>,
    per_address_by_end: BTreeSet<(DateTime<Utc>, Arc<str>)>,
}

impl Windows {
    /// Forgets every window that has ended by `now`: each call removes only what expired, so
    /// the cost is spread over the calls and memory holds live windows only.
    fn prune(&mut self, now: DateTime<Utc>) {
        while let Some((end, _)) = self.by_end.first()
            && *end <= now
        {
            if let Some((end, key)) = self.by_end.pop_first() {
                self.by_key.remove(&key);
                self.per_address_by_end.remove(&(end, key));
            }
        }
    }

    /// Drops the per-address window that ends first, if any is left: such a window only
    /// paces an address's requests, so dropping it forgives no failure.
    fn drop_per_address_window(&mut self) -> bool {
        let Some((end, key)) = self.per_address_by_end.pop_first() else {
            return false;
        };
        self.by_key.remove(&key);
        self.by_end.remove(&(end, key));
        true
    }

    fn insert(&mut self, key: Arc<str>, window: Window) {
        if is_per_address_key(&key) {
            self.per_address_by_end.insert((window.end, key.clone()));
        }
        self.by_end.insert((window.end, key.clone()));
        self.by_key.insert(key, window);
    }

    fn remove(&mut self, key: &str) {
        if let Some((key, window)) = self.by_key.remove_entry(key) {
            let entry = (window.end, key);
            self.by_end.remove(&entry);
            self.per_address_by_end.remove(&entry);
        }
    }
}

/// Fixed windows per key in a map behind a mutex: every operation is atomic.
///
/// Memory stays bounded: expired windows are dropped on every call, and at most `max_keys`
/// windows are tracked. A key with no window, arriving when that many are open, first makes
/// room by dropping the per-address request window ending soonest
/// ([`twofa_domain::is_per_address_key`]: it only paces an address, so losing it forgives no
/// failure); when none is left, the new key is refused (`Limited` until the soonest window
/// ends) and not tracked. A failure counter or a lockout is never forgotten before its window
/// ends, so a flood of distinct keys can slow new clients down but never let anyone through.
pub struct MemoryRateLimiter {
    windows: Mutex<Windows>,
    clock: Arc<dyn Clock>,
    max_keys: usize,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

impl MemoryRateLimiter {
    /// An empty limiter keeping time with `clock`, tracking at most `DEFAULT_MAX_KEYS` keys.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_max_keys(clock, DEFAULT_MAX_KEYS)
    }

    /// An empty limiter tracking at most `max_keys` keys (at least 1).
    pub fn with_max_keys(clock: Arc<dyn Clock>, max_keys: usize) -> Self {
        Self {
            windows: Mutex::new(Windows::default()),
            clock,
            max_keys: max_keys.max(1),
        }
    }

    /// Keys with an open window.
    pub fn tracked_keys(&self) -> usize {
        let now = self.clock.now();
        let mut windows = self.lock();
        windows.prune(now);
        windows.by_key.len()
    }

    fn lock(&self) -> MutexGuard<'_, Windows> {
        // A panic while the lock was held left the map consistent: each step is one insert or
        // remove, so the counters are still usable.
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `to - from` as a `Duration`, never past `window` (the clock went back) nor below zero.
fn time_left(from: DateTime<Utc>, to: DateTime<Utc>, window: Duration) -> Duration {
    (to - from).to_std().unwrap_or_default().min(window)
}

/// The end of a window opened at `now`.
fn window_end(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let length = TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX);
    now.checked_add_signed(length)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
        let now = self.clock.now();
        let mut windows = self.lock();
        windows.prune(now);
        let window = if let Some(window) = windows.by_key.get_mut(key) {
            window.count = window.count.saturating_add(1);
            *window
        } else {
            while windows.by_key.len() >= self.max_keys {
                if !windows.drop_per_address_window() {
                    let soonest = windows.by_end.first().map_or(now, |(end, _)| *end);
                    drop(windows);
                    let wait = time_left(now, soonest, limit.window).max(Duration::from_secs(1));
                    return Ok(Decision::Limited {
                        retry_after: wait.min(limit.window.max(Duration::from_secs(1))),
                    });
                }
            }
            let window = Window {
                end: window_end(now, limit.window),
                count: 1,
            };
            windows.insert(Arc::from(key), window);
            window
        };
        drop(windows);
        let left = time_left(now, window.end, limit.window);
        Ok(if window.count <= limit.max {
            Decision::Allowed {
                remaining: limit.max - window.count,
                reset: left,
            }
        } else {
            Decision::Limited { retry_after: left }
        })
    }

    async fn check(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
        let now = self.clock.now();
        let mut windows = self.lock();
        windows.prune(now);
        let window = windows.by_key.get(key).copied();
        drop(windows);
        Ok(match window {
            None => Decision::Allowed {
                remaining: limit.max,
                reset: limit.window,
            },
            Some(window) if window.count < limit.max => Decision::Allowed {
                remaining: limit.max - window.count,
                reset: time_left(now, window.end, limit.window),
            },
            Some(window) => Decision::Limited {
                retry_after: time_left(now, window.end, limit.window),
            },
        })
    }

    async fn clear(&self, key: &str) -> Result<(), PortError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn forgive(&self, key: &str) -> Result<(), PortError> {
        let now = self.clock.now();
        let mut windows = self.lock();
        windows.prune(now);
        if let Some(window) = windows.by_key.get_mut(key) {
            window.count = window.count.saturating_sub(1);
        }
        Ok(())
    }
}

/// Told once when the shared limiter becomes unavailable (with its error).
type OutageHook = Box<dyn Fn(&PortError) + Send + Sync>;
/// Told once when the shared limiter answers again after an outage.
type RecoveryHook = Box<dyn Fn() + Send + Sync>;

/// A shared limiter (Redis) backed by per-process counters, so that limits never switch off.
///
/// Every call goes to both: the local `MemoryRateLimiter` counts this process's attempts all
/// along, so that an outage does not hand out a fresh allowance to a key already being
/// hammered. While the primary answers, its decision is the answer; when it answers
/// `PortError::Unavailable`, the local decision is (a limit then holds per process, not
/// across instances: at most `max` times the number of instances). Any other error of the
/// primary is returned as is.
///
/// The hooks report the outage once when it starts and once when it ends, not on every call
/// (this crate logs nothing itself: the composition root passes hooks that log a warning).
/// `clear` during an outage clears the local counters and succeeds; the shared count then
/// lasts until its window ends.
pub struct FallbackRateLimiter {
    primary: Arc<dyn RateLimiter>,
    local: MemoryRateLimiter,
    is_degraded: AtomicBool,
    on_outage: OutageHook,
    on_recovery: RecoveryHook,
}

impl std::fmt::Debug for FallbackRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackRateLimiter")
            .field("local", &self.local)
            .field("is_degraded", &self.is_degraded)
            .finish_non_exhaustive()
    }
}

impl FallbackRateLimiter {
    /// `primary`, falling back to `local` while it is unavailable.
    pub fn new(primary: Arc<dyn RateLimiter>, local: MemoryRateLimiter) -> Self {
        Self {
            primary,
            local,
            is_degraded: AtomicBool::new(false),
            on_outage: Box::new(|_| {}),
            on_recovery: Box::new(|| {}),
        }
    }

    /// Calls `hook` once when the primary becomes unavailable (log a warning there).
    #[must_use]
    pub fn on_outage(mut self, hook: impl Fn(&PortError) + Send + Sync + 'static) -> Self {
        self.on_outage = Box::new(hook);
        self
    }

    /// Calls `hook` once when the primary answers again after an outage.
    #[must_use]
    pub fn on_recovery(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_recovery = Box::new(hook);
        self
    }

    /// Whether the last answer came from the local counters.
    pub fn is_degraded(&self) -> bool {
        self.is_degraded.load(Ordering::Relaxed)
    }

    /// The primary's answer, or `local`'s when the primary is unavailable.
    fn choose<T>(&self, primary: Result<T, PortError>, local: T) -> Result<T, PortError> {
        match primary {
            Ok(answer) => {
                if self.is_degraded.swap(false, Ordering::Relaxed) {
                    (self.on_recovery)();
                }
                Ok(answer)
            }
            Err(error @ PortError::Unavailable { .. }) => {
                if !self.is_degraded.swap(true, Ordering::Relaxed) {
                    (self.on_outage)(&error);
                }
                Ok(local)
            }
            Err(error @ PortError::Unexpected(_)) => Err(error),
        }
    }
}

#[async_trait]
impl RateLimiter for FallbackRateLimiter {
    async fn hit(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
        let local = self.local.hit(key, limit).await?;
        let primary = self.primary.hit(key, limit).await;
        self.choose(primary, local)
    }

    async fn check(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
        let local = self.local.check(key, limit).await?;
        let primary = self.primary.check(key, limit).await;
        self.choose(primary, local)
    }

    async fn clear(&self, key: &str) -> Result<(), PortError> {
        self.local.clear(key).await?;
        let primary = self.primary.clear(key).await;
        self.choose(primary, ())
    }

    async fn forgive(&self, key: &str) -> Result<(), PortError> {
        self.local.forgive(key).await?;
        let primary = self.primary.forgive(key).await;
        self.choose(primary, ())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures::executor::block_on;

    use super::*;
    use crate::ManualClock;

    const LIMIT: Limit = Limit {
        max: 2,
        window: Duration::from_mins(1),
    };

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
                .unwrap()
                .to_utc(),
        ))
    }

    fn is_allowed(decision: Decision) -> bool {
        matches!(decision, Decision::Allowed { .. })
    }

    #[test]
    fn expired_windows_are_dropped_so_memory_holds_live_keys_only() {
        let clock = clock();
        let limiter = MemoryRateLimiter::new(clock.clone());
        for n in 0..1000 {
            block_on(limiter.hit(&format!("ip:{n}"), LIMIT)).unwrap();
        }
        assert_eq!(limiter.tracked_keys(), 1000);
        clock.advance(TimeDelta::seconds(60));
        block_on(limiter.hit("another", LIMIT)).unwrap();
        assert_eq!(limiter.tracked_keys(), 1);
    }

    #[test]
    fn at_the_cap_per_address_windows_are_dropped_first_and_failure_counters_kept() {
        let clock = clock();
        let limiter = MemoryRateLimiter::with_max_keys(clock.clone(), 3);
        for key in ["login-attempts:a", "login:ip:198.51.100.1"] {
            block_on(limiter.hit(key, LIMIT)).unwrap();
            block_on(limiter.hit(key, LIMIT)).unwrap();
            clock.advance(TimeDelta::seconds(1));
        }
        block_on(limiter.hit("login-attempts:b", LIMIT)).unwrap();
        // Full: the per-address window goes, though the failure counter ends sooner.
        assert!(is_allowed(
            block_on(limiter.hit("login:ip:198.51.100.2", LIMIT)).unwrap()
        ));
        assert_eq!(limiter.tracked_keys(), 3);
        assert!(!is_allowed(
            block_on(limiter.check("login-attempts:a", LIMIT)).unwrap()
        ));
        assert!(is_allowed(
            block_on(limiter.check("login:ip:198.51.100.1", LIMIT)).unwrap()
        ));
    }

    #[test]
    fn when_only_kept_counters_fill_it_new_keys_are_refused_and_nothing_is_forgotten() {
        let clock = clock();
        let limiter = MemoryRateLimiter::with_max_keys(clock.clone(), 2);
        for key in ["login-attempts:a", "login-attempts:b"] {
            block_on(limiter.hit(key, LIMIT)).unwrap();
            block_on(limiter.hit(key, LIMIT)).unwrap();
        }
        clock.advance(TimeDelta::seconds(20));
        for n in 0..10 {
            let flood = block_on(limiter.hit(&format!("login:ip:198.51.100.{n}"), LIMIT)).unwrap();
            assert_eq!(
                flood,
                Decision::Limited {
                    retry_after: Duration::from_secs(40)
                }
            );
        }
        assert_eq!(limiter.tracked_keys(), 2);
        assert!(!is_allowed(
            block_on(limiter.check("login-attempts:a", LIMIT)).unwrap()
        ));
        // Once a window ends, there is room again.
        clock.advance(TimeDelta::seconds(40));
        assert!(is_allowed(
            block_on(limiter.hit("login:ip:198.51.100.1", LIMIT)).unwrap()
        ));
    }

    #[test]
    fn forgive_takes_back_one_attempt_without_moving_the_window() {
        let clock = clock();
        let limiter = MemoryRateLimiter::new(clock.clone());
        block_on(limiter.forgive("k")).unwrap();
        for _ in 0..3 {
            block_on(limiter.hit("k", LIMIT)).unwrap();
        }
        clock.advance(TimeDelta::seconds(10));
        block_on(limiter.forgive("k")).unwrap();
        block_on(limiter.forgive("k")).unwrap();
        assert_eq!(
            block_on(limiter.check("k", LIMIT)).unwrap(),
            Decision::Allowed {
                remaining: 1,
                reset: Duration::from_secs(50)
            }
        );
        for _ in 0..5 {
            block_on(limiter.forgive("k")).unwrap();
        }
        assert!(is_allowed(block_on(limiter.hit("k", LIMIT)).unwrap()));
    }

    #[test]
    fn a_clock_moved_back_never_gives_a_reset_longer_than_the_window() {
        let clock = clock();
        let limiter = MemoryRateLimiter::new(clock.clone());
        block_on(limiter.hit("k", LIMIT)).unwrap();
        clock.advance(TimeDelta::seconds(-30));
        assert_eq!(
            block_on(limiter.hit("k", LIMIT)).unwrap(),
            Decision::Allowed {
                remaining: 0,
                reset: LIMIT.window
            }
        );
    }

    /// A primary that is down while `is_down` is set.
    struct Flaky {
        inner: MemoryRateLimiter,
        is_down: AtomicBool,
    }

    impl Flaky {
        fn answer<T>(&self, answer: Result<T, PortError>) -> Result<T, PortError> {
            if self.is_down.load(Ordering::Relaxed) {
                Err(PortError::Unavailable {
                    dependency: "redis",
                    source: anyhow::anyhow!("connection refused"),
                })
            } else {
                answer
            }
        }
    }

    #[async_trait]
    impl RateLimiter for Flaky {
        async fn hit(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
            self.answer(self.inner.hit(key, limit).await)
        }

        async fn check(&self, key: &str, limit: Limit) -> Result<Decision, PortError> {
            self.answer(self.inner.check(key, limit).await)
        }

        async fn clear(&self, key: &str) -> Result<(), PortError> {
            self.answer(self.inner.clear(key).await)
        }

        async fn forgive(&self, key: &str) -> Result<(), PortError> {
            self.answer(self.inner.forgive(key).await)
        }
    }

    #[test]
    fn an_outage_is_reported_once_and_limits_hold_through_it() {
        let clock = clock();
        let primary = Arc::new(Flaky {
            inner: MemoryRateLimiter::new(clock.clone()),
            is_down: AtomicBool::new(false),
        });
        let outages = Arc::new(AtomicUsize::new(0));
        let recoveries = Arc::new(AtomicUsize::new(0));
        let limiter = FallbackRateLimiter::new(primary.clone(), MemoryRateLimiter::new(clock))
            .on_outage({
                let outages = outages.clone();
                move |_| {
                    outages.fetch_add(1, Ordering::Relaxed);
                }
            })
            .on_recovery({
                let recoveries = recoveries.clone();
                move || {
                    recoveries.fetch_add(1, Ordering::Relaxed);
                }
            });

        assert!(is_allowed(block_on(limiter.hit("k", LIMIT)).unwrap()));
        primary.is_down.store(true, Ordering::Relaxed);
        // The attempt made before the outage still counts: one more is allowed, not two.
        assert!(is_allowed(block_on(limiter.hit("k", LIMIT)).unwrap()));
        for _ in 0..5 {
            assert!(!is_allowed(block_on(limiter.hit("k", LIMIT)).unwrap()));
        }
        assert!(limiter.is_degraded());
        assert_eq!(outages.load(Ordering::Relaxed), 1);
        assert_eq!(recoveries.load(Ordering::Relaxed), 0);

        primary.is_down.store(false, Ordering::Relaxed);
        block_on(limiter.clear("k")).unwrap();
        assert!(!limiter.is_degraded());
        assert_eq!(recoveries.load(Ordering::Relaxed), 1);
        primary.is_down.store(true, Ordering::Relaxed);
        block_on(limiter.check("k", LIMIT)).unwrap();
        assert_eq!(outages.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn an_unexpected_error_of_the_primary_is_not_hidden() {
        struct Broken;
        #[async_trait]
        impl RateLimiter for Broken {
            async fn hit(&self, _: &str, _: Limit) -> Result<Decision, PortError> {
                Err(PortError::Unexpected(anyhow::anyhow!("wrong type")))
            }
            async fn check(&self, _: &str, _: Limit) -> Result<Decision, PortError> {
                Err(PortError::Unexpected(anyhow::anyhow!("wrong type")))
            }
            async fn clear(&self, _: &str) -> Result<(), PortError> {
                Err(PortError::Unexpected(anyhow::anyhow!("wrong type")))
            }
            async fn forgive(&self, _: &str) -> Result<(), PortError> {
                Err(PortError::Unexpected(anyhow::anyhow!("wrong type")))
            }
        }
        let limiter = FallbackRateLimiter::new(Arc::new(Broken), MemoryRateLimiter::new(clock()));
        assert!(matches!(
            block_on(limiter.hit("k", LIMIT)),
            Err(PortError::Unexpected(_))
        ));
    }
}
