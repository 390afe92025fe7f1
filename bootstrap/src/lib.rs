//! twofa, the binary: the command line, settings, wiring of adapters into use cases, the modes
//! (`api`, `worker`, `all`), telemetry and graceful shutdown.
//!
//! What belongs here: choosing and building adapters from configuration, and process
//! lifecycle. What must not: business rules (application), wire formats (http) or SQL (sql).
//! This crate is a library too, so the black-box tests start the real wiring on port 0.

pub mod app;
pub mod backends;
pub mod cli;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod worker;

pub use app::{Application, VERSION};
pub use settings::{Mode, Settings};
