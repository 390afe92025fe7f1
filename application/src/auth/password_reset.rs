//! `ForgotPassword` mails a reset link (answering alike whether the account exists or not);
//! `ResetPassword` uses it: the new password's hash is stored and every session ends.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{EmailAddress, Password, TokenPurpose};

use super::{
    AuthCore, AuthError, RequestInfo,
    core::{is_opaque_token, one_time_hash, user_event},
    throttle::{LoginAttempts, hit_per_client},
};

/// Mails a password reset link.
pub struct ForgotPassword {
    core: Arc<AuthCore>,
}

impl ForgotPassword {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Mails a reset link to `email` if an active account has it; succeeds alike when none
    /// does. At most one link per account per cooldown is mailed (more requests are answered
    /// alike and mail nothing), so the address cannot be flooded.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.forgot_per_ip`; `Invalid` for a malformed address;
    /// `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(&self, email: &str, request: &RequestInfo) -> Result<(), AuthError> {
        let core = &self.core;
        hit_per_client(
            core.ports.limiter.as_ref(),
            "forgot",
            request.ip,
            core.policy.limits.forgot_per_ip,
        )
        .await?;
        let email = EmailAddress::parse(email)
            .map_err(|error| AuthError::invalid("email", error.to_string()))?;
        let Some(user) = core.ports.users.find_by_login(email.as_str()).await? else {
            return Ok(());
        };
        if !user.is_active {
            return Ok(());
        }
        match core.email_cooldown_check("reset", user.id).await {
            Ok(()) => {}
            Err(AuthError::RateLimited(_)) => return Ok(()),
            Err(error) => return Err(error),
        }
        let mail = core.email_link(&user, TokenPurpose::ResetPassword).await?;
        core.record(
            vec![user_event(
                "user.password.reset_requested",
                Some(user.id),
                true,
                request,
                json!({ "email": user.email.masked() }),
            )],
            vec![mail],
        )
        .await?;
        core.email_cooldown_start("reset", user.id).await
    }
}

/// Sets a new password through a reset link.
pub struct ResetPassword {
    core: Arc<AuthCore>,
}

impl ResetPassword {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Uses the reset `token`: stores `new_password`'s hash, ends every session and every
    /// other reset link, and clears the account's login failures.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.verify_per_ip`; `Invalid` (`newPassword`) for a
    /// password the policy refuses (the link is not used up); `InvalidToken` for a used,
    /// expired or unknown token; `Overloaded`, `Unavailable`, `Unexpected` as elsewhere.
    pub async fn execute(
        &self,
        token: &str,
        new_password: String,
        request: &RequestInfo,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        hit_per_client(
            core.ports.limiter.as_ref(),
            "verify",
            request.ip,
            core.policy.limits.verify_per_ip,
        )
        .await?;
        let new_password = Password::new(new_password)
            .map_err(|error| AuthError::invalid("newPassword", error.to_string()))?;
        if !is_opaque_token(token) {
            return Err(AuthError::InvalidToken);
        }
        let token_hash = one_time_hash(token);
        // An unknown token is refused before any Argon2 work (no hashing for free), and the
        // new password is hashed before the link is used up (a full hashing pool must not
        // cost the user the link).
        if !core
            .ports
            .one_time_tokens
            .is_live(TokenPurpose::ResetPassword, &token_hash)
            .await?
        {
            return Err(AuthError::InvalidToken);
        }
        let hash = core.ports.hasher.hash(&new_password).await?;
        let Some(user_id) = core
            .ports
            .one_time_tokens
            .consume(TokenPurpose::ResetPassword, &token_hash)
            .await?
        else {
            return Err(AuthError::InvalidToken);
        };
        if !core
            .ports
            .users
            .update_password_hash(user_id, &hash)
            .await?
        {
            return Err(AuthError::InvalidToken);
        }
        let ended = core.end_sessions(user_id, None).await?;
        core.ports
            .one_time_tokens
            .revoke_all(user_id, TokenPurpose::ResetPassword)
            .await?;
        // The account's hard limit starts over; so does this address's ladder for the id.
        let limits = core.policy.limits;
        let account = format!("user:{user_id}");
        LoginAttempts::new(
            core.ports.limiter.as_ref(),
            (limits.failures_per_account_ip, limits.failures_per_account),
            &account,
            request.ip,
            account.clone(),
        )
        .clear()
        .await?;
        core.record(
            vec![user_event(
                "user.password.reset",
                Some(user_id),
                true,
                request,
                json!({ "endedSessions": ended }),
            )],
            vec![],
        )
        .await
    }
}
