//! The administration routes (API.md "API keys, webhooks, audit, admin"): every account,
//! listed and searched, disabled and enabled, stripped of its second factors, deleted; and
//! every account's audit trail. Role `admin` only (others 403 `forbidden`), with an access
//! token (an API key is 403 `insufficient_scope`).

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use twofa_application::{
    admin::{AdminAccessError, AdminError, RemoveAccountError},
    audit_trail::{ListAllAuditEventsInput, ListAuditEventsError},
    auth::{CallerError, Fault},
};
use twofa_domain::{AuditEventId, User, UserId};

use crate::{
    api::{
        ApiTags,
        audit::{AuditEventList, AuditEventView, AuditEventsResponse},
        auth::{
            AuthState, Caller, State, default_limit, fail, parse_cursor, principal,
            problems::{Answered, answered, fault_problem, invalid, unauthorized},
            request_info,
            responses::NoContent,
            views::UserView,
        },
    },
    api_error::{ApiError, answers},
    problem::{Problem, ProblemCode},
};

answered!(AdminAccessError {
    AdminAccessError::Unauthorized => answers::UNAUTHORIZED, unauthorized();
    AdminAccessError::Forbidden => answers::NOT_ADMIN, Problem::new(ProblemCode::Forbidden, "only administrators may do this");
    AdminAccessError::Fault(fault) => answers::SHARED, fault_problem(fault);
});

answered!(AdminError {
    AdminError::NotFound => answers::NOT_FOUND, not_found();
    AdminError::Invalid(fields) => answers::BAD_REQUEST, invalid(fields);
    AdminError::Fault(fault) => answers::SHARED, fault_problem(fault);
});

answered!(RemoveAccountError {
    RemoveAccountError::NotFound => answers::NOT_FOUND, not_found();
    RemoveAccountError::OwnAccount => answers::OWN_ACCOUNT, Problem::new(ProblemCode::Conflict, "an administrator cannot disable or delete their own account");
    RemoveAccountError::Fault(fault) => answers::SHARED, fault_problem(fault);
});

fn not_found() -> Problem {
    Problem::new(ProblemCode::NotFound, "no such resource")
}

/// The statuses every administration route answers: the caller's.
pub(crate) const ACCESS_ANSWERS: u32 =
    <CallerError as Answered>::ANSWERS | <AdminAccessError as Answered>::ANSWERS;

/// Errors of a route about one account.
type AdminFailure = ApiError<{ ACCESS_ANSWERS | <AdminError as Answered>::ANSWERS }>;

/// Errors of the disable and delete routes.
type RemoveFailure = ApiError<{ ACCESS_ANSWERS | <RemoveAccountError as Answered>::ANSWERS }>;

/// The administration routes.
pub struct AdminApi;

/// A page of accounts.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserList {
    /// The accounts, newest first.
    pub items: Vec<UserView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A page of accounts.
#[derive(ApiResponse)]
enum UsersResponse {
    /// The accounts, newest first.
    #[oai(status = 200)]
    Ok(Json<UserList>),
}

/// One account.
#[derive(ApiResponse)]
enum UserResponse {
    /// The account as it is now.
    #[oai(status = 200)]
    Ok(Json<UserView>),
}

/// The caller, when they are an active administrator signed in with an access token.
pub(crate) async fn administrator<const A: u32>(
    state: &AuthState,
    request: &Request,
    auth: &Caller,
) -> Result<User, ApiError<A>> {
    let principal = principal(state, request, auth, None).await?;
    state
        .administration
        .require_admin(&principal)
        .await
        .map_err(fail::<AdminAccessError, A>)
}

