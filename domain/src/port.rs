//! Ports: the traits the use cases call and the adapters implement. Each is `Send + Sync +
//! 'static` and held as `Arc<dyn Port>`.

pub mod api_key_repository;
pub mod audit_log;
pub mod backup_code_repository;
pub mod challenge_store;
pub mod clock;
pub mod dependency_probe;
pub mod device_repository;
pub mod email_renderer;
pub mod error;
pub mod factor_repository;
pub mod job_queue;
pub mod notifier;
pub mod one_time_token_repository;
pub mod password_hasher;
pub mod rate_limiter;
pub mod secret_cipher;
pub mod secret_generator;
pub mod session_cache;
pub mod session_repository;
pub mod token_signer;
pub mod unit_of_work;
pub mod user_repository;
pub mod webhook_repository;
pub mod webhook_sender;
