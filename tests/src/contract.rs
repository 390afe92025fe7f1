//! Contract suites: one per port, run against every adapter of it (memory always; SQLite,
//! PostgreSQL and Redis in the services run). Each suite is a macro that instantiates one
//! `#[tokio::test]` per case for a backend, so a failure names the case and the backend.

pub mod api_key_repository;
pub mod audit_log;
pub mod backup_code_repository;
pub mod challenge_store;
pub mod device_repository;
pub mod factor_repository;
pub mod job_queue;
pub mod one_time_token_repository;
pub mod rate_limiter;
pub mod session_cache;
pub mod session_repository;
pub mod unit_of_work;
pub mod user_repository;
pub mod webhook_repository;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use twofa_domain::{EmailAddress, NewUser, PasswordHash, UserId, UserRepository, Username};
use twofa_memory::ManualClock;

/// The instant every contract test starts at.
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

/// A manual clock at `start()`.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start()))
}

/// The account numbered `n`. Suites whose rows belong to accounts (a foreign key on SQL) use
/// `user(1)`–`user(3)`, which [`create_users`] creates.
pub fn user(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(n))
}

/// Creates the accounts `user(1)`–`user(3)` in `users`.
///
/// # Panics
/// When an account cannot be created.
pub async fn create_users(users: &dyn UserRepository) {
    for n in 1..=3 {
        let (Ok(email), Ok(username)) = (
            EmailAddress::parse(&format!("user{n}@example.com")),
            Username::parse(&format!("user{n}")),
        ) else {
            panic!("the contract's account {n} has an invalid address or username");
        };
        let user = NewUser::new(
            user(n),
            email,
            username,
            PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        );
        if let Err(error) = users.create(user).await {
            panic!("the contract's account {n} is not created: {error:?}");
        }
    }
}
