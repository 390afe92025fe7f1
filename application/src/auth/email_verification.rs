//! `SendVerificationEmail` mails a new verification link (after a cooldown); `VerifyEmail`
//! uses one.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::TokenPurpose;

use super::{
    AuthCore, AuthError, Principal, RequestInfo,
    core::{is_opaque_token, one_time_hash, user_event},
    throttle::hit_per_client,
};

/// Mails a verification link to the caller.
pub struct SendVerificationEmail {
    core: Arc<AuthCore>,
}

impl SendVerificationEmail {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Mails a new link (earlier ones stay valid until used or expired). An address already
    /// verified is mailed nothing.
    ///
    /// # Errors
    /// `RateLimited` within the cooldown after the last one (register's included);
    /// `Unauthorized` when the account is gone; `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(
        &self,
        principal: &Principal,
        request: &RequestInfo,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        let user = core
            .ports
            .users
            .find_by_id(principal.user_id)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        if user.email_verified {
            return Ok(());
        }
        core.email_cooldown_check("verify", &user.id.to_string())
            .await?;
        let mail = core.email_link(&user, TokenPurpose::VerifyEmail).await?;
        core.record(
            vec![user_event(
                "user.email.verification_sent",
                Some(user.id),
                true,
                request,
                json!({ "email": user.email.masked() }),
            )],
            vec![mail],
        )
        .await?;
        core.email_cooldown_start("verify", &user.id.to_string())
            .await
    }
}

/// Verifies an e-mail address through its link.
pub struct VerifyEmail {
    core: Arc<AuthCore>,
}

impl VerifyEmail {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Uses the verification `token`: its account's address is verified.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.verify_per_ip`; `InvalidToken` for a used, expired or
    /// unknown token; `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(&self, token: &str, request: &RequestInfo) -> Result<(), AuthError> {
        let core = &self.core;
        hit_per_client(
            core.ports.limiter.as_ref(),
            "verify",
            request.ip,
            core.policy.limits.verify_per_ip,
        )
        .await?;
        if !is_opaque_token(token) {
            return Err(AuthError::InvalidToken);
        }
        let Some(user_id) = core
            .ports
            .one_time_tokens
            .consume(TokenPurpose::VerifyEmail, &one_time_hash(token))
            .await?
        else {
            return Err(AuthError::InvalidToken);
        };
        if !core.ports.users.set_email_verified(user_id, true).await? {
            return Err(AuthError::InvalidToken);
        }
        core.record(
            vec![user_event(
                "user.email.verified",
                Some(user_id),
                true,
                request,
                json!({}),
            )],
            vec![],
        )
        .await
    }
}
