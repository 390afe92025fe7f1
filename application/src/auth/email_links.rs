//! `EmailLinks`: the one-time tokens of e-mail links (verification, password reset), written
//! in the caller's transaction, and the jobs that mail them; shared by the account use cases
//! and the reset-mail job.

use std::{sync::Arc, time::Duration};

use twofa_domain::{
    Clock, NewJob, NewOneTimeToken, PortError, SecretGenerator, TokenPurpose, Transaction, User,
};

use super::tokens::{one_time_hash, opaque_token};
use crate::jobs::SendEmailPayload;

/// What the e-mail links follow.
#[derive(Debug, Clone)]
pub struct EmailLinkPolicy {
    /// The base of the links (`server.public_url`); a trailing `/` is dropped.
    pub public_url: String,
    /// E-mail verification link lifetime.
    pub verification_ttl: Duration,
    /// Password reset link lifetime.
    pub reset_ttl: Duration,
    /// Runs an e-mail job gets.
    pub email_max_attempts: u32,
}

/// Issues the one-time tokens of e-mail links and the jobs that mail them.
pub struct EmailLinks {
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
    policy: EmailLinkPolicy,
}

impl EmailLinks {
    /// Links following `policy`.
    pub fn new(
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
        mut policy: EmailLinkPolicy,
    ) -> Self {
        policy.public_url = policy.public_url.trim_end_matches('/').to_owned();
        Self { clock, ids, policy }
    }

    /// Issues a one-time token of `purpose` for `user` in `transaction`; the job that mails its
    /// link (for the caller to enqueue in the same transaction).
    pub(crate) async fn issue(
        &self,
        transaction: &dyn Transaction,
        user: &User,
        purpose: TokenPurpose,
    ) -> Result<NewJob, PortError> {
        let (ttl, path, template) = match purpose {
            TokenPurpose::VerifyEmail => {
                (self.policy.verification_ttl, "verify-email", "verify_email")
            }
            TokenPurpose::ResetPassword => {
                (self.policy.reset_ttl, "reset-password", "password_reset")
            }
        };
        let token = opaque_token(self.ids.as_ref());
        transaction
            .one_time_tokens()
            .issue(NewOneTimeToken {
                hash: one_time_hash(&token),
                purpose,
                user_id: user.id,
                expires_at: self.clock.after(ttl),
            })
            .await?;
        let link = format!("{}/{path}?token={token}", self.policy.public_url);
        let mut params = serde_json::Map::new();
        params.insert("link".to_owned(), link.into());
        Ok(SendEmailPayload {
            to: user.email.clone(),
            template: template.to_owned(),
            params,
        }
        .into_job(self.policy.email_max_attempts))
    }
}
