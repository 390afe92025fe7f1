//! The layer every request passes through: request id, client address, tracing span, header
//! and body limits, timeout, problem+json for every error, and the security headers.

use std::{net::IpAddr, sync::Arc, time::Duration};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderName, HeaderValue, StatusCode, header},
};
use tokio::io::AsyncReadExt as _;
use tracing::Instrument as _;
use twofa_application::auth::CutOff;
use twofa_domain::SecretGenerator;

use crate::{
    client_ip::TrustedProxies,
    error_mapping::{internal, problem_for, problem_for_status, too_large},
    problem::{PROBLEM_JSON, Problem, ProblemCode},
};

/// The request's id and client address, for handlers (`Data<&RequestContext>`) and logs.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The `X-Request-Id` of the request and its response.
    pub request_id: String,
    /// The client address, from `server.trusted_proxies` rules; `None` off TCP (tests).
    pub client_ip: Option<IpAddr>,
}

/// What the layer needs from the configuration.
pub(crate) struct LayerConfig {
    pub body_limit: usize,
    pub max_headers: usize,
    pub max_header_bytes: usize,
    pub request_timeout: Duration,
    pub trusted_proxies: TrustedProxies,
    pub is_https: bool,
    pub ids: Arc<dyn SecretGenerator>,
}

/// The CSP of every response that does not set its own: nothing may load, nothing may frame.
const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The shared layer over the routes. The handler runs in a task of its own, so a request cut
/// off by `server.request_timeout` is answered `503 request_timeout` at once while its work is
/// never stopped between two steps: the request's `CutOff` is tripped, and a use case that
/// reaches its commit after that rolls back instead, so the 503 means nothing changed; a
/// commit already under way finishes whole, with what follows it (telling the session cache).
pub(crate) struct Layer<E> {
    pub inner: Arc<E>,
    pub config: Arc<LayerConfig>,
}

impl<E: Endpoint + 'static> Endpoint for Layer<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let request_id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_well_formed_request_id(id))
            .map_or_else(|| self.config.ids.uuid_v4().to_string(), str::to_owned);
        let client_ip = req.remote_addr().as_socket_addr().map(|peer| {
            let forwarded = req.headers().get_all("x-forwarded-for");
            self.config
                .trusted_proxies
                .client_ip(peer.ip(), forwarded.iter().filter_map(|v| v.to_str().ok()))
        });
        let span = tracing::info_span!(
            "http",
            request_id = %request_id,
            method = %req.method(),
            path = %req.uri().path(),
        );
        req.extensions_mut().insert(RequestContext {
            request_id: request_id.clone(),
            client_ip,
        });

        async move {
            let started = std::time::Instant::now();
            let cut_off = CutOff::armed();
            req.extensions_mut().insert(cut_off.clone());
            req.extensions_mut()
                .insert(crate::api::auth::ActingKey::default());
            let refused = refuse_large_head(&req, &self.config);
            let outcome = tokio::time::timeout(self.config.request_timeout, async {
                if let Some(problem) = refused {
                    return Ok(problem.into_response());
                }
                limit_body(&mut req, self.config.body_limit).await?;
                let inner = self.inner.clone();
                let cut_off = cut_off.clone();
                let work = async move {
                    let outcome = inner.call(req).await.map(IntoResponse::into_response);
                    if cut_off.is_tripped() {
                        let status = outcome
                            .as_ref()
                            .map_or_else(poem::Error::status, Response::status);
                        tracing::warn!(
                            status = status.as_u16(),
                            "a request cut off by the timeout has finished its work"
                        );
                    }
                    outcome
                };
                tokio::spawn(work.in_current_span())
                    .await
                    .unwrap_or_else(|error| {
                        Err(poem::Error::from_string(
                            format!("the request's task ended: {error}"),
                            StatusCode::INTERNAL_SERVER_ERROR,
                        ))
                    })
            })
            .await;
            if outcome.is_err() {
                cut_off.trip();
            }
            let mut response = match outcome {
                Ok(Ok(response)) => as_problem_if_bare_error(response),
                Ok(Err(error)) => {
                    let problem = problem_for(&error);
                    if problem.status >= 500 {
                        // The one log line of a server fault, in the request's span.
                        let cause = problem.cause.clone().unwrap_or_else(|| error.to_string());
                        tracing::error!(error = %cause, "request failed");
                    }
                    problem.into_response()
                }
                Err(_elapsed) => {
                    tracing::warn!(timeout = ?self.config.request_timeout, "request timed out");
                    Problem::new(ProblemCode::RequestTimeout, "the request took too long")
                        .into_response()
                }
            };
            fill_problem_instance(&mut response, &request_id).await;
            self.set_headers(&mut response, &request_id);
            tracing::info!(
                status = response.status().as_u16(),
                latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "request"
            );
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

impl<E> Layer<E> {
    fn set_headers(&self, response: &mut Response, request_id: &str) {
        let headers = response.headers_mut();
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert(REQUEST_ID, id);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DEFAULT_CSP),
            );
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if self.config.is_https {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }
    }
}

