//! `ForgotPassword` queues the mail of a reset link (answering alike, with the same work,
//! whether the account exists or not; the `MailPasswordReset` job looks the account up);
//! `ResetPassword` uses it: the new password's hash is stored and every session ends.

use std::{net::IpAddr, sync::Arc};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twofa_domain::{EmailAddress, NewJob, Password, TokenPurpose, UnitOfWork, UserRepository};

use super::{
    AuthCore, AuthError, RequestInfo,
    core::{is_opaque_token, one_time_hash, user_event},
    email_links::EmailLinks,
    throttle::{LoginAttempts, hit_per_client, login_subject},
};
use crate::worker::{JobFailure, JobHandler};

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

/// Asks for a password reset link.
pub struct ForgotPassword {
    core: Arc<AuthCore>,
}

impl ForgotPassword {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Queues the lookup and the mail of a reset link for `email`: the same work whether an
    /// account has the address or not, so neither the answer nor its timing tells. At most
    /// one request per address per cooldown is queued (more are answered alike and dropped),
    /// so an inbox cannot be flooded.
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
        let subject = login_subject(email.as_str());
        match core.email_cooldown_check("reset", &subject).await {
            Ok(()) => {}
            Err(AuthError::RateLimited(_)) => return Ok(()),
            Err(error) => return Err(error),
        }
        let job = MailPasswordResetPayload {
            email,
            ip: request.ip,
            user_agent: request.user_agent.clone(),
        };
        let job = NewJob::new(
            MAIL_PASSWORD_RESET,
            serde_json::to_value(job).map_err(|error| AuthError::Unexpected(error.into()))?,
            core.policy.links.email_max_attempts,
        );
        core.record(vec![], vec![job]).await?;
        core.email_cooldown_start("reset", &subject).await
    }
}

/// Runs `auth.password_reset.mail`: when an active account has the address, issues a reset
/// token and queues its e-mail, recording `user.password.reset_requested`; otherwise does
/// nothing.
pub struct MailPasswordReset {
    users: Arc<dyn UserRepository>,
    links: EmailLinks,
    unit_of_work: Arc<dyn UnitOfWork>,
}

impl MailPasswordReset {
    /// Looks accounts up in `users`, issues links with `links`, records through
    /// `unit_of_work`.
    pub fn new(
        users: Arc<dyn UserRepository>,
        links: EmailLinks,
        unit_of_work: Arc<dyn UnitOfWork>,
    ) -> Self {
        Self {
            users,
            links,
            unit_of_work,
        }
    }

    async fn run(&self, payload: MailPasswordResetPayload) -> Result<(), AuthError> {
        let Some(user) = self.users.find_by_login(payload.email.as_str()).await? else {
            return Ok(());
        };
        if !user.is_active {
            return Ok(());
        }
        let mail = self.links.issue(&user, TokenPurpose::ResetPassword).await?;
        let request = RequestInfo {
            ip: payload.ip,
            user_agent: payload.user_agent,
        };
        let mut transaction = self.unit_of_work.begin().await?;
        transaction.enqueue(mail).await?;
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
        Ok(())
    }
}

#[async_trait]
impl JobHandler for MailPasswordReset {
    fn kind(&self) -> &'static str {
        MAIL_PASSWORD_RESET
    }

    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure> {
        let payload: MailPasswordResetPayload =
            serde_json::from_value(payload.clone()).map_err(|error| {
                JobFailure::Permanent(anyhow::anyhow!("the payload does not parse: {error}"))
            })?;
        self.run(payload).await.map_err(|error| match error {
            AuthError::Unavailable(error) => JobFailure::Retryable(error.into()),
            AuthError::Unexpected(error) => JobFailure::Retryable(error),
            error @ (AuthError::InvalidCredentials
            | AuthError::Unauthorized
            | AuthError::Invalid(_)
            | AuthError::Conflict(_)
            | AuthError::InvalidToken
            | AuthError::NotFound
            | AuthError::RateLimited(_)
            | AuthError::Overloaded { .. }) => JobFailure::Permanent(error.into()),
        })
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
