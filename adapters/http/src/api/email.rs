//! The e-mail verification routes under `/api/email`.

use poem::Request;
use poem_openapi::{OpenApi, payload::Json};

use super::{
    ApiTags,
    auth::{
        AuthedError, Caller, State, fail, principal, request_info,
        responses::{Accepted, EmailStatusResponse, NoContent},
        views::{EmailStatus, VerifyEmailRequest},
    },
};
use twofa_application::auth::{
    CallerError, EmailTokenError, SendVerificationEmailInput, SendVerificationError,
    VerifyEmailInput,
};

use super::auth::problems::Answered;
use crate::{api_error::ApiError, json_body::JsonBody};

/// The e-mail verification routes.
pub struct EmailApi;

#[OpenApi(tag = "ApiTags::Email")]
impl EmailApi {
    /// Mails a new verification link (429 within 60 s of the last one, register's included).
    #[oai(
        path = "/api/email/send-verification",
        method = "post",
        operation_id = "sendVerificationEmail"
    )]
    async fn send_verification(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<
        Accepted,
        ApiError<
            { <CallerError as Answered>::ANSWERS | <SendVerificationError as Answered>::ANSWERS },
        >,
    > {
        let principal = principal(&state, request, &auth, None).await?;
        state
            .accounts
            .send_verification
            .execute(SendVerificationEmailInput {
                principal,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(Accepted::Accepted)
    }

    /// Verifies the e-mail address through the link's token (no sign-in needed).
    #[oai(
        path = "/api/email/verify",
        method = "post",
        operation_id = "verifyEmail"
    )]
    async fn verify(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<VerifyEmailRequest>,
    ) -> Result<NoContent, ApiError<{ <EmailTokenError as Answered>::ANSWERS }>> {
        let JsonBody(body) = body;
        state
            .accounts
            .verify_email
            .execute(VerifyEmailInput {
                token: body.token,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// Whether the caller's e-mail address is verified.
    #[oai(
        path = "/api/email/status",
        method = "get",
        operation_id = "getEmailStatus"
    )]
    async fn status(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<EmailStatusResponse, AuthedError> {
        let principal = principal(&state, request, &auth, None).await?;
        let user = state.accounts.me.execute(&principal).await.map_err(fail)?;
        Ok(EmailStatusResponse::Ok(Json(EmailStatus {
            email_verified: user.email_verified,
        })))
    }
}
