//! twofa's HTTP adapter: the poem-openapi API under `/api`, the layer every request passes
//! through (request id, client address, limits, security headers, problem+json), and the
//! OpenAPI document.
//!
//! What belongs here: parsing and validating requests into use-case inputs, mapping each
//! use-case error exhaustively to a problem, and the wire shapes of API.md. What must not:
//! business decisions (those are the use cases'), storage, or any knowledge of which adapter
//! sits behind a port.

pub mod api;
pub mod api_error;
pub mod client_ip;
mod document;
pub mod error_mapping;
pub mod json_body;
mod middleware;
pub mod problem;
pub mod server;
mod state;

use std::{sync::Arc, time::Duration};

use ipnet::IpNet;
use poem::{
    Endpoint, EndpointExt as _, IntoResponse as _, Response, Route, get, handler,
    http::{HeaderValue, header},
    middleware::{CatchPanic, Cors},
    web::Html,
};
use poem_openapi::OpenApiService;
use twofa_domain::SecretGenerator;

pub use api::auth::{AuthState, cookies::CookieSettings};
pub use client_ip::TrustedProxies;
pub use document::openapi_document;
pub use json_body::{JsonBody, OptionalJsonBody};
pub use middleware::{RequestContext, is_well_formed_request_id};
pub use problem::{FieldError, Problem, ProblemCode};
pub use server::{ConnectionLimits, serve};
pub use state::AppState;

/// The HTTP settings of the configuration (`server.*`).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `server.body_limit`, in bytes.
    pub body_limit: usize,
    /// `server.max_headers`: a request with more header fields is answered 431.
    pub max_headers: usize,
    /// `server.max_header_bytes`: a request whose head (request line and header fields) is
    /// longer is answered 431.
    pub max_header_bytes: usize,
    /// `server.request_timeout`.
    pub request_timeout: Duration,
    /// `server.trusted_proxies`.
    pub trusted_proxies: Vec<IpNet>,
    /// `server.cors_origins`.
    pub cors_origins: Vec<String>,
    /// Whether `server.public_url` is https (HSTS is sent then).
    pub is_https: bool,
}

/// Which routes a process serves.
pub enum Surface {
    /// The whole API, the document and the docs page (`--mode api`, `--mode all`), with what
    /// the account and second-factor routes need.
    Api(Arc<AuthState>),
    /// Only the health routes (`--mode worker`), so orchestrators probe workers alike.
    WorkerProbes,
}

/// The endpoint serving `surface`, wrapped in the shared layer.
pub fn build_endpoint(
    surface: Surface,
    state: Arc<AppState>,
    settings: &HttpSettings,
    ids: Arc<dyn SecretGenerator>,
) -> impl Endpoint<Output = Response> + 'static + use<> {
    let version = state.version;
    let routes = match surface {
        Surface::Api(auth) => {
            let document = openapi_document(version);
            let (docs_html, docs_csp) = document::docs_page(version, &document);
            Route::new()
                .at(
                    "/api/openapi.json",
                    get(serve_document.data(Arc::new(document))),
                )
                .at(
                    "/api/docs",
                    get(serve_docs.data(Arc::new(DocsPage {
                        html: docs_html,
                        csp: docs_csp,
                    }))),
                )
                .nest("/", document::service(version).data(auth))
        }
        Surface::WorkerProbes => Route::new().nest(
            "/",
            OpenApiService::new(api::health::HealthApi, "twofa", version),
        ),
    };
    with_layer(routes.data(state), settings, ids)
}

/// Wraps `inner` in the layer every route shares: CORS, panics caught, request id, client
/// address, header and body limits, timeout, problem+json for every error, security headers.
pub fn with_layer<E: Endpoint + 'static>(
    inner: E,
    settings: &HttpSettings,
    ids: Arc<dyn SecretGenerator>,
) -> impl Endpoint<Output = Response> + 'static + use<E> {
    let cors = (!settings.cors_origins.is_empty()).then(|| {
        Cors::new()
            .allow_origins(settings.cors_origins.iter().map(String::as_str))
            .allow_credentials(true)
            .expose_header("x-request-id")
    });
    let inner = inner
        .with_if(cors.is_some(), cors.unwrap_or_default())
        .with(CatchPanic::new());
    middleware::Layer {
        inner: Arc::new(inner),
        config: Arc::new(middleware::LayerConfig {
            body_limit: settings.body_limit,
            max_headers: settings.max_headers,
            max_header_bytes: settings.max_header_bytes,
            request_timeout: settings.request_timeout,
            trusted_proxies: TrustedProxies::new(settings.trusted_proxies.clone()),
            is_https: settings.is_https,
            ids,
        }),
    }
}

struct DocsPage {
    html: String,
    csp: String,
}

#[handler]
fn serve_document(poem::web::Data(document): poem::web::Data<&Arc<String>>) -> Response {
    let mut response = document.as_str().to_owned().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[handler]
fn serve_docs(poem::web::Data(page): poem::web::Data<&Arc<DocsPage>>) -> Response {
    let mut response = Html(page.html.clone()).into_response();
    if let Ok(csp) = HeaderValue::from_str(&page.csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}
