//! `VerifyReport`: the JSON `scripts/bench --verify` writes. Second-factor verifications
//! per second and their latency over PostgreSQL and Redis, beside the load generator's own
//! ceiling (measured in the same run) and per server CPU-second, because the machine is
//! shared and noisy. No Argon2 runs on this path, so there is no Argon2 ceiling here.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::enrolment::Drain;
use crate::load::Phase;
use crate::report::{GeneratorFigures, per, round, round_ratio, to_f64};

/// Verifications per second the service must reach on this machine, load generator included.
pub const TARGET_PER_SECOND: f64 = 2000.0;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    scenario: &'static str,
    machine: Machine,
    parameters: VerifyParameters,
    seeding: Seeding,
    generator_ceiling: GeneratorFigures,
    verify: VerifyFigures,
    /// Verify throughput over the generator's ceiling: near 1, the generator was the limit.
    ratio_to_generator_ceiling: Option<f64>,
    target_per_second: f64,
    /// `verify.throughputPerSecond` and `sustainedPerSecond` (as printed) both reach
    /// `target_per_second`: a phase the worker could not keep up with does not count.
    meets_target: bool,
    /// The jobs the verify phase queued (its webhook events) that were still pending when it
    /// ended, and how long the worker took to run them afterwards.
    backlog: Backlog,
    /// Verifications over the phase plus that drain: the rate the whole service, worker
    /// included, keeps up with.
    sustained_per_second: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Backlog {
    jobs_pending_at_end: u64,
    drain_seconds: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Machine {
    cores: usize,
}

/// The settings the benchmark ran with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyParameters {
    pub accounts: usize,
    pub seed_concurrency: usize,
    pub concurrency: usize,
    pub duration_seconds: f64,
    /// How twofa reached PostgreSQL and Redis: `unix` sockets or `tcp` on loopback.
    pub transport: String,
    /// The server's `jobs.concurrency` (its worker's slots), when the caller said.
    pub job_concurrency: Option<usize>,
}

/// How long the setup took: enrolling TOTP on every account, then one login each.
#[derive(Debug, Clone, Copy)]
pub struct SeedingTimes {
    pub enrol: Duration,
    pub login: Duration,
    /// Waiting for the worker to finish the setup's jobs.
    pub drain: Duration,
}

/// CPU seconds the stores used during the verify phase, where measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreCpuSeconds {
    /// The postmaster and its backends.
    pub postgres: Option<f64>,
    pub redis: Option<f64>,
}