fn user(response: &User) -> UserResponse {
    UserResponse::Ok(Json(UserView::from(response)))
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// Every account, newest first; `q` keeps those whose e-mail address or username contains
    /// it, ignoring case.
    #[oai(path = "/api/admin/users", method = "get", operation_id = "listUsers")]
    async fn list_users(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// A part of the e-mail address or username, any case.
        #[oai(validator(max_length = 254))]
        q: Query<Option<String>>,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<UsersResponse, ApiError<{ ACCESS_ANSWERS | <AdminError as Answered>::ANSWERS }>>
    {
        administrator(&state, request, &auth).await?;
        let after = parse_cursor::<UserId, _>(cursor.0.as_deref())?;
        let page = state
            .administration
            .list_users(q.0.as_deref(), limit.0, after)
            .await
            .map_err(fail)?;
        Ok(UsersResponse::Ok(Json(UserList {
            items: page.items.iter().map(UserView::from).collect(),
            next_cursor: page.next.map(|id| id.to_string()),
        })))
    }

    /// One account.
    #[oai(
        path = "/api/admin/users/:id",
        method = "get",
        operation_id = "getUser"
    )]
    async fn get_user(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The account's id.
        id: Path<uuid::Uuid>,
    ) -> Result<UserResponse, AdminFailure> {
        administrator(&state, request, &auth).await?;
        let found = state
            .administration
            .get_user(UserId::from_uuid(id.0))
            .await
            .map_err(fail)?;
        Ok(user(&found))
    }

    /// Disables an account: it cannot sign in, every session ends and every API key stops,
    /// from the next request on every instance.
    #[oai(
        path = "/api/admin/users/:id/disable",
        method = "post",
        operation_id = "disableUser"
    )]
    async fn disable_user(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The account's id.
        id: Path<uuid::Uuid>,
    ) -> Result<UserResponse, RemoveFailure> {
        let admin = administrator(&state, request, &auth).await?;
        let changed = state
            .administration
            .disable_user(&admin, UserId::from_uuid(id.0), &request_info(request))
            .await
            .map_err(fail)?;
        Ok(user(&changed))
    }

    /// Enables an account again; its ended sessions stay ended.
    #[oai(
        path = "/api/admin/users/:id/enable",
        method = "post",
        operation_id = "enableUser"
    )]
    async fn enable_user(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The account's id.
        id: Path<uuid::Uuid>,
    ) -> Result<UserResponse, AdminFailure> {
        let admin = administrator(&state, request, &auth).await?;
        let changed = state
            .administration
            .enable_user(&admin, UserId::from_uuid(id.0), &request_info(request))
            .await
            .map_err(fail)?;
        Ok(user(&changed))
    }

    /// Removes every second factor, backup code and trusted device of an account.
    #[oai(
        path = "/api/admin/users/:id/reset-2fa",
        method = "post",
        operation_id = "resetUserTwoFactor"
    )]
    async fn reset_two_factor(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The account's id.
        id: Path<uuid::Uuid>,
    ) -> Result<UserResponse, AdminFailure> {
        let admin = administrator(&state, request, &auth).await?;
        let changed = state
            .administration
            .reset_two_factor(&admin, UserId::from_uuid(id.0), &request_info(request))
            .await
            .map_err(fail)?;
        Ok(user(&changed))
    }

    /// Deletes an account and everything it owns; every access token and API key of it fails
    /// from the next request. Its audit trail stays.
    #[oai(
        path = "/api/admin/users/:id",
        method = "delete",
        operation_id = "deleteUser"
    )]
    async fn delete_user(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The account's id.
        id: Path<uuid::Uuid>,
    ) -> Result<NoContent, RemoveFailure> {
        let admin = administrator(&state, request, &auth).await?;
        state
            .administration
            .delete_user(&admin, UserId::from_uuid(id.0), &request_info(request))
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// Every account's audit events (and the service's own), newest first, with the filters
    /// of `GET /api/audit-logs` and `userId` for one account's.
    #[oai(
        path = "/api/admin/audit-logs",
        method = "get",
        operation_id = "listAllAuditLogs"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "poem-openapi takes each query parameter as an argument of its own"
    )]
    async fn audit_logs(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// Only events about this account.
        #[oai(name = "userId")]
        user_id: Query<Option<uuid::Uuid>>,
        /// Only events of this type, such as `user.login.failed`.
        #[oai(validator(min_length = 1, max_length = 64))]
        action: Query<Option<String>>,
        /// Only events at or after this instant (RFC 3339).
        since: Query<Option<DateTime<Utc>>>,
        /// Only events before this instant (RFC 3339); after `since`.
        until: Query<Option<DateTime<Utc>>>,
        /// Page size, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// A previous page's `nextCursor`.
        cursor: Query<Option<String>>,
    ) -> Result<
        AuditEventsResponse,
        ApiError<
            {
                ACCESS_ANSWERS
                    | <ListAuditEventsError as Answered>::ANSWERS
                    | <Fault as Answered>::ANSWERS
            },
        >,
    > {
        administrator(&state, request, &auth).await?;
        let before = parse_cursor::<AuditEventId, _>(cursor.0.as_deref())?;
        let page = state
            .list_audit_events
            .execute_all(ListAllAuditEventsInput {
                user_id: user_id.0.map(UserId::from_uuid),
                action: action.0,
                since: since.0,
                until: until.0,
                limit: limit.0,
                before,
            })
            .await
            .map_err(fail)?;
        Ok(AuditEventsResponse::Ok(Json(AuditEventList {
            items: page.items.iter().map(AuditEventView::from).collect(),
            next_cursor: page.next_cursor.map(|id| id.to_string()),
        })))
    }
}
