//! `MemoryApiKeyRepository`: the `ApiKeyRepository` port in process memory, outside or inside
//! a memory transaction.

use std::{cmp::Reverse, collections::HashMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use twofa_domain::{
    ApiKey, ApiKeyChange, ApiKeyId, ApiKeyRepository, Clock, NewApiKey, PortError, SecretDigest,
    UserId, normalized_scopes,
};

use crate::{MemoryDatabase, memory_database::Scope};

/// A key as kept: the key and its hash.
#[derive(Debug, Clone)]
struct StoredApiKey {
    key: ApiKey,
    key_hash: SecretDigest,
}

/// Keys in a map by id: the rules of the port, shared by the plain repository and the
/// transaction-bound one. Scopes are kept normalized and times to the microsecond, as the SQL
/// adapter stores them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApiKeyTable {
    keys: HashMap<ApiKeyId, StoredApiKey>,
}

impl ApiKeyTable {
    /// Stores `key`, made at `now`, unless its id or hash is already stored; answers it.
    fn add(&mut self, key: NewApiKey, now: DateTime<Utc>) -> Result<ApiKey, PortError> {
        if self.keys.contains_key(&key.id)
            || self
                .keys
                .values()
                .any(|stored| stored.key_hash == key.key_hash)
        {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "adding an API key: the id or the key hash is already stored"
            )));
        }
        let made = ApiKey {
            id: key.id,
            user_id: key.user_id,
            name: key.name,
            prefix: key.prefix,
            scopes: normalized_scopes(key.scopes),
            expires_at: key.expires_at.map(|expires_at| expires_at.trunc_subsecs(6)),
            last_used_at: None,
            created_at: now,
            revoked_at: None,
        };
        self.keys.insert(
            key.id,
            StoredApiKey {
                key: made.clone(),
                key_hash: key.key_hash,
            },
        );
        Ok(made)
    }

    /// The key whose hash is `key_hash`, whoever's.
    fn find_by_hash(&self, key_hash: &SecretDigest) -> Option<ApiKey> {
        self.keys
            .values()
            .find(|stored| stored.key_hash == *key_hash)
            .map(|stored| stored.key.clone())
    }

    /// The user's key `id`, to change.
    fn of_user(&mut self, user_id: UserId, id: ApiKeyId) -> Option<&mut StoredApiKey> {
        self.keys
            .get_mut(&id)
            .filter(|stored| stored.key.user_id == user_id)
    }

    /// The user's unrevoked key `id`, to change.
    fn unrevoked_of_user(&mut self, user_id: UserId, id: ApiKeyId) -> Option<&mut StoredApiKey> {
        self.of_user(user_id, id)
            .filter(|stored| stored.key.revoked_at.is_none())
    }

    /// The user's keys, newest first.
    fn list(&self, user_id: UserId) -> Vec<ApiKey> {
        let mut keys: Vec<ApiKey> = self
            .keys
            .values()
            .map(|stored| &stored.key)
            .filter(|key| key.user_id == user_id)
            .cloned()
            .collect();
        keys.sort_by_key(|key| Reverse((key.created_at, key.id)));
        keys
    }

    /// Applies `change` to the user's key `id`; the key as changed.
    fn update(&mut self, user_id: UserId, id: ApiKeyId, change: ApiKeyChange) -> Option<ApiKey> {
        let stored = self.of_user(user_id, id)?;
        if let Some(name) = change.name {
            stored.key.name = name;
        }
        if let Some(scopes) = change.scopes {
            stored.key.scopes = normalized_scopes(scopes);
        }
        Some(stored.key.clone())
    }

    /// Replaces the hash and prefix of the user's unrevoked key `id`, unless another key has
    /// that hash; the key as rotated.
    fn rotate(
        &mut self,
        user_id: UserId,
        id: ApiKeyId,
        key_hash: SecretDigest,
        prefix: String,
    ) -> Result<Option<ApiKey>, PortError> {
        if self.unrevoked_of_user(user_id, id).is_none() {
            return Ok(None);
        }
        if self
            .keys
            .values()
            .any(|stored| stored.key.id != id && stored.key_hash == key_hash)
        {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "rotating an API key: the key hash is already stored"
            )));
        }
        Ok(self.unrevoked_of_user(user_id, id).map(|stored| {
            stored.key_hash = key_hash;
            stored.key.prefix = prefix;
            stored.key.clone()
        }))
    }

    /// Revokes the user's unrevoked key `id` at `now`; the key as revoked.
    fn revoke(&mut self, user_id: UserId, id: ApiKeyId, now: DateTime<Utc>) -> Option<ApiKey> {
        self.unrevoked_of_user(user_id, id).map(|stored| {
            stored.key.revoked_at = Some(now);
            stored.key.clone()
        })
    }

    /// Deletes the user's key `id`; whether one existed.
    fn delete(&mut self, user_id: UserId, id: ApiKeyId) -> bool {
        if self.of_user(user_id, id).is_none() {
            return false;
        }
        self.keys.remove(&id).is_some()
    }

    /// Sets key `id`'s `last_used_at` to `used_at` when unset or before `stale_before`;
    /// whether it did.
    fn touch(&mut self, id: ApiKeyId, used_at: DateTime<Utc>, stale_before: DateTime<Utc>) -> bool {
        let Some(stored) = self.keys.get_mut(&id) else {
            return false;
        };
        if stored
            .key
            .last_used_at
            .is_some_and(|last_used_at| last_used_at >= stale_before)
        {
            return false;
        }
        stored.key.last_used_at = Some(used_at);
        true
    }
}