impl StoreCpuSeconds {
    /// What was used from `before` to `self`.
    pub fn since(self, before: Self) -> Self {
        Self {
            postgres: self.postgres.zip(before.postgres).map(|(a, b)| a - b),
            redis: self.redis.zip(before.redis).map(|(a, b)| a - b),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Seeding {
    accounts: usize,
    enrol_seconds: f64,
    login_seconds: f64,
    /// Waiting for the worker to finish the jobs the setup queued.
    drain_seconds: f64,
    seconds: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifyFigures {
    requests: u64,
    succeeded: u64,
    overloaded: u64,
    errors: u64,
    errors_by_kind: BTreeMap<String, u64>,
    /// Every prepared challenge was sent before `--duration` ended.
    exhausted: bool,
    elapsed_seconds: f64,
    throughput_per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    server_cpu_seconds: Option<f64>,
    verifications_per_server_cpu_second: Option<f64>,
    bench_cpu_seconds: f64,
    postgres_cpu_seconds: Option<f64>,
    redis_cpu_seconds: Option<f64>,
    /// twofa, PostgreSQL, Redis and this load generator together.
    machine_cpu_seconds: Option<f64>,
    verifications_per_machine_cpu_second: Option<f64>,
}

impl VerifyReport {
    pub fn new(
        cores: usize,
        parameters: VerifyParameters,
        seeding: SeedingTimes,
        generator: &Phase,
        verify: &Phase,
        stores: StoreCpuSeconds,
        backlog: Drain,
    ) -> Self {
        let sustained = per(
            to_f64(verify.succeeded),
            verify.elapsed.as_secs_f64() + backlog.took.as_secs_f64(),
        )
        .map_or(0.0, round);
        let machine_cpu_seconds = verify
            .server_cpu_seconds
            .zip(stores.postgres)
            .zip(stores.redis)
            .map(|((server, postgres), redis)| server + postgres + redis + verify.own_cpu_seconds);
        let throughput = round(verify.throughput());
        let per_server_cpu_second = verify
            .server_cpu_seconds
            .and_then(|seconds| per(to_f64(verify.succeeded), seconds));
        let exhausted = usize::try_from(verify.requests).is_ok_and(|sent| {
            sent >= parameters.accounts
                && verify.elapsed.as_secs_f64() < parameters.duration_seconds
        });
        Self {
            scenario: "verify",
            machine: Machine { cores },
            seeding: Seeding {
                accounts: parameters.accounts,
                enrol_seconds: round(seeding.enrol.as_secs_f64()),
                login_seconds: round(seeding.login.as_secs_f64()),
                drain_seconds: round(seeding.drain.as_secs_f64()),
                seconds: round((seeding.enrol + seeding.login + seeding.drain).as_secs_f64()),
            },
            generator_ceiling: GeneratorFigures::of(generator),
            verify: VerifyFigures {
                requests: verify.requests,
                succeeded: verify.succeeded,
                overloaded: verify.overloaded,
                errors: verify.error_count(),
                errors_by_kind: verify.errors.clone(),
                exhausted,
                elapsed_seconds: round(verify.elapsed.as_secs_f64()),
                throughput_per_second: throughput,
                p50_ms: round(verify.latencies.p50),
                p95_ms: round(verify.latencies.p95),
                p99_ms: round(verify.latencies.p99),
                max_ms: round(verify.latencies.max),
                server_cpu_seconds: verify.server_cpu_seconds.map(round),
                verifications_per_server_cpu_second: per_server_cpu_second.map(round),
                bench_cpu_seconds: round(verify.own_cpu_seconds),
                postgres_cpu_seconds: stores.postgres.map(round),
                redis_cpu_seconds: stores.redis.map(round),
                machine_cpu_seconds: machine_cpu_seconds.map(round),
                verifications_per_machine_cpu_second: machine_cpu_seconds
                    .and_then(|seconds| per(to_f64(verify.succeeded), seconds))
                    .map(round),
            },
            ratio_to_generator_ceiling: per(throughput, generator.throughput()).map(round_ratio),
            target_per_second: TARGET_PER_SECOND,
            meets_target: throughput >= TARGET_PER_SECOND && sustained >= TARGET_PER_SECOND,
            backlog: Backlog {
                jobs_pending_at_end: backlog.pending_at_start,
                drain_seconds: round(backlog.took.as_secs_f64()),
            },
            sustained_per_second: sustained,
            parameters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(succeeded: u64, seconds: u64) -> Phase {
        Phase {
            requests: succeeded,
            succeeded,
            elapsed: Duration::from_secs(seconds),
            server_cpu_seconds: Some(2.0),
            ..Phase::default()
        }
    }

    fn report(verify: &Phase) -> serde_json::Value {
        report_with_backlog(verify, Duration::ZERO)
    }

    fn report_with_backlog(verify: &Phase, drain: Duration) -> serde_json::Value {
        let parameters = VerifyParameters {
            accounts: 30_000,
            seed_concurrency: 64,
            concurrency: 32,
            duration_seconds: 10.0,
            transport: "unix".to_owned(),
            job_concurrency: Some(16),
        };
        let seeding = SeedingTimes {
            enrol: Duration::from_secs(3),
            login: Duration::from_secs(1),
            drain: Duration::from_secs(2),
        };
        let stores = StoreCpuSeconds {
            postgres: Some(1.5),
            redis: Some(0.5),
        };
        let backlog = Drain {
            pending_at_start: 7,
            took: drain,
        };
        let report = VerifyReport::new(
            2,
            parameters,
            seeding,
            &phase(50_000, 10),
            verify,
            stores,
            backlog,
        );
        serde_json::to_value(report).unwrap()
    }

    #[test]
    fn two_thousand_verifications_a_second_meet_the_target_and_fewer_do_not() {
        assert_eq!(report(&phase(20_000, 10))["meetsTarget"], true);
        assert_eq!(report(&phase(19_990, 10))["meetsTarget"], false);
    }

    #[test]
    fn a_phase_the_worker_fell_behind_in_does_not_meet_the_target() {
        let json = report_with_backlog(&phase(30_000, 10), Duration::from_secs(5));
        assert_eq!(json["verify"]["throughputPerSecond"], 3_000.0);
        assert_eq!(json["sustainedPerSecond"], 2_000.0);
        assert_eq!(json["meetsTarget"], true);
        let json = report_with_backlog(&phase(30_000, 10), Duration::from_secs(6));
        assert_eq!(json["backlog"]["jobsPendingAtEnd"], 7);
        assert_eq!(json["backlog"]["drainSeconds"], 6.0);
        assert_eq!(json["meetsTarget"], false);
    }

    #[test]
    fn verifications_are_counted_per_server_cpu_second_and_against_the_generator() {
        let json = report(&phase(20_000, 10));
        assert_eq!(json["verify"]["verificationsPerServerCpuSecond"], 10_000.0);
        assert_eq!(json["ratioToGeneratorCeiling"], 0.4);
        assert_eq!(json["seeding"]["seconds"], 6.0);
        // twofa 2 s + PostgreSQL 1.5 s + Redis 0.5 s + the generator 0 s.
        assert_eq!(json["verify"]["verificationsPerMachineCpuSecond"], 5_000.0);
    }
}
