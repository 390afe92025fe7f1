//! The `ChallengeStore` contract: an absent key has no entry; a put entry is got back with no
//! failures until its ttl passes; `put` replaces an entry, its failures and its ttl; `take`
//! with the expected value removes the entry once, with another value changes nothing, and is
//! refused once the entry has `max_failures` failures; `fail` counts and keeps the entry and
//! its ttl, and answers `None` where nothing is live; handles on one store share entries; of
//! concurrent takes of one entry over two handles exactly one succeeds, and concurrent
//! failures are all counted.
//!
//! Time passes through the backend ([`ChallengeStoreBackend::let_time_pass`]): the manual
//! clock drives the memory adapter's expiry, while Redis expires keys by its own clock, so its
//! backend makes the same time pass for the keys it holds.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_domain::{ChallengeStore, StoredEntry};
use twofa_memory::ManualClock;

/// A backend under test.
#[async_trait]
pub trait ChallengeStoreBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would).
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn ChallengeStore>, Arc<dyn ChallengeStore>);

    /// Lets `by` pass for `clock` and for the store opened last: a store that expires entries
    /// by a clock of its own (Redis) takes `by` off every entry's time to live, dropping those
    /// whose time is up, as its clock would after `by`.
    async fn let_time_pass(&self, clock: &ManualClock, by: TimeDelta);
}

/// The lifetime of a challenge.
const TTL: Duration = Duration::from_mins(5);
/// The wrong answers a challenge allows.
const MAX_FAILURES: u32 = 5;

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

/// What `get` answers for a live entry of `value` with `failures`.
#[expect(clippy::unnecessary_wraps, reason = "compared with what `get` answers")]
fn live(value: &str, failures: u32) -> Option<StoredEntry> {
    Some(StoredEntry {
        value: value.to_owned(),
        failures,
    })
}

async fn one(backend: &dyn ChallengeStoreBackend) -> (Arc<dyn ChallengeStore>, Arc<ManualClock>) {
    let clock = super::clock();
    let (store, _) = backend.open(clock.clone()).await;
    (store, clock)
}

/// Nothing is live under a key no one put: `get` answers `None`, `take` false, `fail` `None`
/// (and creates nothing), `remove` succeeds.
pub async fn an_absent_key_has_no_entry(backend: &dyn ChallengeStoreBackend) {
    let (store, _) = one(backend).await;
    store.put("present", "v", TTL).await.unwrap();
    assert_eq!(store.get("absent").await.unwrap(), None);
    assert!(!store.take("absent", "v", MAX_FAILURES).await.unwrap());
    assert_eq!(store.fail("absent").await.unwrap(), None);
    assert_eq!(
        store.get("absent").await.unwrap(),
        None,
        "a failure where nothing was live stores nothing"
    );
    store.remove("absent").await.unwrap();
    assert_eq!(store.get("present").await.unwrap(), live("v", 0));
}

/// A put entry is got back as put, with no failures, and `get` changes nothing; keys are
/// independent.
pub async fn a_put_entry_is_got_back_with_no_failures(backend: &dyn ChallengeStoreBackend) {
    let (store, _) = one(backend).await;
    let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    store.put("login:a", digest, TTL).await.unwrap();
    store.put("login:b", "other", TTL).await.unwrap();
    assert_eq!(store.get("login:a").await.unwrap(), live(digest, 0));
    assert_eq!(store.get("login:a").await.unwrap(), live(digest, 0));
    assert_eq!(store.get("login:b").await.unwrap(), live("other", 0));
    store.fail("login:b").await.unwrap();
    assert!(store.take("login:b", "other", MAX_FAILURES).await.unwrap());
    assert_eq!(
        store.get("login:a").await.unwrap(),
        live(digest, 0),
        "what happens to one key leaves the others alone"
    );
}

/// `put` over a live entry replaces its value, sets its failures back to zero and starts its
/// ttl afresh; the old value is no longer taken.
pub async fn put_replaces_the_entry_and_resets_its_failures(backend: &dyn ChallengeStoreBackend) {
    let (store, clock) = one(backend).await;
    store
        .put("otp:u1", "old", Duration::from_mins(1))
        .await
        .unwrap();
    store.fail("otp:u1").await.unwrap();
    store.fail("otp:u1").await.unwrap();
    assert_eq!(store.get("otp:u1").await.unwrap(), live("old", 2));
    store.put("otp:u1", "new", TTL).await.unwrap();
    assert_eq!(store.get("otp:u1").await.unwrap(), live("new", 0));
    backend.let_time_pass(&clock, secs(120)).await;
    assert_eq!(
        store.get("otp:u1").await.unwrap(),
        live("new", 0),
        "the new ttl, not the replaced entry's"
    );
    assert!(!store.take("otp:u1", "old", MAX_FAILURES).await.unwrap());
    assert!(store.take("otp:u1", "new", MAX_FAILURES).await.unwrap());
}

