//! Every account use case error answered as its problem, exhaustively, and the error statuses
//! each can answer derived from the same mapping: a route declares
//! `ApiError<{ <LoginError as Answered>::ANSWERS }>`, so its documented statuses are exactly
//! those its use case's variants map to (the shared layer adds 500 and 503 to every route).

use twofa_application::auth::{
    CallerError, ChangePasswordError, CredentialsError, EmailTokenError, Fault,
    ForgotPasswordError, InvalidField, LoginError, RegisterError, RevokeSessionError,
    SendVerificationError, Throttled,
};
use twofa_domain::UniqueField;

use crate::{
    api_error::answers::{
        BAD_REQUEST, CONFLICT, INSUFFICIENT_SCOPE, NOT_FOUND, RATE_LIMITED, SHARED, UNAUTHORIZED,
    },
    problem::{FieldError, Problem, ProblemCode},
};

/// A use case error with its problem mapping.
pub trait Answered: Sized {
    /// The error statuses its variants answer, as bits of [`crate::api_error::answers`].
    const ANSWERS: u32;

    /// The problem answering this error.
    fn into_problem(self) -> Problem;
}

/// Implements [`Answered`] from one exhaustive match: each arm names the answer bit of its
/// status and the problem; `ANSWERS` is the union of the bits.
macro_rules! answered {
    ($error:ty { $($pattern:pat => $answer:expr, $problem:expr;)* }) => {
        impl $crate::api::auth::problems::Answered for $error {
            const ANSWERS: u32 = 0 $(| $answer)*;

            fn into_problem(self) -> $crate::problem::Problem {
                match self {
                    $($pattern => $problem,)*
                }
            }
        }
    };
}
pub(crate) use answered;

