//! The machine's Argon2 ceiling: how many Argon2id hashes per second every core together
//! computes with the server's parameters, each core on its own OS thread hashing in a loop.
//! A login costs one Argon2 verification, which is one hash and a comparison, so this is the
//! most logins per second the machine could ever answer.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use rand::Rng as _;

use crate::cpu_clock::CpuClock;
use crate::report::to_f64;

/// The password every thread hashes (its length is that of the benchmark's passwords).
const PASSWORD: &[u8] = b"correct-horse-battery-0";

/// Salt length in bytes, as the server's hasher uses.
const SALT_LEN: usize = 16;

/// Argon2id cost parameters (`hashing.memory_kib`, `iterations`, `parallelism`).
#[derive(Debug, Clone, Copy)]
pub struct Argon2Parameters {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// What the ceiling phase measured.
#[derive(Debug, Clone, Copy)]
pub struct Argon2Ceiling {
    /// Threads that hashed, one per core.
    pub threads: usize,
    /// Hashes computed by all of them.
    pub hashes: u64,
    /// Hashes per second, all threads together.
    pub hashes_per_second: f64,
    /// `hashes_per_second` over the number of threads.
    pub per_core: f64,
    /// CPU seconds this process used during the phase.
    pub cpu_seconds: f64,
}

impl Argon2Ceiling {
    /// Hashes per CPU-second this process spent, when it spent any.
    pub fn hashes_per_cpu_second(&self) -> Option<f64> {
        crate::report::per(to_f64(self.hashes), self.cpu_seconds)
    }
}

/// Hashes on `threads` OS threads for about `duration` (each thread finishes its last hash).
/// A thread's rate is its hashes over its own time, so one that started late or finished its
/// last hash after the others does not skew the total.
pub fn measure(
    parameters: Argon2Parameters,
    threads: usize,
    duration: Duration,
    own_cpu: &CpuClock,
) -> anyhow::Result<Argon2Ceiling> {
    let params = Params::new(
        parameters.memory_kib,
        parameters.iterations,
        parameters.parallelism,
        None,
    )
    .map_err(|error| anyhow!("invalid Argon2 parameters: {error}"))?;
    let threads = threads.max(1);
    let start_line = Barrier::new(threads);
    let cpu_before = own_cpu.seconds()?;
    let per_thread = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| hash_for(&params, duration, &start_line)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| anyhow!("an Argon2 thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let cpu_seconds = own_cpu.seconds()? - cpu_before;

    let hashes = per_thread.iter().map(|&(count, _)| count).sum();
    let hashes_per_second: f64 = per_thread
        .iter()
        .map(|&(count, elapsed)| to_f64(count) / elapsed.as_secs_f64())
        .sum();
    Ok(Argon2Ceiling {
        threads,
        hashes,
        hashes_per_second,
        per_core: hashes_per_second / to_f64(threads as u64),
        cpu_seconds,
    })
}

/// One thread's loop: hashes with a fresh random salt until `duration` has passed; returns
/// how many and over how long.
fn hash_for(
    params: &Params,
    duration: Duration,
    start_line: &Barrier,
) -> anyhow::Result<(u64, Duration)> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    start_line.wait();
    let start = Instant::now();
    let mut hashes = 0_u64;
    loop {
        let salt: [u8; SALT_LEN] = random_bytes();
        argon2
            .hash_password_with_salt(PASSWORD, &salt)
            .map_err(|error| anyhow!("Argon2 could not hash: {error}"))?;
        hashes += 1;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return Ok((hashes, elapsed));
        }
    }
}

/// Fresh random bytes, for salts and the run's name prefix.
#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark's salts and names need no SecretGenerator port: nothing here is kept"
)]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cheapest_parameters_hash_at_least_once_per_thread() {
        let parameters = Argon2Parameters {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        let ceiling = measure(
            parameters,
            2,
            Duration::from_millis(10),
            &CpuClock::of_self(100),
        )
        .unwrap();
        assert_eq!(ceiling.threads, 2);
        assert!(ceiling.hashes >= 2);
        assert!(ceiling.hashes_per_second > 0.0);
    }

    #[test]
    fn invalid_parameters_are_refused() {
        let parameters = Argon2Parameters {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
        };
        let result = measure(parameters, 1, Duration::ZERO, &CpuClock::of_self(100));
        assert!(result.is_err());
    }
}
