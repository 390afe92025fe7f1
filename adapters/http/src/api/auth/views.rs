//! The request and response bodies of the account and session routes (API.md "Accounts and
//! sessions"), camelCase on the wire.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object, Union};
use serde::Deserialize;
use twofa_application::auth::{SignedIn, TwoFactorChallenge};
use twofa_domain::{Role, Session, User};

/// `POST /api/auth/register`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// The e-mail address (verified by a link mailed at once); at most 254 characters.
    #[oai(validator(max_length = 254))]
    pub email: String,
    /// 3–32 characters: ASCII letters, digits, `_`, `.`, `-`, starting with a letter or digit.
    #[oai(validator(max_length = 32))]
    pub username: String,
    /// 8–128 characters, not a common password.
    #[oai(validator(max_length = 128))]
    pub password: String,
}

/// `POST /api/auth/login`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// The e-mail address or the username, in any case.
    #[oai(validator(max_length = 1024))]
    pub email_or_username: String,
    /// The password.
    #[oai(validator(max_length = 1024))]
    pub password: String,
    /// The trusted-device token of an earlier `POST /api/2fa/verify` with `trustDevice`; a
    /// live one of this account skips the second factor. Without it, the `deviceToken`
    /// cookie is read.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub device_token: Option<String>,
}

/// `POST /api/auth/refresh` and `POST /api/auth/logout`: the refresh token, or none to use
/// the `refreshToken` cookie (then `X-CSRF-Token` must match the `csrfToken` cookie).
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenRequest {
    /// The refresh token; wins over the cookie.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /api/auth/password/change`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    /// The password now.
    #[oai(validator(max_length = 1024))]
    pub current_password: String,
    /// The new password: 8–128 characters, not a common password.
    #[oai(validator(max_length = 128))]
    pub new_password: String,
}

/// `POST /api/auth/password/forgot`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ForgotPasswordRequest {
    /// The account's e-mail address.
    #[oai(validator(max_length = 254))]
    pub email: String,
}

/// `POST /api/auth/password/reset`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ResetPasswordRequest {
    /// The token of the reset link.
    #[oai(validator(max_length = 256))]
    pub token: String,
    /// The new password: 8–128 characters, not a common password.
    #[oai(validator(max_length = 128))]
    pub new_password: String,
}

/// `POST /api/email/verify`.
#[derive(Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct VerifyEmailRequest {
    /// The token of the verification link.
    #[oai(validator(max_length = 256))]
    pub token: String,
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RoleView {
    /// An ordinary account.
    User,
    /// An administrator.
    Admin,
}

/// An account (`GET /api/auth/me`).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserView {
    /// The account's id.
    pub id: uuid::Uuid,
    /// The e-mail address, as given.
    pub email: String,
    /// The username, as given.
    pub username: String,
    /// `user` or `admin`.
    pub role: RoleView,
    /// Whether the e-mail address is verified.
    pub email_verified: bool,
    /// Whether a second factor is enabled.
    pub two_factor_enabled: bool,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            username: user.username.as_str().to_owned(),
            role: match user.role {
                Role::User => RoleView::User,
                Role::Admin => RoleView::Admin,
            },
            email_verified: user.email_verified,
            two_factor_enabled: user.two_factor_enabled,
            is_active: user.is_active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// The token type: always `Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TokenType {
    /// `Authorization: Bearer <accessToken>`.
    Bearer,
}

/// A signed-in session's tokens (and its account).
#[derive(Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuthTokens {
    /// The account.
    pub user: UserView,
    /// The access JWT (EdDSA), for `Authorization: Bearer`.
    pub access_token: String,
    /// The opaque refresh token (also set as the `refreshToken` cookie); each refresh replaces it.
    pub refresh_token: String,
    /// `Bearer`.
    pub token_type: TokenType,
    /// The access token's lifetime in seconds.
    pub expires_in: u64,
}

impl From<&SignedIn> for AuthTokens {
    fn from(signed_in: &SignedIn) -> Self {
        Self {
            user: UserView::from(&signed_in.user),
            access_token: signed_in.tokens.access_token.clone(),
            refresh_token: signed_in.tokens.refresh_token.clone(),
            token_type: TokenType::Bearer,
            expires_in: signed_in.tokens.expires_in,
        }
    }
}

/// A login that needs a second factor: no token is issued before it is verified.
#[derive(Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TwoFactorRequired {
    /// Always `true`.
    pub requires_two_factor: bool,
    /// The challenge to answer at `POST /api/2fa/verify`.
    pub temp_token: String,
    /// The factor types that can answer it.
    pub methods: Vec<String>,
    /// The challenge's lifetime in seconds.
    pub expires_in: u64,
}

impl From<&TwoFactorChallenge> for TwoFactorRequired {
    fn from(challenge: &TwoFactorChallenge) -> Self {
        Self {
            requires_two_factor: true,
            temp_token: challenge.temp_token.clone(),
            methods: challenge.methods.clone(),
            expires_in: challenge.expires_in,
        }
    }
}

/// What a correct password answers: tokens, or a second-factor challenge.
#[derive(Clone, Union)]
#[oai(one_of)]
pub enum LoginResult {
    /// Signed in.
    Tokens(AuthTokens),
    /// A second factor is required.
    TwoFactorRequired(TwoFactorRequired),
}

/// One session of the caller.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SessionView {
    /// The session's id (the access tokens' `sid`).
    pub id: uuid::Uuid,
    /// Whether it is the session of this request.
    pub current: bool,
    /// The client address at sign-in.
    pub ip: Option<String>,
    /// The user agent at sign-in.
    pub user_agent: Option<String>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it was last refreshed.
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless refreshed.
    pub expires_at: DateTime<Utc>,
}

impl SessionView {
    /// `session`, marked `current` or not.
    pub fn new(session: &Session, current: bool) -> Self {
        Self {
            id: session.id.as_uuid(),
            current,
            ip: session.ip.map(|ip| ip.to_string()),
            user_agent: session.user_agent.clone(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
        }
    }
}

/// A page of sessions, newest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SessionList {
    /// The sessions.
    pub items: Vec<SessionView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `GET /api/email/status`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct EmailStatus {
    /// Whether the account's e-mail address is verified.
    pub email_verified: bool,
}
