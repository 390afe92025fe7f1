//! The API-key routes (API.md "API keys, webhooks, audit, admin"): a signed-in user's keys,
//! made, listed, changed, rotated, revoked and deleted with an access token. No API key
//! reaches these routes (403 `insufficient_scope`), so a leaked key cannot mint others.

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;
use twofa_application::{
    api_keys::{ApiKeyError, CreateApiKeyInput, CreatedApiKey, UpdateApiKeyInput},
    auth::CallerError,
};
use twofa_domain::{ApiKey, ApiKeyId};

use crate::{
    api::{
        ApiTags,
        auth::{
            Caller, State, default_limit, fail, page, parse_cursor, principal,
            problems::{Answered, answered, fault_problem, invalid},
            request_info,
            responses::NoContent,
        },
    },
    api_error::{ApiError, answers},
    json_body::JsonBody,
    problem::{Problem, ProblemCode},
};

answered!(ApiKeyError {
    ApiKeyError::Invalid(fields) => answers::BAD_REQUEST, invalid(fields);
    ApiKeyError::NotFound => answers::NOT_FOUND, Problem::new(ProblemCode::NotFound, "no such resource");
    ApiKeyError::Revoked => answers::KEY_REVOKED, Problem::new(ProblemCode::Conflict, "the API key is revoked; make a new one");
    ApiKeyError::Fault(fault) => answers::SHARED, fault_problem(fault);
});

/// Errors of a route that changes or reads one key.
type KeyFailure =
    ApiError<{ <CallerError as Answered>::ANSWERS | <ApiKeyError as Answered>::ANSWERS }>;

/// The API-key routes.
pub struct ApiKeysApi;

/// An API key, without its secret.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyView {
    /// The key's id.
    pub id: uuid::Uuid,
    /// Its name.
    pub name: String,
    /// `tfa_` and the first 8 characters after it: enough to recognise the key.
    pub prefix: String,
    /// What it may do: `user:read`, `2fa:read`, `2fa:write`, `webhooks:read`,
    /// `webhooks:write`, `audit:read`, or `*` for all of these.
    pub scopes: Vec<String>,
    /// When it stops working; `null`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When a request last authenticated with it (to the minute); `null`: never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; `null`: it was not.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            scopes: key
                .scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A key just made or rotated, with the key itself: shown this once, never again.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyWithSecret {
    /// The key.
    #[oai(flatten)]
    pub key: ApiKeyView,
    /// The key: `tfa_` + 49 characters. Send it as `X-API-Key` or `Authorization: Bearer`.
    pub api_key: String,
}

impl From<&CreatedApiKey> for ApiKeyWithSecret {
    fn from(created: &CreatedApiKey) -> Self {
        Self {
            key: ApiKeyView::from(&created.key),
            api_key: created.token.expose().to_owned(),
        }
    }
}

/// A page of the caller's keys.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyList {
    /// The keys, newest first, revoked and expired ones included.
    pub items: Vec<ApiKeyView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `POST /api/api-keys`.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKeyRequest {
    /// 1–100 characters.
    #[oai(validator(max_length = 100))]
    pub name: String,
    /// At least one of `user:read`, `2fa:read`, `2fa:write`, `webhooks:read`,
    /// `webhooks:write`, `audit:read`, `*`.
    #[oai(validator(max_items = 16))]
    pub scopes: Vec<String>,
    /// When it stops working, in the future; absent or `null`: never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `PATCH /api/api-keys/{id}`: absent fields stay.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct UpdateApiKeyRequest {
    /// A new name, 1–100 characters.
    #[serde(default)]
    #[oai(validator(max_length = 100))]
    pub name: Option<String>,
    /// New scopes, at least one; they hold from the next request.
    #[serde(default)]
    #[oai(validator(max_items = 16))]
    pub scopes: Option<Vec<String>>,
}

/// A new key.
#[derive(ApiResponse)]
enum CreatedResponse {
    /// The key, with the key itself (shown once).
    #[oai(status = 201)]
    Created(Json<ApiKeyWithSecret>),
}

/// A key with its new secret.
#[derive(ApiResponse)]
enum RotatedResponse {
    /// The key, with the new key itself (shown once); the old one no longer works.
    #[oai(status = 200)]
    Ok(Json<ApiKeyWithSecret>),
}

/// One key.
#[derive(ApiResponse)]
enum KeyResponse {
    /// The key.
    #[oai(status = 200)]
    Ok(Json<ApiKeyView>),
}

/// The caller's keys.
#[derive(ApiResponse)]
enum KeysResponse {
    /// Every key, newest first.
    #[oai(status = 200)]
    Ok(Json<ApiKeyList>),
}

