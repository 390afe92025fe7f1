//! The `SessionCache` contract: an unknown session is absent; an answer is got back until its
//! ttl passes; `put_if_absent` never overwrites a held answer (`Live` never replaces `Ended`);
//! `end` replaces a `Live` answer for its own ttl; handles on one store share answers; a `Live`
//! answer never outlives its session's `expires_at`; and of a lookup racing an `end` over two
//! handles, the `end` always wins.
//!
//! Time passes through the backend ([`SessionCacheBackend::let_time_pass`]): the manual clock
//! drives the memory adapter's expiry, while Redis expires keys by its own clock, so its
//! backend makes the same time pass for the keys it holds.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{CachedSession, Clock as _, SessionCache, SessionId, UserId};
use twofa_memory::ManualClock;

/// A backend under test.
#[async_trait]
pub trait SessionCacheBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would).
    async fn open(&self, clock: Arc<ManualClock>)
    -> (Arc<dyn SessionCache>, Arc<dyn SessionCache>);

    /// Lets `by` pass for `clock` and for the store opened last: a store that expires entries
    /// by a clock of its own (Redis) takes `by` off every entry's time to live, dropping those
    /// whose time is up, as its clock would after `by`.
    async fn let_time_pass(&self, clock: &ManualClock, by: TimeDelta);
}

/// The session numbered `n` (any number: the cache knows nothing of the repository).
pub fn sid(n: u128) -> SessionId {
    SessionId::from_uuid(uuid::Uuid::from_u128(0x5e55_0000 + n))
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(n))
}

/// A live answer for a session of `user(owner)` ending at `expires_at`.
fn live(owner: u128, expires_at: DateTime<Utc>) -> CachedSession {
    CachedSession::Live {
        user_id: user(owner),
        expires_at,
    }
}

/// The ttl of a lookup's answer.
const TTL: Duration = Duration::from_mins(1);
/// The ttl of an end: an access token's lifetime.
const ENDED_TTL: Duration = Duration::from_mins(15);

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// A session ending in 30 days.
fn far(clock: &ManualClock) -> DateTime<Utc> {
    clock.now() + TimeDelta::days(30)
}

async fn one(backend: &dyn SessionCacheBackend) -> (Arc<dyn SessionCache>, Arc<ManualClock>) {
    let clock = super::clock();
    let (cache, _) = backend.open(clock.clone()).await;
    (cache, clock)
}

/// Nothing is held for a session no one cached, even next to one that was.
pub async fn an_unknown_session_is_absent(backend: &dyn SessionCacheBackend) {
    let (cache, clock) = one(backend).await;
    assert_eq!(cache.get(sid(1)).await.unwrap(), None);
    cache
        .put_if_absent(sid(1), live(1, far(&clock)), TTL)
        .await
        .unwrap();
    cache.end(sid(2), ENDED_TTL).await.unwrap();
    assert_eq!(cache.get(sid(3)).await.unwrap(), None);
}

/// A `Live` or `Ended` answer put where nothing was is got back as put, until its ttl passes.
pub async fn a_put_answer_is_got_back_until_its_ttl_passes(backend: &dyn SessionCacheBackend) {
    let (cache, clock) = one(backend).await;
    let answer = live(1, far(&clock));
    cache.put_if_absent(sid(1), answer, TTL).await.unwrap();
    cache
        .put_if_absent(sid(2), CachedSession::Ended, TTL * 2)
        .await
        .unwrap();
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(answer));
    assert_eq!(cache.get(sid(2)).await.unwrap(), Some(CachedSession::Ended));

    backend.let_time_pass(&clock, secs(59)).await;
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(answer));
    backend.let_time_pass(&clock, secs(1)).await;
    assert_eq!(cache.get(sid(1)).await.unwrap(), None);
    assert_eq!(cache.get(sid(2)).await.unwrap(), Some(CachedSession::Ended));
    backend.let_time_pass(&clock, secs(59)).await;
    assert_eq!(cache.get(sid(2)).await.unwrap(), Some(CachedSession::Ended));
    backend.let_time_pass(&clock, secs(1)).await;
    assert_eq!(cache.get(sid(2)).await.unwrap(), None);

    let later = live(1, far(&clock));
    cache.put_if_absent(sid(1), later, TTL).await.unwrap();
    assert_eq!(
        cache.get(sid(1)).await.unwrap(),
        Some(later),
        "an expired answer holds nothing back"
    );
}

