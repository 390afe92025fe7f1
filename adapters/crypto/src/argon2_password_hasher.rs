//! `Argon2PasswordHasher`: the `PasswordHasher` port over Argon2id (version 0x13), run on a
//! dedicated pool of OS threads fed by a bounded queue.
//!
//! The pool: `workers` threads share the receiving end of a `std::sync::mpsc::sync_channel`
//! of capacity `queue`. A request is a boxed closure that carries the caller's tracing span
//! and answers through a `tokio::sync::oneshot`; it is handed over with `try_send`, so when
//! every worker is busy and `queue` requests already wait, the caller gets
//! `HashError::Overloaded` at once instead of waiting without bound. Salts are drawn from the
//! `SecretGenerator` on the worker, so the async caller never does more than enqueue.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::anyhow;
use argon2::password_hash::phc;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;
use tokio::sync::oneshot;
use tracing::Span;
use twofa_domain::{
    HashError, Password, PasswordHash, PasswordHasher, SecretGenerator, Verification,
};
use zeroize::Zeroizing;

/// The `Retry-After` hint given with `HashError::Overloaded`.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Salt length in bytes (the PHC recommendation, and argon2's).
const SALT_LEN: usize = 16;

/// The Argon2 algorithm every new hash uses.
const ALGORITHM: Algorithm = Algorithm::Argon2id;

/// The Argon2 version every new hash uses (0x13, `v=19`).
const VERSION: Version = Version::V0x13;

/// The `hashing.*` settings: Argon2id cost parameters and the pool's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// `hashing.memory_kib`: memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// `hashing.iterations`: time cost (`t`).
    pub iterations: u32,
    /// `hashing.parallelism`: lanes (`p`).
    pub parallelism: u32,
    /// `hashing.workers`: OS threads that hash.
    pub workers: usize,
    /// `hashing.queue`: requests allowed to wait for a worker; beyond it, `Overloaded`.
    /// `0` means none wait: only a worker idle at that instant takes a request.
    pub queue: usize,
}

impl Default for Argon2Settings {
    /// OWASP's Argon2id minimum (m=19456 KiB, t=2, p=1), one worker per core, 64 waiting.
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
            workers: thread::available_parallelism().map_or(1, std::num::NonZero::get),
            queue: 64,
        }
    }
}

/// Why an `Argon2PasswordHasher` could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Argon2SettingsError {
    /// A `hashing.*` setting is out of range; `key` names it.
    #[error("invalid `{key}`: {reason}")]
    Invalid {
        /// The configuration key, e.g. `hashing.memory_kib`.
        key: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The operating system refused a worker thread.
    #[error("could not start a password hashing thread")]
    Spawn(#[source] std::io::Error),
}

/// A request for a worker: runs once, on a pool thread, and answers through its own channel.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// What the workers share with the front end.
struct Core {
    /// Argon2id, version 0x13, the configured parameters, no pepper.
    argon2: Argon2<'static>,
    /// The configured parameters, to tell an outdated stored hash.
    params: Params,
    /// The source of salts.
    secrets: Arc<dyn SecretGenerator>,
    /// A hash of a random password under the configured parameters, for `verify_dummy`.
    dummy: phc::PasswordHash,
}

impl Core {
    fn hash(&self, password: &[u8]) -> anyhow::Result<String> {
        let mut salt = [0_u8; SALT_LEN];
        self.secrets.fill_bytes(&mut salt);
        let hash = self
            .argon2
            .hash_password_with_salt(password, &salt)
            .map_err(|error| anyhow!("argon2 could not hash: {error}"))?;
        Ok(hash.to_string())
    }

    /// Verifies in constant time (argon2 compares the outputs with `CtEq`), under the stored
    /// hash's own algorithm, version and parameters.
    fn verify(&self, candidate: &[u8], stored: &phc::PasswordHash) -> anyhow::Result<bool> {
        match self.argon2.verify_password(candidate, stored) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(error) => Err(anyhow!("argon2 could not verify: {error}")),
        }
    }

    /// Whether `stored` was made with anything but the configured algorithm, version and
    /// parameters (memory, time, lanes, output length, no key id or associated data).
    fn is_outdated(&self, stored: &phc::PasswordHash, params: &Params) -> bool {
        stored.algorithm != ALGORITHM.ident()
            || stored.version != Some(u32::from(VERSION))
            || params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
            || params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
                != self
                    .params
                    .output_len()
                    .unwrap_or(Params::DEFAULT_OUTPUT_LEN)
            || !params.keyid().is_empty()
            || !params.data().is_empty()
    }
}

