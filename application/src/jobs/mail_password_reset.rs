//! `auth.password_reset.mail`: looks up the account a reset link was asked for and, when an
//! active one has the address, issues the reset token and records
//! `user.password.reset_requested` in one commit, then sends the e-mail itself. The job mints
//! the link: its payload holds the address asked for and the request's origin, and the link
//! is never queued, so no live link is readable in the queue's store (or a dump of it).
//!
//! A send that fails retryably fails the run, and the next run mints (and records) a fresh
//! link: the one minted before was never mailed and stays valid until it expires (as any
//! earlier link does, API.md), unknown to anyone. A send that fails permanently buries the job.

use std::{net::IpAddr, sync::Arc};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twofa_domain::{EmailAddress, PortError, TokenPurpose, UnitOfWork, UserRepository};

use super::Mailer;
use crate::{
    auth::{CutOff, EmailLinks, LinkMail, RequestInfo, user_event},
    worker::{JobFailure, JobHandler},
};

/// The job kind that mails a password reset link, if an account has the address.
pub const MAIL_PASSWORD_RESET: &str = "auth.password_reset.mail";

/// What a `auth.password_reset.mail` job carries: the address asked for, and where the request
/// came from (for the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailPasswordResetPayload {
    /// The address asked for (an account may or may not have it).
    pub email: EmailAddress,
    /// The client address of the request.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// The client's user agent.
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// Runs `auth.password_reset.mail`.
pub struct MailPasswordReset {
    users: Arc<dyn UserRepository>,
    unit_of_work: Arc<dyn UnitOfWork>,
    links: EmailLinks,
    mailer: Mailer,
}

impl MailPasswordReset {
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

    /// The e-mail of a new reset link for the active account with the address asked for, its
    /// token and audit event committed; `None` when no active account has the address.
    async fn issue(
        &self,
        payload: MailPasswordResetPayload,
    ) -> Result<Option<LinkMail>, PortError> {
        let Some(user) = self.users.find_by_login(payload.email.as_str()).await? else {
            return Ok(None);
        };
        if !user.is_active {
            return Ok(None);
        }
        let request = RequestInfo {
            ip: payload.ip,
            user_agent: payload.user_agent,
            // A job has no client to cut it off.
            cut_off: CutOff::default(),
            api_key: None,
        };
        let mut transaction = self.unit_of_work.begin().await?;
        let mail = self
            .links
            .issue(transaction.as_ref(), &user, TokenPurpose::ResetPassword)
            .await?;
        transaction
            .audit(user_event(
                "user.password.reset_requested",
                Some(user.id),
                true,
                &request,
                json!({ "email": user.email.masked() }),
            ))
            .await?;
        transaction.commit().await?;
        Ok(Some(mail))
    }
}

#[async_trait]
impl JobHandler for MailPasswordReset {
    fn kind(&self) -> &'static str {
        MAIL_PASSWORD_RESET
    }

    #[tracing::instrument(name = "mail_password_reset", skip_all)]
    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure> {
        let payload: MailPasswordResetPayload = super::parse(payload)?;
        // Every store failure may pass: the job runs again.
        let Some(mail) = self
            .issue(payload)
            .await
            .map_err(|error| JobFailure::Retryable(error.into()))?
        else {
            return Ok(());
        };
        self.mailer.send(mail.to, mail.template, &mail.params).await
    }
}
