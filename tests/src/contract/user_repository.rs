//! The `UserRepository` contract: every field round-trips; login by e-mail address or
//! username in any case; uniqueness of both, case-insensitively, also under concurrent creates
//! from two handles; changes (the two-factor flag among them) bump `updated_at`; delete; the
//! admin list (filter, newest first, paging, limit clamp).

#![expect(
    clippy::unwrap_used,
    reason = "contract cases fail by panicking at the step that broke"
)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use twofa_domain::{
    Clock as _, EmailAddress, NewUser, PasswordHash, Role, UniqueField, User, UserId,
    UserRepository, UserRepositoryError, Username,
};
use twofa_memory::ManualClock;

/// A backend under test.
#[async_trait]
pub trait UserRepositoryBackend: Send + Sync {
    /// A new, empty store keeping time with `clock`, and two handles on it (separate
    /// connections where the backend has them, as two processes would).
    async fn open(
        &self,
        clock: Arc<ManualClock>,
    ) -> (Arc<dyn UserRepository>, Arc<dyn UserRepository>);
}

fn id(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(n))
}

fn hash(text: &str) -> PasswordHash {
    PasswordHash::from_phc(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${text}"))
}

fn new_user(n: u128, email: &str, username: &str) -> NewUser {
    NewUser::new(
        id(n),
        EmailAddress::parse(email).unwrap(),
        Username::parse(username).unwrap(),
        hash("first"),
    )
}

async fn one(backend: &dyn UserRepositoryBackend) -> (Arc<dyn UserRepository>, Arc<ManualClock>) {
    let clock = super::clock();
    let (users, _) = backend.open(clock.clone()).await;
    (users, clock)
}

fn ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

fn conflict(result: Result<User, UserRepositoryError>) -> UniqueField {
    match result {
        Err(UserRepositoryError::Conflict(field)) => field,
        Err(UserRepositoryError::Port(error)) => panic!("a port error: {error:?}"),
        Ok(user) => panic!("created {user:?}"),
    }
}

/// `create` returns the account as stored, and `find_by_id` gives back every field.
pub async fn creates_and_finds_every_field(backend: &dyn UserRepositoryBackend) {
    let (users, clock) = one(backend).await;
    let admin = NewUser {
        role: Role::Admin,
        email_verified: true,
        is_active: false,
        ..new_user(1, "Jane.Doe@Example.com", "JaneDoe")
    };
    let created = users.create(admin.clone()).await.unwrap();
    assert_eq!(created, admin.clone().into_user(clock.now()));
    assert_eq!(users.find_by_id(id(1)).await.unwrap(), Some(created));

    let plain = new_user(2, "john@example.org", "john_2");
    let created = users.create(plain.clone()).await.unwrap();
    let found = users.find_by_id(id(2)).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert_eq!(found.role, Role::User);
    assert!(!found.email_verified);
    assert!(found.is_active);
    assert_eq!(found.password_hash.as_phc(), plain.password_hash.as_phc());
    assert_eq!(
        (found.created_at, found.updated_at),
        (clock.now(), clock.now())
    );

    assert_eq!(users.find_by_id(id(3)).await.unwrap(), None);
}

/// The login text matches the e-mail address or the username, in any case.
pub async fn finds_by_email_or_username_in_any_case(backend: &dyn UserRepositoryBackend) {
    let (users, _) = one(backend).await;
    users
        .create(new_user(1, "Jane.Doe@Example.com", "JaneDoe"))
        .await
        .unwrap();
    users
        .create(new_user(2, "john@example.org", "John.Smith"))
        .await
        .unwrap();
    for login in [
        "Jane.Doe@Example.com",
        "jane.doe@example.com",
        "JANE.DOE@EXAMPLE.COM",
        "JaneDoe",
        "janedoe",
        "  JANEDOE ",
    ] {
        let found = users.find_by_login(login).await.unwrap();
        assert_eq!(found.map(|u| u.id), Some(id(1)), "login {login:?}");
    }
    for login in ["JOHN@example.org", "john.smith"] {
        let found = users.find_by_login(login).await.unwrap();
        assert_eq!(found.map(|u| u.id), Some(id(2)), "login {login:?}");
    }
    for login in ["jane", "doe@example.com", "", "%", "jane.doe@example.co"] {
        assert_eq!(
            users.find_by_login(login).await.unwrap(),
            None,
            "login {login:?}"
        );
    }
}

/// A taken e-mail address, in another case, is a conflict on the e-mail; nothing is written.
pub async fn refuses_a_taken_email_in_any_case(backend: &dyn UserRepositoryBackend) {
    let (users, _) = one(backend).await;
    users
        .create(new_user(1, "Jane.Doe@Example.com", "JaneDoe"))
        .await
        .unwrap();
    let again = users
        .create(new_user(2, "JANE.DOE@example.COM", "someone_else"))
        .await;
    assert_eq!(conflict(again), UniqueField::Email);
    assert_eq!(users.find_by_id(id(2)).await.unwrap(), None);
    assert_eq!(users.find_by_login("someone_else").await.unwrap(), None);
    assert_eq!(ids(&users.list(None, 10, None).await.unwrap()), [id(1)]);
}

/// A taken username, in another case, is a conflict on the username; nothing is written.
pub async fn refuses_a_taken_username_in_any_case(backend: &dyn UserRepositoryBackend) {
    let (users, _) = one(backend).await;
    users
        .create(new_user(1, "Jane.Doe@Example.com", "JaneDoe"))
        .await
        .unwrap();
    let again = users
        .create(new_user(2, "other@example.com", "JANEDOE"))
        .await;
    assert_eq!(conflict(again), UniqueField::Username);
    assert_eq!(users.find_by_id(id(2)).await.unwrap(), None);
    assert_eq!(
        users.find_by_login("other@example.com").await.unwrap(),
        None
    );
    assert_eq!(ids(&users.list(None, 10, None).await.unwrap()), [id(1)]);
}

/// Concurrent creates over two handles with one e-mail address (then one username): exactly
/// one succeeds, the others are told which field is taken.
pub async fn concurrent_creates_make_one_user(backend: &dyn UserRepositoryBackend) {
    let clock = super::clock();
    let (a, b) = backend.open(clock).await;
    let race = |users: Vec<NewUser>| {
        let handles = [a.clone(), b.clone()];
        async move {
            let mut tasks = Vec::new();
            for (n, user) in users.into_iter().enumerate() {
                let repository = handles[n % 2].clone();
                tasks.push(tokio::spawn(async move { repository.create(user).await }));
            }
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.unwrap());
            }
            outcomes
        }
    };

    let same_email = (0..6)
        .map(|n| {
            let email = if n % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@Example.com"
            };
            new_user(100 + n, email, &format!("racer{n}"))
        })
        .collect();
    let outcomes = race(same_email).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    for outcome in outcomes.into_iter().filter(Result::is_err) {
        assert_eq!(conflict(outcome), UniqueField::Email);
    }

    let same_username = (0..6)
        .map(|n| new_user(200 + n, &format!("runner{n}@example.com"), "Runner"))
        .collect();
    let outcomes = race(same_username).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    for outcome in outcomes.into_iter().filter(Result::is_err) {
        assert_eq!(conflict(outcome), UniqueField::Username);
    }
    assert_eq!(a.list(None, 50, None).await.unwrap().len(), 2);
    assert_eq!(b.list(None, 50, None).await.unwrap().len(), 2);
}