/// Argon2id password hashing on a bounded pool of OS threads. Dropping it stops the pool:
/// requests still waiting are abandoned (their callers get `Unexpected`), and the drop waits
/// for the hashes in progress, at most one per worker.
pub struct Argon2PasswordHasher {
    core: Arc<Core>,
    /// `None` once shutting down.
    sender: Option<SyncSender<Job>>,
    is_shutting_down: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    queue: usize,
}

impl Argon2PasswordHasher {
    /// Validates `settings`, hashes the dummy password once (on the calling thread: this takes
    /// one hash's time), and starts `settings.workers` threads.
    ///
    /// # Errors
    /// `Argon2SettingsError::Invalid` naming the `hashing.*` key that is out of range;
    /// `Argon2SettingsError::Spawn` if a thread cannot be started.
    pub fn new(
        settings: Argon2Settings,
        secrets: Arc<dyn SecretGenerator>,
    ) -> Result<Self, Argon2SettingsError> {
        let params = validate(&settings)?;
        let argon2 = Argon2::new(ALGORITHM, VERSION, params.clone());
        let dummy = dummy_hash(&argon2, secrets.as_ref())?;
        let core = Arc::new(Core {
            argon2,
            params,
            secrets,
            dummy,
        });

        let (sender, receiver) = mpsc::sync_channel::<Job>(settings.queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let is_shutting_down = Arc::new(AtomicBool::new(false));
        let mut hasher = Self {
            core,
            sender: Some(sender),
            is_shutting_down,
            workers: Vec::with_capacity(settings.workers),
            queue: settings.queue,
        };
        for index in 0..settings.workers {
            let receiver = Arc::clone(&receiver);
            let is_shutting_down = Arc::clone(&hasher.is_shutting_down);
            let worker = thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&receiver, &is_shutting_down))
                .map_err(Argon2SettingsError::Spawn)?;
            hasher.workers.push(worker);
        }
        Ok(hasher)
    }

    /// Runs `task` on a worker inside the caller's span, or answers `Overloaded` at once when
    /// the queue is full.
    async fn run<T, F>(&self, task: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let core = Arc::clone(&self.core);
        let span = Span::current();
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            // The caller may have gone away (a cancelled request): nobody to tell.
            let _ = reply.send(task(&core));
        });
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| anyhow!("the password hashing pool is shut down"))?;
        match sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    queue = self.queue,
                    "password hashing pool is full; refusing the request"
                );
                return Err(HashError::Overloaded {
                    retry_after: RETRY_AFTER,
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(anyhow!("the password hashing pool has stopped").into());
            }
        }
        answer
            .await
            .map_err(|_| anyhow!("the password hashing pool dropped the request").into())
    }
}

