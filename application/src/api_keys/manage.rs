//! The owner's API-key use cases: create, list, get, update, rotate, revoke, delete. Each
//! change commits with its audit event (and, for `api_key.created` and `api_key.revoked`, its
//! webhook event) in one transaction; another user's key id is "not found", like an unknown
//! one.

use chrono::{DateTime, Utc};
use serde_json::json;
use twofa_domain::{
    API_KEY_NAME_LIMIT, ApiKey, ApiKeyChange, ApiKeyId, ApiKeyToken, NewApiKey, Scope, UserId,
    normalized_scopes, time_ordered_id,
};

use super::KeyPorts;
use crate::{
    auth::{Fault, InvalidField, RequestInfo, commit, faults, user_event},
    webhook_events::record,
};

/// Why an API-key operation was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// A field is malformed.
    #[error("invalid input")]
    Invalid(Vec<InvalidField>),
    /// The caller has no key with that id (another user's alike).
    #[error("no such API key")]
    NotFound,
    /// The key is revoked, so it cannot be rotated.
    #[error("the API key is revoked")]
    Revoked,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

faults!(ApiKeyError);

/// A new key, with the key itself (shown once).
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    /// The stored key.
    pub key: ApiKey,
    /// The key's text.
    pub token: ApiKeyToken,
}

/// What making a key takes.
#[derive(Debug, Clone)]
pub struct CreateApiKeyInput {
    /// The owner.
    pub user_id: UserId,
    /// Its name: 1–100 characters after trimming.
    pub name: String,
    /// Its scopes' names: at least one, each a scope.
    pub scopes: Vec<String>,
    /// When it stops working, if ever; in the future.
    pub expires_at: Option<DateTime<Utc>>,
    /// The request.
    pub request: RequestInfo,
}

/// What an update takes; `None` keeps the value.
#[derive(Debug, Clone)]
pub struct UpdateApiKeyInput {
    /// The owner.
    pub user_id: UserId,
    /// The key.
    pub id: ApiKeyId,
    /// A new name.
    pub name: Option<String>,
    /// New scopes' names.
    pub scopes: Option<Vec<String>>,
    /// The request.
    pub request: RequestInfo,
}

/// The trimmed `name`, or why it is refused.
fn checked_name(name: &str, invalid: &mut Vec<InvalidField>) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > API_KEY_NAME_LIMIT {
        invalid.push(InvalidField::new(
            "name",
            format!("must be 1 to {API_KEY_NAME_LIMIT} characters"),
        ));
    }
    name.to_owned()
}

/// The scopes `names` write, or why they are refused.
fn checked_scopes(names: &[String], invalid: &mut Vec<InvalidField>) -> Vec<Scope> {
    let scopes: Option<Vec<Scope>> = names.iter().map(|name| Scope::parse(name)).collect();
    match scopes {
        Some(scopes) if !scopes.is_empty() => normalized_scopes(scopes),
        _ => {
            let known: Vec<&str> = Scope::ALL.iter().map(|scope| scope.as_str()).collect();
            invalid.push(InvalidField::new(
                "scopes",
                format!("must be a non-empty list of: {}", known.join(", ")),
            ));
            Vec::new()
        }
    }
}

/// The details every event of `key` carries: its id, name, prefix and scopes.
fn key_details(key: &ApiKey) -> serde_json::Value {
    let scopes: Vec<&str> = key.scopes.iter().map(|scope| scope.as_str()).collect();
    json!({
        "apiKeyId": key.id.to_string(),
        "name": key.name,
        "prefix": key.prefix,
        "scopes": scopes,
    })
}

/// Makes a key.
pub struct CreateApiKey {
    pub(crate) keys: KeyPorts,
}

