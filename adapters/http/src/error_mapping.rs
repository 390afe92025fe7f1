//! Turns every error the framework or a handler raises into a problem. Handlers answer their
//! own business errors with typed problem responses; what reaches this mapping is the
//! framework's (routing, content type, parameters, body) and the unexpected.

use std::sync::LazyLock;

use poem::{
    PathPattern,
    error::{MethodNotAllowedError, NotFoundError, ReadBodyError},
    http::StatusCode,
};
use poem_openapi::{
    OpenApi as _,
    error::{ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError},
};

use crate::{
    api_error::ProblemError,
    document::Apis,
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
            field: path_parameter_name(error, path.name).to_owned(),
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

/// The path template of every operation the service serves, by segment (`{id}` for a
/// variable).
static TEMPLATES: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    Apis::meta()
        .into_iter()
        .flat_map(|api| api.paths)
        .map(|path| segments(&path.path).map(str::to_owned).collect())
        .collect()
});

/// The name the route gives its path parameter `name`. poem-openapi routes the operation
/// `/api/auth/sessions/{id}` as `/api/auth/sessions/:param0` and reports a path parameter that
/// does not parse under that routing name (`param0`: the route's first variable), so the
/// variable at that position is looked up in the template of the operation whose route
/// matched (the pattern poem attaches to the error); `name` itself when none is found.
fn path_parameter_name(error: &poem::Error, name: &'static str) -> &'static str {
    let Some(index) = name
        .strip_prefix("param")
        .and_then(|index| index.parse::<usize>().ok())
    else {
        return name;
    };
    let Some(PathPattern(pattern)) = error.data::<PathPattern>() else {
        return name;
    };
    let routed: Vec<&str> = segments(pattern).collect();
    TEMPLATES
        .iter()
        .find(|template| {
            template.len() == routed.len()
                && template.iter().zip(&routed).all(|(template, routed)| {
                    match (variable_of_template(template), routed.strip_prefix(':')) {
                        (Some(_), Some(_)) => true,
                        (None, None) => template == routed,
                        _ => false,
                    }
                })
        })
        .and_then(|template| {
            template
                .iter()
                .filter_map(|segment| variable_of_template(segment))
                .nth(index)
        })
        .unwrap_or(name)
}

/// The non-empty segments of a path.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

/// The variable of an OpenAPI path segment (`{id}`), if it is one.
fn variable_of_template(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
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

    /// `template` as poem-openapi routes it: `{id}` becomes `:param0`, and so on.
    fn routed(template: &str) -> String {
        let mut index = 0;
        template
            .split('/')
            .map(|segment| {
                if variable_of_template(segment).is_some() {
                    index += 1;
                    format!(":param{}", index - 1)
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn every_path_parameter_is_named_as_its_route_names_it() {
        let mut named = Vec::new();
        for path in Apis::meta().into_iter().flat_map(|api| api.paths) {
            let variables: Vec<&str> = segments(&path.path)
                .filter_map(variable_of_template)
                .collect();
            for (index, variable) in variables.iter().enumerate() {
                let mut error = poem::Error::from(ParsePathError {
                    name: format!("param{index}").leak(),
                    reason: "is not a UUID".to_owned(),
                });
                error.set_data(PathPattern(routed(&path.path).into()));
                let problem = problem_for(&error);
                assert_eq!(problem.code, "validation_failed");
                assert_eq!(problem.errors.unwrap()[0].field, *variable, "{}", path.path);
                named.push(path.path.clone());
            }
        }
        assert!(
            named.iter().any(|path| path == "/api/auth/sessions/{id}"),
            "{named:?}"
        );
    }

    #[test]
    fn a_path_parameter_of_no_known_route_keeps_its_name() {
        let mut error = poem::Error::from(ParsePathError {
            name: "param0",
            reason: "is not a UUID".to_owned(),
        });
        error.set_data(PathPattern("/elsewhere/:param0".into()));
        assert_eq!(problem_for(&error).errors.unwrap()[0].field, "param0");
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
