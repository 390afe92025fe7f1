//! The account and session routes under `/api/auth` (API.md "Accounts and sessions"), and
//! the helpers the e-mail routes share: each route parses its body, calls one use case, and
//! answers its result or its problem.

pub mod cookies;
pub mod problems;
pub(crate) mod responses;
pub mod views;

use std::sync::{Arc, OnceLock};

use poem::{Request, web::Data};
use poem_openapi::{
    OpenApi, SecurityScheme,
    auth::{ApiKey, Bearer},
    param::{Path, Query},
    payload::{Json, Response},
};
use twofa_application::auth::{
    Accounts, CallerError, ChangePasswordError, ChangePasswordInput, CredentialsError, CutOff,
    EmailTokenError, Fault, ForgotPasswordError, ForgotPasswordInput, ListSessionsInput,
    LoginError, LoginInput, LoginOutcome, LogoutInput, Principal, RefreshSessionInput,
    RegisterError, RegisterInput, RequestInfo, ResetPasswordInput, RevokeAllSessionsInput,
    RevokeSessionError, RevokeSessionInput, SignedIn,
};
use twofa_application::two_factor::SecondFactors;
use twofa_domain::{ApiKeyId, ApiKeyToken, Scope, SessionId};

use self::{
    cookies::{
        CookieSettings, DEVICE_COOKIE, PresentedRefreshToken, cookie, presented_refresh_token,
    },
    problems::{Answered, unauthorized},
    responses::{
        Accepted, LoginResponse, MeResponse, NoContent, RegisterResponse, SessionsResponse,
        TokensResponse,
    },
    views::{
        AuthTokens, ChangePasswordRequest, ForgotPasswordRequest, LoginRequest, LoginResult,
        RefreshTokenRequest, RegisterRequest, ResetPasswordRequest, SessionList, SessionView,
        TwoFactorRequired, UserView,
    },
};
use crate::{
    api::ApiTags,
    api_error::{ApiError, answers},
    json_body::{JsonBody, OptionalJsonBody},
    middleware::RequestContext,
    problem::{Problem, ProblemCode},
};

/// What the account, second-factor and audit routes need.
pub struct AuthState {
    /// The account use cases.
    pub accounts: Accounts,
    /// The second-factor use cases.
    pub second_factors: SecondFactors,
    /// The caller's audit trail.
    pub list_audit_events: twofa_application::audit_trail::ListAuditEvents,
    /// The API-key use cases, and the per-request key check.
    pub api_keys: twofa_application::api_keys::ApiKeys,
    /// The administrators' use cases.
    pub administration: twofa_application::admin::Administration,
    /// The webhook endpoints of users and administrators.
    pub webhook_endpoints: twofa_application::webhooks::WebhookEndpoints,
    /// How the refresh, CSRF and trusted-device cookies are written.
    pub cookies: CookieSettings,
}

/// An access token: `Authorization: Bearer <JWT>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerAuth(Bearer);

/// An API key: `X-API-Key: tfa_…`. (`Authorization: Bearer tfa_…` is taken alike.)
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header")]
pub struct ApiKeyAuth(ApiKey);

/// Who calls: an access token, or an API key in either header.
#[derive(SecurityScheme)]
pub enum Caller {
    /// `Authorization: Bearer <JWT or API key>`.
    Bearer(BearerAuth),
    /// `X-API-Key: <API key>`.
    ApiKey(ApiKeyAuth),
}

/// The API key a request authenticated with, set by [`principal`] and read by
/// [`request_info`] (the actor of the audit events the request causes). The middleware puts
/// an empty one in every request.
#[derive(Debug, Clone, Default)]
pub struct ActingKey(Arc<OnceLock<ApiKeyId>>);

/// The account and session routes.
pub struct AuthApi;

pub(crate) type State<'a> = Data<&'a Arc<AuthState>>;

/// Errors of the bearer-authenticated routes whose use case can only fail as the token check
/// does.
pub(crate) type AuthedError = ApiError<{ <CallerError as Answered>::ANSWERS }>;

