//! `ManualClock`: a `Clock` that tests set and move forward.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use twofa_domain::Clock;

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward (or back, with a negative delta).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn stands_still_until_advanced() {
        let clock = ManualClock::new(start());
        assert_eq!(clock.now(), clock.now());
        clock.advance(TimeDelta::seconds(30));
        assert_eq!(clock.now(), start() + TimeDelta::seconds(30));
    }

    #[test]
    fn can_be_set_to_any_instant() {
        let clock = ManualClock::new(start());
        let later = start() + TimeDelta::days(3);
        clock.set(later);
        assert_eq!(clock.now(), later);
    }
}
