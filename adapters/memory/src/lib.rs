//! twofa's in-memory adapters: every port held in process memory.
//!
//! What belongs here: adapters for tests (a manual clock, a seeded generator, recording
//! senders) and for the single-process embedded mode. They keep each port's contract exactly:
//! the same contract suites run against them and against the SQL and Redis adapters. The
//! repositories over one `MemoryDatabase` share its tables, and a `MemoryUnitOfWork` over it
//! stages a transaction's writes and applies them on commit only.
//! What must not: anything that only works because tests are single-threaded. This crate
//! depends on `twofa-domain` only, so `twofa-application` tests can use it without a cycle.

mod always_up_probe;
pub mod fake_password_hasher;
mod manual_clock;
mod memory_api_key_repository;
mod memory_audit_log;
mod memory_backup_code_repository;
pub mod memory_challenge_store;
mod memory_database;
mod memory_device_repository;
mod memory_factor_repository;
mod memory_job_queue;
pub mod memory_one_time_token_repository;
pub mod memory_rate_limiter;
pub mod memory_session_cache;
pub mod memory_session_repository;
mod memory_unit_of_work;
mod memory_user_repository;
mod memory_webhook_repository;
mod recording_senders;
mod seeded_secret_generator;

pub use always_up_probe::AlwaysUpProbe;
pub use fake_password_hasher::FakePasswordHasher;
pub use manual_clock::ManualClock;
pub use memory_api_key_repository::MemoryApiKeyRepository;
pub use memory_audit_log::{MemoryAuditLog, USER_AGENT_LIMIT, clamp_event};
pub use memory_backup_code_repository::MemoryBackupCodeRepository;
pub use memory_challenge_store::MemoryChallengeStore;
pub use memory_database::MemoryDatabase;
pub use memory_device_repository::MemoryDeviceRepository;
pub use memory_factor_repository::MemoryFactorRepository;
pub use memory_job_queue::MemoryJobQueue;
pub use memory_one_time_token_repository::MemoryOneTimeTokenRepository;
pub use memory_rate_limiter::{DEFAULT_MAX_KEYS, FallbackRateLimiter, MemoryRateLimiter};
pub use memory_session_cache::MemorySessionCache;
pub use memory_session_repository::MemorySessionRepository;
pub use memory_unit_of_work::MemoryUnitOfWork;
pub use memory_user_repository::MemoryUserRepository;
pub use memory_webhook_repository::MemoryWebhookRepository;
pub use recording_senders::{RecordingEmailSender, RecordingSmsSender};
pub use seeded_secret_generator::SeededSecretGenerator;
