//! The `BackupCodeRepository` contract: a code is used once, under any of its candidate
//! digests, by its own user only; one use marks one code; `remaining` counts the unused
//! codes; `replace` starts a fresh set; `remove_all` counts what it deletes; of concurrent uses
//! of one code over two handles exactly one wins.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use twofa_domain::{BackupCodeRepository, SecretDigest};
use twofa_memory::ManualClock;

use super::user;

/// A backend under test.
#[async_trait]
pub trait BackupCodeRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would). Where codes must
    /// belong to an existing account, the accounts [`user`]`(1)`–`user(3)` exist.
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn BackupCodeRepository>, Arc<dyn BackupCodeRepository>);
}

/// The digest numbered `n`.
pub fn digest(n: u8) -> SecretDigest {
    let mut bytes = [n; 32];
    bytes[0] = 0xbc;
    SecretDigest::from_bytes(bytes)
}

fn digests(numbers: impl IntoIterator<Item = u8>) -> Vec<SecretDigest> {
    numbers.into_iter().map(digest).collect()
}

async fn one(backend: &dyn BackupCodeRepositoryBackend) -> Arc<dyn BackupCodeRepository> {
    backend.open(super::clock()).await.0
}

/// A code is used once; `remaining` counts down.
pub async fn a_code_is_used_once(backend: &dyn BackupCodeRepositoryBackend) {
    let codes = one(backend).await;
    codes.replace(user(1), digests(1..=10)).await.unwrap();
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 10);
    assert!(codes.consume(user(1), &[digest(4)]).await.unwrap());
    assert!(!codes.consume(user(1), &[digest(4)]).await.unwrap());
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 9);
    assert!(codes.consume(user(1), &[digest(10)]).await.unwrap());
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 8);
}

/// A code is found under any of its candidate digests (the current key's and earlier
/// keys'); one use marks one code even when several candidates are stored.
pub async fn uses_one_code_under_any_candidate(backend: &dyn BackupCodeRepositoryBackend) {
    let codes = one(backend).await;
    codes.replace(user(1), digests(1..=3)).await.unwrap();
    assert!(
        codes
            .consume(user(1), &[digest(90), digest(2)])
            .await
            .unwrap()
    );
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 2);
    assert!(
        codes
            .consume(user(1), &[digest(1), digest(3)])
            .await
            .unwrap()
    );
    assert_eq!(
        codes.remaining(user(1)).await.unwrap(),
        1,
        "one use, one code"
    );
    assert!(
        codes
            .consume(user(1), &[digest(1), digest(3)])
            .await
            .unwrap()
    );
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 0);
    assert!(
        !codes
            .consume(user(1), &[digest(1), digest(2), digest(3)])
            .await
            .unwrap()
    );
}

/// Another user's code, an unknown one and no candidate at all are refused, changing nothing.
pub async fn refuses_another_users_code(backend: &dyn BackupCodeRepositoryBackend) {
    let codes = one(backend).await;
    codes.replace(user(1), digests(1..=3)).await.unwrap();
    codes.replace(user(2), digests(4..=5)).await.unwrap();
    assert!(!codes.consume(user(2), &[digest(1)]).await.unwrap());
    assert!(!codes.consume(user(3), &[digest(1)]).await.unwrap());
    assert!(!codes.consume(user(1), &[digest(9)]).await.unwrap());
    assert!(!codes.consume(user(1), &[]).await.unwrap());
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 3);
    assert_eq!(codes.remaining(user(2)).await.unwrap(), 2);
    assert!(codes.consume(user(1), &[digest(1)]).await.unwrap());
}

/// A user who was never issued codes has none remaining.
pub async fn counts_no_codes_for_a_user_without_any(backend: &dyn BackupCodeRepositoryBackend) {
    let codes = one(backend).await;
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 0);
    assert!(!codes.consume(user(1), &[digest(1)]).await.unwrap());
    assert_eq!(codes.remove_all(user(1)).await.unwrap(), 0);
}