#[OpenApi(tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Makes an API key for the caller; answers the key once. Access tokens only.
    #[oai(path = "/api/api-keys", method = "post", operation_id = "createApiKey")]
    async fn create(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        body: JsonBody<CreateApiKeyRequest>,
    ) -> Result<CreatedResponse, KeyFailure> {
        let principal = principal(&state, request, &auth, None).await?;
        let JsonBody(body) = body;
        let created = state
            .api_keys
            .create
            .execute(CreateApiKeyInput {
                user_id: principal.user_id,
                name: body.name,
                scopes: body.scopes,
                expires_at: body.expires_at,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(CreatedResponse::Created(Json(ApiKeyWithSecret::from(
            &created,
        ))))
    }

    /// The caller's API keys, newest first, revoked and expired ones included. Access tokens
    /// only.
    #[oai(path = "/api/api-keys", method = "get", operation_id = "listApiKeys")]
    async fn list(
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
    ) -> Result<KeysResponse, KeyFailure> {
        let principal = principal(&state, request, &auth, None).await?;
        let before = parse_cursor::<uuid::Uuid, _>(cursor.0.as_deref())?;
        let keys = state
            .api_keys
            .list
            .execute(principal.user_id)
            .await
            .map_err(|fault| fail(ApiKeyError::from(fault)))?;
        let (keys, next_cursor) = page(keys, |key| key.id.as_uuid(), limit.0, before);
        Ok(KeysResponse::Ok(Json(ApiKeyList {
            items: keys.iter().map(ApiKeyView::from).collect(),
            next_cursor,
        })))
    }

    /// One of the caller's API keys (404 for another user's). Access tokens only.
    #[oai(path = "/api/api-keys/:id", method = "get", operation_id = "getApiKey")]
    async fn get(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The key's id.
        id: Path<uuid::Uuid>,
    ) -> Result<KeyResponse, KeyFailure> {
        let principal = principal(&state, request, &auth, None).await?;
        let key = state
            .api_keys
            .get
            .execute(principal.user_id, ApiKeyId::from_uuid(id.0))
            .await
            .map_err(fail)?;
        Ok(KeyResponse::Ok(Json(ApiKeyView::from(&key))))
    }

    /// Renames an API key or replaces its scopes; new scopes hold from the next request.
    /// Access tokens only.
    #[oai(
        path = "/api/api-keys/:id",
        method = "patch",
        operation_id = "updateApiKey"
    )]
    async fn update(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The key's id.
        id: Path<uuid::Uuid>,
        body: JsonBody<UpdateApiKeyRequest>,
    ) -> Result<KeyResponse, KeyFailure> {
        let principal = principal(&state, request, &auth, None).await?;
        let JsonBody(body) = body;
        let key = state
            .api_keys
            .update
            .execute(UpdateApiKeyInput {
                user_id: principal.user_id,
                id: ApiKeyId::from_uuid(id.0),
                name: body.name,
                scopes: body.scopes,
                request: request_info(request),
            })
            .await
            .map_err(fail)?;
        Ok(KeyResponse::Ok(Json(ApiKeyView::from(&key))))
    }

    /// Deletes an API key; it fails from the next request. Access tokens only.
    #[oai(
        path = "/api/api-keys/:id",
        method = "delete",
        operation_id = "deleteApiKey"
    )]
    async fn delete(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The key's id.
        id: Path<uuid::Uuid>,
    ) -> Result<NoContent, KeyFailure> {
        let principal = principal(&state, request, &auth, None).await?;
        state
            .api_keys
            .delete
            .execute(
                principal.user_id,
                ApiKeyId::from_uuid(id.0),
                &request_info(request),
            )
            .await
            .map_err(fail)?;
        Ok(NoContent::Done)
    }

    /// Gives an unrevoked API key a new secret, answered once; the old one fails from the
    /// next request. Name, scopes and expiry stay. Access tokens only.
    #[oai(
        path = "/api/api-keys/:id/rotate",
        method = "post",
        operation_id = "rotateApiKey"
    )]
    async fn rotate(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The key's id.
        id: Path<uuid::Uuid>,
    ) -> Result<RotatedResponse, KeyFailure> {
        let principal = principal(&state, request, &auth, None).await?;
        let rotated = state
            .api_keys
            .rotate
            .execute(
                principal.user_id,
                ApiKeyId::from_uuid(id.0),
                &request_info(request),
            )
            .await
            .map_err(fail)?;
        Ok(RotatedResponse::Ok(Json(ApiKeyWithSecret::from(&rotated))))
    }

    /// Revokes an API key; it fails from the next request and stays listed with its
    /// `revokedAt`. Revoking a revoked key answers it unchanged. Access tokens only.
    #[oai(
        path = "/api/api-keys/:id/revoke",
        method = "post",
        operation_id = "revokeApiKey"
    )]
    async fn revoke(
        &self,
        state: State<'_>,
        request: &Request,
        auth: Caller,
        /// The key's id.
        id: Path<uuid::Uuid>,
    ) -> Result<KeyResponse, KeyFailure> {
        let principal = principal(&state, request, &auth, None).await?;
        let key = state
            .api_keys
            .revoke
            .execute(
                principal.user_id,
                ApiKeyId::from_uuid(id.0),
                &request_info(request),
            )
            .await
            .map_err(fail)?;
        Ok(KeyResponse::Ok(Json(ApiKeyView::from(&key))))
    }
}