answered!(RegisterError {
    RegisterError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    RegisterError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    RegisterError::Conflict(field) => CONFLICT, conflict(field);
    RegisterError::Overloaded { retry_after } => SHARED, overloaded(retry_after);
    RegisterError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(LoginError {
    LoginError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    LoginError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    LoginError::InvalidCredentials => UNAUTHORIZED, invalid_credentials();
    LoginError::Overloaded { retry_after } => SHARED, overloaded(retry_after);
    LoginError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(CredentialsError {
    CredentialsError::Unauthorized => UNAUTHORIZED, unauthorized();
    CredentialsError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(CallerError {
    CallerError::Unauthorized => UNAUTHORIZED, unauthorized();
    CallerError::InsufficientScope => INSUFFICIENT_SCOPE, Problem::new(
        ProblemCode::InsufficientScope,
        "the API key's scopes do not allow this operation (see its x-required-scope), or no API key may call it",
    );
    CallerError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    CallerError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(RevokeSessionError {
    RevokeSessionError::NotFound => NOT_FOUND, Problem::new(ProblemCode::NotFound, "no such resource");
    RevokeSessionError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(ChangePasswordError {
    ChangePasswordError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    ChangePasswordError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    ChangePasswordError::InvalidCredentials => UNAUTHORIZED, invalid_credentials();
    ChangePasswordError::Unauthorized => UNAUTHORIZED, unauthorized();
    ChangePasswordError::Overloaded { retry_after } => SHARED, overloaded(retry_after);
    ChangePasswordError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(ForgotPasswordError {
    ForgotPasswordError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    ForgotPasswordError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    ForgotPasswordError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(EmailTokenError {
    EmailTokenError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    EmailTokenError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    EmailTokenError::InvalidToken => BAD_REQUEST, Problem::new(
        ProblemCode::InvalidToken,
        "the token is invalid, used or expired",
    );
    EmailTokenError::Overloaded { retry_after } => SHARED, overloaded(retry_after);
    EmailTokenError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(SendVerificationError {
    SendVerificationError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    SendVerificationError::Unauthorized => UNAUTHORIZED, unauthorized();
    SendVerificationError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(Fault {
    fault => SHARED, fault_problem(fault);
});

/// Whole seconds, rounded up, at least 1: the form of `Retry-After`.
fn seconds(duration: std::time::Duration) -> u32 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    u32::try_from(whole.max(1)).unwrap_or(u32::MAX)
}

/// `validation_failed`, naming each invalid field.
pub(crate) fn invalid(fields: Vec<InvalidField>) -> Problem {
    Problem::validation(
        fields
            .into_iter()
            .map(|field| FieldError {
                field: field.field.to_owned(),
                message: field.message,
            })
            .collect(),
    )
}

/// 429 `rate_limited` with `Retry-After` and the `RateLimit-*` headers.
pub(crate) fn rate_limited(throttled: Throttled) -> Problem {
    Problem::rate_limited(throttled.limit, seconds(throttled.retry_after))
}

fn conflict(field: UniqueField) -> Problem {
    Problem {
        errors: Some(vec![FieldError {
            field: field.as_str().to_owned(),
            message: "is already taken".to_owned(),
        }]),
        ..Problem::new(
            ProblemCode::Conflict,
            format!("the {} is already taken", field.as_str()),
        )
    }
}

/// 401 `invalid_credentials`: one answer for a wrong login or password.
pub(crate) fn invalid_credentials() -> Problem {
    Problem::new(
        ProblemCode::InvalidCredentials,
        "the login or the password is wrong",
    )
}

/// The problem of a missing, invalid, expired or revoked token.
pub(crate) fn unauthorized() -> Problem {
    Problem::new(
        ProblemCode::Unauthorized,
        "missing, invalid, expired or revoked credentials",
    )
}

/// 503 `overloaded` (the hashing pool is full) with `Retry-After`.
pub(crate) fn overloaded(retry_after: std::time::Duration) -> Problem {
    Problem::new(
        ProblemCode::Overloaded,
        "the service is busy; try again shortly",
    )
    .with_retry_after(seconds(retry_after))
}

/// 503 or 500 with a generic body; the cause chain rides along for the middleware's one log
/// line.
pub(crate) fn fault_problem(fault: Fault) -> Problem {
    let (problem, cause) = match fault {
        Fault::Unavailable(error) => (
            Problem::new(
                ProblemCode::DependencyUnavailable,
                "a dependency of the service is unavailable; try again shortly",
            ),
            twofa_domain::error_chain(&error),
        ),
        Fault::Unexpected(error) => (crate::error_mapping::internal(), format!("{error:#}")),
    };
    Problem {
        cause: Some(cause),
        ..problem
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(seconds(Duration::from_millis(1)), 1);
        assert_eq!(seconds(Duration::from_millis(1500)), 2);
        assert_eq!(seconds(Duration::from_mins(15)), 900);
        assert_eq!(seconds(Duration::ZERO), 1);
    }

    #[test]
    fn a_throttled_attempt_is_a_429_with_its_limit() {
        let problem = LoginError::RateLimited(Throttled {
            limit: 5,
            retry_after: Duration::from_secs(61),
        })
        .into_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (429, "rate_limited")
        );
        assert_eq!(
            (problem.retry_after, problem.rate_limit),
            (Some(61), Some(5))
        );
    }

    #[test]
    fn unexpected_errors_carry_no_detail_but_keep_their_cause_for_the_log() {
        let problem = RegisterError::Fault(Fault::Unexpected(anyhow::anyhow!(
            "sqlx: relation users does not exist"
        )))
        .into_problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("sqlx"));
        assert!(problem.cause.unwrap().contains("sqlx"));
    }

    #[test]
    fn the_declared_answers_are_the_statuses_of_the_variants() {
        assert_eq!(
            <RegisterError as Answered>::ANSWERS,
            BAD_REQUEST | CONFLICT | RATE_LIMITED
        );
        assert_eq!(
            <LoginError as Answered>::ANSWERS,
            BAD_REQUEST | UNAUTHORIZED | RATE_LIMITED
        );
        assert_eq!(<CredentialsError as Answered>::ANSWERS, UNAUTHORIZED);
        assert_eq!(<Fault as Answered>::ANSWERS, SHARED);
        assert_eq!(<RevokeSessionError as Answered>::ANSWERS, NOT_FOUND);
    }
}
