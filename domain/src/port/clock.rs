//! The `Clock` port: every reading of the time goes through it, so tests can drive time.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The current time. The system adapter reads the wall clock; the memory adapter is a manual
/// clock that tests move forward.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// `duration` from now, capped at the latest instant `DateTime` holds (a lifetime of
    /// "forever" never overflows).
    fn after(&self, duration: Duration) -> DateTime<Utc> {
        let delta = TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX);
        self.now()
            .checked_add_signed(delta)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct At(DateTime<Utc>);

    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    #[test]
    fn after_adds_the_duration_to_now() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(
            At(now).after(Duration::from_secs(90)),
            now + TimeDelta::seconds(90)
        );
    }

    #[test]
    fn after_caps_an_endless_duration_at_the_latest_instant() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(At(now).after(Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            At(DateTime::<Utc>::MAX_UTC).after(Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
