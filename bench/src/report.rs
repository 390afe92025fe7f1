//! `Report`: the JSON `scripts/bench` writes. Each figure stands beside the machine's own
//! limit measured in the same run (the Argon2 ceiling, the load generator's ceiling) and as
//! work per CPU-second, because the machine is shared and noisy: a slow run shows up in the
//! ceiling too, and the ratios stay comparable between runs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::argon2_ceiling::Argon2Ceiling;
use crate::load::Phase;

/// The share of the Argon2 ceiling login throughput must reach.
pub const TARGET_RATIO: f64 = 0.9;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    machine: Machine,
    parameters: Parameters,
    argon2_ceiling: CeilingFigures,
    /// The ceiling measured again after the login phase; far from `argon2_ceiling`, it says
    /// the machine's other load changed during the run and the ratios are that uncertain.
    argon2_ceiling_after_login: CeilingFigures,
    generator_ceiling: GeneratorFigures,
    login: LoginFigures,
    /// Login throughput over the Argon2 ceiling: the figure of merit.
    ratio_to_argon2_ceiling: f64,
    /// Logins per server CPU-second over hashes per CPU-second: the share of the server's
    /// CPU that went into Argon2 (noise from other processes on the machine cancels out).
    ratio_per_cpu_second: Option<f64>,
    /// The longest a login may take when the queue is full: every request ahead of it in the
    /// queue and in the workers, then its own hash, at the measured per-core rate.
    p99_bound_ms: f64,
    p99_within_bound: bool,
    /// `ratio_to_argon2_ceiling` (as printed, four decimals) reaches `TARGET_RATIO`.
    meets_target: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Machine {
    cores: usize,
}

/// The settings the server and the benchmark ran with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub workers: usize,
    pub queue: usize,
    pub concurrency: usize,
    pub duration_seconds: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CeilingFigures {
    threads: usize,
    hashes: u64,
    hashes_per_second: f64,
    per_core: f64,
    cpu_seconds: f64,
    hashes_per_cpu_second: Option<f64>,
}

/// The load generator's ceiling: its cheapest request at the phase's concurrency.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorFigures {
    requests: u64,
    succeeded: u64,
    errors: u64,
    requests_per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    bench_cpu_seconds: f64,
    requests_per_bench_cpu_second: Option<f64>,
    server_cpu_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginFigures {
    requests: u64,
    succeeded: u64,
    overloaded: u64,
    errors: u64,
    errors_by_kind: BTreeMap<String, u64>,
    elapsed_seconds: f64,
    throughput_per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    server_cpu_seconds: Option<f64>,
    logins_per_server_cpu_second: Option<f64>,
    bench_cpu_seconds: f64,
}

impl Report {
    pub fn new(
        cores: usize,
        parameters: Parameters,
        ceiling: &Argon2Ceiling,
        ceiling_after: &Argon2Ceiling,
        generator: &Phase,
        login: &Phase,
    ) -> Self {
        let hashes_per_cpu_second = ceiling.hashes_per_cpu_second();
        let logins_per_server_cpu_second = login
            .server_cpu_seconds
            .and_then(|seconds| per(to_f64(login.succeeded), seconds));
        let throughput = login.throughput();
        // Compared as printed, so the report never shows 0.9 beside `meetsTarget: false`.
        let ratio = round_ratio(per(throughput, ceiling.hashes_per_second).unwrap_or(0.0));
        let ratio_per_cpu_second = logins_per_server_cpu_second
            .zip(hashes_per_cpu_second)
            .and_then(|(logins, hashes)| per(logins, hashes));
        let p99_bound_ms = p99_bound_ms(parameters.queue, parameters.workers, ceiling.per_core);
        Self {
            machine: Machine { cores },
            argon2_ceiling: CeilingFigures::of(ceiling),
            argon2_ceiling_after_login: CeilingFigures::of(ceiling_after),
            generator_ceiling: GeneratorFigures::of(generator),
            login: LoginFigures {
                requests: login.requests,
                succeeded: login.succeeded,
                overloaded: login.overloaded,
                errors: login.error_count(),
                errors_by_kind: login.errors.clone(),
                elapsed_seconds: round(login.elapsed.as_secs_f64()),
                throughput_per_second: round(throughput),
                p50_ms: round(login.latencies.p50),
                p95_ms: round(login.latencies.p95),
                p99_ms: round(login.latencies.p99),
                max_ms: round(login.latencies.max),
                server_cpu_seconds: login.server_cpu_seconds.map(round),
                logins_per_server_cpu_second: logins_per_server_cpu_second.map(round),
                bench_cpu_seconds: round(login.own_cpu_seconds),
            },
            ratio_to_argon2_ceiling: ratio,
            ratio_per_cpu_second: ratio_per_cpu_second.map(round_ratio),
            p99_bound_ms: round(p99_bound_ms),
            p99_within_bound: login.latencies.p99 <= p99_bound_ms,
            meets_target: ratio >= TARGET_RATIO,
            parameters,
        }
    }
}

