//! The second factors' sections: `[secrets]` (the key ring that encrypts stored secrets and
//! keys their digests), `[totp]`, `[otp]` (SMS and e-mail codes) and `[devices]` (trusted
//! devices).

use std::{path::PathBuf, time::Duration};

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use twofa_crypto::CipherKey;
use twofa_domain::{TotpAlgorithm, TotpPolicy};

use super::{SettingsError, duration, refuse};

/// The longest an SMS or e-mail code may live (SECURITY.md: 5 minutes, at most 10).
const MAX_OTP_TTL: Duration = Duration::from_mins(10);
/// The most steps either side of now a TOTP code may be accepted at.
const MAX_TOTP_SKEW: u64 = 10;
/// The longest TOTP step accepted.
const MAX_TOTP_PERIOD: Duration = Duration::from_mins(5);
/// The longest a trusted-device token may live (what browsers allow a cookie).
const MAX_TRUST_TTL: Duration = Duration::from_hours(400 * 24);

/// `secrets.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// The key that seals stored secrets and keys their digests: base64 of 32 random bytes.
    /// Unset in development only (then the key of `dev_key_file` is used).
    #[serde(default)]
    pub key: Option<SecretString>,
    /// A file holding `key`; wins over it.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Earlier keys, for opening and recognising what they sealed while a rotation
    /// re-encrypts it; never used to seal.
    #[serde(default)]
    pub previous_keys: Vec<SecretString>,
    /// Development only: where the generated key is kept and shared by every process of the
    /// working directory when `key` is unset.
    pub dev_key_file: PathBuf,
}

impl SecretsSettings {
    /// The configured key, if any.
    ///
    /// # Errors
    /// When `secrets.key` is not base64 of 32 bytes (`validate` has refused that already).
    pub fn key(&self) -> Result<Option<CipherKey>, SettingsError> {
        self.key
            .as_ref()
            .map(|key| parse_key("secrets.key", key))
            .transpose()
    }

    /// The previous keys, in order.
    ///
    /// # Errors
    /// When one is not base64 of 32 bytes (`validate` has refused that already).
    pub fn previous_keys(&self) -> Result<Vec<CipherKey>, SettingsError> {
        self.previous_keys
            .iter()
            .map(|key| parse_key("secrets.previous_keys", key))
            .collect()
    }

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        self.key()?;
        self.previous_keys()?;
        Ok(())
    }
}

fn parse_key(key: &'static str, text: &SecretString) -> Result<CipherKey, SettingsError> {
    CipherKey::from_base64(text.expose_secret()).map_err(|error| SettingsError::Refused {
        key,
        message: error.to_string(),
    })
}

/// The HMAC behind TOTP codes, as `otpauth://` URLs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TotpAlgorithmSetting {
    /// HMAC-SHA-1: what every authenticator app supports.
    #[serde(rename = "SHA1", alias = "sha1")]
    Sha1,
    /// HMAC-SHA-256.
    #[serde(rename = "SHA256", alias = "sha256")]
    Sha256,
    /// HMAC-SHA-512.
    #[serde(rename = "SHA512", alias = "sha512")]
    Sha512,
}

/// `totp.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpSettings {
    /// The issuer in `otpauth://` URLs (what authenticator apps show).
    pub issuer: String,
    /// Steps accepted either side of the current one.
    pub skew: u64,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: TotpAlgorithmSetting,
    /// Digits per code, 6 to 8.
    pub digits: u32,
    /// The length of a step, whole seconds.
    #[serde(with = "duration")]
    pub period: Duration,
}

impl TotpSettings {
    /// The policy these settings describe.
    pub fn policy(&self) -> TotpPolicy {
        TotpPolicy {
            algorithm: match self.algorithm {
                TotpAlgorithmSetting::Sha1 => TotpAlgorithm::Sha1,
                TotpAlgorithmSetting::Sha256 => TotpAlgorithm::Sha256,
                TotpAlgorithmSetting::Sha512 => TotpAlgorithm::Sha512,
            },
            digits: self.digits,
            period: self.period.as_secs(),
            skew: self.skew,
        }
    }

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.issuer.trim().is_empty() {
            return refuse("totp.issuer", "must not be empty");
        }
        if self.issuer.contains(':') {
            // The label of an `otpauth://` URL is `issuer:account`.
            return refuse("totp.issuer", "must not contain `:`");
        }
        if self.skew > MAX_TOTP_SKEW {
            return refuse(
                "totp.skew",
                &format!("must be at most {MAX_TOTP_SKEW} steps"),
            );
        }
        if !(6..=8).contains(&self.digits) {
            return refuse("totp.digits", "must be 6, 7 or 8");
        }
        if self.period.is_zero() || self.period.subsec_nanos() != 0 || self.period > MAX_TOTP_PERIOD
        {
            return refuse(
                "totp.period",
                "must be whole seconds, from 1s to 5m (authenticator apps expect 30s)",
            );
        }
        Ok(())
    }
}

/// `otp.*`: SMS and e-mail codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpSettings {
    /// How long a code works: at most 10 minutes.
    #[serde(with = "duration")]
    pub ttl: Duration,
    /// The least wait between two sends of one challenge's code.
    #[serde(with = "duration")]
    pub resend_cooldown: Duration,
    /// Codes sent to one phone number or address per hour.
    pub sends_per_destination_per_hour: u32,
    /// Codes sent for one account per hour.
    pub sends_per_user_per_hour: u32,
}

impl OtpSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.ttl.is_zero() || self.ttl > MAX_OTP_TTL {
            return refuse("otp.ttl", "must be longer than 0s and at most 10m");
        }
        if self.resend_cooldown.is_zero() {
            return refuse("otp.resend_cooldown", "must be longer than 0s");
        }
        if self.sends_per_destination_per_hour == 0 {
            return refuse("otp.sends_per_destination_per_hour", "must be at least 1");
        }
        if self.sends_per_user_per_hour == 0 {
            return refuse("otp.sends_per_user_per_hour", "must be at least 1");
        }
        Ok(())
    }
}

/// `devices.*`: trusted devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesSettings {
    /// How long a trusted-device token spares its device the second factor.
    #[serde(with = "duration")]
    pub trust_ttl: Duration,
}

impl DevicesSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.trust_ttl.is_zero() || self.trust_ttl > MAX_TRUST_TTL {
            return refuse(
                "devices.trust_ttl",
                "must be longer than 0s and at most 400d",
            );
        }
        Ok(())
    }
}

/// `api_keys.*`: API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysSettings {
    /// Requests one API key may make per minute (every instance together).
    pub rate_limit_per_minute: u32,
}

impl ApiKeysSettings {
    pub(super) fn validate(self) -> Result<(), SettingsError> {
        if self.rate_limit_per_minute == 0 {
            return refuse("api_keys.rate_limit_per_minute", "must be at least 1");
        }
        Ok(())
    }
}
