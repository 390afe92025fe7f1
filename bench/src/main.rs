//! `twofa-bench`: the load generator behind `scripts/bench`. Against a running twofa it
//! measures, one phase after the other so they never compete for the cores:
//!
//! 1. the machine's Argon2 ceiling: Argon2id hashes per second on every core with the
//!    server's parameters, measured here, in this run;
//! 2. the load generator's own ceiling: `GET /api/health/live` at the login concurrency;
//! 3. (setup) registering the users the login phase signs in as;
//! 4. login throughput and latency, with the server's CPU time;
//! 5. the Argon2 ceiling again: how far it moved during the run tells how noisy the machine
//!    was.
//!
//! It prints one JSON report on stdout and its progress on stderr. A login costs exactly one
//! Argon2 verification, so login throughput over the Argon2 ceiling is the figure of merit.
//!
//! What belongs here: measuring and reporting. What must not: verdicts that fail a build on a
//! slow or noisy machine (the report says whether the target is met; the exit code only says
//! whether the measurement could be made), and any twofa crate — the service is reached over
//! HTTP only, as its clients reach it.

mod argon2_ceiling;
mod cpu_clock;
mod latency;
mod load;
mod registration;
mod report;

use std::num::NonZero;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::argon2_ceiling::{Argon2Ceiling, Argon2Parameters};
use crate::cpu_clock::CpuClock;
use crate::load::{Probe, Target};
use crate::report::Report;

/// Measures twofa's login throughput against the machine's Argon2 ceiling; prints JSON.
#[derive(Debug, Parser)]
#[command(name = "twofa-bench", version, about)]
struct Args {
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
    /// Logins in flight at once [default: 4 × workers].
    #[arg(long)]
    concurrency: Option<NonZero<usize>>,
    /// Length of the login phase.
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
    /// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clock_ticks: u32,
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
    match runtime.block_on(run(args)) {
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
