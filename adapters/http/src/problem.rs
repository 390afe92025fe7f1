//! RFC 9457 problem details: the one shape of every error this API answers.

use poem::{
    IntoResponse, Response,
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::Object;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Stable, machine-readable error codes. Clients branch on these, so a code never changes
/// meaning; the HTTP status and title follow from the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemCode {
    /// The body is not valid JSON.
    MalformedBody,
    /// A field or parameter is missing, of the wrong type, or breaks a rule.
    ValidationFailed,
    /// Any other malformed request the framework refuses.
    BadRequest,
    /// A login's identifier or password is wrong (one answer for every reason).
    InvalidCredentials,
    /// Missing or invalid credentials.
    Unauthorized,
    /// A used, expired or unknown e-mail verification or reset token.
    InvalidToken,
    /// A wrong, used or expired second-factor code.
    InvalidCode,
    /// An unknown, used or expired login challenge (`tempToken`), or one after its 5th wrong
    /// code.
    ChallengeExpired,
    /// The state of a resource does not allow the change (a taken e-mail address).
    Conflict,
    /// A cookie-authenticated request without the matching `X-CSRF-Token`.
    CsrfFailed,
    /// Authenticated (or not needed), but not allowed: a refused CORS origin, a role.
    Forbidden,
    /// An API key whose scopes do not allow the route, or a route no API key may reach.
    InsufficientScope,
    /// A second factor's setup before the account's e-mail address is verified.
    EmailNotVerified,
    /// A sensitive change without the current password or a second-factor code.
    ReauthenticationRequired,
    /// Too many attempts; see `Retry-After`.
    RateLimited,
    /// No route matches the path.
    NotFound,
    /// The route exists, not for this method.
    MethodNotAllowed,
    /// The body's `Content-Type` is not one the route takes.
    UnsupportedMediaType,
    /// The body is over `server.body_limit`.
    PayloadTooLarge,
    /// A dependency (database, Redis) is down; answered at once.
    DependencyUnavailable,
    /// The request did not finish within `server.request_timeout`.
    RequestTimeout,
    /// Load shedding: try again after `Retry-After`.
    Overloaded,
    /// A bug or an unexpected failure; the cause is in the log under the request id.
    Internal,
}

impl ProblemCode {
    /// The `snake_case` code written in the body.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed_body",
            Self::ValidationFailed => "validation_failed",
            Self::BadRequest => "bad_request",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthorized => "unauthorized",
            Self::InvalidToken => "invalid_token",
            Self::InvalidCode => "invalid_code",
            Self::ChallengeExpired => "challenge_expired",
            Self::Conflict => "conflict",
            Self::CsrfFailed => "csrf_failed",
            Self::Forbidden => "forbidden",
            Self::InsufficientScope => "insufficient_scope",
            Self::EmailNotVerified => "email_not_verified",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::RateLimited => "rate_limited",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::DependencyUnavailable => "dependency_unavailable",
            Self::RequestTimeout => "request_timeout",
            Self::Overloaded => "overloaded",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status that goes with the code.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MalformedBody
            | Self::ValidationFailed
            | Self::BadRequest
            | Self::InvalidToken => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials
            | Self::Unauthorized
            | Self::InvalidCode
            | Self::ChallengeExpired => StatusCode::UNAUTHORIZED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Forbidden
            | Self::InsufficientScope
            | Self::CsrfFailed
            | Self::EmailNotVerified
            | Self::ReauthenticationRequired => StatusCode::FORBIDDEN,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::DependencyUnavailable | Self::RequestTimeout | Self::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short human summary of the problem type.
    pub const fn title(self) -> &'static str {
        match self {
            Self::MalformedBody => "Malformed request body",
            Self::ValidationFailed => "Validation failed",
            Self::BadRequest => "Bad request",
            Self::InvalidCredentials => "Invalid credentials",
            Self::Unauthorized => "Unauthorized",
            Self::InvalidToken => "Invalid token",
            Self::InvalidCode => "Invalid code",
            Self::ChallengeExpired => "Challenge expired",
            Self::Conflict => "Conflict",
            Self::CsrfFailed => "CSRF check failed",
            Self::Forbidden => "Forbidden",
            Self::InsufficientScope => "Insufficient scope",
            Self::EmailNotVerified => "E-mail address not verified",
            Self::ReauthenticationRequired => "Reauthentication required",
            Self::RateLimited => "Too many requests",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Payload too large",
            Self::DependencyUnavailable => "Dependency unavailable",
            Self::RequestTimeout => "Request timed out",
            Self::Overloaded => "Overloaded",
            Self::Internal => "Internal server error",
        }
    }

    /// Seconds a client should wait before trying again, for the codes that have one.
    pub const fn retry_after(self) -> Option<u32> {
        match self {
            Self::DependencyUnavailable | Self::RequestTimeout | Self::Overloaded => Some(1),
            Self::MalformedBody
            | Self::ValidationFailed
            | Self::BadRequest
            | Self::InvalidCredentials
            | Self::Unauthorized
            | Self::InvalidToken
            | Self::InvalidCode
            | Self::ChallengeExpired
            | Self::Conflict
            | Self::CsrfFailed
            | Self::Forbidden
            | Self::InsufficientScope
            | Self::EmailNotVerified
            | Self::ReauthenticationRequired
            | Self::RateLimited
            | Self::NotFound
            | Self::MethodNotAllowed
            | Self::UnsupportedMediaType
            | Self::PayloadTooLarge
            | Self::Internal => None,
        }
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize)]
pub struct FieldError {
    /// The camelCase JSON name (dotted when nested), or the parameter's name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the problem type: `urn:twofa:problem:<code>`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a human.
    pub detail: String,
    /// The stable machine code (`validation_failed`, `not_found`, …).
    pub code: String,
    /// The request id (also in `X-Request-Id`).
    pub instance: String,
    /// The invalid fields, for `validation_failed`.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Seconds for `Retry-After`; a header, not part of the body.
    #[oai(skip)]
    #[serde(skip)]
    pub retry_after: Option<u32>,
    /// The `RateLimit-Limit` of a `429`; with it go `RateLimit-Remaining: 0` and
    /// `RateLimit-Reset` (= `Retry-After`). A header, not part of the body.
    #[oai(skip)]
    #[serde(skip)]
    pub rate_limit: Option<u32>,
    /// `Set-Cookie` values sent with the problem (clearing a refresh cookie that no longer
    /// works). Headers, not part of the body.
    #[oai(skip)]
    #[serde(skip)]
    pub set_cookies: Vec<String>,
    /// The cause chain of a server fault, for the one log line the middleware writes in the
    /// request's span; never part of the answer.
    #[oai(skip)]
    #[serde(skip)]
    pub cause: Option<String>,
}

