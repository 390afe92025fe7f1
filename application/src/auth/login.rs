//! `Login`: the password step. Rate-limits per client and per account, verifies the password
//! on the hashing pool (an unknown login pays one dummy hash), and starts a session with an
//! outdated hash upgraded, in one commit; an account with a second factor gets a challenge
//! instead (no token, no session), unless it presents a live trusted-device token of its own.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    Limit, NewAuditEvent, Password, PasswordHash, PasswordHasher, UnitOfWork, User, UserRepository,
    Verification,
};

use crate::{
    two_factor::{SecondStep, TwoFactorChallenge},
    webhook_events::record,
};

use super::{
    InvalidField, LoginError, RequestInfo, SessionIssuer, SignedIn,
    audit_events::{commit, record_alone, user_event},
    throttle::{Counted, LoginThrottle, hit_per_client},
};

/// The longest login text or password a login reads; longer input cannot match an account.
const MAX_LOGIN_INPUT: usize = 1024;

/// What a login takes.
#[derive(Clone)]
pub struct LoginInput {
    /// An e-mail address or a username, in any case.
    pub login: String,
    /// The password as typed.
    pub password: String,
    /// A trusted-device token from an earlier second-factor verification, if presented.
    pub device_token: Option<String>,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for LoginInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginInput")
            .field("login", &self.login)
            .field("password", &"[redacted]")
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "[redacted]"),
            )
            .field("request", &self.request)
            .finish()
    }
}

/// What a correct password leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// No second factor is needed: a session started.
    SignedIn(SignedIn),
    /// A second factor must be verified before any token is issued.
    TwoFactorRequired(TwoFactorChallenge),
}

/// Why a login failed, for the audit trail only (the client always sees one answer).
#[derive(Debug, Clone, Copy)]
enum Failure {
    UnknownUser,
    WrongPassword,
    Disabled,
}

impl Failure {
    const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::Disabled => "disabled",
        }
    }
}

/// Signs a user in with a password.
pub struct Login {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) issuer: SessionIssuer,
    pub(crate) throttle: LoginThrottle,
    /// `rate_limits.login_per_ip`.
    pub(crate) limit: Limit,
    /// The second step, for accounts with a second factor.
    pub(crate) second_step: crate::two_factor::LoginChallenges,
}

impl Login {
    /// Checks the password and starts a session.
    ///
    /// # Errors
    /// `Invalid` for an empty or overlong field; `RateLimited` past the per-client limit or
    /// while the account's failures are backed off; `InvalidCredentials` for an unknown
    /// login, a wrong password or a disabled account alike; `Overloaded` when the hashing pool
    /// is full; `Fault` from the stores. An attempt answered `Overloaded` or `Fault` is taken
    /// back from the failure counters: it is not a failure.
    #[tracing::instrument(name = "login", skip_all)]
    pub async fn execute(&self, input: LoginInput) -> Result<LoginOutcome, LoginError> {
        validate(&input)?;
        hit_per_client::<LoginError>(self.limiter(), "login", input.request.ip, self.limit).await?;
        let found = self.users.find_by_login(&input.login).await?;
        let mut attempts = self.throttle.login_attempts(
            found.as_ref().map(|user| user.id),
            &input.login,
            input.request.ip,
        );
        attempts.recognise_client().await?;
        let counted = attempts.attempt::<LoginError>().await?;
        let outcome = self.check(found, &input, counted).await;
        match &outcome {
            Ok(_) => {
                // The session stands: counters that cannot be cleared now are logged, not
                // answered (they end with their windows).
                let cleared = async {
                    attempts.clear().await?;
                    attempts.remember_client().await
                };
                if let Err(error) = cleared.await {
                    tracing::warn!(error = %twofa_domain::error_chain(&error), "could not clear the login failure counters");
                }
            }
            Err(LoginError::Overloaded { .. } | LoginError::Fault(_)) => attempts.forgive().await,
            Err(_) => {}
        }
        outcome
    }

