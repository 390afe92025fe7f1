//! The `Clock` port: every reading of the time goes through it, so tests can drive time.

use chrono::{DateTime, Utc};

/// The current time. The system adapter reads the wall clock; the memory adapter is a manual
/// clock that tests move forward.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> DateTime<Utc>;
}