/// Each change is stored, bumps `updated_at` (not `created_at`) and is seen through the other
/// handle; an unknown id answers false.
pub async fn changes_bump_updated_at(backend: &dyn UserRepositoryBackend) {
    let clock = super::clock();
    let (users, other) = backend.open(clock.clone()).await;
    let created = users
        .create(new_user(1, "jane@example.com", "jane"))
        .await
        .unwrap();

    clock.advance(TimeDelta::minutes(1));
    assert!(
        users
            .update_password_hash(id(1), &hash("second"))
            .await
            .unwrap()
    );
    let found = other.find_by_id(id(1)).await.unwrap().unwrap();
    assert_eq!(found.password_hash, hash("second"));
    assert_eq!(found.updated_at, clock.now());
    assert_eq!(found.created_at, created.created_at);

    clock.advance(TimeDelta::minutes(1));
    assert!(users.set_email_verified(id(1), true).await.unwrap());
    let found = other.find_by_id(id(1)).await.unwrap().unwrap();
    assert!(found.email_verified);
    assert_eq!(found.updated_at, clock.now());

    clock.advance(TimeDelta::minutes(1));
    assert!(users.set_active(id(1), false).await.unwrap());
    let found = other.find_by_id(id(1)).await.unwrap().unwrap();
    assert!(!found.is_active);
    assert_eq!(found.updated_at, clock.now());

    clock.advance(TimeDelta::minutes(1));
    assert!(users.set_role(id(1), Role::Admin).await.unwrap());
    let found = other.find_by_id(id(1)).await.unwrap().unwrap();
    assert_eq!(found.role, Role::Admin);
    assert_eq!(found.updated_at, clock.now());
    assert_eq!(found.created_at, created.created_at);
    assert_eq!(
        (found.email.clone(), found.username.clone()),
        (created.email, created.username),
        "the other fields are untouched"
    );

    assert!(!users.update_password_hash(id(9), &hash("x")).await.unwrap());
    assert!(!users.set_email_verified(id(9), true).await.unwrap());
    assert!(!users.set_active(id(9), false).await.unwrap());
    assert!(!users.set_role(id(9), Role::Admin).await.unwrap());
    assert_eq!(users.find_by_id(id(9)).await.unwrap(), None);
}

