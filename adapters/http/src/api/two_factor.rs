//! The second-factor routes under `/api/2fa` (API.md "Second factors"): setting factors up
//! and confirming them, answering a login's challenge, and managing factors, backup codes
//! and trusted devices. Each route parses its body, calls one use case, and answers its result
//! or its problem; every route but the challenge's three takes the bearer token.

pub mod problems;
pub mod qr_code;
pub(crate) mod responses;
pub mod views;

use poem::Request;
use poem_openapi::{
    OpenApi,
    param::Path,
    payload::{Json, Response},
};
use twofa_application::{
    auth::{CallerError, Fault},
    two_factor::{
        ConfirmError, ConfirmFactorInput, ManageError, Reauthentication,
        RegenerateBackupCodesInput, RemoveFactorInput, ResendError, ResendInput, RevokeDeviceError,
        SetupError, SetupSentFactorInput, SetupTotpError, TrustDevice, VerifyBackupCodeInput,
        VerifyError, VerifyInput,
    },
};
use twofa_domain::{DeviceId, FactorId, FactorKind, Scope};

use self::{
    responses::{
        BackupCodesResponse, CodeSent, ConfirmedResponse, DevicesResponse, FactorsResponse,
        RemainingResponse, TotpSetupResponse, VerifiedResponse,
    },
    views::{
        BackupCodesView, ConfirmedView, DeviceList, DeviceView, EmailSetupRequest, FactorList,
        FactorView, ReauthenticationRequest, RemainingBackupCodes, ResendRequest, SmsSetupRequest,
        TotpSetupView, VerifiedTokens, VerifyBackupCodeRequest, VerifyRequest, VerifySetupRequest,
    },
};
use crate::{
    api::{
        ApiTags,
        auth::{
            AuthState, Caller, State, fail, principal,
            problems::Answered,
            request_info,
            responses::{NoContent, TokensResponse},
            views::AuthTokens,
            with_session_cookies,
        },
    },
    api_error::ApiError,
    json_body::{JsonBody, OptionalJsonBody},
    problem::Problem,
};

/// The second-factor routes.
pub struct TwoFactorApi;

/// Errors of a setup route.
type SetupFailure =
    ApiError<{ <CallerError as Answered>::ANSWERS | <SetupError as Answered>::ANSWERS }>;

/// Errors of the TOTP setup route.
type SetupTotpFailure =
    ApiError<{ <CallerError as Answered>::ANSWERS | <SetupTotpError as Answered>::ANSWERS }>;

/// Errors of a device revocation route.
type RevokeDeviceFailure =
    ApiError<{ <CallerError as Answered>::ANSWERS | <RevokeDeviceError as Answered>::ANSWERS }>;

/// Errors of a verify-setup route.
type ConfirmFailure =
    ApiError<{ <CallerError as Answered>::ANSWERS | <ConfirmError as Answered>::ANSWERS }>;

/// Errors of a read-only bearer route.
type ReadFailure = ApiError<{ <CallerError as Answered>::ANSWERS | <Fault as Answered>::ANSWERS }>;

/// Errors of a management route.
type ManageFailure =
    ApiError<{ <CallerError as Answered>::ANSWERS | <ManageError as Answered>::ANSWERS }>;

/// The recent authentication a body offers; no body offers none.
fn proof(body: OptionalJsonBody<ReauthenticationRequest>) -> Reauthentication {
    body.0
        .map(|body| Reauthentication {
            password: body.password,
            code: body.code,
        })
        .unwrap_or_default()
}

/// Confirms the caller's pending factor of `kind` with `body`'s code.
async fn confirm(
    state: &AuthState,
    request: &Request,
    auth: &Caller,
    kind: FactorKind,
    body: VerifySetupRequest,
) -> Result<ConfirmedResponse, ConfirmFailure> {
    let principal = principal(state, request, auth, Some(Scope::TwoFactorWrite)).await?;
    let confirmed = state
        .second_factors
        .confirm
        .execute(ConfirmFactorInput {
            user_id: principal.user_id,
            kind,
            code: body.code,
            request: request_info(request),
        })
        .await
        .map_err(fail)?;
    Ok(ConfirmedResponse::Ok(Json(ConfirmedView {
        backup_codes: confirmed.backup_codes,
    })))
}

/// Starts the caller's SMS or e-mail factor's setup at `destination`.
async fn setup_sent(
    state: &AuthState,
    request: &Request,
    auth: &Caller,
    kind: FactorKind,
    destination: String,
) -> Result<CodeSent, SetupFailure> {
    let principal = principal(state, request, auth, Some(Scope::TwoFactorWrite)).await?;
    state
        .second_factors
        .setup_sent
        .execute(SetupSentFactorInput {
            user_id: principal.user_id,
            kind,
            destination,
            request: request_info(request),
        })
        .await
        .map_err(fail)?;
    Ok(CodeSent::Accepted)
}

