//! twofa's cryptography and system adapters: the Argon2id password hasher on a bounded pool,
//! the Ed25519 access-token signer with its JWKS, the AES-256-GCM secret cipher with its key
//! ring, and the system clock and random source.
//!
//! What belongs here: the only code allowed to read the wall clock or the operating system's
//! random source (clippy's `disallowed-methods` stops it anywhere else), and cryptography.
//! What must not: storage, HTTP, business rules.

pub mod aes_gcm_secret_cipher;
pub mod argon2_password_hasher;
pub mod ed25519_token_signer;
mod os_secret_generator;
mod private_key_file;
mod system_clock;

pub use aes_gcm_secret_cipher::{AesGcmSecretCipher, CipherKey, CipherKeyError};
pub use argon2_password_hasher::{Argon2PasswordHasher, Argon2Settings};
pub use ed25519_token_signer::Ed25519TokenSigner;
pub use os_secret_generator::OsSecretGenerator;
pub use system_clock::SystemClock;
