//! The `FactorRepository` contract: a second setup replaces the pending factor of its kind;
//! a pending factor is enabled once; the enabled list is oldest first and holds no pending
//! factor; a factor is found only by its own user; the TOTP replay guard accepts a later step
//! once, never an equal or earlier one, never on a pending factor, and of concurrent calls
//! with one step over two handles exactly one; `mark_used`, `remove`, `remove_all`; the
//! rotation's listing of factors sealed by other keys and its conditional reseal.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{
    Clock as _, Destination, Factor, FactorId, FactorKind, FactorRepository, NewFactor,
    SealedSecret,
};
use twofa_memory::ManualClock;

use super::user;

/// A backend under test.
#[async_trait]
pub trait FactorRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would). Where factors must
    /// belong to an existing account, the accounts [`user`]`(1)`–`user(3)` exist.
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn FactorRepository>, Arc<dyn FactorRepository>);
}

/// The factor numbered `n`.
pub fn factor_id(n: u128) -> FactorId {
    FactorId::from_uuid(uuid::Uuid::from_u128(0xf000 + n))
}

fn sealed(key_id: &str, n: u8) -> SealedSecret {
    SealedSecret {
        key_id: key_id.to_owned(),
        ciphertext: vec![n; 44],
    }
}

/// A TOTP setup `n` of user `user_n`, its secret sealed under `key_id`.
pub fn totp(n: u128, user_n: u128, key_id: &str) -> NewFactor {
    NewFactor {
        id: factor_id(n),
        user_id: user(user_n),
        kind: FactorKind::Totp,
        secret: Some(sealed(key_id, u8::try_from(n % 256).unwrap())),
        destination: None,
    }
}

fn sms(n: u128, user_n: u128) -> NewFactor {
    NewFactor {
        id: factor_id(n),
        user_id: user(user_n),
        kind: FactorKind::Sms,
        secret: None,
        destination: Some(Destination::parse(FactorKind::Sms, "+14155550123").unwrap()),
    }
}

fn email(n: u128, user_n: u128) -> NewFactor {
    NewFactor {
        id: factor_id(n),
        user_id: user(user_n),
        kind: FactorKind::Email,
        secret: None,
        destination: Some(Destination::parse(FactorKind::Email, "Jane@Example.com").unwrap()),
    }
}

/// `new` as stored pending at `created_at`.
fn pending(new: NewFactor, created_at: DateTime<Utc>) -> Factor {
    Factor {
        id: new.id,
        user_id: new.user_id,
        kind: new.kind,
        secret: new.secret,
        destination: new.destination,
        last_used_step: None,
        created_at,
        verified_at: None,
        last_used_at: None,
    }
}

async fn one(
    backend: &dyn FactorRepositoryBackend,
) -> (Arc<dyn FactorRepository>, Arc<ManualClock>) {
    let clock = super::clock();
    let (factors, _) = backend.open(clock.clone()).await;
    (factors, clock)
}

fn ids(factors: &[Factor]) -> Vec<FactorId> {
    factors.iter().map(|factor| factor.id).collect()
}

/// A pending factor of each kind keeps every field it was given, stamped with the clock.
pub async fn keeps_every_field_of_a_pending_factor(backend: &dyn FactorRepositoryBackend) {
    let (factors, clock) = one(backend).await;
    for new in [totp(1, 1, "k1"), sms(2, 1), email(3, 1)] {
        factors.add_pending(new.clone()).await.unwrap();
        let kind = new.kind;
        let expected = pending(new, clock.now());
        assert_eq!(
            factors.pending(user(1), kind).await.unwrap(),
            Some(expected.clone())
        );
        assert_eq!(
            factors.find(user(1), expected.id).await.unwrap(),
            Some(expected)
        );
        clock.advance(TimeDelta::seconds(1));
    }
    assert_eq!(
        factors.pending(user(2), FactorKind::Totp).await.unwrap(),
        None
    );
}