impl CreateApiKey {
    /// A new key for the caller, recorded as `api_key.created`.
    ///
    /// # Errors
    /// `Invalid` for a bad name, scopes or expiry; `Fault`.
    #[tracing::instrument(name = "create_api_key", skip_all, fields(user = %input.user_id))]
    pub async fn execute(&self, input: CreateApiKeyInput) -> Result<CreatedApiKey, ApiKeyError> {
        let now = self.keys.clock.now();
        let mut invalid = Vec::new();
        let name = checked_name(&input.name, &mut invalid);
        let scopes = checked_scopes(&input.scopes, &mut invalid);
        if input.expires_at.is_some_and(|at| at <= now) {
            invalid.push(InvalidField::new("expiresAt", "must be in the future"));
        }
        if !invalid.is_empty() {
            return Err(ApiKeyError::Invalid(invalid));
        }
        let mut random = [0_u8; 32];
        self.keys.ids.fill_bytes(&mut random);
        let token = ApiKeyToken::from_random(random);
        let mut transaction = self.keys.unit_of_work.begin().await?;
        let key = transaction
            .api_keys()
            .add(NewApiKey {
                id: ApiKeyId::from_uuid(time_ordered_id(now, self.keys.ids.as_ref())),
                user_id: input.user_id,
                name,
                prefix: token.shown_prefix(),
                key_hash: token.digest(),
                scopes,
                expires_at: input.expires_at,
            })
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "api_key.created",
                Some(input.user_id),
                true,
                &input.request,
                key_details(&key),
            ),
        )
        .await?;
        commit(transaction, &input.request).await?;
        Ok(CreatedApiKey { key, token })
    }
}

/// Lists the caller's keys.
pub struct ListApiKeys {
    pub(crate) keys: KeyPorts,
}

impl ListApiKeys {
    /// Every key of the caller, newest first, revoked and expired ones included.
    ///
    /// # Errors
    /// `Fault`.
    pub async fn execute(&self, user_id: UserId) -> Result<Vec<ApiKey>, Fault> {
        Ok(self.keys.api_keys.list(user_id).await?)
    }
}

/// One of the caller's keys.
pub struct GetApiKey {
    pub(crate) keys: KeyPorts,
}

impl GetApiKey {
    /// The caller's key `id`.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    pub async fn execute(&self, user_id: UserId, id: ApiKeyId) -> Result<ApiKey, ApiKeyError> {
        self.keys
            .api_keys
            .get(user_id, id)
            .await?
            .ok_or(ApiKeyError::NotFound)
    }
}

/// Renames a key or changes its scopes.
pub struct UpdateApiKey {
    pub(crate) keys: KeyPorts,
}

impl UpdateApiKey {
    /// The key as changed, recorded as `api_key.updated`; the new scopes hold from the next
    /// request. An update that names nothing answers the key unchanged and records nothing.
    ///
    /// # Errors
    /// `Invalid`, `NotFound`, `Fault`.
    #[tracing::instrument(name = "update_api_key", skip_all, fields(user = %input.user_id, key = %input.id))]
    pub async fn execute(&self, input: UpdateApiKeyInput) -> Result<ApiKey, ApiKeyError> {
        let mut invalid = Vec::new();
        let change = ApiKeyChange {
            name: input
                .name
                .as_deref()
                .map(|name| checked_name(name, &mut invalid)),
            scopes: input
                .scopes
                .as_deref()
                .map(|names| checked_scopes(names, &mut invalid)),
        };
        if !invalid.is_empty() {
            return Err(ApiKeyError::Invalid(invalid));
        }
        if change == ApiKeyChange::default() {
            return GetApiKey {
                keys: self.keys.clone(),
            }
            .execute(input.user_id, input.id)
            .await;
        }
        let mut transaction = self.keys.unit_of_work.begin().await?;
        let key = transaction
            .api_keys()
            .update(input.user_id, input.id, change.clone())
            .await?
            .ok_or(ApiKeyError::NotFound)?;
        let mut details = json!({ "apiKeyId": key.id.to_string() });
        if let Some(name) = &change.name {
            details["name"] = json!(name);
        }
        if let Some(scopes) = &change.scopes {
            let scopes: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
            details["scopes"] = json!(scopes);
        }
        record(
            transaction.as_mut(),
            user_event(
                "api_key.updated",
                Some(input.user_id),
                true,
                &input.request,
                details,
            ),
        )
        .await?;
        commit(transaction, &input.request).await?;
        Ok(key)
    }
}

