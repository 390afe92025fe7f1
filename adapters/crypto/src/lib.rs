//! twofa's system adapters for time and randomness; the Argon2id hasher, the JWT signer and
//! the AES-GCM cipher join them with the accounts and second-factor work.
//!
//! What belongs here: the only code allowed to read the wall clock or the operating system's
//! random source (clippy's `disallowed-methods` stops it anywhere else), and cryptography.
//! What must not: storage, HTTP, business rules.

mod os_secret_generator;
mod system_clock;

pub use os_secret_generator::OsSecretGenerator;
pub use system_clock::SystemClock;
