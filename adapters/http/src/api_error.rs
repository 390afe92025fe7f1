//! `ApiError<ANSWERS>`: a handler's business error, answered as a problem, whose type lists
//! the error statuses the operation can answer, so the OpenAPI document describes exactly
//! those (the shared layer adds 500, 503 and the body errors to every operation).

use poem::{IntoResponse as _, Response, error::ResponseError, http::StatusCode};
use poem_openapi::{
    ApiResponse,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type as _,
};

use crate::problem::{PROBLEM_JSON, Problem};

/// The error statuses an operation declares, as bits of `ApiError`'s parameter.
pub mod answers {
    /// None of its own: 500 and 503 (faults, a full hashing pool), which every operation
    /// declares through the shared layer.
    pub const SHARED: u16 = 0;
    /// 400: `validation_failed`, `invalid_token`.
    pub const BAD_REQUEST: u16 = 1;
    /// 401: `unauthorized`, `invalid_credentials`.
    pub const UNAUTHORIZED: u16 = 1 << 1;
    /// 403: `csrf_failed`, `forbidden`.
    pub const FORBIDDEN: u16 = 1 << 2;
    /// 404: `not_found`.
    pub const NOT_FOUND: u16 = 1 << 3;
    /// 409: `conflict`.
    pub const CONFLICT: u16 = 1 << 4;
    /// 429: `rate_limited`.
    pub const RATE_LIMITED: u16 = 1 << 5;
}

/// Each declarable answer: its bit, status, description, and whether it carries
/// `Retry-After` and the `RateLimit-*` headers.
const ANSWERS: [(u16, u16, &str, bool); 6] = [
    (
        answers::BAD_REQUEST,
        400,
        "The body is not JSON (`malformed_body`), a field breaks a rule (`validation_failed`, \
         with `errors`), or an e-mail token is used, expired or unknown (`invalid_token`).",
        false,
    ),
    (
        answers::UNAUTHORIZED,
        401,
        "Missing, malformed, expired or revoked credentials (`unauthorized`), or a wrong login \
         or password (`invalid_credentials`).",
        false,
    ),
    (
        answers::FORBIDDEN,
        403,
        "A request authenticated by the refresh cookie alone without the matching \
         `X-CSRF-Token` header (`csrf_failed`).",
        false,
    ),
    (
        answers::NOT_FOUND,
        404,
        "No such resource of this user (`not_found`).",
        false,
    ),
    (
        answers::CONFLICT,
        409,
        "The e-mail address or the username belongs to another account (`conflict`).",
        false,
    ),
    (
        answers::RATE_LIMITED,
        429,
        "Too many attempts (`rate_limited`): wait `Retry-After` seconds.",
        true,
    ),
];

/// A business error of an operation that declares the statuses `ANSWERS`.
#[derive(Debug)]
pub struct ApiError<const ANSWERS: u16>(pub Box<Problem>);

impl<const A: u16> ApiError<A> {
    /// Answers `problem`.
    pub fn new(problem: Problem) -> Self {
        Self(Box::new(problem))
    }
}

impl<const A: u16> From<Problem> for ApiError<A> {
    fn from(problem: Problem) -> Self {
        Self::new(problem)
    }
}

impl<const A: u16> ApiResponse for ApiError<A> {
    fn meta() -> MetaResponses {
        let responses = ANSWERS
            .iter()
            .filter(|(bit, ..)| A & bit != 0)
            .map(|&(_, status, description, is_rate_limit)| MetaResponse {
                description,
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: PROBLEM_JSON,
                    schema: Problem::schema_ref(),
                }],
                headers: if is_rate_limit {
                    rate_limit_headers()
                } else {
                    Vec::new()
                },
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn rate_limit_headers() -> Vec<MetaHeader> {
    [
        ("Retry-After", "Seconds to wait before trying again."),
        (
            "RateLimit-Limit",
            "Attempts the exceeded limit allows per window.",
        ),
        ("RateLimit-Remaining", "Attempts left in the window (0)."),
        ("RateLimit-Reset", "Seconds until the window resets."),
    ]
    .into_iter()
    .map(|(name, description)| MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: true,
        deprecated: false,
        schema: u32::schema_ref(),
    })
    .collect()
}

/// A problem travelling as a `poem::Error` to the shared layer, which answers it as is.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.detail)]
pub struct ProblemError(pub Problem);

impl ResponseError for ProblemError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        self.0.clone().into_response()
    }
}

impl<const A: u16> From<ApiError<A>> for poem::Error {
    fn from(error: ApiError<A>) -> Self {
        Self::from(ProblemError(*error.0))
    }
}
