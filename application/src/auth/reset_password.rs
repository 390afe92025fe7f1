//! `ResetPassword`: uses a reset link. The new password's hash is stored, every session and
//! every other reset link ends, and `user.password.reset` is recorded, in one commit; then the
//! account's login failures are cleared.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    Limit, OneTimeTokenRepository, Password, PasswordHasher, RateLimiter, TokenPurpose, UnitOfWork,
};

use crate::webhook_events::record;

use super::{
    EmailTokenError, EndedSessions, RequestInfo,
    audit_events::user_event,
    throttle::{LoginThrottle, hit_per_client},
    tokens::{is_opaque_token, one_time_hash},
};

/// What using a reset link takes.
#[derive(Clone)]
pub struct ResetPasswordInput {
    /// The link's token.
    pub token: String,
    /// The new password, checked against the policy.
    pub new_password: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for ResetPasswordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetPasswordInput")
            .field("token", &"[redacted]")
            .field("new_password", &"[redacted]")
            .field("request", &self.request)
            .finish()
    }
}

/// Sets a new password through a reset link.
pub struct ResetPassword {
    pub(crate) one_time_tokens: Arc<dyn OneTimeTokenRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) ended: EndedSessions,
    pub(crate) throttle: LoginThrottle,
    /// `rate_limits.verify_per_ip`.
    pub(crate) limit: Limit,
}

impl ResetPassword {
    /// Uses the reset `token`: stores `new_password`'s hash, ends every session and every
    /// other reset link, and clears the account's login failures.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.verify_per_ip`; `Invalid` (`newPassword`) for a
    /// password the policy refuses (the link is not used up); `InvalidToken` for a used,
    /// expired or unknown token; `Overloaded` when the hashing pool is full; `Fault` from the
    /// stores.
    #[tracing::instrument(name = "reset_password", skip_all)]
    pub async fn execute(&self, input: ResetPasswordInput) -> Result<(), EmailTokenError> {
        let ResetPasswordInput {
            token,
            new_password,
            request,
        } = input;
        hit_per_client::<EmailTokenError>(self.limiter.as_ref(), "verify", request.ip, self.limit)
            .await?;
        let new_password = Password::new(new_password)
            .map_err(|error| EmailTokenError::invalid("newPassword", error.to_string()))?;
        if !is_opaque_token(&token) {
            return Err(EmailTokenError::InvalidToken);
        }
        let token_hash = one_time_hash(&token);
        // An unknown token is refused before any Argon2 work (no hashing for free), and the
        // new password is hashed before the link is used up (a full hashing pool must not
        // cost the user the link).
        let Some(user_id) = self
            .one_time_tokens
            .live_owner(TokenPurpose::ResetPassword, &token_hash)
            .await?
        else {
            return Err(EmailTokenError::InvalidToken);
        };
        let hash = self.hasher.hash(&new_password).await?;
        let mut transaction = self.unit_of_work.begin().await?;
        // The account's row is written first, as a password change writes it first: flows
        // that change one account take its locks in one order (account, then its tokens and
        // sessions), so two of them never wait on each other.
        if !transaction
            .users()
            .update_password_hash(user_id, &hash)
            .await?
        {
            return Err(EmailTokenError::InvalidToken);
        }
        // Every trusted device ends with the password (SECURITY.md).
        transaction.devices().revoke_all(user_id).await?;
        if transaction
            .one_time_tokens()
            .consume(TokenPurpose::ResetPassword, &token_hash)
            .await?
            != Some(user_id)
        {
            return Err(EmailTokenError::InvalidToken);
        }
        let ended = transaction.sessions().revoke_all(user_id, None).await?;
        transaction
            .one_time_tokens()
            .revoke_all(user_id, TokenPurpose::ResetPassword)
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "user.password.reset",
                Some(user_id),
                true,
                &request,
                json!({ "endedSessions": ended.len() }),
            ),
        )
        .await?;
        self.ended
            .end_and_commit(&ended, transaction, &request)
            .await?;
        // The account's hard limit starts over; so does this address's ladder for the id.
        if let Err(error) = self
            .throttle
            .account_attempts(user_id, request.ip)
            .clear()
            .await
        {
            tracing::warn!(error = %twofa_domain::error_chain(&error), "could not clear the login failure counters");
        }
        Ok(())
    }
}
