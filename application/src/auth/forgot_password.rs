//! `ForgotPassword`: queues the mail of a reset link, answering alike, with the same work,
//! whether the account exists or not (the `MailPasswordReset` job looks the account up).

use std::sync::Arc;

use twofa_domain::{EmailAddress, Limit, NewJob, RateLimiter, UnitOfWork};

use super::{
    EmailCooldown, Fault, ForgotPasswordError, RequestInfo,
    audit_events::commit,
    email_cooldown::CooldownKind,
    throttle::{hit_per_client, login_subject},
};
use crate::jobs::{MAIL_PASSWORD_RESET, MailPasswordResetPayload};

/// What asking for a reset link takes.
#[derive(Debug, Clone)]
pub struct ForgotPasswordInput {
    /// The account's e-mail address, as typed.
    pub email: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

/// Asks for a password reset link.
pub struct ForgotPassword {
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) cooldown: EmailCooldown,
    /// `rate_limits.forgot_per_ip`.
    pub(crate) limit: Limit,
    /// Runs the job gets.
    pub(crate) email_max_attempts: u32,
}

impl ForgotPassword {
    /// Queues the lookup and the mail of a reset link for `email`: the same work whether an
    /// account has the address or not, so neither the answer nor its timing tells. At most
    /// one request per address per cooldown is queued (more are answered alike and dropped),
    /// so an inbox cannot be flooded.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.forgot_per_ip`; `Invalid` for a malformed address;
    /// `Fault` from the stores.
    #[tracing::instrument(name = "forgot_password", skip_all)]
    pub async fn execute(&self, input: ForgotPasswordInput) -> Result<(), ForgotPasswordError> {
        let ForgotPasswordInput { email, request } = input;
        hit_per_client::<ForgotPasswordError>(
            self.limiter.as_ref(),
            "forgot",
            request.ip,
            self.limit,
        )
        .await?;
        let email = EmailAddress::parse(&email).map_err(|error| {
            ForgotPasswordError::Invalid(vec![super::InvalidField::new("email", error.to_string())])
        })?;
        let subject = login_subject(email.as_str());
        if self
            .cooldown
            .check(CooldownKind::Reset, &subject)
            .await?
            .is_err()
        {
            return Ok(());
        }
        let payload = MailPasswordResetPayload {
            email,
            ip: request.ip,
            user_agent: request.user_agent.clone(),
        };
        let job = NewJob::new(
            MAIL_PASSWORD_RESET,
            serde_json::to_value(payload).map_err(|error| Fault::Unexpected(error.into()))?,
            self.email_max_attempts,
        );
        let mut transaction = self.unit_of_work.begin().await?;
        transaction.enqueue(job).await?;
        commit(transaction, &request).await?;
        self.cooldown
            .start_after_commit(CooldownKind::Reset, &subject)
            .await;
        Ok(())
    }
}
