//! `RedisCallError`: why a bounded Redis call failed, split the way ports need it: Redis
//! unreachable (a port's `Unavailable`) or Redis answering something unusable (`Unexpected`).

use redis::{ErrorKind, RedisError, ServerErrorKind};
use twofa_domain::{PortError, ProbeError};

/// Why a call through `RedisConnection` failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisCallError {
    /// No answer within `redis.timeout`, the connection is refused or dropped, or Redis says
    /// it cannot serve now (loading, cluster down, failover).
    #[error("Redis is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Redis answered with an error (a script error, a wrong type) or with a reply of an
    /// unexpected shape.
    #[error("Redis answered with an error")]
    Failed(#[source] anyhow::Error),
}

/// Server answers meaning "not now" rather than "not like that".
const TRANSIENT: [ErrorKind; 6] = [
    ErrorKind::Server(ServerErrorKind::BusyLoading),
    ErrorKind::Server(ServerErrorKind::TryAgain),
    ErrorKind::Server(ServerErrorKind::ClusterDown),
    ErrorKind::Server(ServerErrorKind::MasterDown),
    ErrorKind::Server(ServerErrorKind::ReadOnly),
    ErrorKind::ClusterConnectionNotFound,
];

impl From<RedisError> for RedisCallError {
    fn from(error: RedisError) -> Self {
        if error.is_io_error() || TRANSIENT.contains(&error.kind()) {
            Self::Unavailable(error.into())
        } else {
            Self::Failed(error.into())
        }
    }
}

impl From<ProbeError> for RedisCallError {
    /// What `RedisConnection::query` reports, split back into "unreachable" and "answered
    /// with an error" (its `Failed` carries the driver's error, which says which it was).
    fn from(error: ProbeError) -> Self {
        match error {
            ProbeError::TimedOut(timeout) => {
                Self::Unavailable(anyhow::anyhow!("no answer from Redis within {timeout:?}"))
            }
            ProbeError::Failed(cause) => match cause.downcast::<RedisError>() {
                Ok(error) => Self::from(error),
                Err(other) => Self::Failed(other),
            },
        }
    }
}

impl From<RedisCallError> for PortError {
    /// `Unavailable { dependency: "redis" }` or `Unexpected`.
    fn from(error: RedisCallError) -> Self {
        match error {
            RedisCallError::Unavailable(source) => Self::Unavailable {
                dependency: "redis",
                source,
            },
            RedisCallError::Failed(source) => Self::Unexpected(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn a_refused_or_dropped_connection_is_unavailability() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::TimedOut,
        ] {
            let error = RedisCallError::from(RedisError::from(io::Error::from(kind)));
            assert!(matches!(error, RedisCallError::Unavailable(_)), "{kind:?}");
        }
    }

    #[test]
    fn a_wrong_reply_is_a_failure_not_unavailability() {
        let error = RedisCallError::from(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "not an integer",
        )));
        assert!(matches!(error, RedisCallError::Failed(_)));
    }

    #[test]
    fn a_query_that_timed_out_or_was_refused_is_unavailability_for_the_ports() {
        let timed_out = ProbeError::TimedOut(std::time::Duration::from_millis(300));
        let refused = ProbeError::Failed(
            RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused)).into(),
        );
        for error in [timed_out, refused] {
            assert!(matches!(
                PortError::from(RedisCallError::from(error)),
                PortError::Unavailable {
                    dependency: "redis",
                    ..
                }
            ));
        }
        let wrong_type = ProbeError::Failed(
            RedisError::from((ErrorKind::UnexpectedReturnType, "not a string")).into(),
        );
        assert!(matches!(
            PortError::from(RedisCallError::from(wrong_type)),
            PortError::Unexpected(_)
        ));
    }
}
