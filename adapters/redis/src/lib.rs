//! twofa's Redis adapters: the connection and its health probe; the challenge store, rate
//! limiter, job queue and caches join them with the flows that need state shared between
//! instances.
//!
//! What belongs here: Redis commands and Lua scripts, and the translation of `RedisError`
//! into port errors at this boundary. What must not: business rules. Every call is bounded by
//! `redis.timeout`, so a Redis outage answers at once instead of hanging a request.

mod connection;

pub use connection::{RedisConnection, RedisProbe, RedisSettings};