/// A second setup of one kind before confirmation replaces the first; other kinds and other
/// users' setups stay.
pub async fn a_second_setup_replaces_the_pending_factor(backend: &dyn FactorRepositoryBackend) {
    let (factors, clock) = one(backend).await;
    factors.add_pending(totp(1, 1, "k1")).await.unwrap();
    factors.add_pending(sms(2, 1)).await.unwrap();
    factors.add_pending(totp(3, 2, "k1")).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    factors.add_pending(totp(4, 1, "k1")).await.unwrap();
    assert_eq!(
        factors.pending(user(1), FactorKind::Totp).await.unwrap(),
        Some(pending(totp(4, 1, "k1"), clock.now()))
    );
    assert_eq!(factors.find(user(1), factor_id(1)).await.unwrap(), None);
    assert!(factors.find(user(1), factor_id(2)).await.unwrap().is_some());
    assert!(factors.find(user(2), factor_id(3)).await.unwrap().is_some());
}

/// A pending factor is enabled once, stamped with the clock and the confirming step; an
/// enabled factor is no longer pending and a later setup of its kind leaves it enabled.
pub async fn enables_a_pending_factor_once(backend: &dyn FactorRepositoryBackend) {
    let clock = super::clock();
    let (factors, other) = backend.open(clock.clone()).await;
    factors.add_pending(totp(1, 1, "k1")).await.unwrap();
    clock.advance(TimeDelta::minutes(2));
    assert!(factors.enable(factor_id(1), Some(1_000)).await.unwrap());
    let enabled = other.find(user(1), factor_id(1)).await.unwrap().unwrap();
    assert_eq!(
        enabled,
        Factor {
            last_used_step: Some(1_000),
            verified_at: Some(clock.now()),
            last_used_at: Some(clock.now()),
            ..pending(totp(1, 1, "k1"), super::start())
        }
    );
    assert!(enabled.is_enabled());
    clock.advance(TimeDelta::minutes(1));
    assert!(!other.enable(factor_id(1), Some(2_000)).await.unwrap());
    assert!(!factors.enable(factor_id(9), None).await.unwrap());
    assert_eq!(
        factors.find(user(1), factor_id(1)).await.unwrap(),
        Some(enabled.clone()),
        "a second enable changes nothing"
    );
    assert_eq!(
        factors.pending(user(1), FactorKind::Totp).await.unwrap(),
        None
    );

    factors.add_pending(totp(2, 1, "k1")).await.unwrap();
    assert_eq!(
        factors.find(user(1), factor_id(1)).await.unwrap(),
        Some(enabled)
    );
    assert_eq!(
        factors
            .pending(user(1), FactorKind::Totp)
            .await
            .unwrap()
            .map(|f| f.id),
        Some(factor_id(2))
    );
}

/// The enabled factors of a user, oldest first; pending factors and other users' are left
/// out.
pub async fn lists_enabled_factors_oldest_first(backend: &dyn FactorRepositoryBackend) {
    let (factors, clock) = one(backend).await;
    assert!(factors.enabled(user(1)).await.unwrap().is_empty());
    factors.add_pending(email(1, 1)).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    factors.add_pending(totp(2, 1, "k1")).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    factors.add_pending(sms(3, 1)).await.unwrap();
    factors.add_pending(sms(4, 2)).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    // Enabled newest first: the list still starts with the oldest setup.
    assert!(factors.enable(factor_id(2), Some(5)).await.unwrap());
    assert!(factors.enable(factor_id(1), None).await.unwrap());
    assert!(factors.enable(factor_id(4), None).await.unwrap());
    assert_eq!(
        ids(&factors.enabled(user(1)).await.unwrap()),
        [factor_id(1), factor_id(2)]
    );
    assert_eq!(
        ids(&factors.enabled(user(2)).await.unwrap()),
        [factor_id(4)]
    );
    assert!(factors.enabled(user(3)).await.unwrap().is_empty());
}