/// Replaces a key's secret.
pub struct RotateApiKey {
    pub(crate) keys: KeyPorts,
}

impl RotateApiKey {
    /// A new secret for the caller's unrevoked key `id` (the old one stops working at once),
    /// recorded as `api_key.rotated`; name, scopes and expiry stay.
    ///
    /// # Errors
    /// `NotFound`; `Revoked` for a revoked key; `Fault`.
    #[tracing::instrument(name = "rotate_api_key", skip_all, fields(user = %user_id, key = %id))]
    pub async fn execute(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        request: &RequestInfo,
    ) -> Result<CreatedApiKey, ApiKeyError> {
        let mut random = [0_u8; 32];
        self.keys.ids.fill_bytes(&mut random);
        let token = ApiKeyToken::from_random(random);
        let mut transaction = self.keys.unit_of_work.begin().await?;
        let Some(key) = transaction
            .api_keys()
            .rotate(user_id, id, token.digest(), token.shown_prefix())
            .await?
        else {
            return Err(match transaction.api_keys().get(user_id, id).await? {
                Some(_) => ApiKeyError::Revoked,
                None => ApiKeyError::NotFound,
            });
        };
        record(
            transaction.as_mut(),
            user_event(
                "api_key.rotated",
                Some(user_id),
                true,
                request,
                key_details(&key),
            ),
        )
        .await?;
        commit(transaction, request).await?;
        Ok(CreatedApiKey { key, token })
    }
}

/// Revokes a key.
pub struct RevokeApiKey {
    pub(crate) keys: KeyPorts,
}

impl RevokeApiKey {
    /// Revokes the caller's key `id`, recorded as `api_key.revoked`; it fails from the next
    /// request. Revoking a revoked key answers it unchanged and records nothing.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    #[tracing::instrument(name = "revoke_api_key", skip_all, fields(user = %user_id, key = %id))]
    pub async fn execute(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        request: &RequestInfo,
    ) -> Result<ApiKey, ApiKeyError> {
        let mut transaction = self.keys.unit_of_work.begin().await?;
        let Some(key) = transaction.api_keys().revoke(user_id, id).await? else {
            return transaction
                .api_keys()
                .get(user_id, id)
                .await?
                .ok_or(ApiKeyError::NotFound);
        };
        record(
            transaction.as_mut(),
            user_event(
                "api_key.revoked",
                Some(user_id),
                true,
                request,
                key_details(&key),
            ),
        )
        .await?;
        commit(transaction, request).await?;
        Ok(key)
    }
}

/// Deletes a key.
pub struct DeleteApiKey {
    pub(crate) keys: KeyPorts,
}

impl DeleteApiKey {
    /// Deletes the caller's key `id`, recorded as `api_key.deleted`; it fails from the next
    /// request.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    #[tracing::instrument(name = "delete_api_key", skip_all, fields(user = %user_id, key = %id))]
    pub async fn execute(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        request: &RequestInfo,
    ) -> Result<(), ApiKeyError> {
        let mut transaction = self.keys.unit_of_work.begin().await?;
        if !transaction.api_keys().delete(user_id, id).await? {
            return Err(ApiKeyError::NotFound);
        }
        record(
            transaction.as_mut(),
            user_event(
                "api_key.deleted",
                Some(user_id),
                true,
                request,
                json!({ "apiKeyId": id.to_string() }),
            ),
        )
        .await?;
        commit(transaction, request).await?;
        Ok(())
    }
}
