//! Logging: `tracing` with an env filter, pretty lines in development and JSON in production,
//! written to stderr (stdout is for `twofa openapi`). Each request's span carries its request
//! id, so every line logged while serving it names the request.
//!
//! The black-box tests build their subscriber from the same parts ([`format_layer`],
//! [`env_filter`]), so what they capture is what the service writes.

use tracing::Subscriber;
use tracing_subscriber::{
    EnvFilter, Layer, fmt, fmt::MakeWriter, layer::SubscriberExt as _, registry::LookupSpan,
    util::SubscriberInitExt as _,
};

use crate::settings::{Environment, LogFormat, LogSettings};

/// Installs the global subscriber. A second call (tests) leaves the first in place.
pub fn init(settings: &LogSettings, environment: Environment) {
    let is_json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => environment == Environment::Production,
    };
    // fmt's own default: colours unless NO_COLOR is set to something.
    let is_ansi = std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let outcome = tracing_subscriber::registry()
        .with(env_filter(&settings.level))
        .with(format_layer(is_json, is_ansi, std::io::stderr))
        .try_init();
    drop(outcome);
}

/// `RUST_LOG` when it is set and valid, else `level` when valid, else `info`.
pub fn env_filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The service's lines, written to `writer`: one JSON object per line carrying the current
/// span and the span list, or compact text ending with the fields of the spans it was logged
/// in (in colour when `is_ansi`).
pub fn format_layer<S, W>(
    is_json: bool,
    is_ansi: bool,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    if is_json {
        fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
            .boxed()
    } else {
        fmt::layer()
            .compact()
            .with_ansi(is_ansi)
            .with_writer(writer)
            .boxed()
    }
}
