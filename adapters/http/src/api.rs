//! The OpenAPI operations, grouped by area; every path is written in full (`/api/...`).

pub mod health;

use poem_openapi::Tags;

/// Tags grouping operations in the document.
#[derive(Tags)]
pub enum ApiTags {
    /// Liveness, readiness and dependency checks.
    Health,
}
