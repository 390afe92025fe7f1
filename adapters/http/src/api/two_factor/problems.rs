//! Every second-factor use case error answered as its problem, exhaustively, with the error
//! answers each can give derived from the same mapping (as [`crate::api::auth::problems`]
//! does for the account errors).

use twofa_application::two_factor::{
    ConfirmError, ManageError, ResendError, RevokeDeviceError, SetupError, SetupTotpError,
    VerifyError,
};

use crate::{
    api::auth::problems::{
        answered, fault_problem, invalid, invalid_credentials, overloaded, rate_limited,
        unauthorized,
    },
    api_error::answers::{
        ALREADY_ENABLED, BAD_REQUEST, CHALLENGE_EXPIRED, EMAIL_NOT_VERIFIED, INVALID_CODE,
        NOT_ENABLED, NOT_FOUND, NOT_PENDING, RATE_LIMITED, REAUTHENTICATION_REQUIRED, SHARED,
        UNAUTHORIZED,
    },
    problem::{Problem, ProblemCode},
};

answered!(SetupError {
    SetupError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    SetupError::EmailNotVerified => EMAIL_NOT_VERIFIED, email_not_verified();
    SetupError::AlreadyEnabled => ALREADY_ENABLED, already_enabled();
    SetupError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    SetupError::Unauthorized => UNAUTHORIZED, unauthorized();
    SetupError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(SetupTotpError {
    SetupTotpError::EmailNotVerified => EMAIL_NOT_VERIFIED, email_not_verified();
    SetupTotpError::AlreadyEnabled => ALREADY_ENABLED, already_enabled();
    SetupTotpError::Unauthorized => UNAUTHORIZED, unauthorized();
    SetupTotpError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(RevokeDeviceError {
    RevokeDeviceError::NotFound => NOT_FOUND, Problem::new(ProblemCode::NotFound, "no such resource");
    RevokeDeviceError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(ConfirmError {
    ConfirmError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    ConfirmError::NotPending => NOT_PENDING, Problem::new(
        ProblemCode::NotFound,
        "no setup of this factor is pending",
    );
    ConfirmError::InvalidCode => INVALID_CODE, invalid_code();
    ConfirmError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    ConfirmError::AlreadyEnabled => ALREADY_ENABLED, already_enabled();
    ConfirmError::Unauthorized => UNAUTHORIZED, unauthorized();
    ConfirmError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(VerifyError {
    VerifyError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    VerifyError::ChallengeExpired => CHALLENGE_EXPIRED, challenge_expired();
    VerifyError::InvalidCode => INVALID_CODE, invalid_code();
    VerifyError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    VerifyError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(ResendError {
    ResendError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    ResendError::ChallengeExpired => CHALLENGE_EXPIRED, challenge_expired();
    ResendError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    ResendError::Fault(fault) => SHARED, fault_problem(fault);
});

answered!(ManageError {
    ManageError::Invalid(fields) => BAD_REQUEST, invalid(fields);
    ManageError::ReauthenticationRequired => REAUTHENTICATION_REQUIRED, Problem::new(
        ProblemCode::ReauthenticationRequired,
        "this change needs the current password or a code of the authenticator app in the body",
    );
    ManageError::InvalidCredentials => UNAUTHORIZED, invalid_credentials();
    ManageError::InvalidCode => INVALID_CODE, invalid_code();
    ManageError::NotFound => NOT_FOUND, Problem::new(ProblemCode::NotFound, "no such resource");
    ManageError::NotEnabled => NOT_ENABLED, Problem::new(
        ProblemCode::Conflict,
        "no second factor is enabled",
    );
    ManageError::RateLimited(throttled) => RATE_LIMITED, rate_limited(throttled);
    ManageError::Overloaded { retry_after } => SHARED, overloaded(retry_after);
    ManageError::Unauthorized => UNAUTHORIZED, unauthorized();
    ManageError::Fault(fault) => SHARED, fault_problem(fault);
});

fn email_not_verified() -> Problem {
    Problem::new(
        ProblemCode::EmailNotVerified,
        "verify the account's e-mail address before setting up a second factor",
    )
}

fn already_enabled() -> Problem {
    Problem::new(
        ProblemCode::Conflict,
        "a factor of this kind is enabled already",
    )
}

fn invalid_code() -> Problem {
    Problem::new(
        ProblemCode::InvalidCode,
        "the code is wrong, used or expired",
    )
}

fn challenge_expired() -> Problem {
    Problem::new(
        ProblemCode::ChallengeExpired,
        "the challenge is unknown, used or expired; sign in again",
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use twofa_application::auth::{Fault, InvalidField, Throttled};

    use super::*;
    use crate::api::auth::problems::Answered;

    fn answer<E: Answered>(error: E) -> (u16, String) {
        let problem = error.into_problem();
        (problem.status, problem.code)
    }

    fn throttled() -> Throttled {
        Throttled {
            limit: 5,
            retry_after: Duration::from_secs(30),
        }
    }

    fn fault() -> Fault {
        Fault::Unexpected(anyhow::anyhow!("redis: connection reset"))
    }

    fn invalid_field() -> Vec<InvalidField> {
        vec![InvalidField::new("code", "must be 1 to 64 characters")]
    }

    #[track_caller]
    fn assert_answers<E: Answered>(error: E, status: u16, code: &str) {
        assert_eq!(answer(error), (status, code.to_owned()));
    }

    #[test]
    fn the_totp_setup_and_device_revocation_answer_only_what_they_can() {
        assert_answers(SetupTotpError::EmailNotVerified, 403, "email_not_verified");
        assert_answers(SetupTotpError::AlreadyEnabled, 409, "conflict");
        assert_answers(SetupTotpError::Unauthorized, 401, "unauthorized");
        assert_answers(RevokeDeviceError::NotFound, 404, "not_found");
        assert_answers(RevokeDeviceError::Fault(fault()), 500, "internal");
        assert_eq!(
            <RevokeDeviceError as Answered>::ANSWERS,
            NOT_FOUND,
            "a device revocation never answers 400, 403, 409 or 429"
        );
    }

    #[test]
    fn each_setup_error_is_answered_as_api_md_says() {
        assert_answers(
            SetupError::Invalid(invalid_field()),
            400,
            "validation_failed",
        );
        assert_answers(SetupError::EmailNotVerified, 403, "email_not_verified");
        assert_answers(SetupError::AlreadyEnabled, 409, "conflict");
        assert_answers(SetupError::RateLimited(throttled()), 429, "rate_limited");
        assert_answers(SetupError::Unauthorized, 401, "unauthorized");
        assert_answers(SetupError::Fault(fault()), 500, "internal");
    }

    #[test]
    fn each_confirm_error_is_answered_as_api_md_says() {
        assert_answers(
            ConfirmError::Invalid(invalid_field()),
            400,
            "validation_failed",
        );
        assert_answers(ConfirmError::NotPending, 404, "not_found");
        assert_answers(ConfirmError::InvalidCode, 401, "invalid_code");
        assert_answers(ConfirmError::RateLimited(throttled()), 429, "rate_limited");
        assert_answers(ConfirmError::AlreadyEnabled, 409, "conflict");
        assert_answers(ConfirmError::Unauthorized, 401, "unauthorized");
        assert_answers(ConfirmError::Fault(fault()), 500, "internal");
    }

    #[test]
    fn each_verify_error_is_answered_as_api_md_says() {
        assert_answers(
            VerifyError::Invalid(invalid_field()),
            400,
            "validation_failed",
        );
        assert_answers(VerifyError::ChallengeExpired, 401, "challenge_expired");
        assert_answers(VerifyError::InvalidCode, 401, "invalid_code");
        assert_answers(VerifyError::RateLimited(throttled()), 429, "rate_limited");
        assert_answers(VerifyError::Fault(fault()), 500, "internal");
    }

    #[test]
    fn each_resend_error_is_answered_as_api_md_says() {
        assert_answers(
            ResendError::Invalid(invalid_field()),
            400,
            "validation_failed",
        );
        assert_answers(ResendError::ChallengeExpired, 401, "challenge_expired");
        assert_answers(ResendError::RateLimited(throttled()), 429, "rate_limited");
        assert_answers(ResendError::Fault(fault()), 500, "internal");
    }

    #[test]
    fn each_manage_error_is_answered_as_api_md_says() {
        assert_answers(
            ManageError::Invalid(invalid_field()),
            400,
            "validation_failed",
        );
        assert_answers(
            ManageError::ReauthenticationRequired,
            403,
            "reauthentication_required",
        );
        assert_answers(ManageError::InvalidCredentials, 401, "invalid_credentials");
        assert_answers(ManageError::InvalidCode, 401, "invalid_code");
        assert_answers(ManageError::NotFound, 404, "not_found");
        assert_answers(ManageError::NotEnabled, 409, "conflict");
        assert_answers(ManageError::RateLimited(throttled()), 429, "rate_limited");
        assert_answers(
            ManageError::Overloaded {
                retry_after: Duration::from_secs(2),
            },
            503,
            "overloaded",
        );
        assert_answers(ManageError::Unauthorized, 401, "unauthorized");
        assert_answers(ManageError::Fault(fault()), 500, "internal");
    }

    #[test]
    fn a_throttled_code_check_carries_its_retry_after_and_limit() {
        let problem = VerifyError::RateLimited(throttled()).into_problem();
        assert_eq!(
            (problem.retry_after, problem.rate_limit),
            (Some(30), Some(5))
        );
    }

    #[test]
    fn the_declared_answers_are_the_statuses_of_the_variants() {
        assert_eq!(
            <SetupError as Answered>::ANSWERS,
            BAD_REQUEST | UNAUTHORIZED | EMAIL_NOT_VERIFIED | ALREADY_ENABLED | RATE_LIMITED
        );
        assert_eq!(
            <ConfirmError as Answered>::ANSWERS,
            BAD_REQUEST
                | UNAUTHORIZED
                | INVALID_CODE
                | NOT_PENDING
                | ALREADY_ENABLED
                | RATE_LIMITED
        );
        assert_eq!(
            <VerifyError as Answered>::ANSWERS,
            BAD_REQUEST | INVALID_CODE | CHALLENGE_EXPIRED | RATE_LIMITED
        );
        assert_eq!(
            <ResendError as Answered>::ANSWERS,
            BAD_REQUEST | CHALLENGE_EXPIRED | RATE_LIMITED
        );
        assert_eq!(
            <ManageError as Answered>::ANSWERS,
            BAD_REQUEST
                | UNAUTHORIZED
                | INVALID_CODE
                | REAUTHENTICATION_REQUIRED
                | NOT_FOUND
                | NOT_ENABLED
                | RATE_LIMITED
        );
    }
}
