//! `Register`: a sign-up. Creates the account, starts its first session, and mails the
//! verification link (which starts the send-verification cooldown).

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    EmailAddress, NewUser, Password, TokenPurpose, UserId, UserRepositoryError, Username,
};

use super::{
    AuthCore, AuthError, InvalidField, RequestInfo, SignedIn, core::user_event,
    throttle::hit_per_client,
};

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
    core: Arc<AuthCore>,
}

impl Register {
    /// Over the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// Creates the account and its first session.
    ///
    /// # Errors
    /// `RateLimited` past `rate_limits.register_per_ip`; `Invalid` naming each bad field;
    /// `Conflict` when the e-mail address or username is taken; `Overloaded` when the hashing
    /// pool is full; `Unavailable`/`Unexpected` from the stores.
    pub async fn execute(&self, input: RegisterInput) -> Result<SignedIn, AuthError> {
        let core = &self.core;
        hit_per_client(
            core.ports.limiter.as_ref(),
            "register",
            input.request.ip,
            core.policy.limits.register_per_ip,
        )
        .await?;
        let (email, username, password) = validate(&input)?;
        let password_hash = core.ports.hasher.hash(&password).await?;
        let id = UserId::from_uuid(core.ports.ids.uuid_v4());
        let user = core
            .ports
            .users
            .create(NewUser::new(id, email, username, password_hash))
            .await
            .map_err(|error| match error {
                UserRepositoryError::Conflict(field) => AuthError::Conflict(field),
                UserRepositoryError::Port(error) => error.into(),
            })?;
        let tokens = core
            .start_session(&user, vec!["pwd".to_owned()], &input.request)
            .await?;
        let mail = core.email_link(&user, TokenPurpose::VerifyEmail).await?;
        core.record(
            vec![user_event(
                "user.registered",
                Some(user.id),
                true,
                &input.request,
                json!({
                    "email": user.email.masked(),
                    "username": user.username.as_str(),
                    "sessionId": tokens.session_id.to_string(),
                }),
            )],
            vec![mail],
        )
        .await?;
        // Register's own e-mail starts the send-verification cooldown.
        core.email_cooldown_start("verify", &user.id.to_string())
            .await?;
        tracing::info!(user = %user.id, "account registered");
        Ok(SignedIn { user, tokens })
    }
}

/// Every field checked, every failure named.
fn validate(input: &RegisterInput) -> Result<(EmailAddress, Username, Password), AuthError> {
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
        _ => Err(AuthError::Invalid(invalid)),
    }
}
