//! The `ApiKeyRepository` contract: `add` stamps the clock's time and answers the key as
//! stored; an id or hash already stored is refused; a hash finds its key whoever's it is and
//! whatever its state; `get`, `list`, `update`, `rotate`, `revoke` and `delete` answer only the
//! owner's keys; the list is newest first, revoked and expired keys included; `update` changes
//! only what it is given; `rotate` replaces the hash and prefix of an unrevoked key; `revoke`
//! stamps an unrevoked key once; `touch` writes an unset or stale `last_used_at` only; a
//! conditional write stays atomic between two handles.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{
    ApiKey, ApiKeyChange, ApiKeyId, ApiKeyRepository, Clock as _, NewApiKey, Scope, SecretDigest,
};
use twofa_memory::ManualClock;

use super::user;

/// A backend under test.
#[async_trait]
pub trait ApiKeyRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would). Where keys must belong
    /// to an existing account, the accounts [`user`]`(1)`–`user(3)` exist.
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn ApiKeyRepository>, Arc<dyn ApiKeyRepository>);
}

/// The key numbered `n`.
pub fn key_id(n: u128) -> ApiKeyId {
    ApiKeyId::from_uuid(uuid::Uuid::from_u128(0xa000 + n))
}

/// The hash of key `n`.
pub fn key_hash(n: u8) -> SecretDigest {
    let mut bytes = [n; 32];
    bytes[0] = 0xa4;
    SecretDigest::from_bytes(bytes)
}

/// The shown prefix of key `n`.
fn prefix(n: u8) -> String {
    format!("tfa_{n:08}")
}

/// Key `n` of user `user_n`, allowed to read the account and the audit trail, working for 90
/// days from the contract's start.
pub fn new_key(n: u8, user_n: u128) -> NewApiKey {
    NewApiKey {
        id: key_id(u128::from(n)),
        user_id: user(user_n),
        name: format!("Deploy bot {n}"),
        prefix: prefix(n),
        key_hash: key_hash(n),
        scopes: vec![Scope::UserRead, Scope::AuditRead],
        expires_at: Some(super::start() + TimeDelta::days(90)),
    }
}

async fn one(
    backend: &dyn ApiKeyRepositoryBackend,
) -> (Arc<dyn ApiKeyRepository>, Arc<ManualClock>) {
    let clock = super::clock();
    let (keys, _) = backend.open(clock.clone()).await;
    (keys, clock)
}

fn ids(keys: &[ApiKey]) -> Vec<ApiKeyId> {
    keys.iter().map(|key| key.id).collect()
}