/// Once an answer is held, `put_if_absent` changes nothing: not another `Live` answer, not
/// `Ended` over `Live`, and above all not `Live` over `Ended`, nor does it extend the ttl.
pub async fn put_if_absent_does_not_overwrite_an_existing_answer(
    backend: &dyn SessionCacheBackend,
) {
    let (cache, clock) = one(backend).await;
    let first = live(1, far(&clock));
    cache.put_if_absent(sid(1), first, TTL).await.unwrap();
    backend.let_time_pass(&clock, secs(30)).await;
    cache
        .put_if_absent(sid(1), live(2, far(&clock)), TTL)
        .await
        .unwrap();
    cache
        .put_if_absent(sid(1), CachedSession::Ended, TTL)
        .await
        .unwrap();
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(first));
    backend.let_time_pass(&clock, secs(30)).await;
    assert_eq!(
        cache.get(sid(1)).await.unwrap(),
        None,
        "the first answer's ttl was kept"
    );

    cache.end(sid(2), ENDED_TTL).await.unwrap();
    cache
        .put_if_absent(sid(2), live(1, far(&clock)), TTL)
        .await
        .unwrap();
    assert_eq!(cache.get(sid(2)).await.unwrap(), Some(CachedSession::Ended));
    cache
        .put_if_absent(sid(3), CachedSession::Ended, TTL)
        .await
        .unwrap();
    cache
        .put_if_absent(sid(3), live(1, far(&clock)), TTL)
        .await
        .unwrap();
    assert_eq!(cache.get(sid(3)).await.unwrap(), Some(CachedSession::Ended));
}

/// `end` puts `Ended` over a `Live` answer, held for the end's ttl (not the replaced answer's);
/// it also records an end where nothing was held, and a later end starts its ttl afresh.
pub async fn end_replaces_a_live_answer(backend: &dyn SessionCacheBackend) {
    let (cache, clock) = one(backend).await;
    cache
        .put_if_absent(sid(1), live(1, far(&clock)), TTL)
        .await
        .unwrap();
    cache.end(sid(1), ENDED_TTL).await.unwrap();
    cache.end(sid(2), ENDED_TTL).await.unwrap();
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(CachedSession::Ended));
    assert_eq!(cache.get(sid(2)).await.unwrap(), Some(CachedSession::Ended));

    backend.let_time_pass(&clock, secs(60)).await;
    assert_eq!(
        cache.get(sid(1)).await.unwrap(),
        Some(CachedSession::Ended),
        "the end's ttl, not the live answer's"
    );
    cache.end(sid(2), ENDED_TTL).await.unwrap();
    backend.let_time_pass(&clock, secs(14 * 60 - 1)).await;
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(CachedSession::Ended));
    backend.let_time_pass(&clock, secs(1)).await;
    assert_eq!(cache.get(sid(1)).await.unwrap(), None);
    assert_eq!(
        cache.get(sid(2)).await.unwrap(),
        Some(CachedSession::Ended),
        "ended again a minute later"
    );
    backend.let_time_pass(&clock, secs(60)).await;
    assert_eq!(cache.get(sid(2)).await.unwrap(), None);
}

/// `forget` drops a held answer, `Ended` included, so a later lookup's answer is stored again;
/// forgetting what is not held does nothing.
pub async fn forget_drops_the_held_answer(backend: &dyn SessionCacheBackend) {
    let (cache, clock) = one(backend).await;
    cache.end(sid(1), ENDED_TTL).await.unwrap();
    cache.forget(sid(1)).await.unwrap();
    cache.forget(sid(2)).await.unwrap();
    assert_eq!(cache.get(sid(1)).await.unwrap(), None);
    let answer = live(1, far(&clock));
    cache.put_if_absent(sid(1), answer, TTL).await.unwrap();
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(answer));
}

