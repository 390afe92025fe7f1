//! The success answers of the account and session routes, each with its status.

use poem_openapi::{ApiResponse, payload::Json};

use super::views::{AuthTokens, EmailStatus, LoginResult, SessionList, UserView};

/// A token pair, with the cookies set.
#[derive(ApiResponse)]
pub(crate) enum TokensResponse {
    /// Signed in; the `refreshToken` and `csrfToken` cookies are set.
    #[oai(status = 200)]
    Ok(Json<AuthTokens>),
}

/// A new account, signed in.
#[derive(ApiResponse)]
pub(crate) enum RegisterResponse {
    /// The account, signed in; the verification e-mail is on its way; the `refreshToken` and
    /// `csrfToken` cookies are set.
    #[oai(status = 201)]
    Created(Json<AuthTokens>),
}

/// Signed in, or a second factor is required.
#[derive(ApiResponse)]
pub(crate) enum LoginResponse {
    /// Tokens (the `refreshToken` and `csrfToken` cookies are set), or
    /// `{requiresTwoFactor, tempToken, methods, expiresIn}`.
    #[oai(status = 200)]
    Ok(Json<LoginResult>),
}

/// Done, nothing to return.
#[derive(ApiResponse)]
pub(crate) enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// Accepted: the e-mail, if any, is on its way.
#[derive(ApiResponse)]
pub(crate) enum Accepted {
    /// Accepted.
    #[oai(status = 202)]
    Accepted,
}

/// The caller's account.
#[derive(ApiResponse)]
pub(crate) enum MeResponse {
    /// The account.
    #[oai(status = 200)]
    Ok(Json<UserView>),
}

/// The caller's sessions.
#[derive(ApiResponse)]
pub(crate) enum SessionsResponse {
    /// Active sessions, newest first.
    #[oai(status = 200)]
    Ok(Json<SessionList>),
}

/// The caller's e-mail verification state.
#[derive(ApiResponse)]
pub(crate) enum EmailStatusResponse {
    /// Whether the address is verified.
    #[oai(status = 200)]
    Ok(Json<EmailStatus>),
}
