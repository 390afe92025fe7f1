//! `MemoryChallengeStore`: the `ChallengeStore` port in process memory (tests and the
//! embedded mode, where one process is the only instance).
//!
//! Semantics, shared with every adapter of the port (the contract suite checks them):
//! - an entry is live from its `put` until its ttl has passed (by the injected `Clock`, so a
//!   manual clock drives expiry in tests), or until it is taken or removed;
//! - `put` replaces whatever was under the key, failures back to zero;
//! - `take` removes the entry only when its value is the expected one (compared in constant
//!   time) and it has fewer failures than the caller allows; `fail` counts one more failure
//!   and keeps the entry's ttl.
//!
//! Every operation holds the one mutex from its read to its write, so a take is one atomic
//! conditional delete: of concurrent takes of one entry, exactly one answers `true`.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use subtle::ConstantTimeEq as _;
use twofa_domain::{ChallengeStore, Clock, PortError, StoredEntry};

/// Live entries a `MemoryChallengeStore` holds at most, unless built `with_max_entries`.
///
/// An entry is a key and a value of some 64 characters each: some 30 MB at the cap, far more
/// challenges and pending codes than one instance sees within their five minutes.
pub const DEFAULT_MAX_CHALLENGES: usize = 100_000;

/// What `PortError::Unavailable` names when the store is full.
const DEPENDENCY: &str = "challenge store";

/// One live entry and the instant it stops being live.
#[derive(Debug, Clone)]
struct Entry {
    value: String,
    failures: u32,
    until: DateTime<Utc>,
}

/// The entries by key, and the same keys ordered by the end of their entry: expired entries
/// are found without a scan.
#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<String, Entry>,
    by_until: BTreeSet<(DateTime<Utc>, String)>,
}

impl Entries {
    /// Forgets every entry whose time is up by `now`: each call removes only what expired, so
    /// the cost is spread over the calls and memory holds live entries only.
    fn prune(&mut self, now: DateTime<Utc>) {
        while let Some((until, _)) = self.by_until.first()
            && *until <= now
        {
            if let Some((_, key)) = self.by_until.pop_first() {
                self.by_key.remove(&key);
            }
        }
    }

    fn insert(&mut self, key: &str, entry: Entry) {
        self.remove(key);
        self.by_until.insert((entry.until, key.to_owned()));
        self.by_key.insert(key.to_owned(), entry);
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.by_key.remove(key)?;
        self.by_until.remove(&(entry.until, key.to_owned()));
        Some(entry)
    }
}

/// Challenges and pending codes in a map behind a mutex.
///
/// Memory stays bounded: entries whose time is up are dropped on every call, and at most
/// `max_entries` are live. When the store is full (after that drop), a `put` under a new key
/// is refused with `PortError::Unavailable` (the route answers 503 with `Retry-After`, and
/// room comes back as entries expire, within their ttl of minutes); a `put` that replaces an
/// entry still succeeds. Nothing live is ever evicted to make room: a refusal lets no one
/// through, since a challenge that was never stored can be neither answered nor taken.
pub struct MemoryChallengeStore {
    entries: Mutex<Entries>,
    clock: Arc<dyn Clock>,
    max_entries: usize,
}

impl std::fmt::Debug for MemoryChallengeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryChallengeStore")
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl MemoryChallengeStore {
    /// An empty store keeping time with `clock`, holding at most `DEFAULT_MAX_CHALLENGES`
    /// live entries.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_max_entries(clock, DEFAULT_MAX_CHALLENGES)
    }

    /// An empty store holding at most `max_entries` live entries (at least 1).
    pub fn with_max_entries(clock: Arc<dyn Clock>, max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            clock,
            max_entries: max_entries.max(1),
        }
    }

    /// Entries live now.
    pub fn live_entries(&self) -> usize {
        let now = self.clock.now();
        let mut entries = self.lock();
        entries.prune(now);
        entries.by_key.len()
    }

    /// The entries, expired ones dropped as of now.
    fn live(&self) -> MutexGuard<'_, Entries> {
        let now = self.clock.now();
        let mut entries = self.lock();
        entries.prune(now);
        entries
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic while the lock was held left the maps consistent enough: each step is one
        // insert or remove, and a stray index entry only expires early.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `now + ttl`, saturating at the end of time.