/// A new account has no second factor; `set_two_factor_enabled` stores the flag both ways,
/// bumps `updated_at` and is seen through the other handle; an unknown id answers false.
pub async fn sets_two_factor_enabled_both_ways(backend: &dyn UserRepositoryBackend) {
    let clock = super::clock();
    let (users, other) = backend.open(clock.clone()).await;
    let created = users
        .create(new_user(1, "jane@example.com", "jane"))
        .await
        .unwrap();
    assert!(!created.two_factor_enabled);
    users
        .create(new_user(2, "john@example.com", "john"))
        .await
        .unwrap();

    clock.advance(TimeDelta::minutes(1));
    assert!(users.set_two_factor_enabled(id(1), true).await.unwrap());
    let found = other.find_by_id(id(1)).await.unwrap().unwrap();
    assert!(found.two_factor_enabled);
    assert_eq!(found.updated_at, clock.now());
    assert_eq!(
        found,
        User {
            two_factor_enabled: true,
            updated_at: clock.now(),
            ..created.clone()
        },
        "the other fields are untouched"
    );
    assert!(
        !other
            .find_by_login("john")
            .await
            .unwrap()
            .unwrap()
            .two_factor_enabled
    );

    clock.advance(TimeDelta::minutes(1));
    assert!(other.set_two_factor_enabled(id(1), false).await.unwrap());
    let found = users.find_by_id(id(1)).await.unwrap().unwrap();
    assert!(!found.two_factor_enabled);
    assert_eq!(found.updated_at, clock.now());
    assert!(!users.set_two_factor_enabled(id(9), true).await.unwrap());
}

/// A deleted account is gone, its address and username free again; deleting twice is false.
pub async fn deletes_an_account(backend: &dyn UserRepositoryBackend) {
    let (users, _) = one(backend).await;
    users
        .create(new_user(1, "jane@example.com", "jane"))
        .await
        .unwrap();
    users
        .create(new_user(2, "john@example.com", "john"))
        .await
        .unwrap();
    assert!(users.delete(id(1)).await.unwrap());
    assert_eq!(users.find_by_id(id(1)).await.unwrap(), None);
    assert_eq!(users.find_by_login("jane").await.unwrap(), None);
    assert!(!users.delete(id(1)).await.unwrap());
    assert!(users.find_by_id(id(2)).await.unwrap().is_some());
    users
        .create(new_user(3, "JANE@example.com", "Jane"))
        .await
        .unwrap();
}