/// A factor is found, and removed, only by its own user.
pub async fn finds_only_the_users_own_factor(backend: &dyn FactorRepositoryBackend) {
    let (factors, _) = one(backend).await;
    factors.add_pending(totp(1, 1, "k1")).await.unwrap();
    assert!(factors.enable(factor_id(1), None).await.unwrap());
    factors.add_pending(sms(2, 1)).await.unwrap();
    for id in [factor_id(1), factor_id(2)] {
        assert_eq!(factors.find(user(2), id).await.unwrap(), None);
        assert!(!factors.remove(user(2), id).await.unwrap());
        assert!(factors.find(user(1), id).await.unwrap().is_some());
    }
    assert_eq!(factors.find(user(1), factor_id(9)).await.unwrap(), None);
}

/// A later step is accepted once and stamps the use; an equal or earlier one is refused and
/// changes nothing.
pub async fn accepts_a_later_step_once(backend: &dyn FactorRepositoryBackend) {
    let (factors, clock) = one(backend).await;
    factors.add_pending(totp(1, 1, "k1")).await.unwrap();
    assert!(factors.enable(factor_id(1), Some(100)).await.unwrap());
    let enabled_at = clock.now();
    clock.advance(TimeDelta::seconds(30));
    assert!(!factors.advance_step(factor_id(1), 100).await.unwrap());
    assert!(!factors.advance_step(factor_id(1), 99).await.unwrap());
    let found = factors.find(user(1), factor_id(1)).await.unwrap().unwrap();
    assert_eq!(
        (found.last_used_step, found.last_used_at),
        (Some(100), Some(enabled_at))
    );

    assert!(factors.advance_step(factor_id(1), 101).await.unwrap());
    let found = factors.find(user(1), factor_id(1)).await.unwrap().unwrap();
    assert_eq!(
        (found.last_used_step, found.last_used_at),
        (Some(101), Some(clock.now()))
    );
    assert!(!factors.advance_step(factor_id(1), 101).await.unwrap());
    assert!(factors.advance_step(factor_id(1), 105).await.unwrap());
    assert!(!factors.advance_step(factor_id(1), 104).await.unwrap());

    // Enabled without a step: any step is later.
    factors.add_pending(sms(2, 1)).await.unwrap();
    assert!(factors.enable(factor_id(2), None).await.unwrap());
    assert!(factors.advance_step(factor_id(2), 0).await.unwrap());
    assert!(!factors.advance_step(factor_id(2), 0).await.unwrap());
}

/// A pending or unknown factor accepts no step.
pub async fn refuses_a_step_on_a_pending_factor(backend: &dyn FactorRepositoryBackend) {
    let (factors, _) = one(backend).await;
    factors.add_pending(totp(1, 1, "k1")).await.unwrap();
    assert!(!factors.advance_step(factor_id(1), 7).await.unwrap());
    assert!(!factors.advance_step(factor_id(9), 7).await.unwrap());
    let found = factors.find(user(1), factor_id(1)).await.unwrap().unwrap();
    assert_eq!(found, pending(totp(1, 1, "k1"), super::start()));
}

