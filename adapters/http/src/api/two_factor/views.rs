//! The request and response bodies of the second-factor routes (API.md "Second factors"),
//! camelCase on the wire.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::Deserialize;
use twofa_application::two_factor::{TotpSetup, Verified};
use twofa_domain::{Factor, FactorKind, TrustedDevice};

use crate::api::auth::views::{TokenType, UserView};

/// `POST /api/2fa/totp/setup`: the pending secret, shown once.
#[derive(Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TotpSetupView {
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The `otpauth://totp/…` URL of the secret.
    pub otpauth_url: String,
    /// A QR code of `otpauthUrl`: `data:image/svg+xml;base64,…`.
    pub qr_code: String,
}

impl TotpSetupView {
    /// `setup` with `qr_code`, the data URL of its QR code.
    pub fn new(setup: TotpSetup, qr_code: String) -> Self {
        Self {
            secret: setup.secret,
            otpauth_url: setup.otpauth_url,
            qr_code,
        }
    }
}

/// `POST /api/2fa/{totp,sms,email}/verify-setup`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct VerifySetupRequest {
    /// The code of the authenticator app, or the code sent for the setup.
    #[oai(validator(max_length = 64))]
    pub code: String,
}

/// A confirmed setup: `{backupCodes}` when it is the user's first factor, else `{}`.
#[derive(Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConfirmedView {
    /// The 10 backup codes (`xxxx-xxxx-xxxx`), shown once, when this is the first factor.
    #[oai(skip_serializing_if_is_none)]
    pub backup_codes: Option<Vec<String>>,
}

/// `POST /api/2fa/sms/setup`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct SmsSetupRequest {
    /// The phone number in E.164 form (`+14155550123`); its code is sent by SMS.
    #[oai(validator(max_length = 32))]
    pub phone_number: String,
}

/// `POST /api/2fa/email/setup`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct EmailSetupRequest {
    /// The address the codes go to; its code is sent to it.
    #[oai(validator(max_length = 254))]
    pub email: String,
}

/// A way of answering a login challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum VerifyMethod {
    /// A code of the authenticator app.
    Totp,
    /// The code sent by SMS.
    Sms,
    /// The code sent by e-mail.
    Email,
    /// A backup code.
    BackupCode,
}

impl VerifyMethod {
    /// The name the use case takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Sms => "sms",
            Self::Email => "email",
            Self::BackupCode => "backup_code",
        }
    }
}

/// `POST /api/2fa/verify`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    /// The login's challenge.
    #[oai(validator(max_length = 256))]
    pub temp_token: String,
    /// The code.
    #[oai(validator(max_length = 256))]
    pub code: String,
    /// Which factor the code is of; without it TOTP is tried, then the challenge's pending SMS
    /// or e-mail code.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub method: Option<VerifyMethod>,
    /// Trust this device: the answer carries a `deviceToken` (also set as a cookie) that skips
    /// the second factor at later logins until `devices.trust_ttl` passes.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub trust_device: Option<bool>,
    /// A name for the trusted device, at most 100 characters.
    #[oai(skip_serializing_if_is_none, validator(max_length = 100))]
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `POST /api/2fa/verify-backup-code`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct VerifyBackupCodeRequest {
    /// The login's challenge.
    #[oai(validator(max_length = 256))]
    pub temp_token: String,
    /// An unused backup code, in any case, dashes optional.
    #[oai(validator(max_length = 256))]
    pub code: String,
}

/// A factor whose codes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SentMethod {
    /// By SMS.
    Sms,
    /// By e-mail.
    Email,
}

impl SentMethod {
    /// The name the use case takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

/// `POST /api/2fa/resend`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ResendRequest {
    /// The login's challenge.
    #[oai(validator(max_length = 256))]
    pub temp_token: String,
    /// Which of the challenge's factors gets a new code.
    pub method: SentMethod,
}

/// The tokens of a login that passed its second factor.
#[derive(Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct VerifiedTokens {
    /// The account.
    pub user: UserView,
    /// The access JWT (EdDSA), for `Authorization: Bearer`.
    pub access_token: String,
    /// The opaque refresh token (also set as the `refreshToken` cookie).
    pub refresh_token: String,
    /// `Bearer`.
    pub token_type: TokenType,
    /// The access token's lifetime in seconds.
    pub expires_in: u64,
    /// With `trustDevice`: the trusted-device token (also set as the `deviceToken` cookie),
    /// for login's `deviceToken`.
    #[oai(skip_serializing_if_is_none)]
    pub device_token: Option<String>,
}

impl From<&Verified> for VerifiedTokens {
    fn from(verified: &Verified) -> Self {
        let signed_in = &verified.signed_in;
        Self {
            user: UserView::from(&signed_in.user),
            access_token: signed_in.tokens.access_token.clone(),
            refresh_token: signed_in.tokens.refresh_token.clone(),
            token_type: TokenType::Bearer,
            expires_in: signed_in.tokens.expires_in,
            device_token: verified.device_token.clone(),
        }
    }
}

/// The type of a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum FactorType {
    /// An authenticator app.
    Totp,
    /// Codes by SMS.
    Sms,
    /// Codes by e-mail.
    Email,
}

impl From<FactorKind> for FactorType {
    fn from(kind: FactorKind) -> Self {
        match kind {
            FactorKind::Totp => Self::Totp,
            FactorKind::Sms => Self::Sms,
            FactorKind::Email => Self::Email,
        }
    }
}