    /// The verdict on a counted attempt: the password checked against `found` (or the dummy
    /// hash), a failure recorded, or a session started.
    async fn check(
        &self,
        found: Option<User>,
        input: &LoginInput,
        counted: Counted,
    ) -> Result<LoginOutcome, LoginError> {
        let Some(user) = found else {
            self.hasher.verify_dummy(&input.password).await?;
            return Err(self
                .failed(None, Failure::UnknownUser, &input.request, counted)
                .await);
        };
        let needs_rehash = match self
            .hasher
            .verify(&input.password, &user.password_hash)
            .await?
        {
            Verification::Mismatch => {
                return Err(self
                    .failed(Some(&user), Failure::WrongPassword, &input.request, counted)
                    .await);
            }
            Verification::Match { needs_rehash } => needs_rehash,
        };
        if !user.is_active {
            // Counted like a wrong password (the attempt stays on the counters), so neither
            // the answer nor the throttling tells that the password was right.
            return Err(self
                .failed(Some(&user), Failure::Disabled, &input.request, counted)
                .await);
        }
        let rehashed = if needs_rehash {
            self.rehash(&user, &input.password).await
        } else {
            None
        };
        let amr = match self
            .second_step
            .begin(&user, input.device_token.as_deref(), &input.request)
            .await?
        {
            None => vec!["pwd".to_owned()],
            Some(SecondStep::TrustedDevice(_)) => vec!["pwd".to_owned(), "device".to_owned()],
            Some(SecondStep::Challenge(challenge)) => {
                if let Some(hash) = &rehashed {
                    self.store_rehash(&user, hash).await;
                }
                return Ok(LoginOutcome::TwoFactorRequired(challenge));
            }
        };
        let mut transaction = self.unit_of_work.begin().await?;
        if let Some(hash) = &rehashed {
            transaction
                .users()
                .update_password_hash(user.id, hash)
                .await?;
        }
        let tokens = self
            .issuer
            .start(transaction.as_ref(), &user, amr.clone(), &input.request)
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "user.login.succeeded",
                Some(user.id),
                true,
                &input.request,
                json!({ "sessionId": tokens.session_id.to_string(), "amr": amr }),
            ),
        )
        .await?;
        commit(transaction, &input.request).await?;
        if rehashed.is_some() {
            tracing::info!(user = %user.id, "password hash upgraded to the current parameters");
        }
        Ok(LoginOutcome::SignedIn(SignedIn { user, tokens }))
    }

    fn limiter(&self) -> &dyn twofa_domain::RateLimiter {
        self.throttle.limiter()
    }

    /// Records a failure (its attempt is already counted), with `security.login.throttled`
    /// when it brings the account to its hard limit, in one commit; the answer every failure
    /// gets.
    async fn failed(
        &self,
        user: Option<&User>,
        failure: Failure,
        request: &RequestInfo,
        counted: Counted,
    ) -> LoginError {
        let throttled =
            user.and_then(|user| self.throttle.throttled_event(counted, user.id, request));
        let events = std::iter::once(failure_event(user, failure, request)).chain(throttled);
        match record_alone(self.unit_of_work.as_ref(), events).await {
            Ok(()) => LoginError::InvalidCredentials,
            Err(error) => error.into(),
        }
    }

    /// Stores an upgraded hash on its own (the login waits for its second factor); a failure
    /// is logged and the next login tries again.
    async fn store_rehash(&self, user: &User, hash: &PasswordHash) {
        let stored = async {
            let transaction = self.unit_of_work.begin().await?;
            transaction
                .users()
                .update_password_hash(user.id, hash)
                .await?;
            transaction.commit().await
        };
        if let Err(error) = stored.await {
            tracing::warn!(user = %user.id, error = %twofa_domain::error_chain(&error), "could not store an upgraded password hash");
        }
    }

    /// A hash of `password` under today's parameters, to store with the session. A failure is
    /// logged: the login stands, and the next one tries again.
    async fn rehash(&self, user: &User, password: &str) -> Option<PasswordHash> {
        // Yesterday's policy allowed it, today's may not: then keep the old hash until the
        // user changes the password.
        let password = Password::new(password.to_owned()).ok()?;
        match self.hasher.hash(&password).await {
            Ok(hash) => Some(hash),
            Err(error) => {
                tracing::warn!(user = %user.id, error = %twofa_domain::error_chain(&error), "could not upgrade a password hash");
                None
            }
        }
    }
}

fn failure_event(user: Option<&User>, failure: Failure, request: &RequestInfo) -> NewAuditEvent {
    user_event(
        "user.login.failed",
        user.map(|user| user.id),
        false,
        request,
        json!({ "reason": failure.as_str() }),
    )
}

fn validate(input: &LoginInput) -> Result<(), LoginError> {
    let mut invalid = Vec::new();
    for (field, value) in [
        ("emailOrUsername", input.login.trim()),
        ("password", input.password.as_str()),
    ] {
        if value.is_empty() {
            invalid.push(InvalidField::new(field, "must not be empty"));
        } else if value.chars().count() > MAX_LOGIN_INPUT {
            invalid.push(InvalidField::new(
                field,
                format!("must be at most {MAX_LOGIN_INPUT} characters"),
            ));
        }
    }
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(LoginError::Invalid(invalid))
    }
}