impl std::fmt::Debug for Argon2PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2PasswordHasher")
            .field("params", &self.core.params)
            .field("workers", &self.workers.len())
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Drop for Argon2PasswordHasher {
    fn drop(&mut self) {
        self.is_shutting_down.store(true, Ordering::Release);
        // Without a sender, `recv` fails once the queue is drained and each worker returns.
        self.sender = None;
        for worker in self.workers.drain(..) {
            // A worker that panicked outside a job has nothing left to clean up.
            let _ = worker.join();
        }
    }
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let password = Zeroizing::new(password.expose().as_bytes().to_vec());
        let phc = self.run(move |core| core.hash(&password)).await??;
        Ok(PasswordHash::from_phc(phc))
    }

    async fn verify(
        &self,
        candidate: &str,
        hash: &PasswordHash,
    ) -> Result<Verification, HashError> {
        let stored = phc::PasswordHash::new(hash.as_phc())
            .map_err(|error| anyhow!("the stored password hash does not parse: {error}"))?;
        Algorithm::try_from(stored.algorithm.as_str())
            .map_err(|error| anyhow!("the stored password hash is not Argon2: {error}"))?;
        let params = Params::try_from(&stored)
            .map_err(|error| anyhow!("the stored password hash has bad parameters: {error}"))?;
        if stored.salt.is_none() || stored.hash.is_none() {
            return Err(anyhow!("the stored password hash has no salt or no output").into());
        }
        let needs_rehash = self.core.is_outdated(&stored, &params);
        let candidate = Zeroizing::new(candidate.as_bytes().to_vec());
        let is_match = self
            .run(move |core| core.verify(&candidate, &stored))
            .await??;
        Ok(if is_match {
            Verification::Match { needs_rehash }
        } else {
            Verification::Mismatch
        })
    }

    async fn verify_dummy(&self, candidate: &str) -> Result<(), HashError> {
        let candidate = Zeroizing::new(candidate.as_bytes().to_vec());
        // The outcome is meaningless (a random password); only the cost matters.
        let _ = self
            .run(move |core| core.verify(&candidate, &core.dummy))
            .await?;
        Ok(())
    }
}

/// Checks `settings` and builds argon2's parameters from them.
fn validate(settings: &Argon2Settings) -> Result<Params, Argon2SettingsError> {
    let invalid = |key: &'static str, reason: String| Argon2SettingsError::Invalid { key, reason };
    if settings.workers == 0 {
        return Err(invalid("hashing.workers", "must be at least 1".to_owned()));
    }
    Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(|error| {
        use argon2::Error as E;
        let (key, reason) = if matches!(error, E::MemoryTooLittle | E::MemoryTooMuch) {
            (
                "hashing.memory_kib",
                format!(
                    "{error}: at least {} KiB and 8 KiB per lane of `hashing.parallelism`",
                    Params::MIN_M_COST
                ),
            )
        } else if matches!(error, E::TimeTooSmall) {
            (
                "hashing.iterations",
                format!("{error}: at least {}", Params::MIN_T_COST),
            )
        } else if matches!(error, E::ThreadsTooFew | E::ThreadsTooMany) {
            (
                "hashing.parallelism",
                format!(
                    "{error}: between {} and {}",
                    Params::MIN_P_COST,
                    Params::MAX_P_COST
                ),
            )
        } else {
            ("hashing", error.to_string())
        };
        invalid(key, reason)
    })
}

/// A hash of a random, immediately forgotten password under the configured parameters.
fn dummy_hash(
    argon2: &Argon2<'static>,
    secrets: &dyn SecretGenerator,
) -> Result<phc::PasswordHash, Argon2SettingsError> {
    let mut password = Zeroizing::new([0_u8; 32]);
    secrets.fill_bytes(password.as_mut());
    let mut salt = [0_u8; SALT_LEN];
    secrets.fill_bytes(&mut salt);
    argon2
        .hash_password_with_salt(password.as_ref(), &salt)
        .map_err(|error| Argon2SettingsError::Invalid {
            key: "hashing",
            reason: format!("the dummy hash failed: {error}"),
        })
}

/// A worker's loop: take the next job, run it, until the pool shuts down.
fn work(receiver: &Mutex<Receiver<Job>>, is_shutting_down: &AtomicBool) {
    loop {
        // The lock is held only while waiting, never while hashing.
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else {
            return;
        };
        if is_shutting_down.load(Ordering::Acquire) {
            // Abandoned: dropping it drops its reply channel, and the caller gets `Unexpected`.
            drop(job);
            continue;
        }
        // A panicking job loses its answer (the caller gets `Unexpected`), not the worker.
        let _ = panic::catch_unwind(AssertUnwindSafe(job));
    }
}
