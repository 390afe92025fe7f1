//! Administrators in black-box tests: an app whose account store the test can reach, and an
//! account made an administrator through it (as `twofa admin create` does for a new one).

use std::sync::{Arc, Mutex, PoisonError};

use twofa_domain::{Role, UserId, UserRepository};

use crate::{AppOptions, SignedIn, TestApp, spawn_app_with};

/// An app started with `options`, and its account store, captured as it starts (the memory
/// backend has no other).
///
/// # Panics
/// When the app does not start.
pub async fn app_with_users(options: AppOptions) -> (TestApp, Arc<dyn UserRepository>) {
    let users: Arc<Mutex<Option<Arc<dyn UserRepository>>>> = Arc::default();
    let slot = users.clone();
    let options = options.customise(move |backends| {
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(backends.users.clone());
    });
    let app = spawn_app_with(options).await;
    let users = users
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .expect("the app's backends were customised");
    (app, users)
}

/// Signs `username` up, makes the account an administrator, and signs in again (the role is
/// in the new session).
///
/// # Panics
/// When a step fails.
pub async fn administrator(app: &TestApp, users: &dyn UserRepository, username: &str) -> SignedIn {
    let signed_up = app.signed_up(username).await;
    let id: UserId = signed_up.user_id.parse().expect("a user id");
    assert!(
        users
            .set_role(id, Role::Admin)
            .await
            .expect("the role is stored"),
        "the account exists"
    );
    app.signed_in(username).await
}
