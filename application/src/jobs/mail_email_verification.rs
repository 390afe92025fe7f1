//! `auth.email_verification.mail`: mails an account a link to verify its e-mail address. The
//! job, not the request that queued it, mints the link: its payload holds only the account's
//! id, so no live link is ever readable in the queue's store (or a dump of it).
//!
//! A run loads the account and does nothing when it is gone, deactivated or already verified;
//! otherwise it issues the verification token in one commit, then sends the e-mail itself.
//! A send that fails retryably fails the run, and the next run mints a fresh link: the one
//! minted before was never mailed and stays valid until it expires (as any earlier link does,
//! API.md), unknown to anyone. A send that fails permanently buries the job.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use twofa_domain::{NewJob, PortError, TokenPurpose, UnitOfWork, UserId, UserRepository};

use super::Mailer;
use crate::{
    auth::{EmailLinks, LinkMail},
    worker::{JobFailure, JobHandler},
};

/// The job kind that mails a verification link.
pub const MAIL_EMAIL_VERIFICATION: &str = "auth.email_verification.mail";

/// What an `auth.email_verification.mail` job carries: the account, and nothing secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailEmailVerificationPayload {
    /// The account to mail.
    pub user_id: UserId,
}

impl MailEmailVerificationPayload {
    /// The job that mails this account a verification link, with at most `max_attempts` runs.
    pub fn into_job(self, max_attempts: u32) -> NewJob {
        NewJob::new(
            MAIL_EMAIL_VERIFICATION,
            serde_json::to_value(self).unwrap_or_default(),
            max_attempts,
        )
    }
}

/// Runs `auth.email_verification.mail`.
pub struct MailEmailVerification {
    users: Arc<dyn UserRepository>,
    unit_of_work: Arc<dyn UnitOfWork>,
    links: EmailLinks,
    mailer: Mailer,
}

impl MailEmailVerification {
    /// Looks accounts up in `users`, issues links with `links` in transactions of
    /// `unit_of_work`, and mails them with `mailer`.
    pub fn new(
        users: Arc<dyn UserRepository>,
        unit_of_work: Arc<dyn UnitOfWork>,
        links: EmailLinks,
        mailer: Mailer,
    ) -> Self {
        Self {
            users,
            unit_of_work,
            links,
            mailer,
        }
    }

    /// The e-mail of a new verification link for `user_id`, its token committed; `None` when
    /// the account is gone, deactivated or verified already.
    async fn issue(&self, user_id: UserId) -> Result<Option<LinkMail>, PortError> {
        let Some(user) = self.users.find_by_id(user_id).await? else {
            return Ok(None);
        };
        if !user.is_active || user.email_verified {
            return Ok(None);
        }
        let transaction = self.unit_of_work.begin().await?;
        let mail = self
            .links
            .issue(transaction.as_ref(), &user, TokenPurpose::VerifyEmail)
            .await?;
        transaction.commit().await?;
        Ok(Some(mail))
    }
}

#[async_trait]
impl JobHandler for MailEmailVerification {
    fn kind(&self) -> &'static str {
        MAIL_EMAIL_VERIFICATION
    }

    #[tracing::instrument(name = "mail_email_verification", skip_all)]
    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure> {
        let payload: MailEmailVerificationPayload = super::parse(payload)?;
        // Every store failure may pass: the job runs again.
        let Some(mail) = self
            .issue(payload.user_id)
            .await
            .map_err(|error| JobFailure::Retryable(error.into()))?
        else {
            return Ok(());
        };
        self.mailer.send(mail.to, mail.template, &mail.params).await
    }
}
