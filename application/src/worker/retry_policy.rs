//! `RetryPolicy`: exponential back-off with jitter between job attempts.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use twofa_domain::SecretGenerator;

/// Waits `base × 2^(n-2)` before attempt n (so `base` before the second), at most `max`, each
/// wait shortened or lengthened by up to a fifth at random, so retries of many jobs that failed
/// together spread out.
#[derive(Clone)]
pub struct RetryPolicy {
    base: Duration,
    max: Duration,
    jitter: Arc<dyn SecretGenerator>,
}

impl RetryPolicy {
    /// A policy starting at `base`, capped at `max`, with jitter from `jitter`.
    pub fn new(base: Duration, max: Duration, jitter: Arc<dyn SecretGenerator>) -> Self {
        Self { base, max, jitter }
    }

    /// The wait before `attempt` (2 for the first retry).
    pub fn delay_before(&self, attempt: u32) -> TimeDelta {
        let doublings = attempt.saturating_sub(2).min(30);
        let nominal = self.base.saturating_mul(1_u32 << doublings).min(self.max);
        let [byte] = {
            let mut b = [0_u8; 1];
            self.jitter.fill_bytes(&mut b);
            b
        };
        // A factor in [0.8, 1.2], from one random byte.
        let factor = 0.8 + 0.4 * f64::from(byte) / 255.0;
        let millis = nominal.as_secs_f64() * 1000.0 * factor;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "bounded by max × 1.2, far below i64"
        )]
        TimeDelta::milliseconds(millis.round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use twofa_memory::SeededSecretGenerator;

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(
            Duration::from_secs(5),
            Duration::from_hours(1),
            Arc::new(SeededSecretGenerator::new(3)),
        )
    }

    fn within_a_fifth(delay: TimeDelta, nominal_secs: i64) {
        let millis = delay.num_milliseconds();
        let nominal = nominal_secs * 1000;
        assert!(
            millis >= nominal * 4 / 5 && millis <= nominal * 6 / 5,
            "{millis} vs {nominal}"
        );
    }

    #[test]
    fn the_wait_doubles_from_the_base() {
        let policy = policy();
        within_a_fifth(policy.delay_before(2), 5);
        within_a_fifth(policy.delay_before(3), 10);
        within_a_fifth(policy.delay_before(4), 20);
        within_a_fifth(policy.delay_before(6), 80);
    }

    #[test]
    fn the_wait_is_capped() {
        within_a_fifth(policy().delay_before(40), 3600);
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let policy = policy();
        let waits: std::collections::HashSet<_> = (0..20)
            .map(|_| policy.delay_before(3).num_milliseconds())
            .collect();
        assert!(waits.len() > 5, "{waits:?}");
    }
}