impl GeneratorFigures {
    /// The figures of the generator's ceiling phase.
    pub fn of(generator: &Phase) -> Self {
        Self {
            requests: generator.requests,
            succeeded: generator.succeeded,
            errors: generator.error_count() + generator.overloaded,
            requests_per_second: round(generator.throughput()),
            p50_ms: round(generator.latencies.p50),
            p95_ms: round(generator.latencies.p95),
            p99_ms: round(generator.latencies.p99),
            bench_cpu_seconds: round(generator.own_cpu_seconds),
            requests_per_bench_cpu_second: per(
                to_f64(generator.succeeded),
                generator.own_cpu_seconds,
            )
            .map(round),
            server_cpu_seconds: generator.server_cpu_seconds.map(round),
        }
    }
}

impl CeilingFigures {
    fn of(ceiling: &Argon2Ceiling) -> Self {
        Self {
            threads: ceiling.threads,
            hashes: ceiling.hashes,
            hashes_per_second: round(ceiling.hashes_per_second),
            per_core: round(ceiling.per_core),
            cpu_seconds: round(ceiling.cpu_seconds),
            hashes_per_cpu_second: ceiling.hashes_per_cpu_second().map(round),
        }
    }
}

/// `(queue + workers) / workers` hashes, each taking `1000 / per_core` milliseconds: a request
/// that finds the queue full waits for every request ahead of it, then hashes its own.
fn p99_bound_ms(queue: usize, workers: usize, per_core: f64) -> f64 {
    let workers = to_f64(workers.max(1) as u64);
    let rounds = (to_f64(queue as u64) + workers) / workers;
    per(1000.0, per_core).map_or(f64::INFINITY, |hash_ms| rounds * hash_ms)
}

/// `amount / over`, when `over` is positive.
pub fn per(amount: f64, over: f64) -> Option<f64> {
    (over > 0.0).then(|| amount / over)
}

/// Three decimals are more than the noise allows.
pub fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Ratios keep four decimals.
pub fn round_ratio(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// A count as a float; counts here stay far below 2^52, where `f64` is exact.
#[expect(
    clippy::cast_precision_loss,
    reason = "counts of hashes, requests and clock ticks stay far below 2^52"
)]
pub fn to_f64(count: u64) -> f64 {
    count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_a_full_queue_then_one_hash() {
        // 64 waiting + 2 hashing, 2 at a time: 33 rounds of 25 ms.
        assert!((p99_bound_ms(64, 2, 40.0) - 825.0).abs() < 1e-9);
    }

    #[test]
    fn without_a_rate_the_bound_is_infinite() {
        assert!(p99_bound_ms(64, 2, 0.0).is_infinite());
    }

    #[test]
    fn rounding_keeps_three_decimals() {
        assert!((round(1.234_56) - 1.235).abs() < 1e-12);
    }
}