/// Newest first (`created_at`, then id, descending), filtered by a case-insensitive substring
/// of the e-mail address or the username; `%` and `_` are plain characters.
pub async fn lists_newest_first_with_a_filter(backend: &dyn UserRepositoryBackend) {
    let (users, clock) = one(backend).await;
    users
        .create(new_user(1, "alice@example.com", "alice"))
        .await
        .unwrap();
    clock.advance(TimeDelta::seconds(1));
    users
        .create(new_user(2, "bob@Example.ORG", "Bob_Builder"))
        .await
        .unwrap();
    clock.advance(TimeDelta::seconds(1));
    users
        .create(new_user(4, "carol@example.com", "carol"))
        .await
        .unwrap();
    users
        .create(new_user(3, "dave@example.org", "dave"))
        .await
        .unwrap();

    let all = users.list(None, 50, None).await.unwrap();
    assert_eq!(ids(&all), [id(4), id(3), id(2), id(1)], "ties broken by id");
    assert_eq!(
        ids(&users.list(Some("   "), 50, None).await.unwrap()).len(),
        4
    );

    let org = users.list(Some("EXAMPLE.org"), 50, None).await.unwrap();
    assert_eq!(ids(&org), [id(3), id(2)]);
    let builder = users.list(Some("bUiLd"), 50, None).await.unwrap();
    assert_eq!(ids(&builder), [id(2)]);
    let by_username = users.list(Some("aro"), 50, None).await.unwrap();
    assert_eq!(ids(&by_username), [id(4)]);
    let underscore = users.list(Some("_"), 50, None).await.unwrap();
    assert_eq!(ids(&underscore), [id(2)], "_ is not a wildcard");
    assert!(users.list(Some("%"), 50, None).await.unwrap().is_empty());
    assert!(users.list(Some("zed"), 50, None).await.unwrap().is_empty());
}

/// Pages continue after the given account without gaps or repeats; the limit is clamped to
/// 1–200; a cursor whose account is gone gives an empty page.
pub async fn pages_after_an_account_and_clamps_the_limit(backend: &dyn UserRepositoryBackend) {
    let (users, clock) = one(backend).await;
    for n in 1..=201 {
        users
            .create(new_user(
                n,
                &format!("user{n}@example.com"),
                &format!("user{n}"),
            ))
            .await
            .unwrap();
        if n % 3 == 0 {
            clock.advance(TimeDelta::seconds(1));
        }
    }
    let everyone = users.list(None, 1000, None).await.unwrap();
    assert_eq!(everyone.len(), 200, "the limit is clamped to 200");
    assert_eq!(users.list(None, 0, None).await.unwrap().len(), 1);

    let expected: Vec<UserId> = users
        .list(Some("user1"), 200, None)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(expected.len(), 1 + 10 + 100, "user1, user1x and user1xx");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = users.list(Some("user1"), 7, after).await.unwrap();
        assert!(page.len() <= 7);
        seen.extend(ids(&page));
        match page.last() {
            Some(last) if page.len() == 7 => after = Some(last.id),
            _ => break,
        }
    }
    assert_eq!(seen, expected);

    let first = users.list(None, 2, None).await.unwrap();
    assert!(users.delete(first[1].id).await.unwrap());
    assert!(
        users
            .list(None, 2, Some(first[1].id))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Instantiates every case for `$backend` (an expression implementing `UserRepositoryBackend`).
#[macro_export]
macro_rules! user_repository_contract {
    ($backend:expr) => {
        $crate::user_repository_contract!(@cases $backend;
            creates_and_finds_every_field,
            finds_by_email_or_username_in_any_case,
            refuses_a_taken_email_in_any_case,
            refuses_a_taken_username_in_any_case,
            changes_bump_updated_at,
            sets_two_factor_enabled_both_ways,
            deletes_an_account,
            lists_newest_first_with_a_filter,
            pages_after_an_account_and_clamps_the_limit,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_creates_make_one_user() {
            $crate::contract::user_repository::concurrent_creates_make_one_user(&$backend).await;
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::user_repository::$case(&$backend).await;
            }
        )*
    };
}
