//! The `OneTimeTokenRepository` contract: a token is consumed once, only with its purpose and
//! before it expires; unknown, used, expired and wrong-purpose tokens look alike; earlier
//! tokens stay valid; `revoke_all` kills one user's live tokens of one purpose; of concurrent
//! consumes over two handles exactly one wins; `purge_expired` deletes only what is dead and
//! older than the cut-off.

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::{
    NewOneTimeToken, OneTimeTokenHash, OneTimeTokenRepository, TokenPurpose, UserId,
};
use twofa_memory::ManualClock;

use TokenPurpose::{ResetPassword, VerifyEmail};

/// A backend under test.
#[async_trait]
pub trait OneTimeTokenRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would). Where tokens must
    /// belong to an existing account, the accounts [`user`]`(1)`, `user(2)` and `user(3)`
    /// exist.
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (
        Arc<dyn OneTimeTokenRepository>,
        Arc<dyn OneTimeTokenRepository>,
    );
}

/// The user numbered `n` (1–3 exist in every store).
pub fn user(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(n))
}

fn hash(n: u8) -> OneTimeTokenHash {
    let mut bytes = [n; 32];
    bytes[0] = 0xa5;
    OneTimeTokenHash::from_bytes(bytes)
}

fn token(n: u8, purpose: TokenPurpose, user_n: u128, expires_at: DateTime<Utc>) -> NewOneTimeToken {
    NewOneTimeToken {
        hash: hash(n),
        purpose,
        user_id: user(user_n),
        expires_at,
    }
}

fn in_an_hour() -> DateTime<Utc> {
    super::start() + TimeDelta::hours(1)
}

async fn one(
    backend: &dyn OneTimeTokenRepositoryBackend,
) -> (Arc<dyn OneTimeTokenRepository>, Arc<ManualClock>) {
    let clock = super::clock();
    let (tokens, _) = backend.open(clock.clone()).await;
    (tokens, clock)
}

/// A token answers its user once; every later consume answers `None`.
pub async fn consumes_a_token_once(backend: &dyn OneTimeTokenRepositoryBackend) {
    let (tokens, _) = one(backend).await;
    tokens
        .issue(token(1, VerifyEmail, 1, in_an_hour()))
        .await
        .unwrap();
    tokens
        .issue(token(2, ResetPassword, 2, in_an_hour()))
        .await
        .unwrap();
    assert_eq!(
        tokens.consume(VerifyEmail, &hash(1)).await.unwrap(),
        Some(user(1))
    );
    assert_eq!(tokens.consume(VerifyEmail, &hash(1)).await.unwrap(), None);
    assert_eq!(
        tokens.consume(ResetPassword, &hash(2)).await.unwrap(),
        Some(user(2))
    );
    assert_eq!(tokens.consume(ResetPassword, &hash(2)).await.unwrap(), None);
}

/// `is_live` and `live_owner` tell a live token of the purpose apart from an unknown, wrong-purpose, used or
/// expired one, and changes nothing.
pub async fn tells_a_live_token_without_using_it(backend: &dyn OneTimeTokenRepositoryBackend) {
    let (tokens, clock) = one(backend).await;
    tokens
        .issue(token(1, ResetPassword, 1, in_an_hour()))
        .await
        .unwrap();
    tokens
        .issue(token(2, ResetPassword, 1, in_an_hour()))
        .await
        .unwrap();
    assert!(tokens.is_live(ResetPassword, &hash(1)).await.unwrap());
    assert_eq!(
        tokens.live_owner(ResetPassword, &hash(1)).await.unwrap(),
        Some(user(1)),
        "its owner, still without using it"
    );
    assert!(tokens.is_live(ResetPassword, &hash(1)).await.unwrap());
    assert!(!tokens.is_live(VerifyEmail, &hash(1)).await.unwrap());
    assert_eq!(
        tokens.live_owner(VerifyEmail, &hash(1)).await.unwrap(),
        None
    );
    assert!(!tokens.is_live(ResetPassword, &hash(9)).await.unwrap());
    assert_eq!(
        tokens.consume(ResetPassword, &hash(1)).await.unwrap(),
        Some(user(1))
    );
    assert!(!tokens.is_live(ResetPassword, &hash(1)).await.unwrap());
    clock.advance(TimeDelta::hours(1));
    assert!(!tokens.is_live(ResetPassword, &hash(2)).await.unwrap());
}

/// A token issued through one handle is consumed through the other, once.
pub async fn handles_share_one_store(backend: &dyn OneTimeTokenRepositoryBackend) {
    let (a, b) = backend.open(super::clock()).await;
    a.issue(token(1, ResetPassword, 3, in_an_hour()))
        .await
        .unwrap();
    assert_eq!(
        b.consume(ResetPassword, &hash(1)).await.unwrap(),
        Some(user(3))
    );
    assert_eq!(a.consume(ResetPassword, &hash(1)).await.unwrap(), None);
}

