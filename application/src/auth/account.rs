//! The signed-in user's account: `GetMe` and `ChangePassword`.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{Password, TokenPurpose, User, Verification};

use super::{
    AuthCore, AuthError, Principal, RequestInfo, core::user_event, throttle::LoginAttempts,
};

/// The caller's account.
pub struct GetMe {
    core: Arc<AuthCore>,
}

impl GetMe {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// The caller's account.
    ///
    /// # Errors
    /// `Unauthorized` when it no longer exists; `Unavailable`/`Unexpected` from the store.
    pub async fn execute(&self, principal: &Principal) -> Result<User, AuthError> {
        self.core
            .ports
            .users
            .find_by_id(principal.user_id)
            .await?
            .ok_or(AuthError::Unauthorized)
    }
}

/// What changing a password takes.
#[derive(Clone)]
pub struct ChangePasswordInput {
    /// The password now, as typed.
    pub current_password: String,
    /// The new password, checked against the policy.
    pub new_password: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for ChangePasswordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordInput")
            .field("current_password", &"[redacted]")
            .field("new_password", &"[redacted]")
            .field("request", &self.request)
            .finish()
    }
}

/// Changes the caller's password, keeping the calling session and ending every other.
pub struct ChangePassword {
    core: Arc<AuthCore>,
}

impl ChangePassword {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Checks the current password, stores the new one's hash, and ends the other sessions
    /// and any open reset link.
    ///
    /// # Errors
    /// `Invalid` (`newPassword`) for a password the policy refuses, or an empty current one;
    /// `RateLimited` while the account's failures are backed off; `InvalidCredentials` for a
    /// wrong current password; `Overloaded`, `Unavailable`, `Unexpected` as elsewhere.
    pub async fn execute(
        &self,
        principal: &Principal,
        input: ChangePasswordInput,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        if input.current_password.is_empty() {
            return Err(AuthError::invalid("currentPassword", "must not be empty"));
        }
        if input.current_password.chars().count() > 1024 {
            return Err(AuthError::invalid(
                "currentPassword",
                "must be at most 1024 characters",
            ));
        }
        let new_password = Password::new(input.new_password)
            .map_err(|error| AuthError::invalid("newPassword", error.to_string()))?;
        let user = core
            .ports
            .users
            .find_by_id(principal.user_id)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        let limits = core.policy.limits;
        let account = format!("user:{}", user.id);
        let attempts = LoginAttempts::new(
            core.ports.limiter.as_ref(),
            (limits.failures_per_account_ip, limits.failures_per_account),
            &account,
            input.request.ip,
            account.clone(),
        );
        attempts.attempt().await?;
        match core
            .ports
            .hasher
            .verify(&input.current_password, &user.password_hash)
            .await?
        {
            Verification::Mismatch => {
                core.record(
                    vec![user_event(
                        "user.password.changed",
                        Some(user.id),
                        false,
                        &input.request,
                        json!({ "reason": "wrong_password" }),
                    )],
                    vec![],
                )
                .await?;
                return Err(AuthError::InvalidCredentials);
            }
            Verification::Match { .. } => {}
        }
        let hash = core.ports.hasher.hash(&new_password).await?;
        // The other sessions end before the new password is stored: should a later step fail,
        // no session outlives the change, and the old password still works for a retry.
        let ended = core
            .end_sessions(user.id, Some(principal.session_id))
            .await?;
        core.ports
            .users
            .update_password_hash(user.id, &hash)
            .await?;
        core.ports
            .one_time_tokens
            .revoke_all(user.id, TokenPurpose::ResetPassword)
            .await?;
        attempts.clear().await?;
        core.record(
            vec![user_event(
                "user.password.changed",
                Some(user.id),
                true,
                &input.request,
                json!({ "endedSessions": ended }),
            )],
            vec![],
        )
        .await
    }
}
