//! `[auth]`: e-mail verification and password reset.

use std::time::Duration;

use serde::Deserialize;

use super::{SettingsError, duration, refuse};

/// `auth.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Second-factor setup needs a verified e-mail.
    pub require_verified_email: bool,
    /// Lifetime of an e-mail verification link.
    #[serde(with = "duration")]
    pub verification_ttl: Duration,
    /// Lifetime of a password reset link.
    #[serde(with = "duration")]
    pub reset_ttl: Duration,
    /// The wait between two verification e-mails to one account.
    #[serde(with = "duration")]
    pub verification_resend_cooldown: Duration,
}

impl AuthSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        for (key, duration) in [
            ("auth.verification_ttl", self.verification_ttl),
            ("auth.reset_ttl", self.reset_ttl),
            (
                "auth.verification_resend_cooldown",
                self.verification_resend_cooldown,
            ),
        ] {
            if duration.is_zero() {
                return refuse(key, "must be longer than 0s");
            }
        }
        Ok(())
    }
}
