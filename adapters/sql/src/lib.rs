//! twofa's SQL adapters over SeaORM, for PostgreSQL (production) and SQLite (the embedded
//! default): the connection, migrations at start-up, the health probe, and (as the flows
//! arrive) the repositories, the audit log and the transactional job queue.
//!
//! What belongs here: SQL and its translation into the domain's types and port errors (a
//! driver error never crosses into the core). What must not: business rules, or anything that
//! differs by backend beyond what SQL dialects force.

mod database;
mod probe;

pub use database::{SqlDatabase, SqlSettings};
pub use probe::SqlProbe;
