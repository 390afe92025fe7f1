//! Every `AuthError` answered as its problem, exhaustively.

use twofa_application::auth::AuthError;

use crate::problem::{FieldError, Problem, ProblemCode};

/// Whole seconds, rounded up, at least 1: the form of `Retry-After`.
fn seconds(duration: std::time::Duration) -> u32 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    u32::try_from(whole.max(1)).unwrap_or(u32::MAX)
}

/// The problem answering `error`; server-side faults are logged here, once, with their cause.
pub fn auth_problem(error: AuthError) -> Problem {
    match error {
        AuthError::InvalidCredentials => Problem::new(
            ProblemCode::InvalidCredentials,
            "the login or the password is wrong",
        ),
        AuthError::Unauthorized => Problem::new(
            ProblemCode::Unauthorized,
            "missing, invalid, expired or revoked credentials",
        ),
        AuthError::Invalid(fields) => Problem::validation(
            fields
                .into_iter()
                .map(|field| FieldError {
                    field: field.field.to_owned(),
                    message: field.message,
                })
                .collect(),
        ),
        AuthError::Conflict(field) => Problem {
            errors: Some(vec![FieldError {
                field: field.as_str().to_owned(),
                message: "is already taken".to_owned(),
            }]),
            ..Problem::new(
                ProblemCode::Conflict,
                format!("the {} is already taken", field.as_str()),
            )
        },
        AuthError::InvalidToken => Problem::new(
            ProblemCode::InvalidToken,
            "the token is invalid, used or expired",
        ),
        AuthError::NotFound => Problem::new(ProblemCode::NotFound, "no such resource"),
        AuthError::RateLimited(throttled) => {
            Problem::rate_limited(throttled.limit, seconds(throttled.retry_after))
        }
        AuthError::Overloaded { retry_after } => Problem::new(
            ProblemCode::Overloaded,
            "the service is busy; try again shortly",
        )
        .with_retry_after(seconds(retry_after)),
        AuthError::Unavailable(error) => {
            tracing::error!(error = %twofa_domain::error_chain(&error), "a dependency is unavailable");
            Problem::new(
                ProblemCode::DependencyUnavailable,
                "a dependency of the service is unavailable; try again shortly",
            )
        }
        AuthError::Unexpected(error) => {
            tracing::error!(error = %format!("{error:#}"), "request failed");
            crate::error_mapping::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use twofa_application::auth::Throttled;

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
        let problem = auth_problem(AuthError::RateLimited(Throttled {
            limit: 5,
            retry_after: Duration::from_secs(61),
        }));
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
    fn unexpected_errors_carry_no_detail() {
        let problem = auth_problem(AuthError::Unexpected(anyhow::anyhow!(
            "sqlx: relation users does not exist"
        )));
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("sqlx"));
    }
}
