//! What the account and session use cases answer besides success: one error enum per use case
//! (or per small family that truly shares its failures), each built from the few shared
//! pieces here. The HTTP adapter maps every variant, exhaustively, to one problem, and derives
//! each route's documented statuses from the same mapping.

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

/// A failure that is the service's, not the caller's: answered 503 or 500, the cause logged.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// A store did not answer in time.
    #[error(transparent)]
    Unavailable(PortError),
    /// Anything else.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<PortError> for Fault {
    fn from(error: PortError) -> Self {
        match error {
            error @ PortError::Unavailable { .. } => Self::Unavailable(error),
            PortError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<QueueError> for Fault {
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

impl From<TokenError> for Fault {
    /// Signing fails only unexpectedly; verification failures are answered where they happen.
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid | TokenError::Expired => {
                Self::Unexpected(anyhow::anyhow!("signing an access token: {error}"))
            }
            TokenError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<anyhow::Error> for Fault {
    fn from(error: anyhow::Error) -> Self {
        Self::Unexpected(error)
    }
}

/// `From` every port error (through [`Fault`]) for use case errors with a `Fault(Fault)`
/// variant, so `?` works on every port call.
macro_rules! faults {
    ($($error:ty),* $(,)?) => {$(
        impl From<twofa_domain::PortError> for $error {
            fn from(error: twofa_domain::PortError) -> Self {
                Self::Fault(error.into())
            }
        }
        impl From<twofa_domain::QueueError> for $error {
            fn from(error: twofa_domain::QueueError) -> Self {
                Self::Fault(error.into())
            }
        }
        impl From<twofa_domain::TokenError> for $error {
            fn from(error: twofa_domain::TokenError) -> Self {
                Self::Fault(error.into())
            }
        }
    )*};
}
pub(crate) use faults;

/// `From<Throttled>` for use case errors with a `RateLimited(Throttled)` variant.
macro_rules! throttled {
    ($($error:ty),* $(,)?) => {$(
        impl From<$crate::auth::Throttled> for $error {
            fn from(throttled: $crate::auth::Throttled) -> Self {
                Self::RateLimited(throttled)
            }
        }
    )*};
}
pub(crate) use throttled;

/// `From<HashError>` for use case errors with an `Overloaded { retry_after }` variant.
macro_rules! overloaded {
    ($($error:ty),* $(,)?) => {$(
        impl From<twofa_domain::HashError> for $error {
            fn from(error: twofa_domain::HashError) -> Self {
                match $crate::auth::hash_failure(error) {
                    Ok(retry_after) => Self::Overloaded { retry_after },
                    Err(fault) => Self::Fault(fault),
                }
            }
        }
    )*};
}
pub(crate) use overloaded;

/// A hashing failure: the pool's `Retry-After` hint when it is full, else the fault.
pub(crate) fn hash_failure(error: HashError) -> Result<Duration, Fault> {
    match error {
        HashError::Overloaded { retry_after } => Ok(retry_after),
        HashError::Unexpected(error) => Err(Fault::Unexpected(error)),
    }
}

/// Why a sign-up was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Too many sign-ups from this address.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// Fields that break a rule; nothing was written.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// The e-mail address or the username belongs to another account.
    #[error("the {} is already taken", .0.as_str())]
    Conflict(UniqueField),
    /// The password hashing pool is full.
    #[error("the password hashing pool is full")]
    Overloaded {
        /// The hint for `Retry-After`.
        retry_after: Duration,
    },
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why a password login was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// An empty or overlong field.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// Too many attempts from this address, or the account's failures are backed off.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// An unknown login, a wrong password or a disabled account (one answer for all three).
    #[error("the credentials are invalid")]
    InvalidCredentials,
    /// The password hashing pool is full.
    #[error("the password hashing pool is full")]
    Overloaded {
        /// The hint for `Retry-After`.
        retry_after: Duration,
    },
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why a bearer token, a refresh token or the account behind one was refused, or failed: the
/// family of refresh, logout, the access token check and the account lookup.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A missing, malformed, expired, revoked or reused token, or an account that is gone.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why the caller of a route was refused: the access token check, or the API key check with
/// its scope and rate limit.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// A missing, malformed, expired or revoked token or API key, or an account that is gone
    /// or disabled.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// A valid API key whose scopes do not allow the route (or a route no key may reach).
    #[error("the API key's scopes do not allow this route")]
    InsufficientScope,
    /// The API key's per-key rate limit is exhausted.
    #[error("too many requests with this API key")]
    RateLimited(Throttled),
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl From<CredentialsError> for CallerError {
    fn from(error: CredentialsError) -> Self {
        match error {
            CredentialsError::Unauthorized => Self::Unauthorized,
            CredentialsError::Fault(fault) => Self::Fault(fault),
        }
    }
}

/// Why ending one session failed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// No active session of the caller has the id (another user's alike).
    #[error("not found")]
    NotFound,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why a password change was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// An empty or overlong current password, or a new one the policy refuses.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// The account's failures are backed off.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// The current password is wrong.
    #[error("the credentials are invalid")]
    InvalidCredentials,
    /// The account is gone.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The password hashing pool is full.
    #[error("the password hashing pool is full")]
    Overloaded {
        /// The hint for `Retry-After`.
        retry_after: Duration,
    },
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why a reset-link request was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ForgotPasswordError {
    /// Too many requests from this address.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// A malformed e-mail address.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why using an e-mail link (verification, reset) was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum EmailTokenError {
    /// Too many token uses from this address.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// A new password the policy refuses (the link is not used up).
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// A used, expired or unknown token.
    #[error("the token is invalid, used or expired")]
    InvalidToken,
    /// The password hashing pool is full.
    #[error("the password hashing pool is full")]
    Overloaded {
        /// The hint for `Retry-After`.
        retry_after: Duration,
    },
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why mailing a new verification link was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum SendVerificationError {
    /// The cooldown after the last link runs.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// The account is gone.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

faults!(
    CallerError,
    RegisterError,
    LoginError,
    CredentialsError,
    RevokeSessionError,
    ChangePasswordError,
    ForgotPasswordError,
    EmailTokenError,
    SendVerificationError,
);
throttled!(
    CallerError,
    RegisterError,
    LoginError,
    ChangePasswordError,
    ForgotPasswordError,
    EmailTokenError,
    SendVerificationError,
);
overloaded!(
    RegisterError,
    LoginError,
    ChangePasswordError,
    EmailTokenError
);

impl RegisterError {
    /// A single invalid field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![InvalidField::new(field, message)])
    }
}

impl ChangePasswordError {
    /// A single invalid field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![InvalidField::new(field, message)])
    }
}

impl EmailTokenError {
    /// A single invalid field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![InvalidField::new(field, message)])
    }
}