/// `X-Request-Id` is reused when it is 1–128 characters of `A-Z a-z 0-9 . _ -`.
pub fn is_well_formed_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The `431 headers_too_large` problem for a request with more than `server.max_headers`
/// header fields or a head longer than `server.max_header_bytes`; `None` within both. The head
/// is measured as sent over HTTP/1.1: the request line and each field with its `: ` and line
/// end. (hyper answers heads far over these limits itself; see [`crate::server`].)
fn refuse_large_head(req: &Request, config: &LayerConfig) -> Option<Problem> {
    let headers = req.headers();
    let detail = if headers.len() > config.max_headers {
        format!(
            "the request has {} header fields; at most {} are accepted",
            headers.len(),
            config.max_headers
        )
    } else {
        let request_line = req.method().as_str().len()
            + req
                .uri()
                .path_and_query()
                .map_or(1, |path| path.as_str().len())
            + " HTTP/1.1\r\n".len();
        let fields: usize = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
            .sum();
        let head = request_line + fields + "\r\n".len();
        if head <= config.max_header_bytes {
            return None;
        }
        format!(
            "the request head is {head} bytes; at most {} are accepted",
            config.max_header_bytes
        )
    };
    Some(Problem {
        problem_type: "urn:twofa:problem:headers_too_large".to_owned(),
        title: "Request header fields too large".to_owned(),
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.as_u16(),
        code: "headers_too_large".to_owned(),
        ..Problem::new(ProblemCode::BadRequest, detail)
    })
}

/// Refuses a body over `limit` (by `Content-Length`, or by counting when there is none) with
/// 413, before any handler reads it; a body within the limit is buffered for the handler.
async fn limit_body(req: &mut Request, limit: usize) -> poem::Result<()> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if declared.is_some_and(|length| length > limit_u64) {
        return Err(poem::Error::from(
            poem::error::ReadBodyError::PayloadTooLarge,
        ));
    }
    if declared == Some(0) {
        return Ok(());
    }
    let mut reader = req.take_body().into_async_read().take(limit_u64 + 1);
    let mut buffer = Vec::new();
    reader.read_to_end(&mut buffer).await.map_err(|error| {
        poem::Error::from(crate::json_body::BodyError::Malformed(format!(
            "the body could not be read: {error}"
        )))
    })?;
    if buffer.len() > limit {
        return Err(poem::Error::from(
            poem::error::ReadBodyError::PayloadTooLarge,
        ));
    }
    req.set_body(buffer);
    Ok(())
}

/// A response with an error status but no problem body (a panic caught, a framework default)
/// becomes a problem. JSON bodies are left alone: health answers 503 in its own shape.
fn as_problem_if_bare_error(response: Response) -> Response {
    let status = response.status();
    if status.as_u16() < 400 {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with(PROBLEM_JSON) || content_type.starts_with("application/json") {
        return response;
    }
    let problem = if status == StatusCode::INTERNAL_SERVER_ERROR {
        internal()
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        problem_for_status(status)
    };
    let mut replaced = problem.into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    replaced
}

/// Problems are built where the error is, which does not know the request id: write it in.
async fn fill_problem_instance(response: &mut Response, request_id: &str) {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !is_problem {
        return;
    }
    let Ok(bytes) = response.take_body().into_vec().await else {
        return;
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut problem)) => {
            let is_unset = problem
                .get("instance")
                .and_then(serde_json::Value::as_str)
                .is_none_or(str::is_empty);
            if is_unset {
                problem.insert("instance".to_owned(), request_id.into());
            }
            serde_json::to_vec(&problem).unwrap_or(bytes)
        }
        Ok(_) | Err(_) => bytes,
    };
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response.set_body(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_of_safe_characters_are_reused() {
        assert!(is_well_formed_request_id("abc-123_x.y"));
        assert!(is_well_formed_request_id(&"a".repeat(128)));
    }

    #[test]
    fn request_ids_that_could_inject_are_replaced() {
        assert!(!is_well_formed_request_id(""));
        assert!(!is_well_formed_request_id(&"a".repeat(129)));
        assert!(!is_well_formed_request_id("a b"));
        assert!(!is_well_formed_request_id("a\r\nSet-Cookie: x"));
        assert!(!is_well_formed_request_id("<script>"));
    }
}