/// `take` with the expected value removes the entry and answers true, once: a second take,
/// `get` and `fail` find nothing.
pub async fn take_with_the_right_value_succeeds_once(backend: &dyn ChallengeStoreBackend) {
    let (store, _) = one(backend).await;
    store.put("login:a", "v", TTL).await.unwrap();
    store.fail("login:a").await.unwrap();
    assert!(store.take("login:a", "v", MAX_FAILURES).await.unwrap());
    assert!(!store.take("login:a", "v", MAX_FAILURES).await.unwrap());
    assert_eq!(store.get("login:a").await.unwrap(), None);
    assert_eq!(store.fail("login:a").await.unwrap(), None);
}

/// `take` with another value (or a prefix, or an extension of it) answers false and changes
/// nothing: the entry stays, its failures too (counting them is the caller's `fail`).
pub async fn take_with_a_wrong_value_changes_nothing(backend: &dyn ChallengeStoreBackend) {
    let (store, _) = one(backend).await;
    store.put("otp:u1", "123456", TTL).await.unwrap();
    for wrong in ["654321", "12345", "1234567", "", "123456 "] {
        assert!(
            !store.take("otp:u1", wrong, MAX_FAILURES).await.unwrap(),
            "{wrong:?}"
        );
    }
    assert_eq!(store.get("otp:u1").await.unwrap(), live("123456", 0));
    assert!(store.take("otp:u1", "123456", MAX_FAILURES).await.unwrap());
}

/// Once an entry has `max_failures` failures, `take` refuses even the right value and leaves
/// the entry; with a higher allowance the same entry is taken. No allowance takes nothing.
pub async fn take_is_refused_at_max_failures(backend: &dyn ChallengeStoreBackend) {
    let (store, _) = one(backend).await;
    store.put("login:a", "v", TTL).await.unwrap();
    assert!(!store.take("login:a", "v", 0).await.unwrap());
    for _ in 0..2 {
        store.fail("login:a").await.unwrap();
    }
    assert!(
        !store.take("login:a", "v", 1).await.unwrap(),
        "2 failures of 1 allowed"
    );
    store.fail("login:a").await.unwrap();
    assert!(
        !store.take("login:a", "v", 3).await.unwrap(),
        "3 failures of 3 allowed"
    );
    assert_eq!(store.get("login:a").await.unwrap(), live("v", 3));
    assert!(
        store.take("login:a", "v", 4).await.unwrap(),
        "3 failures, fewer than 4"
    );
}

/// `fail` answers the failures counted so far, one more each call, keeping the entry and its
/// value.
pub async fn fail_counts_and_keeps_the_entry(backend: &dyn ChallengeStoreBackend) {
    let (store, _) = one(backend).await;
    store.put("otp:u1", "v", TTL).await.unwrap();
    for expected in 1..=7 {
        assert_eq!(store.fail("otp:u1").await.unwrap(), Some(expected));
    }
    assert_eq!(store.get("otp:u1").await.unwrap(), live("v", 7));
}

/// An entry is live until its ttl has passed, then absent to every operation; `fail` does not
/// bring it back.
pub async fn an_entry_expires_after_its_ttl(backend: &dyn ChallengeStoreBackend) {
    let (store, clock) = one(backend).await;
    store
        .put("short", "v", Duration::from_mins(1))
        .await
        .unwrap();
    store.put("long", "w", TTL).await.unwrap();
    backend.let_time_pass(&clock, secs(59)).await;
    assert_eq!(store.get("short").await.unwrap(), live("v", 0));
    backend.let_time_pass(&clock, secs(1)).await;
    assert_eq!(store.get("short").await.unwrap(), None);
    assert_eq!(store.fail("short").await.unwrap(), None);
    assert!(!store.take("short", "v", MAX_FAILURES).await.unwrap());
    assert_eq!(store.get("short").await.unwrap(), None);
    assert_eq!(store.get("long").await.unwrap(), live("w", 0));
    backend.let_time_pass(&clock, secs(240)).await;
    assert_eq!(store.get("long").await.unwrap(), None);
    store.put("short", "again", TTL).await.unwrap();
    assert_eq!(
        store.get("short").await.unwrap(),
        live("again", 0),
        "an expired entry holds nothing back"
    );
}

