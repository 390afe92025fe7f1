//! `ApiError<ANSWERS>`: a handler's business error, answered as a problem, whose type lists
//! the error answers the operation can give, so the OpenAPI document describes exactly those
//! statuses, each with the causes the operation declares (the shared layer adds 500, 503 and
//! the body errors to every operation).

use std::{
    collections::HashSet,
    sync::{LazyLock, Mutex, PoisonError},
};

use poem::{IntoResponse as _, Response, error::ResponseError, http::StatusCode};
use poem_openapi::{
    ApiResponse,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type as _,
};

use crate::problem::{PROBLEM_JSON, Problem};

/// The error answers an operation declares, as bits of `ApiError`'s parameter. Several bits
/// may share a status (401 `unauthorized` and 401 `invalid_code`); the document describes
/// each status by the bits an operation declares.
pub mod answers {
    /// None of its own: 500 and 503 (faults, a full hashing pool), which every operation
    /// declares through the shared layer.
    pub const SHARED: u32 = 0;
    /// 400: `validation_failed`, `invalid_token`.
    pub const BAD_REQUEST: u32 = 1;
    /// 401: `unauthorized`, `invalid_credentials`.
    pub const UNAUTHORIZED: u32 = 1 << 1;
    /// 403: `csrf_failed`.
    pub const FORBIDDEN: u32 = 1 << 2;
    /// 404: `not_found`.
    pub const NOT_FOUND: u32 = 1 << 3;
    /// 409: `conflict` (a taken e-mail address or username).
    pub const CONFLICT: u32 = 1 << 4;
    /// 429: `rate_limited`.
    pub const RATE_LIMITED: u32 = 1 << 5;
    /// 401: `invalid_code`.
    pub const INVALID_CODE: u32 = 1 << 6;
    /// 401: `challenge_expired`.
    pub const CHALLENGE_EXPIRED: u32 = 1 << 7;
    /// 403: `email_not_verified`.
    pub const EMAIL_NOT_VERIFIED: u32 = 1 << 8;
    /// 403: `reauthentication_required`.
    pub const REAUTHENTICATION_REQUIRED: u32 = 1 << 9;
    /// 404: `not_found` (no setup of the factor is pending).
    pub const NOT_PENDING: u32 = 1 << 10;
    /// 409: `conflict` (a factor of this kind is enabled already).
    pub const ALREADY_ENABLED: u32 = 1 << 11;
    /// 409: `conflict` (no second factor is enabled).
    pub const NOT_ENABLED: u32 = 1 << 12;
    /// 403: `insufficient_scope`.
    pub const INSUFFICIENT_SCOPE: u32 = 1 << 13;
    /// 409: `conflict` (the API key is revoked).
    pub const KEY_REVOKED: u32 = 1 << 14;
    /// 403: `forbidden` (the caller is not an administrator).
    pub const NOT_ADMIN: u32 = 1 << 15;
    /// 409: `conflict` (an administrator's own account).
    pub const OWN_ACCOUNT: u32 = 1 << 16;
    /// 409: `conflict` (the webhook endpoint is disabled).
    pub const ENDPOINT_DISABLED: u32 = 1 << 17;
    /// 409: `conflict` (only a failed delivery is retried).
    pub const NOT_RETRYABLE: u32 = 1 << 18;
    /// 409: `conflict` (the owner has the most webhook endpoints allowed).
    pub const ENDPOINT_LIMIT: u32 = 1 << 19;
}