/// An enabled second factor.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FactorView {
    /// The factor's id.
    pub id: uuid::Uuid,
    /// `totp`, `sms` or `email`.
    #[oai(rename = "type")]
    pub factor_type: FactorType,
    /// Where codes go, masked: `+1********23`, `j***@example.com` (SMS and e-mail only).
    #[oai(skip_serializing_if_is_none)]
    pub masked_destination: Option<String>,
    /// When its setup was confirmed.
    pub verified_at: DateTime<Utc>,
    /// When its setup started.
    pub created_at: DateTime<Utc>,
    /// When a code of it was last accepted; `null` before.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl FactorView {
    /// `factor`, if it is enabled (a pending setup is never listed).
    pub fn enabled(factor: &Factor) -> Option<Self> {
        Some(Self {
            id: factor.id.as_uuid(),
            factor_type: factor.kind.into(),
            masked_destination: factor.masked_destination(),
            verified_at: factor.verified_at?,
            created_at: factor.created_at,
            last_used_at: factor.last_used_at,
        })
    }
}

/// The caller's enabled factors, oldest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FactorList {
    /// The factors.
    pub items: Vec<FactorView>,
    /// Always `null`: every factor is on the one page.
    pub next_cursor: Option<String>,
}

/// `DELETE /api/2fa/methods/{id}`, `POST /api/2fa/backup-codes/generate`: recent
/// authentication, the current password or a current code of the authenticator app.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ReauthenticationRequest {
    /// The current password (wins over `code`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    #[serde(default)]
    pub password: Option<String>,
    /// A current code of the authenticator app.
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    #[serde(default)]
    pub code: Option<String>,
}

/// `GET /api/2fa/backup-codes/count`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RemainingBackupCodes {
    /// Unused backup codes; 0 when none were issued.
    pub remaining: u32,
}

/// `POST /api/2fa/backup-codes/generate`: the new codes, shown once.
#[derive(Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct BackupCodesView {
    /// 10 backup codes (`xxxx-xxxx-xxxx`); every earlier one is dead.
    pub backup_codes: Vec<String>,
}

/// A trusted device of the caller.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeviceView {
    /// The device's id.
    pub id: uuid::Uuid,
    /// The name given when it was trusted; `null` without one.
    pub name: Option<String>,
    /// The client address when it was trusted.
    pub ip: Option<String>,
    /// The user agent when it was trusted.
    pub user_agent: Option<String>,
    /// When it was trusted.
    pub created_at: DateTime<Utc>,
    /// When a login last presented its token.
    pub last_used_at: DateTime<Utc>,
    /// When its trust ends.
    pub expires_at: DateTime<Utc>,
}

impl From<&TrustedDevice> for DeviceView {
    fn from(device: &TrustedDevice) -> Self {
        Self {
            id: device.id.as_uuid(),
            name: device.name.clone(),
            ip: device.ip.map(|ip| ip.to_string()),
            user_agent: device.user_agent.clone(),
            created_at: device.created_at,
            last_used_at: device.last_used_at,
            expires_at: device.expires_at,
        }
    }
}

/// The caller's live trusted devices, newest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeviceList {
    /// The devices.
    pub items: Vec<DeviceView>,
    /// Always `null`: every device is on the one page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_confirmed_setup_without_backup_codes_is_an_empty_object() {
        let none = ConfirmedView { backup_codes: None };
        assert_eq!(none.to_json(), Some(json!({})));
        let some = ConfirmedView {
            backup_codes: Some(vec!["abcd-efgh-jkmn".to_owned()]),
        };
        assert_eq!(
            some.to_json(),
            Some(json!({ "backupCodes": ["abcd-efgh-jkmn"] }))
        );
    }

    #[test]
    fn methods_are_read_by_their_api_names() {
        let body: VerifyRequest = serde_json::from_value(json!({
            "tempToken": "t", "code": "c", "method": "backup_code", "trustDevice": true
        }))
        .unwrap();
        assert_eq!(body.method, Some(VerifyMethod::BackupCode));
        assert_eq!(body.method.map(VerifyMethod::as_str), Some("backup_code"));
        assert_eq!(body.trust_device, Some(true));
        assert!(
            serde_json::from_value::<VerifyRequest>(
                json!({ "tempToken": "t", "code": "c", "method": "pigeon" })
            )
            .is_err()
        );
        let resend: ResendRequest =
            serde_json::from_value(json!({ "tempToken": "t", "method": "email" })).unwrap();
        assert_eq!(resend.method.as_str(), "email");
        for method in [VerifyMethod::Totp, VerifyMethod::Sms, VerifyMethod::Email] {
            assert!(FactorKind::parse(method.as_str()).is_some());
        }
    }

    #[test]
    fn a_pending_factor_is_not_listed() {
        let now = DateTime::UNIX_EPOCH;
        let mut factor = Factor {
            id: twofa_domain::FactorId::from_uuid(uuid::Uuid::nil()),
            user_id: twofa_domain::UserId::from_uuid(uuid::Uuid::nil()),
            kind: FactorKind::Sms,
            secret: None,
            destination: twofa_domain::Destination::parse(FactorKind::Sms, "+14155550123"),
            last_used_step: None,
            created_at: now,
            verified_at: None,
            last_used_at: None,
        };
        assert!(FactorView::enabled(&factor).is_none());
        factor.verified_at = Some(now);
        let view = FactorView::enabled(&factor).unwrap();
        assert_eq!(view.masked_destination.as_deref(), Some("+1********23"));
        let json = view.to_json().unwrap();
        assert_eq!(json["type"], "sms");
        assert_eq!(json["lastUsedAt"], serde_json::Value::Null);
    }
}
