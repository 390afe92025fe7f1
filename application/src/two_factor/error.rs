//! What the second-factor use cases answer besides success: one enum per family of routes,
//! each mapped exhaustively to a problem by the HTTP adapter.

use std::time::Duration;

use crate::auth::{Fault, InvalidField, Throttled};

/// Why starting a factor's setup was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A malformed phone number or address.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// The account's e-mail address is not verified (`auth.require_verified_email`).
    #[error("the e-mail address is not verified")]
    EmailNotVerified,
    /// A factor of this kind is enabled already.
    #[error("a factor of this kind is enabled already")]
    AlreadyEnabled,
    /// Too many codes sent (per address, account or destination), or the resend cooldown.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// The account is gone.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why starting a TOTP setup was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupTotpError {
    /// The account's e-mail address is not verified (`auth.require_verified_email`).
    #[error("the e-mail address is not verified")]
    EmailNotVerified,
    /// A TOTP factor is enabled already.
    #[error("a factor of this kind is enabled already")]
    AlreadyEnabled,
    /// The account is gone.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why ending trusted devices failed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeDeviceError {
    /// No live device of the caller has the id (another user's alike).
    #[error("not found")]
    NotFound,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why confirming a factor's setup was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// An empty or overlong code.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// No setup of this kind is pending.
    #[error("no setup of this factor is pending")]
    NotPending,
    /// The code is wrong, used or expired.
    #[error("the code is invalid")]
    InvalidCode,
    /// Too many wrong codes.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// A factor of this kind is enabled already.
    #[error("a factor of this kind is enabled already")]
    AlreadyEnabled,
    /// The account is gone.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why answering a login challenge was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// An empty or overlong field, or an unknown `method`.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// An unknown, used, expired or dead challenge.
    #[error("the challenge is unknown, used or expired")]
    ChallengeExpired,
    /// A wrong, used or expired code.
    #[error("the code is invalid")]
    InvalidCode,
    /// Too many attempts from this address, or too many wrong codes for the account.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why resending a challenge's code was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    /// A `method` that is not `sms` or `email`, or not a factor of the challenge.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// An unknown, used, expired or dead challenge.
    #[error("the challenge is unknown, used or expired")]
    ChallengeExpired,
    /// The resend cooldown, or a send cap.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why a change that needs recent authentication (removing a factor, regenerating backup
/// codes) or a device revocation was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// An overlong field.
    #[error("some fields are invalid")]
    Invalid(Vec<InvalidField>),
    /// Neither the password nor a code was given.
    #[error("recent authentication is required")]
    ReauthenticationRequired,
    /// The password is wrong.
    #[error("the credentials are invalid")]
    InvalidCredentials,
    /// The code is wrong or used.
    #[error("the code is invalid")]
    InvalidCode,
    /// No such factor or device of the caller.
    #[error("not found")]
    NotFound,
    /// Backup codes asked for while no factor is enabled.
    #[error("no second factor is enabled")]
    NotEnabled,
    /// The account's failures are backed off.
    #[error("too many attempts")]
    RateLimited(Throttled),
    /// The password hashing pool is full.
    #[error("the password hashing pool is full")]
    Overloaded {
        /// The hint for `Retry-After`.
        retry_after: Duration,
    },
    /// The account is gone.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

crate::auth::faults!(
    SetupError,
    SetupTotpError,
    ConfirmError,
    VerifyError,
    ResendError,
    ManageError,
    RevokeDeviceError,
);
crate::auth::throttled!(
    SetupError,
    ConfirmError,
    VerifyError,
    ResendError,
    ManageError
);
crate::auth::overloaded!(ManageError);

/// `From<CipherError>` for the errors of use cases that open a stored secret: a secret that
/// does not open is the service's fault.
macro_rules! cipher_faults {
    ($($error:ty),* $(,)?) => {$(
        impl From<twofa_domain::CipherError> for $error {
            fn from(error: twofa_domain::CipherError) -> Self {
                Self::Fault(Fault::Unexpected(
                    anyhow::Error::new(error).context("opening a stored secret"),
                ))
            }
        }
    )*};
}

cipher_faults!(ConfirmError, VerifyError, ManageError);

/// Why an account may not set a factor up: the refusals every setup shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetupRefusal {
    EmailNotVerified,
    AlreadyEnabled,
    Unauthorized,
}

impl From<SetupRefusal> for SetupError {
    fn from(refusal: SetupRefusal) -> Self {
        match refusal {
            SetupRefusal::EmailNotVerified => Self::EmailNotVerified,
            SetupRefusal::AlreadyEnabled => Self::AlreadyEnabled,
            SetupRefusal::Unauthorized => Self::Unauthorized,
        }
    }
}

impl From<SetupRefusal> for SetupTotpError {
    fn from(refusal: SetupRefusal) -> Self {
        match refusal {
            SetupRefusal::EmailNotVerified => Self::EmailNotVerified,
            SetupRefusal::AlreadyEnabled => Self::AlreadyEnabled,
            SetupRefusal::Unauthorized => Self::Unauthorized,
        }
    }
}