/// Failures do not extend an entry's life: it ends when its ttl from the `put` ends.
pub async fn failures_keep_the_entrys_ttl(backend: &dyn ChallengeStoreBackend) {
    let (store, clock) = one(backend).await;
    store.put("login:a", "v", TTL).await.unwrap();
    backend.let_time_pass(&clock, secs(240)).await;
    assert_eq!(store.fail("login:a").await.unwrap(), Some(1));
    backend.let_time_pass(&clock, secs(59)).await;
    assert_eq!(store.get("login:a").await.unwrap(), live("v", 1));
    backend.let_time_pass(&clock, secs(1)).await;
    assert_eq!(store.get("login:a").await.unwrap(), None);
}

/// `remove` drops the entry whatever its value; removing nothing succeeds.
pub async fn remove_drops_the_entry(backend: &dyn ChallengeStoreBackend) {
    let (store, _) = one(backend).await;
    store.put("login:a", "v", TTL).await.unwrap();
    store.put("login:b", "w", TTL).await.unwrap();
    store.remove("login:a").await.unwrap();
    store.remove("login:a").await.unwrap();
    assert_eq!(store.get("login:a").await.unwrap(), None);
    assert!(!store.take("login:a", "v", MAX_FAILURES).await.unwrap());
    assert_eq!(store.get("login:b").await.unwrap(), live("w", 0));
}

/// What one handle writes, the other reads, counts against and takes (instances share one
/// store).
pub async fn what_one_handle_writes_the_other_reads(backend: &dyn ChallengeStoreBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock).await;
    a.put("login:a", "v", TTL).await.unwrap();
    assert_eq!(b.get("login:a").await.unwrap(), live("v", 0));
    assert_eq!(b.fail("login:a").await.unwrap(), Some(1));
    assert_eq!(a.get("login:a").await.unwrap(), live("v", 1));
    assert!(b.take("login:a", "v", MAX_FAILURES).await.unwrap());
    assert!(!a.take("login:a", "v", MAX_FAILURES).await.unwrap());
    assert_eq!(a.get("login:a").await.unwrap(), None);
}

/// Many takes of each of several entries, with the right value, at once over two handles:
/// exactly one per entry answers true, and the entry is gone.
pub async fn concurrent_takes_of_one_entry_let_exactly_one_through(
    backend: &dyn ChallengeStoreBackend,
) {
    let clock = super::clock();
    let (a, b) = backend.open(clock).await;
    let entries: Vec<String> = (0..10).map(|n| format!("login:{n}")).collect();
    for key in &entries {
        a.put(key, "v", TTL).await.unwrap();
    }
    let mut tasks = Vec::new();
    for key in &entries {
        for attempt in 0..16 {
            let store = if attempt % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                let is_taken = store.take(&key, "v", MAX_FAILURES).await.unwrap();
                (key, is_taken)
            }));
        }
    }
    let mut taken = Vec::new();
    for task in tasks {
        let (key, is_taken) = task.await.unwrap();
        if is_taken {
            taken.push(key);
        }
    }
    taken.sort();
    let mut expected = entries.clone();
    expected.sort();
    assert_eq!(taken, expected, "each entry taken exactly once");
    for key in &entries {
        assert_eq!(b.get(key).await.unwrap(), None, "{key}");
    }
}

/// Failures counted at once over two handles are all counted, each call answering a count of
/// its own.
pub async fn concurrent_failures_are_all_counted(backend: &dyn ChallengeStoreBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock).await;
    a.put("otp:u1", "v", TTL).await.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { store.fail("otp:u1").await.unwrap() })
        })
        .collect();
    let mut answers = BTreeSet::new();
    for task in tasks {
        answers.insert(task.await.unwrap().unwrap());
    }
    assert_eq!(answers, (1..=40).collect::<BTreeSet<u32>>());
    assert_eq!(a.get("otp:u1").await.unwrap(), live("v", 40));
}

/// Instantiates the contract for a backend: `challenge_store_contract!(MyBackend);` inside a
/// module of an integration test (the expression is evaluated afresh for every case).
#[macro_export]
macro_rules! challenge_store_contract {
    ($backend:expr) => {
        $crate::challenge_store_contract!(@cases $backend;
            an_absent_key_has_no_entry,
            a_put_entry_is_got_back_with_no_failures,
            put_replaces_the_entry_and_resets_its_failures,
            take_with_the_right_value_succeeds_once,
            take_with_a_wrong_value_changes_nothing,
            take_is_refused_at_max_failures,
            fail_counts_and_keeps_the_entry,
            an_entry_expires_after_its_ttl,
            failures_keep_the_entrys_ttl,
            remove_drops_the_entry,
            what_one_handle_writes_the_other_reads,
        );
        $crate::challenge_store_contract!(@concurrent $backend;
            concurrent_takes_of_one_entry_let_exactly_one_through,
            concurrent_failures_are_all_counted,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::challenge_store::$case(&$backend).await;
            }
        )*
    };
    (@concurrent $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::contract::challenge_store::$case(&$backend).await;
            }
        )*
    };
}
