//! `AuthError`: what the account and session use cases answer besides success. The HTTP
//! adapter maps every variant, exhaustively, to one problem code.

use std::time::Duration;

use twofa_domain::{HashError, PortError, QueueError, TokenError, UniqueField};

/// One invalid input field: the request's camelCase name and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    /// The field (`email`, `newPassword`, …).
    pub field: &'static str,
    /// What is wrong with it, for a human.
    pub message: String,
}

impl InvalidField {
    /// `field` is wrong because of `message`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// A refusal for too many attempts: what the `429` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// The attempts the exceeded limit allows per window (`RateLimit-Limit`).
    pub limit: u32,
    /// When to try again (`Retry-After`, `RateLimit-Reset`).
    pub retry_after: Duration,
}

/// Why an account or session use case refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A login's identifier or password is wrong, or the account is disabled (one answer for
    /// all three), or a password change's current password is wrong.
    #[error("the credentials are invalid")]
    InvalidCredentials,
    /// A missing, malformed, expired or revoked access or refresh token, or a reused one.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Input that breaks a rule (a malformed e-mail address, a password policy); nothing was
    /// written.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// The e-mail address or the username belongs to another account.
    #[error("the {} is already taken", .0.as_str())]
    Conflict(UniqueField),
    /// A used, expired or unknown e-mail verification or password reset token.
    #[error("the token is invalid, used or expired")]
    InvalidToken,
    /// No such resource of this user.
    #[error("not found")]
    NotFound,
    /// Too many attempts.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// The password hashing pool is full: try again after `retry_after`.
    #[error("the password hashing pool is full")]
    Overloaded {
        /// The hint for `Retry-After`.
        retry_after: Duration,
    },
    /// A store did not answer in time.
    #[error(transparent)]
    Unavailable(PortError),
    /// Anything else: logged with its cause, answered as 500.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AuthError {
    /// A single invalid field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![InvalidField::new(field, message)])
    }
}

impl From<PortError> for AuthError {
    fn from(error: PortError) -> Self {
        match error {
            error @ PortError::Unavailable { .. } => Self::Unavailable(error),
            PortError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<HashError> for AuthError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Overloaded { retry_after } => Self::Overloaded { retry_after },
            HashError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<QueueError> for AuthError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Unavailable(source) => Self::Unavailable(PortError::Unavailable {
                dependency: "job queue",
                source,
            }),
            QueueError::LeaseLost => {
                Self::Unexpected(anyhow::anyhow!("a lease was lost outside a worker"))
            }
            QueueError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<TokenError> for AuthError {
    /// Signing fails only unexpectedly; verification failures are mapped where they happen.
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid | TokenError::Expired => Self::Unauthorized,
            TokenError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}
