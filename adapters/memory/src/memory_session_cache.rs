//! `MemorySessionCache`: the `SessionCache` port in process memory (tests and the embedded
//! mode, where one process is the only instance).
//!
//! Semantics, shared with every adapter of the port (the contract suite checks them):
//! - an answer is held for its ttl from the moment it is written, then is absent;
//! - a `Live` answer is never held past its session's `expires_at`: its ttl is cut there, and
//!   one whose session has already expired is not cached at all;
//! - `put_if_absent` writes nothing while any answer is held (a `Live` never replaces an
//!   `Ended`, nor an `Ended` a `Live`: only `end` does that);
//! - `end` replaces whatever is held with `Ended` for its ttl (a zero ttl just forgets it).
//!
//! Time comes from the injected `Clock`, so a manual clock drives expiry in tests.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{CachedSession, Clock, PortError, SessionCache, SessionId};

/// Answers a `MemorySessionCache` holds at most (bar `Ended` ones, see the type), unless built
/// `with_max_entries`.
///
/// About 100 bytes per entry: some 10 MB at the cap.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// One held answer and the instant it stops being held.
#[derive(Debug, Clone, Copy)]
struct Entry {
    answer: CachedSession,
    until: DateTime<Utc>,
}

/// The answers by session, and the same sessions ordered by the end of their entry, one set
/// per kind: expired entries are found without a scan, and so is the `Live` entry to give up
/// first.
#[derive(Debug, Default)]
struct Entries {
    by_id: HashMap<SessionId, Entry>,
    live_by_until: BTreeSet<(DateTime<Utc>, SessionId)>,
    ended_by_until: BTreeSet<(DateTime<Utc>, SessionId)>,
}

impl Entries {
    /// Forgets every entry whose time is up by `now`: each call removes only what expired, so
    /// the cost is spread over the calls and memory holds current answers only.
    fn prune(&mut self, now: DateTime<Utc>) {
        for index in [&mut self.live_by_until, &mut self.ended_by_until] {
            while let Some((until, _)) = index.first()
                && *until <= now
            {
                if let Some((_, id)) = index.pop_first() {
                    self.by_id.remove(&id);
                }
            }
        }
    }

    fn index(&mut self, answer: CachedSession) -> &mut BTreeSet<(DateTime<Utc>, SessionId)> {
        match answer {
            CachedSession::Live { .. } => &mut self.live_by_until,
            CachedSession::Ended => &mut self.ended_by_until,
        }
    }

    fn insert(&mut self, id: SessionId, entry: Entry) {
        self.remove(id);
        self.index(entry.answer).insert((entry.until, id));
        self.by_id.insert(id, entry);
    }

    fn remove(&mut self, id: SessionId) {
        if let Some(entry) = self.by_id.remove(&id) {
            self.index(entry.answer).remove(&(entry.until, id));
        }
    }

    /// Gives up the `Live` entry closest to its end (the one whose loss costs the least: it
    /// would soon be read again anyway); false when none is held.
    fn evict_one_live(&mut self) -> bool {
        match self.live_by_until.pop_first() {
            Some((_, id)) => {
                self.by_id.remove(&id);
                true
            }
            None => false,
        }
    }
}

/// Answers about sessions in a map behind a mutex: every operation is atomic, so `end` and
/// `put_if_absent` on one session never interleave.
///
/// Memory stays bounded: entries whose time is up are dropped on every call, and at most
/// `max_entries` are held. When the cache is full (after that drop), a `Live` answer is not
/// cached (the caller then asks the session repository: a miss costs a read, never a wrong
/// answer), while an `Ended` answer is always kept: it takes the place of the `Live` entry
/// closest to its end, or, when every entry held is `Ended`, goes beyond the cap. Losing an
/// `Ended` answer before its ttl ran would let a revoked session's access tokens through
/// again (a lookup racing the revocation could cache `Live`), and `Ended` entries are few: one
/// per session ended within the ttl.
pub struct MemorySessionCache {
    entries: Mutex<Entries>,
    clock: Arc<dyn Clock>,
    max_entries: usize,
}