fn after(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[async_trait]
impl ChallengeStore for MemoryChallengeStore {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), PortError> {
        let now = self.clock.now();
        let until = after(now, ttl);
        let mut entries = self.live();
        let is_replacing = entries.remove(key).is_some();
        if until <= now {
            return Ok(());
        }
        if !is_replacing && entries.by_key.len() >= self.max_entries {
            return Err(PortError::Unavailable {
                dependency: DEPENDENCY,
                source: anyhow::anyhow!(
                    "the in-process challenge store is full ({} live entries); room comes back as they expire",
                    self.max_entries
                ),
            });
        }
        entries.insert(
            key,
            Entry {
                value: value.to_owned(),
                failures: 0,
                until,
            },
        );
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredEntry>, PortError> {
        Ok(self.live().by_key.get(key).map(|entry| StoredEntry {
            value: entry.value.clone(),
            failures: entry.failures,
        }))
    }

    async fn take(&self, key: &str, expected: &str, max_failures: u32) -> Result<bool, PortError> {
        let mut entries = self.live();
        let is_taken = entries.by_key.get(key).is_some_and(|entry| {
            let is_expected: bool = entry.value.as_bytes().ct_eq(expected.as_bytes()).into();
            is_expected && entry.failures < max_failures
        });
        if is_taken {
            entries.remove(key);
        }
        Ok(is_taken)
    }

    async fn fail(&self, key: &str) -> Result<Option<u32>, PortError> {
        Ok(self.live().by_key.get_mut(key).map(|entry| {
            entry.failures = entry.failures.saturating_add(1);
            entry.failures
        }))
    }

    async fn remove(&self, key: &str) -> Result<(), PortError> {
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::ManualClock;

    const TTL: Duration = Duration::from_mins(5);

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
                .unwrap()
                .to_utc(),
        ))
    }

    /// The `get` answer for a live entry.
    #[expect(clippy::unnecessary_wraps, reason = "compared with what `get` answers")]
    fn live(value: &str, failures: u32) -> Option<StoredEntry> {
        Some(StoredEntry {
            value: value.to_owned(),
            failures,
        })
    }

    #[test]
    fn a_put_entry_is_live_until_its_ttl_passes() {
        let clock = clock();
        let store = MemoryChallengeStore::new(clock.clone());
        block_on(store.put("a", "v", TTL)).unwrap();
        clock.advance(TimeDelta::seconds(299));
        assert_eq!(block_on(store.get("a")).unwrap(), live("v", 0));
        clock.advance(TimeDelta::seconds(1));
        assert_eq!(block_on(store.get("a")).unwrap(), None);
        assert!(!block_on(store.take("a", "v", 5)).unwrap());
        assert_eq!(block_on(store.fail("a")).unwrap(), None);
        assert_eq!(store.live_entries(), 0);
    }

    #[test]
    fn when_full_a_new_key_is_refused_as_unavailable_and_nothing_live_is_dropped() {
        let store = MemoryChallengeStore::with_max_entries(clock(), 2);
        block_on(store.put("a", "1", TTL)).unwrap();
        block_on(store.put("b", "2", TTL)).unwrap();
        let refused = block_on(store.put("c", "3", TTL));
        assert!(
            matches!(
                refused,
                Err(PortError::Unavailable {
                    dependency: "challenge store",
                    ..
                })
            ),
            "{refused:?}"
        );
        assert_eq!(block_on(store.get("c")).unwrap(), None);
        assert!(
            !block_on(store.take("c", "3", 5)).unwrap(),
            "a refused entry cannot be taken"
        );
        assert_eq!(block_on(store.get("a")).unwrap(), live("1", 0));
        assert_eq!(block_on(store.get("b")).unwrap(), live("2", 0));
    }

    #[test]
    fn when_full_an_entry_can_still_be_replaced() {
        let store = MemoryChallengeStore::with_max_entries(clock(), 2);
        block_on(store.put("a", "1", TTL)).unwrap();
        block_on(store.put("b", "2", TTL)).unwrap();
        block_on(store.fail("a")).unwrap();
        block_on(store.put("a", "again", TTL)).unwrap();
        assert_eq!(block_on(store.get("a")).unwrap(), live("again", 0));
        assert_eq!(store.live_entries(), 2);
    }

    #[test]
    fn when_full_expired_entries_make_room_first() {
        let clock = clock();
        let store = MemoryChallengeStore::with_max_entries(clock.clone(), 2);
        block_on(store.put("a", "1", Duration::from_secs(10))).unwrap();
        block_on(store.put("b", "2", TTL)).unwrap();
        clock.advance(TimeDelta::seconds(10));
        block_on(store.put("c", "3", TTL)).unwrap();
        assert_eq!(block_on(store.get("b")).unwrap(), live("2", 0));
        assert_eq!(block_on(store.get("c")).unwrap(), live("3", 0));
        assert_eq!(store.live_entries(), 2);
    }

    #[test]
    fn taken_and_removed_entries_make_room() {
        let store = MemoryChallengeStore::with_max_entries(clock(), 2);
        block_on(store.put("a", "1", TTL)).unwrap();
        block_on(store.put("b", "2", TTL)).unwrap();
        assert!(block_on(store.take("a", "1", 5)).unwrap());
        block_on(store.remove("b")).unwrap();
        block_on(store.put("c", "3", TTL)).unwrap();
        block_on(store.put("d", "4", TTL)).unwrap();
        assert_eq!(store.live_entries(), 2);
    }

    #[test]
    fn a_zero_ttl_stores_nothing_and_drops_what_was_there() {
        let store = MemoryChallengeStore::new(clock());
        block_on(store.put("a", "1", TTL)).unwrap();
        block_on(store.put("a", "2", Duration::ZERO)).unwrap();
        assert_eq!(block_on(store.get("a")).unwrap(), None);
        assert_eq!(store.live_entries(), 0);
    }

    #[test]
    fn a_value_of_another_length_or_a_prefix_is_not_taken() {
        let store = MemoryChallengeStore::new(clock());
        block_on(store.put("a", "123456", TTL)).unwrap();
        for wrong in ["", "12345", "1234567", "123457"] {
            assert!(!block_on(store.take("a", wrong, 5)).unwrap(), "{wrong:?}");
        }
        assert!(block_on(store.take("a", "123456", 5)).unwrap());
    }

    #[test]
    fn a_ttl_beyond_the_end_of_time_is_live_until_then() {
        let store = MemoryChallengeStore::new(clock());
        block_on(store.put("a", "1", Duration::MAX)).unwrap();
        assert_eq!(block_on(store.get("a")).unwrap(), live("1", 0));
    }
}
