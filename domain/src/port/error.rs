//! The error scaffolding shared by ports.
//!
//! Each port with business outcomes declares its own `thiserror` enum (a repository's
//! `Conflict`, a store's `NotFound`) and ends it with `Unexpected(#[from] anyhow::Error)`.
//! `PortError` is that enum for ports with no business outcome of their own; adapters translate
//! their driver's errors into it at the boundary, so no `DbErr` or `RedisError` leaks inwards.

/// An error from a port whose only outcomes are "worked", "the dependency is unavailable" and
/// "something unexpected happened".
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The dependency behind the port (database, Redis, a remote API) could not be reached in
    /// time. Callers answer 503 at once rather than wait.
    #[error("{dependency} is unavailable")]
    Unavailable {
        /// Which dependency: `database`, `redis`, …
        dependency: &'static str,
        /// What the driver said, for the log (never shown to a client).
        #[source]
        source: anyhow::Error,
    },
    /// Anything else: a bug, a corrupt row. Logged with its cause chain, answered as 500.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// `error` and every cause under it, joined by `: ` (for logs; thiserror's `Display` shows one
/// level only).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause() {
        let error = PortError::Unavailable {
            dependency: "redis",
            source: anyhow::anyhow!("connection refused"),
        };
        assert_eq!(
            error_chain(&error),
            "redis is unavailable: connection refused"
        );
    }
}