#[OpenApi(tag = "ApiTags::TwoFactor")]
impl TwoFactorApi {
    /// Starts a TOTP setup: a new secret, kept pending (replacing an earlier pending one)
    /// until a code of it is confirmed. Needs a verified e-mail address unless
    /// `auth.require_verified_email = false`.
    #[oai(
        path = "/api/2fa/totp/setup",
        method = "post",
        operation_id = "setupTotp"
    )]
    async fn setup_totp(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<TotpSetupResponse, SetupTotpFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorWrite)).await?;
        let setup = state
            .second_factors
            .setup_totp
            .execute(principal.user_id, &request_info(request))
            .await
            .map_err(fail)?;
        let qr_code = qr_code::svg_data_url(&setup.otpauth_url).map_err(|error| {
            ApiError::new(Problem {
                cause: Some(format!("rendering the QR code of an otpauth URL: {error}")),
                ..crate::error_mapping::internal()
            })
        })?;
        Ok(TotpSetupResponse::Ok(Json(TotpSetupView::new(
            setup, qr_code,
        ))))
    }

    /// Confirms the pending TOTP setup with a code of the app: `{backupCodes}` when it is the
    /// first factor, else `{}`.
    #[oai(
        path = "/api/2fa/totp/verify-setup",
        method = "post",
        operation_id = "confirmTotp"
    )]
    async fn confirm_totp(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<VerifySetupRequest>,
    ) -> Result<ConfirmedResponse, ConfirmFailure> {
        confirm(&state, request, &auth, FactorKind::Totp, body.0).await
    }

    /// Starts an SMS setup: the number is kept pending and a code is sent to it.
    #[oai(
        path = "/api/2fa/sms/setup",
        method = "post",
        operation_id = "setupSms"
    )]
    async fn setup_sms(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<SmsSetupRequest>,
    ) -> Result<CodeSent, SetupFailure> {
        setup_sent(&state, request, &auth, FactorKind::Sms, body.0.phone_number).await
    }

    /// Confirms the pending SMS setup with the code sent: `{backupCodes}` when it is the first
    /// factor, else `{}`.
    #[oai(
        path = "/api/2fa/sms/verify-setup",
        method = "post",
        operation_id = "confirmSms"
    )]
    async fn confirm_sms(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<VerifySetupRequest>,
    ) -> Result<ConfirmedResponse, ConfirmFailure> {
        confirm(&state, request, &auth, FactorKind::Sms, body.0).await
    }

    /// Starts an e-mail factor's setup: the address is kept pending and a code is sent to it.
    #[oai(
        path = "/api/2fa/email/setup",
        method = "post",
        operation_id = "setupEmailFactor"
    )]
    async fn setup_email(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<EmailSetupRequest>,
    ) -> Result<CodeSent, SetupFailure> {
        setup_sent(&state, request, &auth, FactorKind::Email, body.0.email).await
    }

    /// Confirms the pending e-mail factor with the code sent: `{backupCodes}` when it is the
    /// first factor, else `{}`.
    #[oai(
        path = "/api/2fa/email/verify-setup",
        method = "post",
        operation_id = "confirmEmailFactor"
    )]
    async fn confirm_email(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<VerifySetupRequest>,
    ) -> Result<ConfirmedResponse, ConfirmFailure> {
        confirm(&state, request, &auth, FactorKind::Email, body.0).await
    }

    /// Answers a login's challenge with a code (no bearer token): the same tokens as login,
    /// `amr` naming the factor; with `trustDevice`, a `deviceToken` too.
    #[oai(
        path = "/api/2fa/verify",
        method = "post",
        operation_id = "verifySecondFactor"
    )]
    async fn verify(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<VerifyRequest>,
    ) -> Result<Response<VerifiedResponse>, ApiError<{ <VerifyError as Answered>::ANSWERS }>> {
        let JsonBody(body) = body;
        let verified = state
            .second_factors
            .verify
            .execute(VerifyInput {
                temp_token: body.temp_token,
                code: body.code,
                method: body.method.map(|method| method.as_str().to_owned()),
                trust: TrustDevice {
                    is_wanted: body.trust_device.unwrap_or(false),
                    name: body.device_name,
                },
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        let tokens = VerifiedTokens::from(&verified);
        let response = with_session_cookies(
            &state,
            &verified.signed_in,
            VerifiedResponse::Ok(Json(tokens)),
        );
        Ok(match &verified.device_token {
            Some(token) => response.header("Set-Cookie", state.cookies.trust_device(token)),
            None => response,
        })
    }

    /// Answers a login's challenge with a backup code (no bearer token); the code is used up.
    #[oai(
        path = "/api/2fa/verify-backup-code",
        method = "post",
        operation_id = "verifyBackupCode"
    )]
    async fn verify_backup_code(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<VerifyBackupCodeRequest>,
    ) -> Result<Response<TokensResponse>, ApiError<{ <VerifyError as Answered>::ANSWERS }>> {
        let JsonBody(body) = body;
        let verified = state
            .second_factors
            .verify
            .backup(VerifyBackupCodeInput {
                temp_token: body.temp_token,
                code: body.code,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        let tokens = AuthTokens::from(&verified.signed_in);
        Ok(with_session_cookies(
            &state,
            &verified.signed_in,
            TokensResponse::Ok(Json(tokens)),
        ))
    }

    /// Sends a new SMS or e-mail code for a login's challenge (no bearer token), after the
    /// resend cooldown.
    #[oai(
        path = "/api/2fa/resend",
        method = "post",
        operation_id = "resendSecondFactorCode"
    )]
    async fn resend(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<ResendRequest>,
    ) -> Result<CodeSent, ApiError<{ <ResendError as Answered>::ANSWERS }>> {
        let JsonBody(body) = body;
        state
            .second_factors
            .resend
            .execute(ResendInput {
                temp_token: body.temp_token,
                method: body.method.as_str().to_owned(),
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(CodeSent::Accepted)
    }

    /// The caller's enabled factors, destinations masked.
    #[oai(
        path = "/api/2fa/methods",
        method = "get",
        operation_id = "listSecondFactors"
    )]
    async fn methods(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<FactorsResponse, ReadFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorRead)).await?;
        let factors = state
            .second_factors
            .list_factors
            .execute(principal.user_id)
            .await
            .map_err(fail)?;
        Ok(FactorsResponse::Ok(Json(FactorList {
            items: factors.iter().filter_map(FactorView::enabled).collect(),
            next_cursor: None,
        })))
    }

    /// Removes one of the caller's factors (404 for another user's), with the current
    /// `password` or a `code` of the app in the body; removing the last turns second factors
    /// off and deletes the backup codes. Every trusted device ends.
    #[oai(
        path = "/api/2fa/methods/:id",
        method = "delete",
        operation_id = "removeSecondFactor"
    )]
    async fn remove_method(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The factor's id.
        id: Path<uuid::Uuid>,
        body: OptionalJsonBody<ReauthenticationRequest>,
    ) -> Result<NoContent, ManageFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorWrite)).await?;
        state
            .second_factors
            .remove_factor
            .execute(RemoveFactorInput {
                user_id: principal.user_id,
                factor_id: FactorId::from_uuid(id.0),
                proof: proof(body),
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// How many unused backup codes the caller has (0 when none).
    #[oai(
        path = "/api/2fa/backup-codes/count",
        method = "get",
        operation_id = "countBackupCodes"
    )]
    async fn count_backup_codes(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<RemainingResponse, ReadFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorRead)).await?;
        let remaining = state
            .second_factors
            .count_backup_codes
            .execute(principal.user_id)
            .await
            .map_err(fail)?;
        Ok(RemainingResponse::Ok(Json(RemainingBackupCodes {
            remaining,
        })))
    }

    /// Replaces the caller's backup codes with 10 new ones, with the current `password` or a
    /// `code` of the app in the body.
    #[oai(
        path = "/api/2fa/backup-codes/generate",
        method = "post",
        operation_id = "generateBackupCodes"
    )]
    async fn generate_backup_codes(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: OptionalJsonBody<ReauthenticationRequest>,
    ) -> Result<BackupCodesResponse, ManageFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorWrite)).await?;
        let backup_codes = state
            .second_factors
            .regenerate_backup_codes
            .execute(RegenerateBackupCodesInput {
                user_id: principal.user_id,
                proof: proof(body),
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(BackupCodesResponse::Ok(Json(BackupCodesView {
            backup_codes,
        })))
    }

    /// The caller's live trusted devices, newest first.
    #[oai(
        path = "/api/2fa/devices",
        method = "get",
        operation_id = "listTrustedDevices"
    )]
    async fn devices(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<DevicesResponse, ReadFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorRead)).await?;
        let devices = state
            .second_factors
            .list_devices
            .execute(principal.user_id)
            .await
            .map_err(fail)?;
        Ok(DevicesResponse::Ok(Json(DeviceList {
            items: devices.iter().map(DeviceView::from).collect(),
            next_cursor: None,
        })))
    }

    /// Ends one of the caller's trusted devices (404 for another user's): its next login
    /// needs the second factor again.
    #[oai(
        path = "/api/2fa/devices/:id",
        method = "delete",
        operation_id = "revokeTrustedDevice"
    )]
    async fn revoke_device(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The device's id.
        id: Path<uuid::Uuid>,
    ) -> Result<NoContent, RevokeDeviceFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorWrite)).await?;
        state
            .second_factors
            .revoke_devices
            .execute(
                principal.user_id,
                Some(DeviceId::from_uuid(id.0)),
                &request_info(request),
            )
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// Ends every trusted device of the caller.
    #[oai(
        path = "/api/2fa/devices",
        method = "delete",
        operation_id = "revokeAllTrustedDevices"
    )]
    async fn revoke_devices(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<NoContent, RevokeDeviceFailure> {
        let principal = principal(&state, request, &auth, Some(Scope::TwoFactorWrite)).await?;
        state
            .second_factors
            .revoke_devices
            .execute(principal.user_id, None, &request_info(request))
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }
}