impl std::fmt::Debug for MemorySessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionCache")
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl MemorySessionCache {
    /// An empty cache keeping time with `clock`, holding at most `DEFAULT_MAX_ENTRIES`
    /// answers.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_max_entries(clock, DEFAULT_MAX_ENTRIES)
    }

    /// An empty cache holding at most `max_entries` answers (at least 1), `Ended` ones aside.
    pub fn with_max_entries(clock: Arc<dyn Clock>, max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            clock,
            max_entries: max_entries.max(1),
        }
    }

    /// Answers currently held.
    pub fn held_entries(&self) -> usize {
        let now = self.clock.now();
        let mut entries = self.lock();
        entries.prune(now);
        entries.by_id.len()
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

/// Until when `answer`, written at `now` for `ttl`, is held: never past a `Live` session's
/// `expires_at`.
fn held_until(answer: CachedSession, now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    let until = after(now, ttl);
    match answer {
        CachedSession::Live { expires_at, .. } => until.min(expires_at),
        CachedSession::Ended => until,
    }
}

#[async_trait]
impl SessionCache for MemorySessionCache {
    async fn get(&self, id: SessionId) -> Result<Option<CachedSession>, PortError> {
        let now = self.clock.now();
        let mut entries = self.lock();
        entries.prune(now);
        Ok(entries.by_id.get(&id).map(|entry| entry.answer))
    }

    async fn put_if_absent(
        &self,
        id: SessionId,
        answer: CachedSession,
        ttl: Duration,
    ) -> Result<(), PortError> {
        let now = self.clock.now();
        let until = held_until(answer, now, ttl);
        let mut entries = self.lock();
        entries.prune(now);
        if until <= now || entries.by_id.contains_key(&id) {
            return Ok(());
        }
        if entries.by_id.len() >= self.max_entries {
            match answer {
                CachedSession::Live { .. } => return Ok(()),
                CachedSession::Ended => {
                    entries.evict_one_live();
                }
            }
        }
        entries.insert(id, Entry { answer, until });
        Ok(())
    }

    async fn end(&self, id: SessionId, ttl: Duration) -> Result<(), PortError> {
        let now = self.clock.now();
        let answer = CachedSession::Ended;
        let until = held_until(answer, now, ttl);
        let mut entries = self.lock();
        entries.prune(now);
        entries.remove(id);
        if until > now {
            if entries.by_id.len() >= self.max_entries {
                entries.evict_one_live();
            }
            entries.insert(id, Entry { answer, until });
        }
        Ok(())
    }

    async fn forget(&self, id: SessionId) -> Result<(), PortError> {
        self.lock().remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use twofa_domain::UserId;

    use super::*;
    use crate::ManualClock;

    const MINUTE: Duration = Duration::from_mins(1);

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(start()))
    }

    fn sid(n: u128) -> SessionId {
        SessionId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn live() -> CachedSession {
        CachedSession::Live {
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(7)),
            expires_at: start() + TimeDelta::days(30),
        }
    }

    #[test]
    fn expired_entries_are_dropped_so_memory_holds_current_answers_only() {
        let clock = clock();
        let cache = MemorySessionCache::new(clock.clone());
        for n in 0..1000 {
            block_on(cache.put_if_absent(sid(n), live(), MINUTE)).unwrap();
            block_on(cache.end(sid(n + 1000), MINUTE)).unwrap();
        }
        assert_eq!(cache.held_entries(), 2000);
        clock.advance(TimeDelta::seconds(60));
        block_on(cache.put_if_absent(sid(5000), live(), MINUTE)).unwrap();
        assert_eq!(cache.held_entries(), 1);
    }

    #[test]
    fn when_full_a_live_answer_is_not_cached() {
        let clock = clock();
        let cache = MemorySessionCache::with_max_entries(clock, 2);
        block_on(cache.put_if_absent(sid(1), live(), MINUTE)).unwrap();
        block_on(cache.end(sid(2), MINUTE)).unwrap();
        block_on(cache.put_if_absent(sid(3), live(), MINUTE)).unwrap();
        assert_eq!(block_on(cache.get(sid(1))).unwrap(), Some(live()));
        assert_eq!(
            block_on(cache.get(sid(2))).unwrap(),
            Some(CachedSession::Ended)
        );
        assert_eq!(block_on(cache.get(sid(3))).unwrap(), None);
    }

    #[test]
    fn when_full_an_expired_entry_makes_room_first() {
        let clock = clock();
        let cache = MemorySessionCache::with_max_entries(clock.clone(), 2);
        block_on(cache.put_if_absent(sid(1), live(), Duration::from_secs(10))).unwrap();
        block_on(cache.put_if_absent(sid(2), live(), MINUTE)).unwrap();
        clock.advance(TimeDelta::seconds(10));
        block_on(cache.put_if_absent(sid(3), live(), MINUTE)).unwrap();
        assert_eq!(block_on(cache.get(sid(2))).unwrap(), Some(live()));
        assert_eq!(block_on(cache.get(sid(3))).unwrap(), Some(live()));
    }

    #[test]
    fn when_full_an_ended_answer_takes_the_place_of_the_live_one_closest_to_its_end() {
        let clock = clock();
        let cache = MemorySessionCache::with_max_entries(clock, 2);
        block_on(cache.put_if_absent(sid(1), live(), MINUTE * 2)).unwrap();
        block_on(cache.put_if_absent(sid(2), live(), MINUTE)).unwrap();
        block_on(cache.end(sid(3), MINUTE)).unwrap();
        block_on(cache.put_if_absent(sid(4), CachedSession::Ended, MINUTE)).unwrap();
        assert_eq!(cache.held_entries(), 2);
        assert_eq!(
            block_on(cache.get(sid(3))).unwrap(),
            Some(CachedSession::Ended)
        );
        assert_eq!(
            block_on(cache.get(sid(4))).unwrap(),
            Some(CachedSession::Ended)
        );
    }

    #[test]
    fn an_ended_answer_is_never_dropped_to_make_room() {
        let clock = clock();
        let cache = MemorySessionCache::with_max_entries(clock.clone(), 2);
        for n in 1..=4 {
            block_on(cache.end(sid(n), MINUTE)).unwrap();
        }
        block_on(cache.put_if_absent(sid(5), live(), MINUTE)).unwrap();
        assert_eq!(cache.held_entries(), 4);
        for n in 1..=4 {
            assert_eq!(
                block_on(cache.get(sid(n))).unwrap(),
                Some(CachedSession::Ended)
            );
        }
        assert_eq!(block_on(cache.get(sid(5))).unwrap(), None);
        clock.advance(TimeDelta::seconds(60));
        assert_eq!(cache.held_entries(), 0);
    }

    #[test]
    fn ending_with_no_ttl_forgets_the_answer() {
        let cache = MemorySessionCache::new(clock());
        block_on(cache.put_if_absent(sid(1), live(), MINUTE)).unwrap();
        block_on(cache.end(sid(1), Duration::ZERO)).unwrap();
        assert_eq!(block_on(cache.get(sid(1))).unwrap(), None);
        assert_eq!(cache.held_entries(), 0);
    }

    #[test]
    fn a_ttl_beyond_the_end_of_time_is_held_until_then() {
        let cache = MemorySessionCache::new(clock());
        block_on(cache.end(sid(1), Duration::MAX)).unwrap();
        assert_eq!(
            block_on(cache.get(sid(1))).unwrap(),
            Some(CachedSession::Ended)
        );
    }
}