/// Many concurrent calls with one step over two handles: exactly one is accepted.
pub async fn concurrent_advances_with_one_step_let_exactly_one_through(
    backend: &dyn FactorRepositoryBackend,
) {
    let (a, b) = backend.open(super::clock()).await;
    a.add_pending(totp(1, 1, "k1")).await.unwrap();
    assert!(a.enable(factor_id(1), None).await.unwrap());
    for step in 1..=5 {
        let mut tasks = Vec::new();
        for attempt in 0..8 {
            let factors = if attempt % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            tasks.push(tokio::spawn(async move {
                factors.advance_step(factor_id(1), step).await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "step {step}");
    }
    let found = b.find(user(1), factor_id(1)).await.unwrap().unwrap();
    assert_eq!(found.last_used_step, Some(5));
}

/// Many concurrent confirmations of one pending factor over two handles: exactly one wins.
pub async fn concurrent_enables_let_exactly_one_through(backend: &dyn FactorRepositoryBackend) {
    let (a, b) = backend.open(super::clock()).await;
    for n in 1..=3 {
        a.add_pending(totp(n, n, "k1")).await.unwrap();
    }
    for n in 1..=3 {
        let mut tasks = Vec::new();
        for attempt in 0..8 {
            let factors = if attempt % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            tasks.push(tokio::spawn(async move {
                factors.enable(factor_id(n), Some(attempt)).await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "factor {n}");
    }
}

/// Many concurrent setups of one kind for one user over two handles: each succeeds, and one
/// of them is left pending.
pub async fn concurrent_setups_leave_one_pending(backend: &dyn FactorRepositoryBackend) {
    let (a, b) = backend.open(super::clock()).await;
    let mut tasks = Vec::new();
    for n in 1..=8 {
        let factors = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            factors.add_pending(totp(n, 1, "k1")).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let left = a.pending(user(1), FactorKind::Totp).await.unwrap().unwrap();
    for n in 1..=8 {
        let found = b.find(user(1), factor_id(n)).await.unwrap();
        assert_eq!(found.is_some(), factor_id(n) == left.id, "factor {n}");
    }
}

/// `mark_used` stamps an enabled factor's use and leaves a pending one untouched.
pub async fn marks_an_enabled_factor_used(backend: &dyn FactorRepositoryBackend) {
    let (factors, clock) = one(backend).await;
    factors.add_pending(sms(1, 1)).await.unwrap();
    assert!(factors.enable(factor_id(1), None).await.unwrap());
    factors.add_pending(email(2, 1)).await.unwrap();
    clock.advance(TimeDelta::minutes(5));
    factors.mark_used(factor_id(1)).await.unwrap();
    factors.mark_used(factor_id(2)).await.unwrap();
    factors.mark_used(factor_id(9)).await.unwrap();
    let used = factors.find(user(1), factor_id(1)).await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(clock.now()));
    assert_eq!(used.last_used_step, None);
    let untouched = factors.find(user(1), factor_id(2)).await.unwrap().unwrap();
    assert_eq!(untouched.last_used_at, None);
}

/// `remove` deletes one factor, pending or enabled, once; `remove_all` deletes and counts
/// every factor of one user.
pub async fn removes_one_factor_or_all_of_a_users(backend: &dyn FactorRepositoryBackend) {
    let (factors, _) = one(backend).await;
    factors.add_pending(totp(1, 1, "k1")).await.unwrap();
    assert!(factors.enable(factor_id(1), None).await.unwrap());
    factors.add_pending(sms(2, 1)).await.unwrap();
    factors.add_pending(email(3, 1)).await.unwrap();
    assert!(factors.enable(factor_id(3), None).await.unwrap());
    factors.add_pending(totp(4, 2, "k1")).await.unwrap();

    assert!(factors.remove(user(1), factor_id(1)).await.unwrap());
    assert!(!factors.remove(user(1), factor_id(1)).await.unwrap());
    assert_eq!(factors.find(user(1), factor_id(1)).await.unwrap(), None);
    assert!(
        factors.remove(user(1), factor_id(2)).await.unwrap(),
        "pending"
    );
    assert_eq!(
        factors.pending(user(1), FactorKind::Sms).await.unwrap(),
        None
    );

    factors.add_pending(sms(5, 1)).await.unwrap();
    assert_eq!(factors.remove_all(user(1)).await.unwrap(), 2);
    assert!(factors.enabled(user(1)).await.unwrap().is_empty());
    assert_eq!(
        factors.pending(user(1), FactorKind::Sms).await.unwrap(),
        None
    );
    assert_eq!(factors.remove_all(user(1)).await.unwrap(), 0);
    assert!(factors.find(user(2), factor_id(4)).await.unwrap().is_some());
}

/// The factors sealed under another key than the current one, in id order, page by page;
/// factors without a secret are never listed.
pub async fn lists_factors_sealed_by_other_keys_in_id_order(backend: &dyn FactorRepositoryBackend) {
    let (factors, _) = one(backend).await;
    factors.add_pending(totp(5, 1, "old")).await.unwrap();
    assert!(factors.enable(factor_id(5), None).await.unwrap());
    factors.add_pending(totp(2, 2, "older")).await.unwrap();
    factors.add_pending(totp(3, 3, "current")).await.unwrap();
    factors.add_pending(sms(1, 1)).await.unwrap();
    factors.add_pending(totp(4, 1, "old")).await.unwrap();
    let all = factors
        .sealed_by_other_keys("current", None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&all), [factor_id(2), factor_id(4), factor_id(5)]);
    let first = factors
        .sealed_by_other_keys("current", None, 2)
        .await
        .unwrap();
    assert_eq!(ids(&first), [factor_id(2), factor_id(4)]);
    let rest = factors
        .sealed_by_other_keys("current", Some(factor_id(4)), 2)
        .await
        .unwrap();
    assert_eq!(ids(&rest), [factor_id(5)]);
    assert!(
        factors
            .sealed_by_other_keys("current", Some(factor_id(5)), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&factors.sealed_by_other_keys("old", None, 10).await.unwrap()),
        [factor_id(2), factor_id(3)]
    );
}

/// A secret is resealed only while it is still the one read; then it is the current key's.
pub async fn reseals_a_secret_only_while_it_is_current(backend: &dyn FactorRepositoryBackend) {
    let (factors, _) = one(backend).await;
    factors.add_pending(totp(1, 1, "old")).await.unwrap();
    assert!(factors.enable(factor_id(1), Some(3)).await.unwrap());
    let read = factors.find(user(1), factor_id(1)).await.unwrap().unwrap();
    let current = read.secret.clone().unwrap();
    assert!(
        !factors
            .reseal(factor_id(1), &sealed("old", 99), sealed("new", 2))
            .await
            .unwrap(),
        "another ciphertext under the same key is not current"
    );
    assert!(
        factors
            .reseal(factor_id(1), &current, sealed("new", 2))
            .await
            .unwrap()
    );
    assert!(
        !factors
            .reseal(factor_id(1), &current, sealed("newer", 3))
            .await
            .unwrap()
    );
    assert!(
        !factors
            .reseal(factor_id(9), &current, sealed("new", 2))
            .await
            .unwrap()
    );
    let resealed = factors.find(user(1), factor_id(1)).await.unwrap().unwrap();
    assert_eq!(
        resealed,
        Factor {
            secret: Some(sealed("new", 2)),
            ..read
        }
    );
    assert!(
        factors
            .sealed_by_other_keys("new", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Instantiates the `FactorRepository` contract for `$backend` (an expression whose value
/// implements [`FactorRepositoryBackend`]).
#[macro_export]
macro_rules! factor_repository_contract {
    ($backend:expr) => {
        $crate::factor_repository_contract!(@cases $backend;
            keeps_every_field_of_a_pending_factor,
            a_second_setup_replaces_the_pending_factor,
            enables_a_pending_factor_once,
            lists_enabled_factors_oldest_first,
            finds_only_the_users_own_factor,
            accepts_a_later_step_once,
            refuses_a_step_on_a_pending_factor,
            marks_an_enabled_factor_used,
            removes_one_factor_or_all_of_a_users,
            lists_factors_sealed_by_other_keys_in_id_order,
            reseals_a_secret_only_while_it_is_current,
        );
        $crate::factor_repository_contract!(@concurrent $backend;
            concurrent_advances_with_one_step_let_exactly_one_through,
            concurrent_enables_let_exactly_one_through,
            concurrent_setups_leave_one_pending,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::factor_repository::$case(&$backend).await;
            }
        )*
    };
    (@concurrent $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::contract::factor_repository::$case(&$backend).await;
            }
        )*
    };
}