/// An unknown hash answers `None`.
pub async fn refuses_an_unknown_token(backend: &dyn OneTimeTokenRepositoryBackend) {
    let (tokens, _) = one(backend).await;
    tokens
        .issue(token(1, VerifyEmail, 1, in_an_hour()))
        .await
        .unwrap();
    assert_eq!(tokens.consume(VerifyEmail, &hash(9)).await.unwrap(), None);
    assert_eq!(tokens.consume(ResetPassword, &hash(9)).await.unwrap(), None);
}

/// A token presented with another purpose answers `None` and stays usable with its own.
pub async fn refuses_a_wrong_purpose_and_keeps_the_token(
    backend: &dyn OneTimeTokenRepositoryBackend,
) {
    let (tokens, _) = one(backend).await;
    tokens
        .issue(token(1, VerifyEmail, 1, in_an_hour()))
        .await
        .unwrap();
    tokens
        .issue(token(2, ResetPassword, 1, in_an_hour()))
        .await
        .unwrap();
    assert_eq!(tokens.consume(ResetPassword, &hash(1)).await.unwrap(), None);
    assert_eq!(tokens.consume(VerifyEmail, &hash(2)).await.unwrap(), None);
    assert_eq!(
        tokens.consume(VerifyEmail, &hash(1)).await.unwrap(),
        Some(user(1))
    );
    assert_eq!(
        tokens.consume(ResetPassword, &hash(2)).await.unwrap(),
        Some(user(1))
    );
}

/// A token works until just before `expires_at`; from that instant it answers `None`.
pub async fn refuses_an_expired_token(backend: &dyn OneTimeTokenRepositoryBackend) {
    let (tokens, clock) = one(backend).await;
    for n in 1..=3 {
        tokens
            .issue(token(n, ResetPassword, 1, in_an_hour()))
            .await
            .unwrap();
    }
    clock.advance(TimeDelta::hours(1) - TimeDelta::microseconds(1));
    assert_eq!(
        tokens.consume(ResetPassword, &hash(1)).await.unwrap(),
        Some(user(1))
    );
    clock.advance(TimeDelta::microseconds(1));
    assert_eq!(tokens.consume(ResetPassword, &hash(2)).await.unwrap(), None);
    clock.advance(TimeDelta::days(1));
    assert_eq!(tokens.consume(ResetPassword, &hash(3)).await.unwrap(), None);
}

/// Issuing a later token for the same user and purpose leaves the earlier one valid.
pub async fn keeps_an_earlier_token_valid(backend: &dyn OneTimeTokenRepositoryBackend) {
    let (tokens, clock) = one(backend).await;
    tokens
        .issue(token(1, VerifyEmail, 1, in_an_hour()))
        .await
        .unwrap();
    clock.advance(TimeDelta::minutes(10));
    tokens
        .issue(token(
            2,
            VerifyEmail,
            1,
            in_an_hour() + TimeDelta::minutes(10),
        ))
        .await
        .unwrap();
    assert_eq!(
        tokens.consume(VerifyEmail, &hash(1)).await.unwrap(),
        Some(user(1))
    );
    assert_eq!(
        tokens.consume(VerifyEmail, &hash(2)).await.unwrap(),
        Some(user(1))
    );
}

/// `revoke_all` kills every live token of one user and purpose, counting them, and nothing
/// else.
pub async fn revokes_one_users_tokens_of_one_purpose(backend: &dyn OneTimeTokenRepositoryBackend) {
    let (tokens, clock) = one(backend).await;
    let later = in_an_hour() + TimeDelta::hours(1);
    // User 1's reset links: two live, one used, one that will have expired.
    tokens
        .issue(token(1, ResetPassword, 1, later))
        .await
        .unwrap();
    tokens
        .issue(token(2, ResetPassword, 1, later))
        .await
        .unwrap();
    tokens
        .issue(token(3, ResetPassword, 1, later))
        .await
        .unwrap();
    tokens
        .issue(token(
            4,
            ResetPassword,
            1,
            super::start() + TimeDelta::minutes(5),
        ))
        .await
        .unwrap();
    // Untouched: user 1's verification link, user 2's reset link.
    tokens.issue(token(5, VerifyEmail, 1, later)).await.unwrap();
    tokens
        .issue(token(6, ResetPassword, 2, later))
        .await
        .unwrap();
    assert_eq!(
        tokens.consume(ResetPassword, &hash(3)).await.unwrap(),
        Some(user(1))
    );
    clock.advance(TimeDelta::minutes(30));

    assert_eq!(tokens.revoke_all(user(1), ResetPassword).await.unwrap(), 2);
    for n in 1..=4 {
        assert_eq!(
            tokens.consume(ResetPassword, &hash(n)).await.unwrap(),
            None,
            "token {n}"
        );
    }
    assert_eq!(
        tokens.consume(VerifyEmail, &hash(5)).await.unwrap(),
        Some(user(1))
    );
    assert_eq!(
        tokens.consume(ResetPassword, &hash(6)).await.unwrap(),
        Some(user(2))
    );
    assert_eq!(tokens.revoke_all(user(1), ResetPassword).await.unwrap(), 0);
    assert_eq!(tokens.revoke_all(user(3), VerifyEmail).await.unwrap(), 0);
}

