//! Logging: `tracing` with an env filter, pretty lines in development and JSON in production,
//! written to stderr (stdout is for `twofa openapi`). Each request's span carries its request
//! id, so every line logged while serving it names the request.

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt as _, util::SubscriberInitExt as _};

use crate::settings::{Environment, LogFormat, LogSettings};

/// Installs the global subscriber. A second call (tests) leaves the first in place.
pub fn init(settings: &LogSettings, environment: Environment) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let is_json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => environment == Environment::Production,
    };
    let registry = tracing_subscriber::registry().with(filter);
    let outcome = if is_json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().compact().with_writer(std::io::stderr))
            .try_init()
    };
    drop(outcome);
}