/// Each declarable answer: its bit, status, description, and whether it carries
/// `Retry-After` and the `RateLimit-*` headers. Bits of one status are listed together, in
/// the order their descriptions are joined.
const ANSWERS: [(u32, u16, &str, bool); 20] = [
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
        answers::INVALID_CODE,
        401,
        "A wrong, used or expired code (`invalid_code`).",
        false,
    ),
    (
        answers::CHALLENGE_EXPIRED,
        401,
        "The `tempToken` is unknown, used or expired, or its challenge took 5 wrong codes \
         (`challenge_expired`).",
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
        answers::INSUFFICIENT_SCOPE,
        403,
        "An API key whose scopes do not include the operation's `x-required-scope`, or an API \
         key on an operation no key may call (`insufficient_scope`).",
        false,
    ),
    (
        answers::NOT_ADMIN,
        403,
        "The caller's account is not an administrator's (`forbidden`).",
        false,
    ),
    (
        answers::EMAIL_NOT_VERIFIED,
        403,
        "The account's e-mail address is not verified yet (`email_not_verified`).",
        false,
    ),
    (
        answers::REAUTHENTICATION_REQUIRED,
        403,
        "The body carries neither the current `password` nor a `code` \
         (`reauthentication_required`).",
        false,
    ),
    (
        answers::NOT_FOUND,
        404,
        "No such resource of this user (`not_found`).",
        false,
    ),
    (
        answers::NOT_PENDING,
        404,
        "No setup of this factor is pending (`not_found`).",
        false,
    ),
    (
        answers::CONFLICT,
        409,
        "The e-mail address or the username belongs to another account (`conflict`).",
        false,
    ),
    (
        answers::ALREADY_ENABLED,
        409,
        "A factor of this kind is enabled already (`conflict`).",
        false,
    ),
    (
        answers::NOT_ENABLED,
        409,
        "No second factor is enabled (`conflict`).",
        false,
    ),
    (
        answers::KEY_REVOKED,
        409,
        "The API key is revoked; a revoked key cannot be rotated (`conflict`).",
        false,
    ),
    (
        answers::OWN_ACCOUNT,
        409,
        "An administrator cannot disable or delete their own account (`conflict`).",
        false,
    ),
    (
        answers::ENDPOINT_DISABLED,
        409,
        "The webhook endpoint is disabled; enable it first (`conflict`).",
        false,
    ),
    (
        answers::NOT_RETRYABLE,
        409,
        "Only a failed delivery can be retried (`conflict`).",
        false,
    ),
    (
        answers::ENDPOINT_LIMIT,
        409,
        "The owner has the most webhook endpoints allowed; delete one first (`conflict`).",
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
pub struct ApiError<const ANSWERS: u32>(pub Box<Problem>);

impl<const A: u32> ApiError<A> {
    /// Answers `problem`.
    pub fn new(problem: Problem) -> Self {
        Self(Box::new(problem))
    }
}

impl<const A: u32> From<Problem> for ApiError<A> {
    fn from(problem: Problem) -> Self {
        Self::new(problem)
    }
}

impl<const A: u32> ApiResponse for ApiError<A> {
    fn meta() -> MetaResponses {
        let mut responses: Vec<MetaResponse> = Vec::new();
        for &(bit, status, description, is_rate_limit) in &ANSWERS {
            if A & bit == 0 {
                continue;
            }
            match responses.last_mut() {
                Some(last) if last.status == Some(status) => {
                    last.description = interned(format!("{} {description}", last.description));
                }
                Some(_) | None => responses.push(MetaResponse {
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
                }),
            }
        }
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

/// `text` as the `'static` description poem-openapi's metadata takes: each distinct joined
/// description is leaked once and then reused, so building the document any number of times
/// leaks at most one string per combination of answers.
fn interned(text: String) -> &'static str {
    static INTERNED: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = interned.get(text.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.into_boxed_str());
    interned.insert(leaked);
    leaked
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

impl<const A: u32> From<ApiError<A>> for poem::Error {
    fn from(error: ApiError<A>) -> Self {
        Self::from(ProblemError(*error.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joined_description_is_leaked_once_however_often_the_document_is_built() {
        let first = interned("401 a. 401 b.".to_owned());
        let again = interned("401 a. 401 b.".to_owned());
        assert!(std::ptr::eq(first, again));
        assert_eq!(first, "401 a. 401 b.");
    }

    #[test]
    fn answers_of_one_status_are_one_response_describing_each() {
        let meta = ApiError::<{ answers::UNAUTHORIZED | answers::INVALID_CODE }>::meta();
        assert_eq!(meta.responses.len(), 1);
        let response = &meta.responses[0];
        assert_eq!(response.status, Some(401));
        assert!(response.description.contains("`unauthorized`"));
        assert!(response.description.contains("`invalid_code`"));
        let meta = ApiError::<{ answers::NOT_FOUND | answers::RATE_LIMITED }>::meta();
        let statuses: Vec<_> = meta.responses.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Some(404), Some(429)]);
        assert!(meta.responses[0].headers.is_empty());
        assert_eq!(meta.responses[1].headers.len(), 4);
    }
}