/// API keys in a [`MemoryDatabase`], or in a transaction's staged copy of them.
pub struct MemoryApiKeyRepository {
    scope: Scope,
}

impl MemoryApiKeyRepository {
    /// No keys, in a database of its own; time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The API keys of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }
}

#[async_trait]
impl ApiKeyRepository for MemoryApiKeyRepository {
    async fn add(&self, key: NewApiKey) -> Result<ApiKey, PortError> {
        self.scope
            .write(|table: &mut ApiKeyTable, now| table.add(key, now))
            .await
    }

    async fn find_by_hash(&self, key_hash: &SecretDigest) -> Result<Option<ApiKey>, PortError> {
        Ok(self
            .scope
            .read(|table: &ApiKeyTable| table.find_by_hash(key_hash))
            .await)
    }

    async fn get(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, PortError> {
        Ok(self
            .scope
            .read(|table: &ApiKeyTable| {
                table
                    .keys
                    .get(&id)
                    .filter(|stored| stored.key.user_id == user_id)
                    .map(|stored| stored.key.clone())
            })
            .await)
    }

    async fn list(&self, user_id: UserId) -> Result<Vec<ApiKey>, PortError> {
        Ok(self
            .scope
            .read(|table: &ApiKeyTable| table.list(user_id))
            .await)
    }

    async fn update(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        change: ApiKeyChange,
    ) -> Result<Option<ApiKey>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut ApiKeyTable, _| table.update(user_id, id, change))
            .await)
    }

    async fn rotate(
        &self,
        user_id: UserId,
        id: ApiKeyId,
        key_hash: SecretDigest,
        prefix: String,
    ) -> Result<Option<ApiKey>, PortError> {
        self.scope
            .write(|table: &mut ApiKeyTable, _| table.rotate(user_id, id, key_hash, prefix))
            .await
    }

    async fn revoke(&self, user_id: UserId, id: ApiKeyId) -> Result<Option<ApiKey>, PortError> {
        Ok(self
            .scope
            .write(|table: &mut ApiKeyTable, now| table.revoke(user_id, id, now))
            .await)
    }

    async fn delete(&self, user_id: UserId, id: ApiKeyId) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|table: &mut ApiKeyTable, _| table.delete(user_id, id))
            .await)
    }

    async fn touch(
        &self,
        id: ApiKeyId,
        used_at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let (used_at, stale_before) = (used_at.trunc_subsecs(6), stale_before.trunc_subsecs(6));
        Ok(self
            .scope
            .write(|table: &mut ApiKeyTable, _| table.touch(id, used_at, stale_before))
            .await)
    }
}
