//! Turns every error the framework or a handler raises into a problem. Handlers answer their
//! own business errors with typed problem responses; what reaches this mapping is the
//! framework's (routing, content type, parameters, body) and the unexpected.

use poem::{
    error::{MethodNotAllowedError, NotFoundError, ReadBodyError},
    http::StatusCode,
};
use poem_openapi::error::{
    ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use crate::{
    api_error::ProblemError,
    json_body::BodyError,
    problem::{FieldError, Problem, ProblemCode},
};

/// The problem answering `error`, and whether it is a server fault to be logged as an error.
pub fn problem_for(error: &poem::Error) -> Problem {
    if let Some(ProblemError(problem)) = error.downcast_ref::<ProblemError>() {
        return problem.clone();
    }
    if let Some(body) = error.downcast_ref::<BodyError>() {
        return body.to_problem();
    }
    if let Some(param) = error.downcast_ref::<ParseParamError>() {
        return Problem::validation(vec![FieldError {
            field: param.name.to_owned(),
            message: param.reason.clone(),
        }]);
    }
    if let Some(path) = error.downcast_ref::<ParsePathError>() {
        return Problem::validation(vec![FieldError {
            field: path.name.to_owned(),
            message: path.reason.clone(),
        }]);
    }
    if let Some(payload) = error.downcast_ref::<ParseRequestPayloadError>() {
        return Problem::validation(vec![FieldError {
            field: "body".to_owned(),
            message: payload.reason.clone(),
        }]);
    }
    if let Some(content_type) = error.downcast_ref::<ContentTypeError>() {
        return Problem::new(
            ProblemCode::UnsupportedMediaType,
            match content_type {
                ContentTypeError::NotSupported { content_type } => {
                    format!(
                        "`Content-Type: {content_type}` is not accepted here; send application/json"
                    )
                }
                ContentTypeError::ExpectContentType => {
                    "the request has no `Content-Type`; send application/json".to_owned()
                }
            },
        );
    }
    if error.is::<NotFoundError>() {
        return Problem::new(ProblemCode::NotFound, "no such route");
    }
    if error.is::<MethodNotAllowedError>() {
        return Problem::new(
            ProblemCode::MethodNotAllowed,
            "the route does not take this method",
        );
    }
    if let Some(ReadBodyError::PayloadTooLarge) = error.downcast_ref::<ReadBodyError>() {
        return too_large();
    }
    problem_for_status(error.status())
}

/// The problem for a bare status, when nothing more is known.
pub fn problem_for_status(status: StatusCode) -> Problem {
    match status {
        StatusCode::NOT_FOUND => Problem::new(ProblemCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            ProblemCode::MethodNotAllowed,
            "the route does not take this method",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Problem::new(ProblemCode::UnsupportedMediaType, "send application/json")
        }
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::SERVICE_UNAVAILABLE => Problem::new(
            ProblemCode::Overloaded,
            "the service is busy; try again shortly",
        ),
        StatusCode::UNAUTHORIZED => {
            Problem::new(ProblemCode::Unauthorized, "missing or invalid credentials")
        }
        StatusCode::FORBIDDEN => Problem::new(ProblemCode::Forbidden, "the request is not allowed"),
        StatusCode::TOO_MANY_REQUESTS => Problem::new(
            ProblemCode::RateLimited,
            "too many requests; try again later",
        ),
        status if status.is_client_error() => Problem {
            status: status.as_u16(),
            ..Problem::new(
                ProblemCode::BadRequest,
                "the request cannot be served as sent",
            )
        },
        _ => internal(),
    }
}

/// The body is over the limit.
pub fn too_large() -> Problem {
    Problem::new(
        ProblemCode::PayloadTooLarge,
        "the request body is over the size limit",
    )
}

/// The generic 500: no internal detail, the cause is logged under the request id.
pub fn internal() -> Problem {
    Problem::new(
        ProblemCode::Internal,
        "an unexpected error occurred; quote the request id when reporting it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_routes_are_not_found() {
        assert_eq!(problem_for(&NotFoundError.into()).code, "not_found");
    }

    #[test]
    fn server_faults_carry_no_internal_detail() {
        let error = poem::Error::from_string(
            "sqlx::Error: relation \"users\" does not exist",
            StatusCode::INTERNAL_SERVER_ERROR,
        );
        let problem = problem_for(&error);
        assert_eq!(problem.code, "internal");
        assert!(!problem.detail.contains("sqlx"));
        assert!(!problem.detail.contains("users"));
    }

    #[test]
    fn other_client_errors_keep_their_status_and_get_a_fitting_code() {
        for (status, code) in [
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            (StatusCode::FORBIDDEN, "forbidden"),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            (StatusCode::LENGTH_REQUIRED, "bad_request"),
        ] {
            let problem = problem_for(&poem::Error::from_status(status));
            assert_eq!(
                (problem.status, problem.code.as_str()),
                (status.as_u16(), code)
            );
        }
    }

    #[test]
    fn missing_parameters_name_the_parameter() {
        let error = poem::Error::from(ParseParamError {
            name: "limit",
            reason: "expects an integer".to_owned(),
        });
        let problem = problem_for(&error);
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(problem.errors.unwrap()[0].field, "limit");
    }
}
