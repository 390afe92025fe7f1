//! `Latencies`: percentiles of a set of request latencies (nearest rank, exact: every
//! sample is kept, which a benchmark of a few thousand requests per second can afford).

use std::time::Duration;

/// Latency percentiles of one phase, each in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latencies {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latencies {
    /// The percentiles of `samples` (sorted in place); all zero when there are none.
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        let at = |per_mille: usize| nearest_rank(samples, per_mille).map_or(0.0, milliseconds);
        Self {
            p50: at(500),
            p95: at(950),
            p99: at(990),
            max: samples.last().copied().map_or(0.0, milliseconds),
        }
    }
}

/// The smallest sample with at least `per_mille`/1000 of `sorted` at or below it.
fn nearest_rank(sorted: &[Duration], per_mille: usize) -> Option<Duration> {
    let rank = sorted.len().saturating_mul(per_mille).div_ceil(1000).max(1);
    sorted.get(rank - 1).copied()
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_of_one_to_a_hundred_are_their_ranks() {
        let mut samples = ms(&(1..=100).rev().collect::<Vec<_>>());
        let latencies = Latencies::of(&mut samples);
        assert_eq!(
            latencies,
            Latencies {
                p50: 50.0,
                p95: 95.0,
                p99: 99.0,
                max: 100.0
            }
        );
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let latencies = Latencies::of(&mut ms(&[7]));
        assert!((latencies.p50 - 7.0).abs() < 1e-9);
        assert!((latencies.p99 - 7.0).abs() < 1e-9);
    }

    #[test]
    fn no_samples_give_zeros() {
        assert_eq!(Latencies::of(&mut []), Latencies::default());
    }
}
