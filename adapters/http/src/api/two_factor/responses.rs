//! The success answers of the second-factor routes, each with its status. Those carrying a
//! secret (a TOTP secret, backup codes, tokens) leave with `Cache-Control: no-store`, which
//! the shared layer sets on every answer that names no other caching.

use poem_openapi::{ApiResponse, payload::Json};

use super::views::{
    BackupCodesView, ConfirmedView, DeviceList, FactorList, RemainingBackupCodes, TotpSetupView,
    VerifiedTokens,
};

/// A pending TOTP secret.
#[derive(ApiResponse)]
pub(crate) enum TotpSetupResponse {
    /// The secret, its `otpauth://` URL and a QR code of it, shown once; confirm with a code at
    /// `POST /api/2fa/totp/verify-setup`.
    #[oai(status = 200)]
    Ok(Json<TotpSetupView>),
}

/// A confirmed setup.
#[derive(ApiResponse)]
pub(crate) enum ConfirmedResponse {
    /// The factor is enabled: `{backupCodes}` (shown once) when it is the first, else `{}`.
    #[oai(status = 200)]
    Ok(Json<ConfirmedView>),
}

/// A code is on its way.
#[derive(ApiResponse)]
pub(crate) enum CodeSent {
    /// Accepted: the code is queued for sending.
    #[oai(status = 202)]
    Accepted,
}

/// A login that passed its second factor.
#[derive(ApiResponse)]
pub(crate) enum VerifiedResponse {
    /// Signed in; the `refreshToken` and `csrfToken` cookies are set, and with `trustDevice`
    /// the `deviceToken` cookie.
    #[oai(status = 200)]
    Ok(Json<VerifiedTokens>),
}

/// The caller's factors.
#[derive(ApiResponse)]
pub(crate) enum FactorsResponse {
    /// The enabled factors, oldest first.
    #[oai(status = 200)]
    Ok(Json<FactorList>),
}

/// How many backup codes remain.
#[derive(ApiResponse)]
pub(crate) enum RemainingResponse {
    /// The count of unused backup codes.
    #[oai(status = 200)]
    Ok(Json<RemainingBackupCodes>),
}

/// New backup codes.
#[derive(ApiResponse)]
pub(crate) enum BackupCodesResponse {
    /// 10 new codes, shown once; every earlier one is dead.
    #[oai(status = 200)]
    Ok(Json<BackupCodesView>),
}

/// The caller's trusted devices.
#[derive(ApiResponse)]
pub(crate) enum DevicesResponse {
    /// The live trusted devices, newest first.
    #[oai(status = 200)]
    Ok(Json<DeviceList>),
}
