//! `twofa-bench`: the load generator behind `scripts/bench`. Against a running twofa the
//! `login` scenario (the default) measures, one phase after the other so they never compete
//! for the cores:
//!
//! 1. the machine's Argon2 ceiling: Argon2id hashes per second on every core with the
//!    server's parameters, measured here, in this run;
//! 2. the load generator's own ceiling: `GET /api/health/live` at the login concurrency;
//! 3. (setup) registering the users the login phase signs in as;
//! 4. login throughput and latency, with the server's CPU time;
//! 5. the Argon2 ceiling again: how far it moved during the run tells how noisy the machine
//!    was.
//!
//! A login costs exactly one Argon2 verification, so login throughput over the Argon2 ceiling
//! is the figure of merit.
//!
//! The `verify` scenario measures second-factor verifications (`POST /api/2fa/verify` with a
//! TOTP code), which do no Argon2 work: the generator's ceiling, then (setup) enrolling TOTP
//! on `--accounts` accounts and logging each in once, then answering every challenge once.
//!
//! Either prints one JSON report on stdout and its progress on stderr.
//!
//! What belongs here: measuring and reporting. What must not: verdicts that fail a build on a
//! slow or noisy machine (the report says whether the target is met; the exit code only says
//! whether the measurement could be made), and any twofa crate — the service is reached over
//! HTTP only, as its clients reach it.

mod argon2_ceiling;
mod cpu_clock;
mod enrolment;
mod latency;
mod load;
mod registration;
mod report;
mod totp;
mod verify_report;

use std::num::NonZero;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use serde::Serialize;

use crate::argon2_ceiling::{Argon2Ceiling, Argon2Parameters};
use crate::cpu_clock::CpuClock;
use crate::load::{Probe, Target};
use crate::report::Report;
use crate::verify_report::{SeedingTimes, StoreCpuSeconds, VerifyParameters, VerifyReport};

/// Measures twofa's login throughput against the machine's Argon2 ceiling, or its
/// second-factor verifications per second; prints JSON.
#[derive(Debug, Parser)]
#[command(name = "twofa-bench", version, about)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Login)]
    scenario: Scenario,
    /// Base URL of the running twofa, e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The server's process id, to read its CPU time from /proc (unset: not measured).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// `hashing.memory_kib` of the server (Argon2 `m`).
    #[arg(long, default_value_t = 19456)]
    memory_kib: u32,
    /// `hashing.iterations` of the server (Argon2 `t`).
    #[arg(long, default_value_t = 2)]
    iterations: u32,
    /// `hashing.parallelism` of the server (Argon2 `p`).
    #[arg(long, default_value_t = 1)]
    parallelism: u32,
    /// `hashing.workers` of the server [default: the number of cores].
    #[arg(long)]
    workers: Option<NonZero<usize>>,
    /// `hashing.queue` of the server.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Requests in flight at once in the measured phase [default: login 4 × workers, verify
    /// 16 × cores].
    #[arg(long)]
    concurrency: Option<NonZero<usize>>,
    /// Length of the measured phase (login, or verify unless its challenges run out first).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Length of the Argon2 ceiling phase.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    ceiling_duration: Duration,
    /// Length of the load generator's ceiling phase.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    generator_duration: Duration,
    /// Users registered and signed in as, in turn.
    #[arg(long, default_value = "32")]
    users: NonZero<usize>,
    /// The PostgreSQL postmaster's process id, to read its and its backends' CPU time during
    /// the verify phase (unset: not measured).
    #[arg(long, value_name = "PID")]
    postgres_pid: Option<u32>,
    /// The Redis server's process id, to read its CPU time during the verify phase.
    #[arg(long, value_name = "PID")]
    redis_pid: Option<u32>,
    /// Accounts the verify scenario enrols, one challenge each: a TOTP step is accepted once
    /// per account, so this bounds the verify phase.
    #[arg(long, default_value = "20000")]
    accounts: NonZero<usize>,
    /// Setup requests in flight at once (verify scenario).
    #[arg(long, default_value = "64")]
    seed_concurrency: NonZero<usize>,
    /// How twofa reaches PostgreSQL and Redis in the verify scenario (`unix` or `tcp`), for the
    /// report: scripts/bench sets it up.
    #[arg(long, default_value = "tcp")]
    transport: String,
    /// The server's `jobs.concurrency`, for the report (verify scenario): scripts/bench sets it.
    #[arg(long)]
    job_concurrency: Option<usize>,
    /// A shell command run just before the verify phase (scripts/bench resets PostgreSQL's
    /// and Redis's statement counters with it, so what it prints after is the phase's own).
    #[arg(long, value_name = "COMMAND")]
    before_verify: Option<String>,
    /// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clock_ticks: u32,
}

