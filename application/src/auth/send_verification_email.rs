//! `SendVerificationEmail`: mails a new verification link (after a cooldown): the job that
//! mails it (and mints it when it runs, so no live link is ever queued) and
//! `user.email.verification_sent` in one commit.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{UnitOfWork, UserRepository};

use super::{
    EmailCooldown, Principal, RequestInfo, SendVerificationError,
    audit_events::{commit, user_event},
    email_cooldown::CooldownKind,
};
use crate::{jobs::MailEmailVerificationPayload, webhook_events::record};

/// What mailing a new verification link takes.
#[derive(Debug, Clone)]
pub struct SendVerificationEmailInput {
    /// The caller.
    pub principal: Principal,
    /// Where the request came from.
    pub request: RequestInfo,
}

/// Mails a verification link to the caller.
pub struct SendVerificationEmail {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) cooldown: EmailCooldown,
    /// Runs the verification mail job gets.
    pub(crate) email_max_attempts: u32,
}

impl SendVerificationEmail {
    /// Mails a new link (earlier ones stay valid until used or expired). An address already
    /// verified is mailed nothing.
    ///
    /// # Errors
    /// `RateLimited` within the cooldown after the last one (register's included);
    /// `Unauthorized` when the account is gone; `Fault` from the stores.
    #[tracing::instrument(
        name = "send_verification_email",
        skip_all,
        fields(user = %input.principal.user_id)
    )]
    pub async fn execute(
        &self,
        input: SendVerificationEmailInput,
    ) -> Result<(), SendVerificationError> {
        let SendVerificationEmailInput { principal, request } = input;
        let user = self
            .users
            .find_by_id(principal.user_id)
            .await?
            .ok_or(SendVerificationError::Unauthorized)?;
        if user.email_verified {
            return Ok(());
        }
        let subject = user.id.to_string();
        self.cooldown
            .check(CooldownKind::Verify, &subject)
            .await??;
        let mut transaction = self.unit_of_work.begin().await?;
        transaction
            .enqueue(
                MailEmailVerificationPayload { user_id: user.id }.into_job(self.email_max_attempts),
            )
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "user.email.verification_sent",
                Some(user.id),
                true,
                &request,
                json!({ "email": user.email.masked() }),
            ),
        )
        .await?;
        commit(transaction, &request).await?;
        self.cooldown
            .start_after_commit(CooldownKind::Verify, &subject)
            .await;
        Ok(())
    }
}