/// What one handle writes, the other reads (two instances share one store).
pub async fn what_one_handle_writes_the_other_reads(backend: &dyn SessionCacheBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock.clone()).await;
    let answer = live(1, far(&clock));
    a.put_if_absent(sid(1), answer, TTL).await.unwrap();
    assert_eq!(b.get(sid(1)).await.unwrap(), Some(answer));
    b.put_if_absent(sid(1), live(2, far(&clock)), TTL)
        .await
        .unwrap();
    assert_eq!(a.get(sid(1)).await.unwrap(), Some(answer));

    b.end(sid(1), ENDED_TTL).await.unwrap();
    assert_eq!(a.get(sid(1)).await.unwrap(), Some(CachedSession::Ended));
    a.put_if_absent(sid(1), answer, TTL).await.unwrap();
    assert_eq!(b.get(sid(1)).await.unwrap(), Some(CachedSession::Ended));
}

/// A `Live` answer is dropped when its session expires, however long its ttl; one whose
/// session has already expired is not cached at all (a later answer is then stored).
pub async fn a_live_answer_never_outlives_its_session(backend: &dyn SessionCacheBackend) {
    let (cache, clock) = one(backend).await;
    let answer = live(1, clock.now() + secs(30));
    cache.put_if_absent(sid(1), answer, TTL * 5).await.unwrap();
    backend.let_time_pass(&clock, secs(29)).await;
    assert_eq!(cache.get(sid(1)).await.unwrap(), Some(answer));
    backend.let_time_pass(&clock, secs(1)).await;
    assert_eq!(cache.get(sid(1)).await.unwrap(), None);

    for (n, expires_at) in [(2, clock.now()), (3, clock.now() - secs(1))] {
        cache
            .put_if_absent(sid(n), live(1, expires_at), TTL)
            .await
            .unwrap();
        assert_eq!(cache.get(sid(n)).await.unwrap(), None, "session {n}");
        cache
            .put_if_absent(sid(n), CachedSession::Ended, TTL)
            .await
            .unwrap();
        assert_eq!(
            cache.get(sid(n)).await.unwrap(),
            Some(CachedSession::Ended),
            "the expired live answer was not stored: session {n}"
        );
    }
}

/// Many lookups caching `Live` concurrently with one `end`, over two handles: whatever the
/// order, `Ended` is what stays held.
pub async fn a_lookup_racing_an_end_never_puts_live_back(backend: &dyn SessionCacheBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock.clone()).await;
    let expires_at = far(&clock);
    let sessions: Vec<u128> = (1..=10).collect();
    let mut tasks = Vec::new();
    for &n in &sessions {
        for lookup in 0..20 {
            let cache = if lookup % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            tasks.push(tokio::spawn(async move {
                cache
                    .put_if_absent(sid(n), live(1, expires_at), TTL)
                    .await
                    .unwrap();
            }));
            if lookup == 10 {
                let cache = if n % 2 == 0 { b.clone() } else { a.clone() };
                tasks.push(tokio::spawn(async move {
                    cache.end(sid(n), ENDED_TTL).await.unwrap();
                }));
            }
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for n in sessions {
        assert_eq!(
            a.get(sid(n)).await.unwrap(),
            Some(CachedSession::Ended),
            "session {n}"
        );
    }
}

/// Instantiates the contract for a backend: `session_cache_contract!(MyBackend);` inside a
/// module of an integration test (the expression is evaluated afresh for every case).
#[macro_export]
macro_rules! session_cache_contract {
    ($backend:expr) => {
        $crate::session_cache_contract!(@cases $backend;
            an_unknown_session_is_absent,
            a_put_answer_is_got_back_until_its_ttl_passes,
            put_if_absent_does_not_overwrite_an_existing_answer,
            end_replaces_a_live_answer,
            forget_drops_the_held_answer,
            what_one_handle_writes_the_other_reads,
            a_live_answer_never_outlives_its_session,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_lookup_racing_an_end_never_puts_live_back() {
            $crate::contract::session_cache::a_lookup_racing_an_end_never_puts_live_back(&$backend)
                .await;
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::session_cache::$case(&$backend).await;
            }
        )*
    };
}
