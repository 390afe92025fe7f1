//! `Register`: a sign-up. Creates the account, starts its first session, queues the job that
//! mails the verification link (the job mints the link when it runs, so no live link is ever
//! queued), and records `user.registered`, in one commit; then starts the send-verification
//! cooldown.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    EmailAddress, Limit, NewUser, Password, PasswordHasher, RateLimiter, SecretGenerator,
    UnitOfWork, UserId, UserRepositoryError, Username,
};

use super::{
    EmailCooldown, InvalidField, RegisterError, RequestInfo, SessionIssuer, SignedIn,
    audit_events::{commit, user_event},
    email_cooldown::CooldownKind,
    throttle::hit_per_client,
};
use crate::{jobs::MailEmailVerificationPayload, webhook_events::record};

/// What signing up takes.
#[derive(Clone)]
pub struct RegisterInput {
    /// The e-mail address.
    pub email: String,
    /// The username.
    pub username: String,
    /// The password, checked against the policy.
    pub password: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for RegisterInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterInput")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("request", &self.request)
            .finish()
    }
}

/// Signs a new user up.
pub struct Register {
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) ids: Arc<dyn SecretGenerator>,
    pub(crate) issuer: SessionIssuer,
    pub(crate) cooldown: EmailCooldown,
    /// `rate_limits.register_per_ip`.
    pub(crate) limit: Limit,
    /// Runs the verification mail job gets.
    pub(crate) email_max_attempts: u32,
}

impl Register {
    /// Creates the account and its first session.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.register_per_ip`; `Invalid` naming each bad field;
    /// `Conflict` when the e-mail address or username is taken; `Overloaded` when the hashing
    /// pool is full; `Fault` from the stores. On any error nothing was written.
    #[tracing::instrument(name = "register", skip_all)]
    pub async fn execute(&self, input: RegisterInput) -> Result<SignedIn, RegisterError> {
        hit_per_client::<RegisterError>(
            self.limiter.as_ref(),
            "register",
            input.request.ip,
            self.limit,
        )
        .await?;
        let (email, username, password) = validate(&input)?;
        let password_hash = self.hasher.hash(&password).await?;
        let id = UserId::from_uuid(self.ids.uuid_v4());
        let mut transaction = self.unit_of_work.begin().await?;
        let user = transaction
            .users()
            .create(NewUser::new(id, email, username, password_hash))
            .await
            .map_err(|error| match error {
                UserRepositoryError::Conflict(field) => RegisterError::Conflict(field),
                UserRepositoryError::Port(error) => error.into(),
            })?;
        let tokens = self
            .issuer
            .start(
                transaction.as_ref(),
                &user,
                vec!["pwd".to_owned()],
                &input.request,
            )
            .await?;
        transaction
            .enqueue(
                MailEmailVerificationPayload { user_id: user.id }.into_job(self.email_max_attempts),
            )
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "user.registered",
                Some(user.id),
                true,
                &input.request,
                json!({
                    "email": user.email.masked(),
                    "username": user.username.as_str(),
                    "sessionId": tokens.session_id.to_string(),
                }),
            ),
        )
        .await?;
        commit(transaction, &input.request).await?;
        // Register's own e-mail starts the send-verification cooldown. The account is made:
        // a limiter that fails now is logged, not answered.
        self.cooldown
            .start_after_commit(CooldownKind::Verify, &user.id.to_string())
            .await;
        tracing::info!(user = %user.id, "account registered");
        Ok(SignedIn { user, tokens })
    }
}

/// Every field checked, every failure named.
fn validate(input: &RegisterInput) -> Result<(EmailAddress, Username, Password), RegisterError> {
    let mut invalid = Vec::new();
    let email = EmailAddress::parse(&input.email)
        .map_err(|error| invalid.push(InvalidField::new("email", error.to_string())))
        .ok();
    let username = Username::parse(&input.username)
        .map_err(|error| invalid.push(InvalidField::new("username", error.to_string())))
        .ok();
    let password = Password::new(input.password.clone())
        .map_err(|error| invalid.push(InvalidField::new("password", error.to_string())))
        .ok();
    match (email, username, password) {
        (Some(email), Some(username), Some(password)) if invalid.is_empty() => {
            Ok((email, username, password))
        }
        _ => Err(RegisterError::Invalid(invalid)),
    }
}
