//! twofa's Redis adapters: the connection and its health probe, the job queue, the challenge
//! store, the rate limiter and the session cache: the state shared between instances.
//!
//! What belongs here: Redis commands and Lua scripts, and the translation of `RedisError`
//! into port errors at this boundary (`RedisCallError` splits "unreachable" from "answered
//! with an error"). What must not: business rules. Every call is bounded by `redis.timeout`,
//! so a Redis outage answers at once instead of hanging a request. Keys of one store share a
//! `{…}` hash tag, so that its scripts stay within one Redis Cluster slot.

mod call_error;
mod connection;
pub mod redis_challenge_store;
mod redis_job_queue;
pub mod redis_rate_limiter;
pub mod redis_session_cache;

pub use call_error::RedisCallError;
pub use connection::{RedisConnection, RedisProbe, RedisSettings};
pub use redis_challenge_store::RedisChallengeStore;
pub use redis_job_queue::RedisJobQueue;
pub use redis_rate_limiter::RedisRateLimiter;
pub use redis_session_cache::RedisSessionCache;
