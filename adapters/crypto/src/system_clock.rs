//! `SystemClock`: the `Clock` port over the wall clock.

use chrono::{DateTime, Utc};
use twofa_domain::Clock;

/// The wall clock, in UTC.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the system adapter is the one place that reads the wall clock"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_time_after_the_project_began() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert!(SystemClock.now() > start);
    }
}
