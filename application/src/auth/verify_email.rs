//! `VerifyEmail`: uses a verification link; the address is marked verified and
//! `user.email.verified` recorded in one commit.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{Limit, RateLimiter, TokenPurpose, UnitOfWork};

use crate::webhook_events::record;

use super::{
    EmailTokenError, RequestInfo,
    audit_events::{commit, user_event},
    throttle::hit_per_client,
    tokens::{is_opaque_token, one_time_hash},
};

/// What using a verification link takes.
#[derive(Clone)]
pub struct VerifyEmailInput {
    /// The link's token.
    pub token: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for VerifyEmailInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyEmailInput")
            .field("token", &"[redacted]")
            .field("request", &self.request)
            .finish()
    }
}

/// Verifies an e-mail address through its link.
pub struct VerifyEmail {
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    /// `rate_limits.verify_per_ip`.
    pub(crate) limit: Limit,
}

impl VerifyEmail {
    /// Uses the verification `token`: its account's address is verified.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.verify_per_ip`; `InvalidToken` for a used, expired or
    /// unknown token; `Fault` from the stores.
    #[tracing::instrument(name = "verify_email", skip_all)]
    pub async fn execute(&self, input: VerifyEmailInput) -> Result<(), EmailTokenError> {
        let VerifyEmailInput { token, request } = input;
        hit_per_client::<EmailTokenError>(self.limiter.as_ref(), "verify", request.ip, self.limit)
            .await?;
        if !is_opaque_token(&token) {
            return Err(EmailTokenError::InvalidToken);
        }
        let mut transaction = self.unit_of_work.begin().await?;
        let Some(user_id) = transaction
            .one_time_tokens()
            .consume(TokenPurpose::VerifyEmail, &one_time_hash(&token))
            .await?
        else {
            return Err(EmailTokenError::InvalidToken);
        };
        if !transaction
            .users()
            .set_email_verified(user_id, true)
            .await?
        {
            return Err(EmailTokenError::InvalidToken);
        }
        record(
            transaction.as_mut(),
            user_event(
                "user.email.verified",
                Some(user_id),
                true,
                &request,
                json!({}),
            ),
        )
        .await?;
        commit(transaction, &request).await?;
        Ok(())
    }
}
