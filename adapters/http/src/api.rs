//! The OpenAPI operations, grouped by area; every path is written in full (`/api/...`).

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod email;
pub mod health;
pub mod jwks;
pub mod two_factor;
pub mod webhooks;

use poem_openapi::Tags;

/// Tags grouping operations in the document.
#[derive(Tags)]
pub enum ApiTags {
    /// Liveness, readiness and dependency checks.
    Health,
    /// The keys that verify access tokens.
    Keys,
    /// Accounts, sign-in, sessions and passwords.
    Auth,
    /// E-mail address verification.
    Email,
    /// Second factors: setup, the login challenge, factors, backup codes and trusted devices.
    TwoFactor,
    /// The audit trail.
    Audit,
    /// API keys: credentials for programs, limited to their scopes.
    ApiKeys,
    /// Administration: every account and every account's audit trail (role `admin`).
    Admin,
    /// Webhooks: the event types, endpoints and their deliveries.
    Webhooks,
}