/// `add` answers the key as stored, made at the clock's time, never used nor revoked; `get`,
/// `find_by_hash` and `list` (from another handle too) answer the same key.
pub async fn add_answers_the_stored_key(backend: &dyn ApiKeyRepositoryBackend) {
    let clock = super::clock();
    let (keys, other) = backend.open(clock.clone()).await;
    clock.advance(TimeDelta::seconds(90) + TimeDelta::microseconds(250));
    let new = new_key(1, 1);
    let added = keys.add(new.clone()).await.unwrap();
    assert_eq!(
        added,
        ApiKey {
            id: new.id,
            user_id: new.user_id,
            name: new.name,
            prefix: new.prefix,
            scopes: vec![Scope::UserRead, Scope::AuditRead],
            expires_at: new.expires_at,
            last_used_at: None,
            created_at: clock.now(),
            revoked_at: None,
        }
    );
    assert_eq!(
        other.get(user(1), key_id(1)).await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(
        other.find_by_hash(&key_hash(1)).await.unwrap(),
        Some(added.clone())
    );
    assert_eq!(other.list(user(1)).await.unwrap(), [added]);

    let bare = NewApiKey {
        scopes: vec![Scope::All],
        expires_at: None,
        ..new_key(2, 1)
    };
    let added = keys.add(bare).await.unwrap();
    assert_eq!(
        (added.scopes.as_slice(), added.expires_at),
        (&[Scope::All][..], None)
    );
    assert_eq!(other.get(user(1), key_id(2)).await.unwrap(), Some(added));
}

/// Scopes are answered as `normalized_scopes` orders them, each once, and times to the
/// microsecond, as every backend stores them.
pub async fn keeps_scopes_normalized_and_times_to_the_microsecond(
    backend: &dyn ApiKeyRepositoryBackend,
) {
    let (keys, clock) = one(backend).await;
    clock.advance(TimeDelta::nanoseconds(1_234_567));
    let expires_at = super::start() + TimeDelta::days(1) + TimeDelta::nanoseconds(7_654_321);
    let added = keys
        .add(NewApiKey {
            scopes: vec![Scope::AuditRead, Scope::TwoFactorRead, Scope::AuditRead],
            expires_at: Some(expires_at),
            ..new_key(1, 1)
        })
        .await
        .unwrap();
    assert_eq!(added.scopes, [Scope::TwoFactorRead, Scope::AuditRead]);
    assert_eq!(
        added.created_at,
        super::start() + TimeDelta::microseconds(1_234)
    );
    assert_eq!(
        added.expires_at,
        Some(super::start() + TimeDelta::days(1) + TimeDelta::microseconds(7_654))
    );
    assert_eq!(keys.get(user(1), key_id(1)).await.unwrap(), Some(added));
}

/// An id or a hash already stored is refused, by `add` and by `rotate`; the stored keys stay.
pub async fn refuses_an_id_or_hash_already_stored(backend: &dyn ApiKeyRepositoryBackend) {
    let (keys, _) = one(backend).await;
    let first = keys.add(new_key(1, 1)).await.unwrap();
    let second = keys.add(new_key(2, 2)).await.unwrap();
    assert!(
        keys.add(NewApiKey {
            key_hash: key_hash(3),
            ..new_key(1, 1)
        })
        .await
        .is_err(),
        "the same id"
    );
    assert!(
        keys.add(NewApiKey {
            key_hash: key_hash(1),
            ..new_key(3, 2)
        })
        .await
        .is_err(),
        "the same hash"
    );
    assert!(
        keys.rotate(user(2), key_id(2), key_hash(1), prefix(9))
            .await
            .is_err(),
        "rotated to another key's hash"
    );
    assert_eq!(keys.get(user(1), key_id(1)).await.unwrap(), Some(first));
    assert_eq!(keys.get(user(2), key_id(2)).await.unwrap(), Some(second));
    assert_eq!(keys.get(user(2), key_id(3)).await.unwrap(), None);
    assert_eq!(
        keys.find_by_hash(&key_hash(1))
            .await
            .unwrap()
            .map(|key| key.id),
        Some(key_id(1))
    );
    assert_eq!(keys.find_by_hash(&key_hash(3)).await.unwrap(), None);
}

/// A hash finds its key whoever's it is and whatever its state (revoked, expired); an unknown
/// hash finds nothing.
pub async fn a_hash_finds_its_key_in_any_state(backend: &dyn ApiKeyRepositoryBackend) {
    let (keys, clock) = one(backend).await;
    keys.add(new_key(1, 1)).await.unwrap();
    keys.add(new_key(2, 2)).await.unwrap();
    keys.add(NewApiKey {
        expires_at: Some(super::start() + TimeDelta::hours(1)),
        ..new_key(3, 3)
    })
    .await
    .unwrap();
    let revoked = keys.revoke(user(2), key_id(2)).await.unwrap().unwrap();
    clock.advance(TimeDelta::days(1));
    for (n, user_n) in [(1, 1), (2, 2), (3, 3)] {
        let found = keys.find_by_hash(&key_hash(n)).await.unwrap().unwrap();
        assert_eq!(
            (found.id, found.user_id),
            (key_id(u128::from(n)), user(user_n))
        );
    }
    assert_eq!(
        keys.find_by_hash(&key_hash(2)).await.unwrap(),
        Some(revoked)
    );
    let expired = keys.find_by_hash(&key_hash(3)).await.unwrap().unwrap();
    assert!(!expired.is_live(clock.now()), "{expired:?}");
    assert_eq!(keys.find_by_hash(&key_hash(9)).await.unwrap(), None);
}

/// Another user's key, or an unknown one, is not there for `get`, `update`, `rotate`,
/// `revoke` or `delete`, and none of them changes it.
pub async fn answers_only_the_owners_keys(backend: &dyn ApiKeyRepositoryBackend) {
    let (keys, _) = one(backend).await;
    let added = keys.add(new_key(1, 1)).await.unwrap();
    for (user_n, id) in [(2, key_id(1)), (1, key_id(9))] {
        let user_id = user(user_n);
        assert_eq!(keys.get(user_id, id).await.unwrap(), None);
        let rename = ApiKeyChange {
            name: Some("Mine now".to_owned()),
            scopes: Some(vec![Scope::All]),
        };
        assert_eq!(keys.update(user_id, id, rename).await.unwrap(), None);
        assert_eq!(
            keys.update(user_id, id, ApiKeyChange::default())
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            keys.rotate(user_id, id, key_hash(8), prefix(8))
                .await
                .unwrap(),
            None
        );
        assert_eq!(keys.revoke(user_id, id).await.unwrap(), None);
        assert!(!keys.delete(user_id, id).await.unwrap());
    }
    assert!(keys.list(user(2)).await.unwrap().is_empty());
    assert_eq!(keys.get(user(1), key_id(1)).await.unwrap(), Some(added));
    assert_eq!(keys.find_by_hash(&key_hash(8)).await.unwrap(), None);
}

/// A user's keys, newest first, revoked and expired ones included; other users' keys are left
/// out.
pub async fn lists_a_users_keys_newest_first(backend: &dyn ApiKeyRepositoryBackend) {
    let (keys, clock) = one(backend).await;
    assert!(keys.list(user(1)).await.unwrap().is_empty());
    keys.add(new_key(1, 1)).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    keys.add(NewApiKey {
        expires_at: Some(super::start() + TimeDelta::hours(1)),
        ..new_key(2, 1)
    })
    .await
    .unwrap();
    clock.advance(TimeDelta::minutes(1));
    keys.add(new_key(3, 1)).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    keys.add(new_key(4, 1)).await.unwrap();
    keys.add(new_key(5, 2)).await.unwrap();
    let revoked = keys.revoke(user(1), key_id(3)).await.unwrap().unwrap();
    clock.advance(TimeDelta::hours(2));

    let listed = keys.list(user(1)).await.unwrap();
    assert_eq!(ids(&listed), [key_id(4), key_id(3), key_id(2), key_id(1)]);
    assert_eq!(listed[1], revoked);
    assert!(!listed[2].is_live(clock.now()), "expired, still listed");
    assert_eq!(ids(&keys.list(user(2)).await.unwrap()), [key_id(5)]);
    assert!(keys.list(user(3)).await.unwrap().is_empty());
}

/// `update` changes the name, the scopes (normalized), both or neither, and nothing else; a
/// revoked key can still be renamed.
pub async fn update_changes_only_what_it_is_given(backend: &dyn ApiKeyRepositoryBackend) {
    let (keys, clock) = one(backend).await;
    let added = keys.add(new_key(1, 1)).await.unwrap();
    clock.advance(TimeDelta::minutes(5));
    assert!(
        keys.touch(key_id(1), clock.now(), clock.now())
            .await
            .unwrap()
    );
    let used = keys.get(user(1), key_id(1)).await.unwrap().unwrap();

    let renamed = keys
        .update(
            user(1),
            key_id(1),
            ApiKeyChange {
                name: Some("CI".to_owned()),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let expected = ApiKey {
        name: "CI".to_owned(),
        ..used.clone()
    };
    assert_eq!(renamed, Some(expected.clone()));

    let rescoped = keys
        .update(
            user(1),
            key_id(1),
            ApiKeyChange {
                name: None,
                scopes: Some(vec![Scope::WebhooksWrite, Scope::TwoFactorRead]),
            },
        )
        .await
        .unwrap();
    let expected = ApiKey {
        scopes: vec![Scope::TwoFactorRead, Scope::WebhooksWrite],
        ..expected
    };
    assert_eq!(rescoped, Some(expected.clone()));

    let unchanged = keys
        .update(user(1), key_id(1), ApiKeyChange::default())
        .await
        .unwrap();
    assert_eq!(unchanged, Some(expected.clone()));

    let both = keys
        .update(
            user(1),
            key_id(1),
            ApiKeyChange {
                name: Some("Deploys".to_owned()),
                scopes: Some(vec![Scope::All]),
            },
        )
        .await
        .unwrap();
    let expected = ApiKey {
        name: "Deploys".to_owned(),
        scopes: vec![Scope::All],
        ..expected
    };
    assert_eq!(both, Some(expected.clone()));
    assert_eq!(
        keys.get(user(1), key_id(1)).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        (expected.prefix, expected.created_at, expected.expires_at),
        (added.prefix, added.created_at, added.expires_at)
    );
    assert_eq!(
        keys.find_by_hash(&key_hash(1))
            .await
            .unwrap()
            .map(|key| key.id),
        Some(key_id(1)),
        "the hash is kept"
    );

    let revoked = keys.revoke(user(1), key_id(1)).await.unwrap().unwrap();
    let renamed = keys
        .update(
            user(1),
            key_id(1),
            ApiKeyChange {
                name: Some("Old".to_owned()),
                scopes: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        renamed,
        Some(ApiKey {
            name: "Old".to_owned(),
            ..revoked
        })
    );
}

/// `rotate` replaces the hash and the prefix of an unrevoked key and nothing else: the old
/// hash finds nothing, the new one finds the key; a revoked key is not rotated.
pub async fn rotate_replaces_the_hash_of_an_unrevoked_key(backend: &dyn ApiKeyRepositoryBackend) {
    let clock = super::clock();
    let (keys, other) = backend.open(clock.clone()).await;
    let added = keys.add(new_key(1, 1)).await.unwrap();
    clock.advance(TimeDelta::days(3));
    let rotated = keys
        .rotate(user(1), key_id(1), key_hash(11), prefix(11))
        .await
        .unwrap();
    let expected = ApiKey {
        prefix: prefix(11),
        ..added
    };
    assert_eq!(rotated, Some(expected.clone()));
    assert_eq!(other.find_by_hash(&key_hash(1)).await.unwrap(), None);
    assert_eq!(
        other.find_by_hash(&key_hash(11)).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        other.get(user(1), key_id(1)).await.unwrap(),
        Some(expected.clone())
    );

    keys.revoke(user(1), key_id(1)).await.unwrap().unwrap();
    assert_eq!(
        keys.rotate(user(1), key_id(1), key_hash(12), prefix(12))
            .await
            .unwrap(),
        None,
        "revoked"
    );
    assert_eq!(keys.find_by_hash(&key_hash(12)).await.unwrap(), None);
    let kept = keys.find_by_hash(&key_hash(11)).await.unwrap().unwrap();
    assert_eq!(kept.prefix, prefix(11));
}

/// `revoke` stamps an unrevoked key with the clock's time and answers it; a second revoke
/// answers nothing and keeps the first time. The revoked key stays.
pub async fn revoke_stamps_a_key_once(backend: &dyn ApiKeyRepositoryBackend) {
    let (keys, clock) = one(backend).await;
    let added = keys.add(new_key(1, 1)).await.unwrap();
    keys.add(new_key(2, 1)).await.unwrap();
    clock.advance(TimeDelta::hours(1));
    let revoked_at = clock.now();
    let revoked = keys.revoke(user(1), key_id(1)).await.unwrap();
    let expected = ApiKey {
        revoked_at: Some(revoked_at),
        ..added
    };
    assert_eq!(revoked, Some(expected.clone()));
    assert!(!expected.is_live(clock.now()));
    clock.advance(TimeDelta::hours(1));
    assert_eq!(keys.revoke(user(1), key_id(1)).await.unwrap(), None);
    assert_eq!(
        keys.get(user(1), key_id(1)).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        keys.find_by_hash(&key_hash(1)).await.unwrap(),
        Some(expected)
    );
    let untouched = keys.get(user(1), key_id(2)).await.unwrap().unwrap();
    assert_eq!(untouched.revoked_at, None);
}

/// `delete` removes the user's key, revoked or not, answering whether there was one; its hash
/// then finds nothing.
pub async fn delete_removes_the_key(backend: &dyn ApiKeyRepositoryBackend) {
    let (keys, _) = one(backend).await;
    keys.add(new_key(1, 1)).await.unwrap();
    keys.add(new_key(2, 1)).await.unwrap();
    keys.revoke(user(1), key_id(2)).await.unwrap().unwrap();
    assert!(keys.delete(user(1), key_id(1)).await.unwrap());
    assert!(!keys.delete(user(1), key_id(1)).await.unwrap());
    assert_eq!(keys.get(user(1), key_id(1)).await.unwrap(), None);
    assert_eq!(keys.find_by_hash(&key_hash(1)).await.unwrap(), None);
    assert!(keys.delete(user(1), key_id(2)).await.unwrap(), "revoked");
    assert!(keys.list(user(1)).await.unwrap().is_empty());
    assert!(
        keys.add(new_key(1, 1)).await.is_ok(),
        "the id and hash are free again"
    );
}

async fn last_used_at(keys: &dyn ApiKeyRepository) -> Option<DateTime<Utc>> {
    keys.get(user(1), key_id(1))
        .await
        .unwrap()
        .unwrap()
        .last_used_at
}

/// `touch` sets `last_used_at` to the time given when it is unset or before `stale_before`,
/// and leaves it when it is at or after it; an unknown key is not written.
pub async fn touch_writes_an_unset_or_stale_use_only(backend: &dyn ApiKeyRepositoryBackend) {
    let clock = super::clock();
    let (keys, other) = backend.open(clock.clone()).await;
    keys.add(new_key(1, 1)).await.unwrap();
    let start = super::start();
    let minute = TimeDelta::minutes(1);

    let first_use = start + TimeDelta::seconds(30);
    assert!(
        keys.touch(key_id(1), first_use, first_use - minute)
            .await
            .unwrap(),
        "unset"
    );
    assert_eq!(last_used_at(other.as_ref()).await, Some(first_use));

    let soon = first_use + TimeDelta::seconds(20);
    assert!(
        !keys.touch(key_id(1), soon, soon - minute).await.unwrap(),
        "fresh"
    );
    assert!(
        !keys.touch(key_id(1), soon, first_use).await.unwrap(),
        "used at the cut-off, not before it"
    );
    assert_eq!(last_used_at(other.as_ref()).await, Some(first_use));

    let later = first_use + minute + TimeDelta::microseconds(1);
    assert!(
        other.touch(key_id(1), later, later - minute).await.unwrap(),
        "stale"
    );
    assert_eq!(last_used_at(keys.as_ref()).await, Some(later));
    assert_eq!(
        keys.find_by_hash(&key_hash(1))
            .await
            .unwrap()
            .and_then(|key| key.last_used_at),
        Some(later)
    );
    assert!(
        !keys.touch(key_id(9), later, later).await.unwrap(),
        "no such key"
    );
}

/// Of two handles revoking one key at once, exactly one gets it; of two touching a stale key
/// at once, exactly one writes.
pub async fn conditional_writes_happen_once(backend: &dyn ApiKeyRepositoryBackend) {
    let clock = super::clock();
    let (keys, other) = backend.open(clock.clone()).await;
    keys.add(new_key(1, 1)).await.unwrap();
    let used_at = clock.now();
    let (first, second) = futures::join!(
        keys.touch(key_id(1), used_at, used_at),
        other.touch(key_id(1), used_at, used_at),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(first ^ second, "{first} {second}");

    let (first, second) = futures::join!(
        keys.revoke(user(1), key_id(1)),
        other.revoke(user(1), key_id(1)),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        [&first, &second].iter().filter(|k| k.is_some()).count(),
        1,
        "{first:?} {second:?}"
    );
}

/// Instantiates the `ApiKeyRepository` contract for `$backend` (an expression whose value
/// implements [`ApiKeyRepositoryBackend`]).
#[macro_export]
macro_rules! api_key_repository_contract {
    ($backend:expr) => {
        $crate::api_key_repository_contract!(@cases $backend;
            add_answers_the_stored_key,
            keeps_scopes_normalized_and_times_to_the_microsecond,
            refuses_an_id_or_hash_already_stored,
            a_hash_finds_its_key_in_any_state,
            answers_only_the_owners_keys,
            lists_a_users_keys_newest_first,
            update_changes_only_what_it_is_given,
            rotate_replaces_the_hash_of_an_unrevoked_key,
            revoke_stamps_a_key_once,
            delete_removes_the_key,
            touch_writes_an_unset_or_stale_use_only,
            conditional_writes_happen_once,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::api_key_repository::$case(&$backend).await;
            }
        )*
    };
}
