//! API keys (API.md "API keys, webhooks, audit, admin"): a user makes keys for their programs,
//! each allowed only the routes its scopes name; a key is shown once and kept only as its
//! SHA-256. `AuthenticateApiKey` turns a presented key into a [`Principal`] on every request,
//! reading the store each time (the `crate::auth::Principal` it answers names the key), so revocation, deletion and scope changes hold from the next
//! request on every instance.

mod authenticate_api_key;
mod manage;

use std::sync::Arc;

use twofa_domain::{ApiKeyRepository, Clock, SecretGenerator, UnitOfWork};

pub use self::{
    authenticate_api_key::AuthenticateApiKey,
    manage::{
        ApiKeyError, CreateApiKey, CreateApiKeyInput, CreatedApiKey, DeleteApiKey, GetApiKey,
        ListApiKeys, RevokeApiKey, RotateApiKey, UpdateApiKey, UpdateApiKeyInput,
    },
};
use crate::auth::{AuthPolicy, AuthPorts};

/// Every API-key use case.
pub struct ApiKeys {
    /// Makes a key.
    pub create: CreateApiKey,
    /// The caller's keys.
    pub list: ListApiKeys,
    /// One of the caller's keys.
    pub get: GetApiKey,
    /// Renames a key or changes its scopes.
    pub update: UpdateApiKey,
    /// Replaces a key's secret.
    pub rotate: RotateApiKey,
    /// Revokes a key.
    pub revoke: RevokeApiKey,
    /// Deletes a key.
    pub delete: DeleteApiKey,
    /// The per-request key check.
    pub authenticate: AuthenticateApiKey,
}

impl ApiKeys {
    /// Every use case over `ports`, following `policy`.
    pub fn new(ports: &AuthPorts, policy: &AuthPolicy) -> Self {
        let keys = KeyPorts {
            api_keys: ports.api_keys.clone(),
            unit_of_work: ports.unit_of_work.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        };
        Self {
            create: CreateApiKey { keys: keys.clone() },
            list: ListApiKeys { keys: keys.clone() },
            get: GetApiKey { keys: keys.clone() },
            update: UpdateApiKey { keys: keys.clone() },
            rotate: RotateApiKey { keys: keys.clone() },
            revoke: RevokeApiKey { keys: keys.clone() },
            delete: DeleteApiKey { keys },
            authenticate: AuthenticateApiKey::new(
                ports.api_keys.clone(),
                ports.users.clone(),
                ports.limiter.clone(),
                ports.clock.clone(),
                policy.limits.per_api_key,
            ),
        }
    }
}

/// What the managing use cases share.
#[derive(Clone)]
pub(crate) struct KeyPorts {
    pub(crate) api_keys: Arc<dyn ApiKeyRepository>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn SecretGenerator>,
}
