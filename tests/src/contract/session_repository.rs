//! The `SessionRepository` contract: every field round-trips; rotation keeps the session id
//! and moves its expiry; a rotated token presented after the grace revokes the whole session,
//! within the grace it is honoured once more (two tabs) and a third presentation is reuse; no
//! grace means immediate reuse; unknown and ended sessions; concurrent rotations of one token
//! from two handles; revocation by the owner only, of all but the current session; the active
//! list; the purge.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{
    Clock as _, NewSession, PresentedToken, RefreshTokenHash, RotateOutcome, Session, SessionId,
    SessionRepository, UserId,
};
use twofa_memory::ManualClock;

/// A backend under test.
#[async_trait]
pub trait SessionRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, in which the accounts [`user`]`(1)`
    /// through [`user`]`(3)` exist (where sessions need an account), and two handles on it
    /// (separate connections where the backend has them, as two processes would).
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn SessionRepository>, Arc<dyn SessionRepository>);
}

/// The accounts a backend's store must hold: `user(1)` through `user(3)`.
pub fn user(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(n))
}

fn sid(n: u128) -> SessionId {
    SessionId::from_uuid(uuid::Uuid::from_u128(0x5e55_0000 + n))
}

fn hash(n: u32) -> RefreshTokenHash {
    let mut bytes = [0x42; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    RefreshTokenHash::from_bytes(bytes)
}

const NO_GRACE: Duration = Duration::ZERO;
const GRACE: Duration = Duration::from_secs(10);

fn new_session(n: u128, owner: u128, expires_at: DateTime<Utc>) -> NewSession {
    NewSession {
        id: sid(n),
        user_id: user(owner),
        amr: vec!["pwd".to_owned(), "mfa".to_owned(), "otp".to_owned()],
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
        expires_at,
    }
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

async fn one(
    backend: &dyn SessionRepositoryBackend,
) -> (Arc<dyn SessionRepository>, Arc<ManualClock>) {
    let clock = super::clock();
    let (sessions, _) = backend.open(clock.clone()).await;
    (sessions, clock)
}

/// A session of `user(1)` expiring in 30 days, whose first token is `hash(first)`.
async fn started(
    sessions: &dyn SessionRepository,
    clock: &ManualClock,
    n: u128,
    first: u32,
) -> Session {
    let new = new_session(n, 1, clock.now() + days(30));
    sessions.create(new, hash(first)).await.unwrap()
}

fn rotated(outcome: RotateOutcome) -> Session {
    match outcome {
        RotateOutcome::Rotated(session) => session,
        other @ (RotateOutcome::Reused(_) | RotateOutcome::NotFound | RotateOutcome::Inactive) => {
            panic!("expected Rotated, got {other:?}")
        }
    }
}

fn reused(outcome: RotateOutcome) -> Session {
    match outcome {
        RotateOutcome::Reused(session) => session,
        other @ (RotateOutcome::Rotated(_) | RotateOutcome::NotFound | RotateOutcome::Inactive) => {
            panic!("expected Reused, got {other:?}")
        }
    }
}

fn ids(sessions: &[Session]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id).collect()
}

/// `create` returns the session as stored, and `find` gives back every field.
pub async fn creates_and_finds_every_field(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    let new = new_session(1, 1, clock.now() + days(30));
    let created = sessions.create(new.clone(), hash(1)).await.unwrap();
    assert_eq!(created, new.into_session(clock.now()));
    assert_eq!(sessions.find(sid(1)).await.unwrap(), Some(created));

    let bare = NewSession {
        amr: vec!["pwd".to_owned()],
        ip: Some("2001:db8::1".parse().unwrap()),
        user_agent: None,
        ..new_session(2, 2, clock.now() + days(1))
    };
    let created = sessions.create(bare.clone(), hash(2)).await.unwrap();
    let found = sessions.find(sid(2)).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert_eq!(found.amr, ["pwd"]);
    assert_eq!(found.ip, bare.ip);
    assert_eq!(found.user_agent, None);
    assert_eq!(found.revoked_at, None);

    let anonymous = NewSession {
        ip: None,
        ..new_session(3, 1, clock.now() + days(1))
    };
    let created = sessions.create(anonymous, hash(3)).await.unwrap();
    assert_eq!(sessions.find(sid(3)).await.unwrap(), Some(created));

    assert_eq!(sessions.find(sid(4)).await.unwrap(), None);
}

/// A current token rotates into the next one: same session, new expiry, `last_used_at` now;
/// the next token rotates in turn.
pub async fn rotates_a_current_token_and_then_the_next(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    let start = started(sessions.as_ref(), &clock, 1, 1).await;
    clock.advance(TimeDelta::minutes(5));
    let expires = clock.now() + days(30);
    let after = rotated(
        sessions
            .rotate(hash(1), hash(2), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(after.id, start.id);
    assert_eq!(after.created_at, start.created_at);
    assert_eq!(after.last_used_at, clock.now());
    assert_eq!(after.expires_at, expires);
    assert_eq!(sessions.find(sid(1)).await.unwrap(), Some(after));

    clock.advance(TimeDelta::minutes(5));
    let expires = clock.now() + days(30);
    let again = rotated(
        sessions
            .rotate(hash(2), hash(3), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(again.id, start.id);
    assert_eq!(again.expires_at, expires);
    assert_eq!(again.revoked_at, None);
}

/// A token is found with its session, current until rotated, and found unchanged after its
/// session ends; an unknown token is not found.
pub async fn finds_a_session_by_its_refresh_token(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    let start = started(sessions.as_ref(), &clock, 1, 1).await;
    let found = sessions.find_by_refresh_token(hash(1)).await.unwrap();
    assert_eq!(
        found,
        Some(PresentedToken {
            session: start.clone(),
            rotated_at: None
        })
    );
    assert_eq!(sessions.find_by_refresh_token(hash(9)).await.unwrap(), None);

    clock.advance(TimeDelta::minutes(1));
    let rotated_at = clock.now();
    let after = rotated(
        sessions
            .rotate(hash(1), hash(2), GRACE, clock.now() + days(30))
            .await
            .unwrap(),
    );
    let old = sessions
        .find_by_refresh_token(hash(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.rotated_at, Some(rotated_at));
    assert_eq!(old.session, after);
    let current = sessions
        .find_by_refresh_token(hash(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((current.rotated_at, current.session.id), (None, start.id));

    assert!(sessions.revoke(user(1), start.id).await.unwrap());
    let ended = sessions
        .find_by_refresh_token(hash(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.session.revoked_at, Some(clock.now()));
}

/// A rotated token presented after the grace revokes the session: every token of it is dead.
pub async fn reuse_after_the_grace_revokes_the_session(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    started(sessions.as_ref(), &clock, 1, 1).await;
    let expires = clock.now() + days(30);
    rotated(
        sessions
            .rotate(hash(1), hash(2), GRACE, expires)
            .await
            .unwrap(),
    );
    clock.advance(TimeDelta::seconds(11));

    let revoked = reused(
        sessions
            .rotate(hash(1), hash(3), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(revoked.id, sid(1));
    assert_eq!(revoked.revoked_at, Some(clock.now()));
    let found = sessions.find(sid(1)).await.unwrap().unwrap();
    assert_eq!(found.revoked_at, Some(clock.now()));
    assert!(!found.is_active(clock.now()));

    let newest = sessions.rotate(hash(2), hash(4), GRACE, expires).await;
    assert_eq!(newest.unwrap(), RotateOutcome::Inactive);
    let never_issued = sessions.rotate(hash(3), hash(5), GRACE, expires).await;
    assert_eq!(never_issued.unwrap(), RotateOutcome::NotFound);
    let old_again = sessions.rotate(hash(1), hash(6), GRACE, expires).await;
    assert_eq!(old_again.unwrap(), RotateOutcome::Inactive);
}

/// A rotated token presented within the grace is honoured once more (another tab), and both
/// fresh tokens work; its third presentation, still within the grace, is reuse: the session
/// ends with every token of it, both fresh ones included.
pub async fn within_the_grace_a_rotated_token_is_honoured_once_more(
    backend: &dyn SessionRepositoryBackend,
) {
    let (sessions, clock) = one(backend).await;
    started(sessions.as_ref(), &clock, 1, 1).await;
    let expires = clock.now() + days(30);
    rotated(
        sessions
            .rotate(hash(1), hash(2), GRACE, expires)
            .await
            .unwrap(),
    );
    // The grace includes its last instant.
    clock.advance(TimeDelta::seconds(10));
    let other_tab = rotated(
        sessions
            .rotate(hash(1), hash(3), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(other_tab.id, sid(1));
    assert_eq!(other_tab.last_used_at, clock.now());
    assert_eq!(other_tab.revoked_at, None);

    let first_tab = rotated(
        sessions
            .rotate(hash(2), hash(4), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(first_tab.id, sid(1));
    let second_tab = rotated(
        sessions
            .rotate(hash(3), hash(5), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(second_tab.id, sid(1));

    let revoked = reused(
        sessions
            .rotate(hash(1), hash(6), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(revoked.revoked_at, Some(clock.now()));
    for fresh in [4, 5] {
        let dead = sessions
            .rotate(hash(fresh), hash(10 + fresh), GRACE, expires)
            .await;
        assert_eq!(dead.unwrap(), RotateOutcome::Inactive, "hash({fresh})");
    }
}

/// The grace runs from a token's rotation, and it is the token's own: a rotated token honoured
/// once more is reuse on its third presentation even right away, while the token that
/// rotation issued, rotated in turn, has its own one more presentation; a token presented
/// again after the grace is reuse though its grace was never used.
pub async fn each_token_has_its_own_single_grace(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    started(sessions.as_ref(), &clock, 1, 1).await;
    let expires = clock.now() + days(30);
    rotated(
        sessions
            .rotate(hash(1), hash(2), GRACE, expires)
            .await
            .unwrap(),
    );
    rotated(
        sessions
            .rotate(hash(2), hash(3), GRACE, expires)
            .await
            .unwrap(),
    );
    rotated(
        sessions
            .rotate(hash(2), hash(4), GRACE, expires)
            .await
            .unwrap(),
    );
    rotated(
        sessions
            .rotate(hash(1), hash(5), GRACE, expires)
            .await
            .unwrap(),
    );
    for fresh in [3, 4, 5] {
        let next = sessions
            .rotate(hash(fresh), hash(10 + fresh), GRACE, expires)
            .await;
        rotated(next.unwrap());
    }
    reused(
        sessions
            .rotate(hash(2), hash(6), GRACE, expires)
            .await
            .unwrap(),
    );

    started(sessions.as_ref(), &clock, 2, 100).await;
    rotated(
        sessions
            .rotate(hash(100), hash(101), GRACE, expires)
            .await
            .unwrap(),
    );
    clock.advance(TimeDelta::seconds(11));
    reused(
        sessions
            .rotate(hash(100), hash(102), GRACE, expires)
            .await
            .unwrap(),
    );
}

/// With no grace, presenting a rotated token again is reuse at once.
pub async fn no_grace_means_immediate_reuse(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    started(sessions.as_ref(), &clock, 1, 1).await;
    let expires = clock.now() + days(30);
    rotated(
        sessions
            .rotate(hash(1), hash(2), NO_GRACE, expires)
            .await
            .unwrap(),
    );
    let revoked = reused(
        sessions
            .rotate(hash(1), hash(3), NO_GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(revoked.revoked_at, Some(clock.now()));
    let newest = sessions.rotate(hash(2), hash(4), NO_GRACE, expires).await;
    assert_eq!(newest.unwrap(), RotateOutcome::Inactive);
}

/// A token no session issued is `NotFound`; a token of an expired session is `Inactive`, and
/// nothing changes.
pub async fn unknown_and_expired_tokens_rotate_nothing(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    let expires = clock.now() + days(30);
    let unknown = sessions.rotate(hash(9), hash(10), GRACE, expires).await;
    assert_eq!(unknown.unwrap(), RotateOutcome::NotFound);

    let short = new_session(1, 1, clock.now() + TimeDelta::hours(1));
    let created = sessions.create(short, hash(1)).await.unwrap();
    clock.advance(TimeDelta::hours(1));
    let ended = sessions.rotate(hash(1), hash(2), GRACE, expires).await;
    assert_eq!(ended.unwrap(), RotateOutcome::Inactive);
    assert_eq!(sessions.find(sid(1)).await.unwrap(), Some(created));
    let never_issued = sessions.rotate(hash(2), hash(3), GRACE, expires).await;
    assert_eq!(never_issued.unwrap(), RotateOutcome::NotFound);
}

/// The kinds of `outcomes`, in order, for a failure message.
fn kinds(outcomes: &[RotateOutcome]) -> Vec<&'static str> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            RotateOutcome::Rotated(_) => "Rotated",
            RotateOutcome::Reused(_) => "Reused",
            RotateOutcome::NotFound => "NotFound",
            RotateOutcome::Inactive => "Inactive",
        })
        .collect()
}

/// How many of `outcomes` were `Rotated`, `Reused` and `Inactive`.
fn tally(outcomes: &[RotateOutcome]) -> (usize, usize, usize) {
    let count = |wanted: fn(&RotateOutcome) -> bool| outcomes.iter().filter(|o| wanted(o)).count();
    (
        count(|o| matches!(o, RotateOutcome::Rotated(_))),
        count(|o| matches!(o, RotateOutcome::Reused(_))),
        count(|o| matches!(o, RotateOutcome::Inactive)),
    )
}

/// Rotates the current token `hash(token)` `RACERS` times at once under `grace`, from both
/// handles in turn, each into a token of its own (`hash(token + 1)` on); the outcomes.
async fn race(
    handles: &(Arc<dyn SessionRepository>, Arc<dyn SessionRepository>),
    token: u32,
    grace: Duration,
    expires: DateTime<Utc>,
) -> Vec<RotateOutcome> {
    let racers: Vec<_> = (1..=RACERS)
        .map(|n| {
            let sessions = if n % 2 == 0 {
                handles.0.clone()
            } else {
                handles.1.clone()
            };
            tokio::spawn(async move {
                sessions
                    .rotate(hash(token), hash(token + n), grace, expires)
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.unwrap().unwrap());
    }
    outcomes
}

/// How many rotations of one token race in the concurrent cases.
const RACERS: u32 = 20;

/// Handles rotating one current token at once with no grace: exactly one rotates; the next
/// to go is reuse, which ends the session, and every later one finds it ended.
pub async fn concurrent_rotations_without_grace_let_one_through(
    backend: &dyn SessionRepositoryBackend,
) {
    let clock = super::clock();
    let handles = backend.open(clock.clone()).await;
    let expires = clock.now() + days(30);
    for round in 0..3_u32 {
        let token = 100 * round;
        started(handles.0.as_ref(), &clock, u128::from(round), token).await;
        let outcomes = race(&handles, token, NO_GRACE, expires).await;
        let racers = usize::try_from(RACERS).unwrap();
        assert_eq!(
            tally(&outcomes),
            (1, 1, racers - 2),
            "round {round}: {:?}",
            kinds(&outcomes)
        );
        let session = handles
            .0
            .find(sid(u128::from(round)))
            .await
            .unwrap()
            .unwrap();
        assert!(session.revoked_at.is_some(), "round {round}");
    }
}

/// Handles rotating one current token at once within the grace: exactly two rotate (the
/// current token, and it once more under the grace); the next to go is reuse, which ends the
/// session, so both fresh tokens die, and every later one finds it ended.
pub async fn concurrent_rotations_within_grace_let_two_through(
    backend: &dyn SessionRepositoryBackend,
) {
    let clock = super::clock();
    let handles = backend.open(clock.clone()).await;
    let expires = clock.now() + days(30);
    for round in 0..3_u32 {
        let token = 100 * round;
        started(handles.0.as_ref(), &clock, u128::from(round), token).await;
        let outcomes = race(&handles, token, GRACE, expires).await;
        let racers = usize::try_from(RACERS).unwrap();
        assert_eq!(
            tally(&outcomes),
            (2, 1, racers - 3),
            "round {round}: {:?}",
            kinds(&outcomes)
        );
        let session = handles
            .0
            .find(sid(u128::from(round)))
            .await
            .unwrap()
            .unwrap();
        assert!(session.revoked_at.is_some(), "round {round}");
        // A winner's fresh token belongs to the ended session; a loser's was never issued.
        for (n, outcome) in (1..=RACERS).zip(&outcomes) {
            let expected = if matches!(outcome, RotateOutcome::Rotated(_)) {
                RotateOutcome::Inactive
            } else {
                RotateOutcome::NotFound
            };
            let fresh = handles
                .0
                .rotate(hash(token + n), hash(token + 50 + n), GRACE, expires);
            assert_eq!(fresh.await.unwrap(), expected, "round {round}, racer {n}");
        }
    }
}

/// Handles rotating one current token at once within the grace, two of them: both rotate, and
/// both fresh tokens work.
pub async fn two_concurrent_rotations_within_grace_both_rotate(
    backend: &dyn SessionRepositoryBackend,
) {
    let clock = super::clock();
    let (first, second) = backend.open(clock.clone()).await;
    let expires = clock.now() + days(30);
    started(first.as_ref(), &clock, 1, 1).await;
    let racers = [(first.clone(), 2), (second.clone(), 3)].map(|(sessions, next)| {
        tokio::spawn(async move { sessions.rotate(hash(1), hash(next), GRACE, expires).await })
    });
    for racer in racers {
        assert_eq!(rotated(racer.await.unwrap().unwrap()).id, sid(1));
    }
    for fresh in [2, 3] {
        let next = first
            .rotate(hash(fresh), hash(10 + fresh), GRACE, expires)
            .await;
        assert_eq!(rotated(next.unwrap()).id, sid(1));
    }
}

/// Only the owner revokes a session, once; its tokens then rotate nothing.
pub async fn revokes_only_the_owners_session(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    started(sessions.as_ref(), &clock, 1, 1).await;
    assert!(!sessions.revoke(user(2), sid(1)).await.unwrap());
    assert_eq!(
        sessions.find(sid(1)).await.unwrap().unwrap().revoked_at,
        None
    );
    clock.advance(TimeDelta::minutes(1));
    assert!(sessions.revoke(user(1), sid(1)).await.unwrap());
    assert_eq!(
        sessions.find(sid(1)).await.unwrap().unwrap().revoked_at,
        Some(clock.now())
    );
    assert!(!sessions.revoke(user(1), sid(1)).await.unwrap());
    assert!(!sessions.revoke(user(1), sid(9)).await.unwrap());
    let expires = clock.now() + days(30);
    let dead = sessions.rotate(hash(1), hash(2), GRACE, expires).await;
    assert_eq!(dead.unwrap(), RotateOutcome::Inactive);
}

/// `revoke_all` ends every active session of the user but the one kept, and no one else's.
pub async fn revokes_all_but_the_current_session(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    for n in 1..=3 {
        started(sessions.as_ref(), &clock, n, u32::try_from(n).unwrap()).await;
    }
    let theirs = new_session(4, 2, clock.now() + days(30));
    sessions.create(theirs, hash(4)).await.unwrap();

    let mut revoked = sessions.revoke_all(user(1), Some(sid(2))).await.unwrap();
    revoked.sort();
    assert_eq!(revoked, [sid(1), sid(3)]);
    assert_eq!(ids(&sessions.list_active(user(1)).await.unwrap()), [sid(2)]);
    assert_eq!(ids(&sessions.list_active(user(2)).await.unwrap()), [sid(4)]);
    let expires = clock.now() + days(30);
    let dead = sessions.rotate(hash(1), hash(10), GRACE, expires).await;
    assert_eq!(dead.unwrap(), RotateOutcome::Inactive);
    rotated(
        sessions
            .rotate(hash(2), hash(11), GRACE, expires)
            .await
            .unwrap(),
    );

    assert_eq!(sessions.revoke_all(user(1), None).await.unwrap(), [sid(2)]);
    assert!(sessions.list_active(user(1)).await.unwrap().is_empty());
    assert!(sessions.revoke_all(user(1), None).await.unwrap().is_empty());
    assert_eq!(ids(&sessions.list_active(user(2)).await.unwrap()), [sid(4)]);
}

/// The active list leaves out revoked and expired sessions and others' sessions, newest first.
pub async fn lists_active_sessions_newest_first(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    started(sessions.as_ref(), &clock, 1, 1).await;
    clock.advance(TimeDelta::seconds(1));
    let short = new_session(2, 1, clock.now() + TimeDelta::hours(1));
    sessions.create(short, hash(2)).await.unwrap();
    clock.advance(TimeDelta::seconds(1));
    started(sessions.as_ref(), &clock, 3, 3).await;
    clock.advance(TimeDelta::seconds(1));
    started(sessions.as_ref(), &clock, 4, 4).await;
    let theirs = new_session(5, 2, clock.now() + days(30));
    sessions.create(theirs, hash(5)).await.unwrap();

    assert_eq!(
        ids(&sessions.list_active(user(1)).await.unwrap()),
        [sid(4), sid(3), sid(2), sid(1)]
    );
    sessions.revoke(user(1), sid(3)).await.unwrap();
    clock.advance(TimeDelta::hours(1));
    let active = sessions.list_active(user(1)).await.unwrap();
    assert_eq!(ids(&active), [sid(4), sid(1)]);
    assert_eq!(active[1], sessions.find(sid(1)).await.unwrap().unwrap());
    assert!(sessions.list_active(user(3)).await.unwrap().is_empty());
}

/// The purge deletes the sessions that expired or were revoked before the given instant, with
/// their tokens, and keeps the others.
pub async fn purges_ended_sessions_with_their_tokens(backend: &dyn SessionRepositoryBackend) {
    let (sessions, clock) = one(backend).await;
    let t0 = clock.now();
    let short = new_session(1, 1, t0 + TimeDelta::hours(1));
    sessions.create(short, hash(1)).await.unwrap();
    started(sessions.as_ref(), &clock, 2, 2).await;
    started(sessions.as_ref(), &clock, 3, 3).await;
    let late = new_session(4, 1, t0 + TimeDelta::hours(3));
    sessions.create(late, hash(4)).await.unwrap();
    clock.advance(TimeDelta::minutes(10));
    sessions.revoke(user(1), sid(2)).await.unwrap();
    clock.advance(TimeDelta::hours(2));

    assert_eq!(
        sessions
            .purge_expired(t0 + TimeDelta::minutes(5))
            .await
            .unwrap(),
        0
    );
    assert_eq!(sessions.purge_expired(clock.now()).await.unwrap(), 2);
    assert_eq!(sessions.find(sid(1)).await.unwrap(), None);
    assert_eq!(sessions.find(sid(2)).await.unwrap(), None);
    assert!(sessions.find(sid(3)).await.unwrap().is_some());
    assert!(sessions.find(sid(4)).await.unwrap().is_some());
    let expires = clock.now() + days(30);
    for gone in [1, 2] {
        let outcome = sessions
            .rotate(hash(gone), hash(10 + gone), GRACE, expires)
            .await;
        assert_eq!(outcome.unwrap(), RotateOutcome::NotFound);
    }
    rotated(
        sessions
            .rotate(hash(3), hash(13), GRACE, expires)
            .await
            .unwrap(),
    );
    assert_eq!(sessions.purge_expired(clock.now()).await.unwrap(), 0);
}

/// Instantiates the contract as `#[tokio::test]`s for `$backend`.
#[macro_export]
macro_rules! session_repository_contract {
    ($backend:expr) => {
        $crate::session_repository_contract!(@cases $backend;
            creates_and_finds_every_field,
            rotates_a_current_token_and_then_the_next,
            finds_a_session_by_its_refresh_token,
            reuse_after_the_grace_revokes_the_session,
            within_the_grace_a_rotated_token_is_honoured_once_more,
            each_token_has_its_own_single_grace,
            no_grace_means_immediate_reuse,
            unknown_and_expired_tokens_rotate_nothing,
            revokes_only_the_owners_session,
            revokes_all_but_the_current_session,
            lists_active_sessions_newest_first,
            purges_ended_sessions_with_their_tokens,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_rotations_without_grace_let_one_through() {
            $crate::contract::session_repository::concurrent_rotations_without_grace_let_one_through(&$backend).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_rotations_within_grace_let_two_through() {
            $crate::contract::session_repository::concurrent_rotations_within_grace_let_two_through(&$backend).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn two_concurrent_rotations_within_grace_both_rotate() {
            $crate::contract::session_repository::two_concurrent_rotations_within_grace_both_rotate(&$backend).await;
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::session_repository::$case(&$backend).await;
            }
        )*
    };
}