impl Problem {
    /// A problem of `code` with its detail; the request id is filled in by the middleware.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:twofa:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail: detail.into(),
            code: code.as_str().to_owned(),
            instance: String::new(),
            errors: None,
            retry_after: code.retry_after(),
            rate_limit: None,
            set_cookies: Vec::new(),
            cause: None,
        }
    }

    /// A `validation_failed` problem listing the invalid fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("`{}`: {}", one.field, one.message),
            _ => "some fields are invalid".to_owned(),
        };
        Self {
            errors: Some(errors),
            ..Self::new(ProblemCode::ValidationFailed, detail)
        }
    }

    /// A `rate_limited` problem: wait `retry_after` seconds; the limit allows `limit` per window.
    pub fn rate_limited(limit: u32, retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            rate_limit: Some(limit),
            ..Self::new(
                ProblemCode::RateLimited,
                "too many attempts; try again after the time in Retry-After",
            )
        }
    }

    /// Answers with `retry_after` seconds in `Retry-After`.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// Sets the request id.
    #[must_use]
    pub fn with_instance(mut self, request_id: &str) -> Self {
        request_id.clone_into(&mut self.instance);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, PROBLEM_JSON)
            .body(body);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        for cookie in &self.set_cookies {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        if let Some(limit) = self.rate_limit {
            let headers = response.headers_mut();
            headers.insert("ratelimit-limit", HeaderValue::from(limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(0_u32));
            headers.insert(
                "ratelimit-reset",
                HeaderValue::from(retry_after.unwrap_or(1)),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_its_type_title_status_and_code() {
        let problem = Problem::new(ProblemCode::NotFound, "no route for GET /x");
        assert_eq!(problem.problem_type, "urn:twofa:problem:not_found");
        assert_eq!(problem.title, "Not found");
        assert_eq!(problem.status, 404);
        assert_eq!(problem.code, "not_found");
    }

    #[test]
    fn unavailable_problems_carry_retry_after() {
        for code in [
            ProblemCode::DependencyUnavailable,
            ProblemCode::Overloaded,
            ProblemCode::RequestTimeout,
        ] {
            let response = Problem::new(code, "x").into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert_eq!(code.retry_after(), Some(1));
        }
    }

    #[test]
    fn a_single_field_error_is_named_in_the_detail() {
        let problem = Problem::validation(vec![FieldError {
            field: "email".into(),
            message: "missing".into(),
        }]);
        assert_eq!(problem.detail, "`email`: missing");
        assert_eq!(problem.status, 400);
    }
}