/// `replace` drops every earlier code, used or not, and starts the new ones unused.
pub async fn replace_starts_a_fresh_set(backend: &dyn BackupCodeRepositoryBackend) {
    let clock = super::clock();
    let (codes, other) = backend.open(clock).await;
    codes.replace(user(1), digests(1..=3)).await.unwrap();
    assert!(codes.consume(user(1), &[digest(1)]).await.unwrap());
    codes.replace(user(2), digests(1..=2)).await.unwrap();

    other.replace(user(1), digests(11..=14)).await.unwrap();
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 4);
    for n in 1..=3 {
        assert!(
            !codes.consume(user(1), &[digest(n)]).await.unwrap(),
            "old {n}"
        );
    }
    assert!(codes.consume(user(1), &[digest(11)]).await.unwrap());
    assert_eq!(codes.remaining(user(2)).await.unwrap(), 2, "untouched");

    // Replacing with the same digests again starts them unused.
    codes.replace(user(1), digests(11..=14)).await.unwrap();
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 4);
    codes.replace(user(1), Vec::new()).await.unwrap();
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 0);
}

/// `remove_all` deletes and counts every code of one user, used or not.
pub async fn removes_every_code_of_a_user(backend: &dyn BackupCodeRepositoryBackend) {
    let codes = one(backend).await;
    codes.replace(user(1), digests(1..=4)).await.unwrap();
    assert!(codes.consume(user(1), &[digest(2)]).await.unwrap());
    codes.replace(user(2), digests(5..=6)).await.unwrap();
    assert_eq!(codes.remove_all(user(1)).await.unwrap(), 4);
    assert_eq!(codes.remaining(user(1)).await.unwrap(), 0);
    assert!(!codes.consume(user(1), &[digest(1)]).await.unwrap());
    assert_eq!(codes.remove_all(user(1)).await.unwrap(), 0);
    assert_eq!(codes.remaining(user(2)).await.unwrap(), 2);
}

/// Many concurrent uses of one code over two handles: exactly one is accepted.
pub async fn concurrent_uses_let_exactly_one_through(backend: &dyn BackupCodeRepositoryBackend) {
    let (a, b) = backend.open(super::clock()).await;
    a.replace(user(1), digests(1..=5)).await.unwrap();
    for n in 1..=5 {
        let mut tasks = Vec::new();
        for attempt in 0..8 {
            let codes = if attempt % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            tasks.push(tokio::spawn(async move {
                codes.consume(user(1), &[digest(n)]).await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "code {n}");
    }
    assert_eq!(b.remaining(user(1)).await.unwrap(), 0);
}

/// Many concurrent regenerations for one user over two handles: each succeeds, and exactly
/// one set of codes is left.
pub async fn concurrent_replaces_leave_one_set(backend: &dyn BackupCodeRepositoryBackend) {
    let (a, b) = backend.open(super::clock()).await;
    for round in 0..3_u8 {
        let mut tasks = Vec::new();
        for set in 0..8_u8 {
            let codes = if set % 2 == 0 { a.clone() } else { b.clone() };
            let first = round * 80 + set * 10 + 1;
            tasks.push(tokio::spawn(async move {
                codes.replace(user(1), digests(first..=first + 9)).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(a.remaining(user(1)).await.unwrap(), 10, "round {round}");
        let mut kept = Vec::new();
        for set in 0..8_u8 {
            if b.consume(user(1), &[digest(round * 80 + set * 10 + 1)])
                .await
                .unwrap()
            {
                kept.push(set);
            }
        }
        assert_eq!(kept.len(), 1, "round {round}, sets kept: {kept:?}");
    }
}

/// Instantiates the `BackupCodeRepository` contract for `$backend` (an expression whose
/// value implements [`BackupCodeRepositoryBackend`]).
#[macro_export]
macro_rules! backup_code_repository_contract {
    ($backend:expr) => {
        $crate::backup_code_repository_contract!(@cases $backend;
            a_code_is_used_once,
            uses_one_code_under_any_candidate,
            refuses_another_users_code,
            counts_no_codes_for_a_user_without_any,
            replace_starts_a_fresh_set,
            removes_every_code_of_a_user,
        );
        $crate::backup_code_repository_contract!(@concurrent $backend;
            concurrent_uses_let_exactly_one_through,
            concurrent_replaces_leave_one_set,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::backup_code_repository::$case(&$backend).await;
            }
        )*
    };
    (@concurrent $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::contract::backup_code_repository::$case(&$backend).await;
            }
        )*
    };
}