/// A measured scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Password logins against the Argon2 ceiling.
    Login,
    /// Second-factor (TOTP) verifications over the service's stores.
    Verify,
}

/// The report of either scenario.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Output {
    Login(Box<Report>),
    Verify(Box<VerifyReport>),
}

fn main() -> ExitCode {
    // reqwest is built on rustls without a provider; it panics unless one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("twofa-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let measured = match args.scenario {
        Scenario::Login => runtime
            .block_on(run(args))
            .map(|report| Output::Login(Box::new(report))),
        Scenario::Verify => runtime
            .block_on(run_verify(args))
            .map(|report| Output::Verify(Box::new(report))),
    };
    match measured {
        Ok(report) => match serde_json::to_string_pretty(&report) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("twofa-bench: cannot write the report: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("twofa-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<Report> {
    let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
    let workers = args.workers.map_or(cores, NonZero::get);
    let concurrency = args
        .concurrency
        .map_or(workers.saturating_mul(4), NonZero::get);
    let parameters = Argon2Parameters {
        memory_kib: args.memory_kib,
        iterations: args.iterations,
        parallelism: args.parallelism,
    };
    let own_cpu = CpuClock::of_self(args.clock_ticks);
    let server_cpu = args
        .server_pid
        .map(|pid| CpuClock::of_process(pid, args.clock_ticks));

    let ceiling = measure_ceiling(parameters, cores, args.ceiling_duration, &own_cpu).await?;

    let target = Arc::new(Target::new(&args.base_url)?);

    eprintln!(
        "twofa-bench: generator ceiling: GET /api/health/live, {concurrency} in flight for {}",
        humantime::format_duration(args.generator_duration)
    );
    let generator = load::run(
        &target,
        &Probe::HealthLive,
        concurrency,
        args.generator_duration,
        &own_cpu,
        server_cpu.as_ref(),
    )
    .await?;
    generator.require_some_success("GET /api/health/live")?;

    eprintln!("twofa-bench: registering {} users", args.users);
    let users = registration::register_users(&target, args.users.get(), workers).await?;
    registration::check_login(&target, &users).await?;

    eprintln!(
        "twofa-bench: login: {concurrency} in flight for {}",
        humantime::format_duration(args.duration)
    );
    let login = load::run(
        &target,
        &Probe::Login(Arc::new(users)),
        concurrency,
        args.duration,
        &own_cpu,
        server_cpu.as_ref(),
    )
    .await?;
    login.require_some_success("POST /api/auth/login")?;

    eprintln!("twofa-bench: Argon2 ceiling again, to show how much the machine drifted");
    let ceiling_after = measure_ceiling(parameters, cores, args.ceiling_duration, &own_cpu).await?;

    Ok(Report::new(
        cores,
        report::Parameters {
            memory_kib: parameters.memory_kib,
            iterations: parameters.iterations,
            parallelism: parameters.parallelism,
            workers,
            queue: args.queue,
            concurrency,
            duration_seconds: args.duration.as_secs_f64(),
        },
        &ceiling,
        &ceiling_after,
        &generator,
        &login,
    ))
}

async fn run_verify(args: Args) -> anyhow::Result<VerifyReport> {
    let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
    let concurrency = args
        .concurrency
        .map_or(cores.saturating_mul(16), NonZero::get);
    let accounts = args.accounts.get();
    let seed_concurrency = args.seed_concurrency.get();
    let own_cpu = CpuClock::of_self(args.clock_ticks);
    let server_cpu = args
        .server_pid
        .map(|pid| CpuClock::of_process(pid, args.clock_ticks));
    let target = Arc::new(Target::new(&args.base_url)?);

    eprintln!(
        "twofa-bench: generator ceiling: GET /api/health/live, {concurrency} in flight for {}",
        humantime::format_duration(args.generator_duration)
    );
    let generator = load::run(
        &target,
        &Probe::HealthLive,
        concurrency,
        args.generator_duration,
        &own_cpu,
        server_cpu.as_ref(),
    )
    .await?;
    generator.require_some_success("GET /api/health/live")?;

    eprintln!("twofa-bench: enrolling TOTP on {accounts} accounts, {seed_concurrency} at a time");
    let started = Instant::now();
    let enrolled = enrolment::enrol_accounts(&target, accounts, seed_concurrency).await?;
    let enrol = started.elapsed();
    eprintln!(
        "twofa-bench: enrolled in {:.1}s; logging each in for a challenge",
        enrol.as_secs_f64()
    );
    let started = Instant::now();
    let challenges = enrolment::open_challenges(&target, enrolled, seed_concurrency).await?;
    let login = started.elapsed();
    eprintln!("twofa-bench: challenged in {:.1}s", login.as_secs_f64());
    let drain = enrolment::drain_queue(&target).await?;
    eprintln!(
        "twofa-bench: the setup's {} jobs were worked off in {:.1}s more",
        drain.pending_at_start,
        drain.took.as_secs_f64()
    );

    // The step used at setup is spent; the next one is within the server's skew.
    let step = totp::current_step()?.saturating_add(1);
    let challenges = Arc::new(enrolment::prepare(challenges, step));
    eprintln!(
        "twofa-bench: verify: {concurrency} in flight, {} challenges, at most {}",
        challenges.len(),
        humantime::format_duration(args.duration)
    );
    let stores = StoreClocks::of(&args);
    if let Some(command) = &args.before_verify {
        run_shell(command)?;
    }
    let stores_before = stores.seconds()?;
    let verify = load::run(
        &target,
        &Probe::Verify(challenges),
        concurrency,
        args.duration,
        &own_cpu,
        server_cpu.as_ref(),
    )
    .await?;
    let store_cpu = stores.seconds()?.since(stores_before);
    verify.require_some_success("POST /api/2fa/verify")?;
    eprintln!(
        "twofa-bench: {:.1} verifications/s, {} errors",
        verify.throughput(),
        verify.error_count()
    );
    // The events the phase queued (two a verification) that the worker had not run yet.
    let backlog = enrolment::drain_queue(&target).await?;
    eprintln!(
        "twofa-bench: the worker ran the {} jobs left {:.1}s after the phase",
        backlog.pending_at_start,
        backlog.took.as_secs_f64()
    );

    Ok(VerifyReport::new(
        cores,
        VerifyParameters {
            accounts,
            seed_concurrency,
            concurrency,
            duration_seconds: args.duration.as_secs_f64(),
            transport: args.transport.clone(),
            job_concurrency: args.job_concurrency,
        },
        SeedingTimes {
            enrol,
            login,
            drain: drain.took,
        },
        &generator,
        &verify,
        store_cpu,
        backlog,
    ))
}

/// The CPU clocks of the stores behind the service, where their process ids are known.
struct StoreClocks {
    postgres: Option<CpuClock>,
    redis: Option<CpuClock>,
}

impl StoreClocks {
    fn of(args: &Args) -> Self {
        Self {
            postgres: args
                .postgres_pid
                .map(|pid| CpuClock::of_process_and_children(pid, args.clock_ticks)),
            redis: args
                .redis_pid
                .map(|pid| CpuClock::of_process(pid, args.clock_ticks)),
        }
    }

    fn seconds(&self) -> anyhow::Result<StoreCpuSeconds> {
        Ok(StoreCpuSeconds {
            postgres: self.postgres.as_ref().map(CpuClock::seconds).transpose()?,
            redis: self.redis.as_ref().map(CpuClock::seconds).transpose()?,
        })
    }
}

/// Runs `command` with `sh -c`, failing unless it succeeds.
fn run_shell(command: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .status()
        .with_context(|| format!("running --before-verify {command:?}"))?;
    anyhow::ensure!(status.success(), "--before-verify {command:?}: {status}");
    Ok(())
}

/// Runs the Argon2 ceiling phase on its own threads, away from the async runtime's.
async fn measure_ceiling(
    parameters: Argon2Parameters,
    cores: usize,
    duration: Duration,
    own_cpu: &CpuClock,
) -> anyhow::Result<Argon2Ceiling> {
    eprintln!(
        "twofa-bench: Argon2 ceiling: m={} t={} p={} on {cores} threads for {}",
        parameters.memory_kib,
        parameters.iterations,
        parameters.parallelism,
        humantime::format_duration(duration)
    );
    let own_cpu = own_cpu.clone();
    let ceiling = tokio::task::spawn_blocking(move || {
        argon2_ceiling::measure(parameters, cores, duration, &own_cpu)
    })
    .await
    .context("the Argon2 ceiling phase stopped")??;
    eprintln!(
        "twofa-bench: {:.1} hashes/s on all cores, {:.1} per core",
        ceiling.hashes_per_second, ceiling.per_core
    );
    Ok(ceiling)
}