/// The request's origin, for rate limits, sessions and the audit trail.
pub(crate) fn request_info(request: &Request) -> RequestInfo {
    RequestInfo {
        ip: request
            .extensions()
            .get::<RequestContext>()
            .and_then(|context| context.client_ip),
        user_agent: request
            .headers()
            .get(poem::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        cut_off: request
            .extensions()
            .get::<CutOff>()
            .cloned()
            .unwrap_or_default(),
        api_key: request
            .extensions()
            .get::<ActingKey>()
            .and_then(|key| key.0.get().copied()),
    }
}

/// The problem of a use case's `error`, as an answer of an operation that declares the
/// statuses `A`; a route that does not declare every status its use case can answer does not
/// compile.
pub(crate) fn fail<E: Answered, const A: u32>(error: E) -> ApiError<A> {
    const {
        assert!(
            A & E::ANSWERS == E::ANSWERS,
            "the route does not declare every status its use case answers"
        );
    }
    ApiError::new(error.into_problem())
}

/// The problem of `error`; a refresh cookie that is refused (401) is cleared with it, so a
/// browser stops presenting it.
fn fail_clearing_cookie<const A: u32>(
    state: &AuthState,
    error: CredentialsError,
    is_cookie: bool,
) -> ApiError<A> {
    let mut problem = fail::<_, A>(error).0;
    if is_cookie && problem.status == 401 {
        problem.set_cookies = state.cookies.clear().to_vec();
    }
    ApiError(problem)
}

/// The principal of the caller: an access token whose session is live, or a live API key
/// (in `X-API-Key` or as the bearer token) whose scopes grant `required`; `None` is a route
/// no key may reach (a key there is 403 `insufficient_scope`).
pub(crate) async fn principal<const A: u32>(
    state: &AuthState,
    request: &Request,
    caller: &Caller,
    required: Option<Scope>,
) -> Result<Principal, ApiError<A>> {
    let key = match caller {
        Caller::Bearer(bearer) if !ApiKeyToken::looks_like(&bearer.0.token) => {
            return state
                .accounts
                .authenticate
                .execute(&bearer.0.token)
                .await
                .map_err(|error| fail(CallerError::from(error)));
        }
        Caller::Bearer(bearer) => &bearer.0.token,
        Caller::ApiKey(key) => &key.0.key,
    };
    let principal = state
        .api_keys
        .authenticate
        .execute(key, required)
        .await
        .map_err(fail::<CallerError, A>)?;
    if let (Some(slot), Some(id)) = (
        request.extensions().get::<ActingKey>(),
        principal.api_key_id(),
    ) {
        let _ = slot.0.set(id);
    }
    Ok(principal)
}

/// `body` with the cookies that hand its refresh token to a browser.
pub(crate) fn with_session_cookies<T>(
    state: &AuthState,
    signed_in: &SignedIn,
    body: T,
) -> Response<T> {
    let [refresh, csrf] = state.cookies.issue(&signed_in.tokens.refresh_token);
    Response::new(body)
        .header("Set-Cookie", refresh)
        .header("Set-Cookie", csrf)
}

/// The refresh token of a refresh or logout request (and whether it came from the cookie), or
/// its problem.
fn refresh_token<'a, const A: u32>(
    request: &'a Request,
    body: Option<&'a RefreshTokenRequest>,
) -> Result<(&'a str, bool), ApiError<A>> {
    match presented_refresh_token(request, body.and_then(|body| body.refresh_token.as_deref())) {
        PresentedRefreshToken::Body(token) => Ok((token, false)),
        PresentedRefreshToken::Cookie(token) => Ok((token, true)),
        PresentedRefreshToken::CsrfFailed => Err(ApiError::new(Problem::new(
            ProblemCode::CsrfFailed,
            "a request authenticated by the refresh cookie needs X-CSRF-Token and the csrfToken cookie both equal to the CSRF token issued with that refresh cookie",
        ))),
        PresentedRefreshToken::Missing => Err(ApiError::new(unauthorized())),
    }
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Creates an account and signs it in; mails the e-mail verification link.
    #[oai(
        path = "/api/auth/register",
        method = "post",
        operation_id = "register"
    )]
    async fn register(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, ApiError<{ <RegisterError as Answered>::ANSWERS }>>
    {
        let JsonBody(body) = body;
        let signed_in = state
            .accounts
            .register
            .execute(RegisterInput {
                email: body.email,
                username: body.username,
                password: body.password,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        let tokens = AuthTokens::from(&signed_in);
        Ok(with_session_cookies(
            &state,
            &signed_in,
            RegisterResponse::Created(Json(tokens)),
        ))
    }

    /// Signs in with a password. Every failure (unknown login, wrong password, disabled
    /// account) is the same 401 `invalid_credentials`. An account with a second factor gets a
    /// challenge for `POST /api/2fa/verify`, unless the request presents a live trusted-device
    /// token of it (`deviceToken` in the body, else the `deviceToken` cookie).
    #[oai(path = "/api/auth/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<LoginRequest>,
    ) -> Result<Response<LoginResponse>, ApiError<{ <LoginError as Answered>::ANSWERS }>> {
        let JsonBody(body) = body;
        let outcome = state
            .accounts
            .login
            .execute(LoginInput {
                login: body.email_or_username,
                password: body.password,
                device_token: body
                    .device_token
                    .filter(|token| !token.is_empty())
                    .or_else(|| cookie(request, DEVICE_COOKIE).map(str::to_owned)),
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(match outcome {
            LoginOutcome::SignedIn(signed_in) => {
                let tokens = AuthTokens::from(&signed_in);
                with_session_cookies(
                    &state,
                    &signed_in,
                    LoginResponse::Ok(Json(LoginResult::Tokens(tokens))),
                )
            }
            LoginOutcome::TwoFactorRequired(challenge) => Response::new(LoginResponse::Ok(Json(
                LoginResult::TwoFactorRequired(TwoFactorRequired::from(&challenge)),
            ))),
        })
    }

    /// Rotates the refresh token (from the body, or the cookie with `X-CSRF-Token`): a new
    /// pair of the same session. Presenting a rotated token again after
    /// `tokens.refresh_reuse_grace` ends the whole session.
    #[oai(
        path = "/api/auth/refresh",
        method = "post",
        operation_id = "refreshSession"
    )]
    async fn refresh(
        &self,
        state: State<'_>,
        request: &Request,
        body: OptionalJsonBody<RefreshTokenRequest>,
    ) -> Result<
        Response<TokensResponse>,
        ApiError<{ <CredentialsError as Answered>::ANSWERS | answers::FORBIDDEN }>,
    > {
        let (token, is_cookie) = refresh_token(request, body.0.as_ref())?;
        let signed_in = state
            .accounts
            .refresh
            .execute(RefreshSessionInput {
                refresh_token: token.to_owned(),
                request: request_info(request),
            })
            .await
            .map_err(|error| fail_clearing_cookie(&state, error, is_cookie))?;
        let tokens = AuthTokens::from(&signed_in);
        Ok(with_session_cookies(
            &state,
            &signed_in,
            TokensResponse::Ok(Json(tokens)),
        ))
    }

    /// Ends the session of the refresh token (from the body, or the cookie with
    /// `X-CSRF-Token`); no bearer token is needed. Clears the cookies.
    #[oai(path = "/api/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        state: State<'_>,
        request: &Request,
        body: OptionalJsonBody<RefreshTokenRequest>,
    ) -> Result<
        Response<NoContent>,
        ApiError<{ <CredentialsError as Answered>::ANSWERS | answers::FORBIDDEN }>,
    > {
        let (token, is_cookie) = refresh_token(request, body.0.as_ref())?;
        state
            .accounts
            .logout
            .execute(LogoutInput {
                refresh_token: token.to_owned(),
                request: request_info(request),
            })
            .await
            .map_err(|error| fail_clearing_cookie(&state, error, is_cookie))?;
        let [refresh, csrf] = state.cookies.clear();
        Ok(Response::new(NoContent::Done)
            .header("Set-Cookie", refresh)
            .header("Set-Cookie", csrf))
    }

    /// The caller's account.
    #[oai(path = "/api/auth/me", method = "get", operation_id = "getMe")]
    async fn me(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<MeResponse, AuthedError> {
        let principal = principal(&state, request, &auth, Some(Scope::UserRead)).await?;
        let user = state.accounts.me.execute(&principal).await.map_err(fail)?;
        Ok(MeResponse::Ok(Json(UserView::from(&user))))
    }

    /// Ends every session of the caller, this one included.
    #[oai(
        path = "/api/auth/revoke-sessions",
        method = "post",
        operation_id = "revokeAllSessions"
    )]
    async fn revoke_sessions(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
    ) -> Result<NoContent, AuthedError> {
        let principal = principal(&state, request, &auth, None).await?;
        state
            .accounts
            .revoke_all_sessions
            .execute(RevokeAllSessionsInput {
                principal,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// The caller's active sessions, newest first.
    #[oai(
        path = "/api/auth/sessions",
        method = "get",
        operation_id = "listSessions"
    )]
    async fn sessions(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<
        SessionsResponse,
        ApiError<
            {
                <CallerError as Answered>::ANSWERS
                    | <Fault as Answered>::ANSWERS
                    | answers::BAD_REQUEST
            },
        >,
    > {
        let principal = principal(&state, request, &auth, Some(Scope::UserRead)).await?;
        let after = parse_cursor::<SessionId, _>(cursor.0.as_deref())?;
        let page = state
            .accounts
            .list_sessions
            .execute(ListSessionsInput {
                principal,
                limit: limit.0,
                after,
            })
            .await
            .map_err(fail)?;
        Ok(SessionsResponse::Ok(Json(SessionList {
            items: page
                .items
                .iter()
                .map(|(session, current)| SessionView::new(session, *current))
                .collect(),
            next_cursor: page.next.map(|id| id.to_string()),
        })))
    }

    /// Ends one of the caller's sessions (404 for another user's).
    #[oai(
        path = "/api/auth/sessions/:id",
        method = "delete",
        operation_id = "revokeSession"
    )]
    async fn revoke_session(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The session's id.
        id: Path<uuid::Uuid>,
    ) -> Result<
        NoContent,
        ApiError<
            { <CallerError as Answered>::ANSWERS | <RevokeSessionError as Answered>::ANSWERS },
        >,
    > {
        let principal = principal(&state, request, &auth, None).await?;
        state
            .accounts
            .revoke_session
            .execute(RevokeSessionInput {
                principal,
                session_id: SessionId::from_uuid(id.0),
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// Changes the password: keeps this session and ends every other one.
    #[oai(
        path = "/api/auth/password/change",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<ChangePasswordRequest>,
    ) -> Result<
        NoContent,
        ApiError<
            { <CallerError as Answered>::ANSWERS | <ChangePasswordError as Answered>::ANSWERS },
        >,
    > {
        let principal = principal(&state, request, &auth, None).await?;
        let JsonBody(body) = body;
        state
            .accounts
            .change_password
            .execute(ChangePasswordInput {
                principal,
                current_password: body.current_password,
                new_password: body.new_password,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// Mails a password reset link when an account has this address; answers 202 either way.
    #[oai(
        path = "/api/auth/password/forgot",
        method = "post",
        operation_id = "forgotPassword"
    )]
    async fn forgot_password(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<ForgotPasswordRequest>,
    ) -> Result<Accepted, ApiError<{ <ForgotPasswordError as Answered>::ANSWERS }>> {
        let JsonBody(body) = body;
        state
            .accounts
            .forgot_password
            .execute(ForgotPasswordInput {
                email: body.email,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(Accepted::Accepted)
    }

    /// Sets a new password through a reset link; every session ends.
    #[oai(
        path = "/api/auth/password/reset",
        method = "post",
        operation_id = "resetPassword"
    )]
    async fn reset_password(
        &self,
        state: State<'_>,
        request: &Request,
        body: JsonBody<ResetPasswordRequest>,
    ) -> Result<NoContent, ApiError<{ <EmailTokenError as Answered>::ANSWERS }>> {
        let JsonBody(body) = body;
        state
            .accounts
            .reset_password
            .execute(ResetPasswordInput {
                token: body.token,
                new_password: body.new_password,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }
}

/// A list route's page size when `limit` is not given (API.md: 50).
pub(crate) fn default_limit() -> u32 {
    50
}

/// One page of `items` (newest first): at most `limit` of those after the item `before` (or,
/// when that one is gone, of those whose time-ordered id is older), and the cursor of the
/// next page (`None` on the last). For the short lists (a user's keys or webhook endpoints)
/// that a store answers whole.
pub(crate) fn page<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> uuid::Uuid,
    limit: u32,
    before: Option<uuid::Uuid>,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let start = before.map_or(0, |before| {
        items
            .iter()
            .position(|item| id(item) == before)
            .map_or_else(
                || items.iter().take_while(|item| id(item) >= before).count(),
                |at| at + 1,
            )
    });
    let mut rest = items.into_iter().skip(start);
    let page: Vec<T> = rest.by_ref().take(limit).collect();
    let next = if rest.next().is_some() {
        page.last().map(|item| id(item).to_string())
    } else {
        None
    };
    (page, next)
}

/// A list route's `cursor`, parsed as the id it names: 400 `validation_failed` on `cursor` for
/// anything this route did not give.
pub(crate) fn parse_cursor<T: std::str::FromStr, const A: u32>(
    cursor: Option<&str>,
) -> Result<Option<T>, ApiError<A>> {
    cursor
        .map(|cursor| {
            cursor.parse::<T>().map_err(|_| {
                ApiError::new(Problem::validation(vec![crate::problem::FieldError {
                    field: "cursor".to_owned(),
                    message: "is not a cursor this route gave".to_owned(),
                }]))
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::page;

    fn id(n: u128) -> uuid::Uuid {
        uuid::Uuid::from_u128(n)
    }

    #[test]
    fn pages_follow_each_other_and_survive_a_deleted_cursor() {
        let items: Vec<uuid::Uuid> = (1..=5).rev().map(id).collect();
        let (first, next) = page(items.clone(), |item| *item, 2, None);
        assert_eq!(first, [id(5), id(4)]);
        assert_eq!(next, Some(id(4).to_string()));
        let (second, next) = page(items.clone(), |item| *item, 2, Some(id(4)));
        assert_eq!(second, [id(3), id(2)]);
        let (last, next_after) = page(items.clone(), |item| *item, 2, Some(id(2)));
        assert_eq!(last, [id(1)]);
        assert_eq!(next_after, None);
        assert!(next.is_some());
        // The cursor's item was deleted since: the page starts at the next older one.
        let without_three: Vec<uuid::Uuid> =
            items.into_iter().filter(|item| *item != id(3)).collect();
        let (after_gone, _) = page(without_three, |item| *item, 2, Some(id(3)));
        assert_eq!(after_gone, [id(2), id(1)]);
    }
}
