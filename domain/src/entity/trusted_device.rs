//! `TrustedDevice`: a browser or app that passed a second factor with `trustDevice: true`; a
//! login presenting its token skips the second factor until it expires or is revoked.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::{DeviceId, SecretDigest, UserId};

/// The longest device name kept, in characters; a longer one is cut.
pub const DEVICE_NAME_LIMIT: usize = 100;

/// A trusted device as a `DeviceRepository` stores it (less its token's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    /// The device's identity.
    pub id: DeviceId,
    /// Whose device it is.
    pub user_id: UserId,
    /// The name the user gave it, if any.
    pub name: Option<String>,
    /// The client address when it was trusted.
    pub ip: Option<IpAddr>,
    /// The user agent when it was trusted.
    pub user_agent: Option<String>,
    /// When it was trusted.
    pub created_at: DateTime<Utc>,
    /// When a login last presented its token (at first, `created_at`).
    pub last_used_at: DateTime<Utc>,
    /// When its trust ends (`devices.trust_ttl` after it was trusted).
    pub expires_at: DateTime<Utc>,
}

/// What trusting a device takes. The repository stamps `created_at` and `last_used_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrustedDevice {
    /// The new device's identity.
    pub id: DeviceId,
    /// Whose device it is.
    pub user_id: UserId,
    /// The SHA-256 of the 256-bit device token (the token itself is never stored).
    pub token_hash: SecretDigest,
    /// The name the user gave it.
    pub name: Option<String>,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The user agent.
    pub user_agent: Option<String>,
    /// When its trust ends.
    pub expires_at: DateTime<Utc>,
}
