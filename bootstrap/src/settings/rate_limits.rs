//! `[rate_limits]`: attempts allowed per window, each written `N/window` (`"30/1m"`).

use serde::{Deserialize, Deserializer};
use twofa_domain::Limit;

/// `rate_limits.*`. A load test raises them; nothing turns them off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Login attempts per client address.
    #[serde(deserialize_with = "limit")]
    pub login_per_ip: Limit,
    /// Registrations per client address.
    #[serde(deserialize_with = "limit")]
    pub register_per_ip: Limit,
    /// Password reset requests per client address.
    #[serde(deserialize_with = "limit")]
    pub forgot_per_ip: Limit,
    /// Second-factor verification attempts per client address.
    #[serde(deserialize_with = "limit")]
    pub verify_per_ip: Limit,
    /// One-time code sends (SMS, e-mail) per client address.
    #[serde(deserialize_with = "limit")]
    pub otp_send_per_ip: Limit,
    /// Wrong second-factor codes for one factor before 429.
    #[serde(deserialize_with = "limit")]
    pub second_factor_failures_per_factor: Limit,
    /// Wrong second-factor codes for one account, over all its factors, before 429.
    #[serde(deserialize_with = "limit")]
    pub second_factor_failures_per_account: Limit,
    /// Failed logins for one account from one address before 429 with exponential back-off.
    #[serde(deserialize_with = "limit")]
    pub failures_per_account_ip: Limit,
    /// Failed logins for one account from all addresses before 429 with exponential back-off.
    #[serde(deserialize_with = "limit")]
    pub failures_per_account: Limit,
}

/// A limit written `N/window`: `"30/1m"`, `"5/15m"`, `"100/1h"`.
fn limit<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Limit, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse()
        .map_err(|error| serde::de::Error::custom(format!("`{text}` is not a limit: {error}")))
}