/// Many concurrent consumes of one token over two handles: exactly one answers the user.
pub async fn concurrent_consumes_let_exactly_one_through(
    backend: &dyn OneTimeTokenRepositoryBackend,
) {
    let (a, b) = backend.open(super::clock()).await;
    for n in 1..=5 {
        a.issue(token(n, ResetPassword, 1, in_an_hour()))
            .await
            .unwrap();
    }
    for n in 1..=5 {
        let mut tasks = Vec::new();
        for attempt in 0..8 {
            let tokens = if attempt % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            tasks.push(tokio::spawn(async move {
                tokens.consume(ResetPassword, &hash(n)).await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if let Some(id) = task.await.unwrap().unwrap() {
                assert_eq!(id, user(1));
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "token {n}");
    }
}

/// `purge_expired` deletes tokens expired or used before the cut-off, counting them; live
/// tokens and those that died at or after the cut-off are kept.
pub async fn purges_only_dead_tokens_older_than_the_cut_off(
    backend: &dyn OneTimeTokenRepositoryBackend,
) {
    let (tokens, clock) = one(backend).await;
    let start = super::start();
    // 1: expires at +10 min. 2: used at +0. 3: expires at +2 h. 4: live, expires at +3 h.
    // 5: used at +2 h (after the cut-off).
    tokens
        .issue(token(1, VerifyEmail, 1, start + TimeDelta::minutes(10)))
        .await
        .unwrap();
    tokens
        .issue(token(2, ResetPassword, 1, start + TimeDelta::hours(3)))
        .await
        .unwrap();
    tokens
        .issue(token(3, ResetPassword, 2, start + TimeDelta::hours(2)))
        .await
        .unwrap();
    tokens
        .issue(token(4, VerifyEmail, 2, start + TimeDelta::hours(3)))
        .await
        .unwrap();
    tokens
        .issue(token(5, VerifyEmail, 3, start + TimeDelta::hours(3)))
        .await
        .unwrap();
    assert!(
        tokens
            .consume(ResetPassword, &hash(2))
            .await
            .unwrap()
            .is_some()
    );
    clock.advance(TimeDelta::hours(2));
    assert!(
        tokens
            .consume(VerifyEmail, &hash(5))
            .await
            .unwrap()
            .is_some()
    );

    let cut_off = start + TimeDelta::hours(1);
    assert_eq!(tokens.purge_expired(cut_off).await.unwrap(), 2);
    assert_eq!(tokens.purge_expired(cut_off).await.unwrap(), 0);
    // Token 4 survived and still works; nothing else does.
    assert_eq!(
        tokens.consume(VerifyEmail, &hash(4)).await.unwrap(),
        Some(user(2))
    );
    // 3 expired at +2 h, 4 and 5 were used at +2 h: all just before this cut-off.
    assert_eq!(
        tokens
            .purge_expired(start + TimeDelta::hours(2) + TimeDelta::microseconds(1))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        tokens
            .purge_expired(start + TimeDelta::days(1))
            .await
            .unwrap(),
        0
    );
}

/// Instantiates the `OneTimeTokenRepository` contract for `$backend` (an expression whose
/// value implements [`OneTimeTokenRepositoryBackend`]).
#[macro_export]
macro_rules! one_time_token_repository_contract {
    ($backend:expr) => {
        $crate::one_time_token_repository_contract!(@cases $backend;
            consumes_a_token_once,
            tells_a_live_token_without_using_it,
            handles_share_one_store,
            refuses_an_unknown_token,
            refuses_a_wrong_purpose_and_keeps_the_token,
            refuses_an_expired_token,
            keeps_an_earlier_token_valid,
            revokes_one_users_tokens_of_one_purpose,
            purges_only_dead_tokens_older_than_the_cut_off,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_consumes_let_exactly_one_through() {
            $crate::contract::one_time_token_repository::concurrent_consumes_let_exactly_one_through(
                &$backend,
            )
            .await;
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::one_time_token_repository::$case(&$backend).await;
            }
        )*
    };
}
