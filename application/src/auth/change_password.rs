//! `ChangePassword`: checks the current password, then stores the new one's hash, ends every
//! other session and any open reset link, and records `user.password.changed`, in one commit.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    Password, PasswordHasher, TokenPurpose, UnitOfWork, User, UserRepository, Verification,
};

use crate::webhook_events::record;

use super::{
    ChangePasswordError, EndedSessions, Principal, RequestInfo,
    audit_events::{record_alone, user_event},
    throttle::{Counted, LoginThrottle},
};

/// The longest current password a change reads (as a login does).
const MAX_CURRENT_PASSWORD: usize = 1024;

/// What changing a password takes.
#[derive(Clone)]
pub struct ChangePasswordInput {
    /// The caller; the calling session is kept.
    pub principal: Principal,
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
            .field("principal", &self.principal)
            .field("current_password", &"[redacted]")
            .field("new_password", &"[redacted]")
            .field("request", &self.request)
            .finish()
    }
}

/// Changes the caller's password, keeping the calling session and ending every other.
pub struct ChangePassword {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) ended: EndedSessions,
    pub(crate) throttle: LoginThrottle,
}

impl ChangePassword {
    /// Checks the current password, stores the new one's hash, and ends the other sessions
    /// and any open reset link.
    ///
    /// # Errors
    /// `Invalid` (`newPassword`) for a password the policy refuses, or an empty current one;
    /// `RateLimited` while the account's failures are backed off; `InvalidCredentials` for a
    /// wrong current password; `Unauthorized` when the account is gone; `Overloaded` when the
    /// hashing pool is full; `Fault` from the stores.
    #[tracing::instrument(
        name = "change_password",
        skip_all,
        fields(user = %input.principal.user_id)
    )]
    pub async fn execute(&self, mut input: ChangePasswordInput) -> Result<(), ChangePasswordError> {
        if input.current_password.is_empty() {
            return Err(ChangePasswordError::invalid(
                "currentPassword",
                "must not be empty",
            ));
        }
        if input.current_password.chars().count() > MAX_CURRENT_PASSWORD {
            return Err(ChangePasswordError::invalid(
                "currentPassword",
                format!("must be at most {MAX_CURRENT_PASSWORD} characters"),
            ));
        }
        let new_password = Password::new(std::mem::take(&mut input.new_password))
            .map_err(|error| ChangePasswordError::invalid("newPassword", error.to_string()))?;
        let user = self
            .users
            .find_by_id(input.principal.user_id)
            .await?
            .ok_or(ChangePasswordError::Unauthorized)?;
        let attempts = self.throttle.account_attempts(user.id, input.request.ip);
        let counted = attempts.attempt::<ChangePasswordError>().await?;
        let changed = self.change(&user, new_password, &input, counted).await;
        match &changed {
            Ok(()) => {
                if let Err(error) = attempts.clear().await {
                    tracing::warn!(error = %twofa_domain::error_chain(&error), "could not clear the login failure counters");
                }
            }
            // Answered 503: not a failure, so not counted as one.
            Err(ChangePasswordError::Overloaded { .. } | ChangePasswordError::Fault(_)) => {
                attempts.forgive().await;
            }
            Err(_) => {}
        }
        changed
    }

    /// The verdict on a counted attempt: the current password checked, then the change made
    /// (or the failure recorded).
    async fn change(
        &self,
        user: &User,
        new_password: Password,
        input: &ChangePasswordInput,
        counted: Counted,
    ) -> Result<(), ChangePasswordError> {
        match self
            .hasher
            .verify(&input.current_password, &user.password_hash)
            .await?
        {
            Verification::Mismatch => {
                let failure = user_event(
                    "user.password.changed",
                    Some(user.id),
                    false,
                    &input.request,
                    json!({ "reason": "wrong_password" }),
                );
                let throttled = self
                    .throttle
                    .throttled_event(counted, user.id, &input.request);
                record_alone(
                    self.unit_of_work.as_ref(),
                    std::iter::once(failure).chain(throttled),
                )
                .await?;
                return Err(ChangePasswordError::InvalidCredentials);
            }
            Verification::Match { .. } => {}
        }
        let hash = self.hasher.hash(&new_password).await?;
        let mut transaction = self.unit_of_work.begin().await?;
        // The account's row first, as a reset writes it first (one lock order per account).
        transaction
            .users()
            .update_password_hash(user.id, &hash)
            .await?;
        // Every trusted device ends with the password (SECURITY.md).
        transaction.devices().revoke_all(user.id).await?;
        let ended = transaction
            .sessions()
            .revoke_all(user.id, input.principal.session_id())
            .await?;
        transaction
            .one_time_tokens()
            .revoke_all(user.id, TokenPurpose::ResetPassword)
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "user.password.changed",
                Some(user.id),
                true,
                &input.request,
                json!({ "endedSessions": ended.len() }),
            ),
        )
        .await?;
        self.ended
            .end_and_commit(&ended, transaction, &input.request)
            .await?;
        Ok(())
    }
}
