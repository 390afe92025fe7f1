//! `MemoryUserRepository`: the `UserRepository` port in process memory, outside or inside a
//! memory transaction.

use std::{cmp::Reverse, collections::HashMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use twofa_domain::{
    Clock, NewUser, PasswordHash, PortError, Role, UniqueField, User, UserId, UserRepository,
    UserRepositoryError, canonical_login, clamp_user_list_limit,
};

use crate::{MemoryDatabase, memory_database::Scope};

/// Accounts in a map by id: the rules of the port, shared by the plain repository and the
/// transaction-bound one.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserTable {
    users: HashMap<UserId, User>,
}

impl UserTable {
    /// Stores `user` created at `now`, unless its e-mail address, username or id is taken.
    fn create(&mut self, user: NewUser, now: DateTime<Utc>) -> Result<User, UserRepositoryError> {
        let email = user.email.canonical();
        let username = user.username.canonical();
        if self.users.values().any(|u| u.email.canonical() == email) {
            return Err(UserRepositoryError::Conflict(UniqueField::Email));
        }
        if self
            .users
            .values()
            .any(|u| u.username.canonical() == username)
        {
            return Err(UserRepositoryError::Conflict(UniqueField::Username));
        }
        if self.users.contains_key(&user.id) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "creating a user: the id {} is taken",
                user.id
            ))
            .into());
        }
        let user = user.into_user(now);
        self.users.insert(user.id, user.clone());
        Ok(user)
    }

    /// The account whose canonical e-mail address or username is `login` (already canonical).
    fn find_by_login(&self, login: &str) -> Option<User> {
        self.users
            .values()
            .find(|u| u.email.canonical() == login || u.username.canonical() == login)
            .cloned()
    }

    /// Applies `change` to the account with `id` and sets its `updated_at` to `now`; whether
    /// it exists.
    fn change(&mut self, id: UserId, now: DateTime<Utc>, change: impl FnOnce(&mut User)) -> bool {
        self.users.get_mut(&id).is_some_and(|user| {
            change(user);
            user.updated_at = now;
            true
        })
    }

    /// At most `limit` accounts matching `needle` (already canonical), newest first, after
    /// the account `after`.
    fn list(&self, needle: Option<&str>, limit: usize, after: Option<UserId>) -> Vec<User> {
        let cursor = match after {
            Some(id) => match self.users.get(&id) {
                Some(user) => Some((user.created_at, user.id)),
                None => return Vec::new(),
            },
            None => None,
        };
        let mut page: Vec<&User> = self
            .users
            .values()
            .filter(|u| needle.is_none_or(|needle| matches(u, needle)))
            .filter(|u| cursor.is_none_or(|cursor| (u.created_at, u.id) < cursor))
            .collect();
        page.sort_by_key(|u| Reverse((u.created_at, u.id)));
        page.into_iter().take(limit).cloned().collect()
    }
}

/// Whether `user`'s e-mail address or username contains `needle` (already in lower case).
fn matches(user: &User, needle: &str) -> bool {
    user.email.canonical().contains(needle) || user.username.canonical().contains(needle)
}

/// Accounts in a [`MemoryDatabase`], or in a transaction's staged copy of them. The check and
/// the insert of `create` happen under one lock (and every write under the database's writer
/// lock), so of two concurrent creates with one e-mail address exactly one succeeds, also
/// across transactions.
pub struct MemoryUserRepository {
    scope: Scope,
}

impl MemoryUserRepository {
    /// No accounts, in a database of its own; timestamps from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Scope::Committed(MemoryDatabase::new(clock)))
    }

    /// The accounts of `scope`.
    pub(crate) fn over(scope: Scope) -> Self {
        Self { scope }
    }

    async fn change(
        &self,
        id: UserId,
        change: impl FnOnce(&mut User) + Send,
    ) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|users: &mut UserTable, now| users.change(id, now, change))
            .await)
    }
}

#[async_trait]
impl UserRepository for MemoryUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, UserRepositoryError> {
        self.scope
            .write(|users: &mut UserTable, now| users.create(user, now))
            .await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(self
            .scope
            .read(|users: &UserTable| users.users.get(&id).cloned())
            .await)
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<User>, PortError> {
        let login = canonical_login(login);
        Ok(self
            .scope
            .read(|users: &UserTable| users.find_by_login(&login))
            .await)
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
    ) -> Result<bool, PortError> {
        let hash = hash.clone();
        self.change(id, |user| user.password_hash = hash).await
    }

    async fn set_email_verified(&self, id: UserId, is_verified: bool) -> Result<bool, PortError> {
        self.change(id, |user| user.email_verified = is_verified)
            .await
    }

    async fn set_two_factor_enabled(
        &self,
        id: UserId,
        is_enabled: bool,
    ) -> Result<bool, PortError> {
        self.change(id, |user| user.two_factor_enabled = is_enabled)
            .await
    }

    async fn set_active(&self, id: UserId, is_active: bool) -> Result<bool, PortError> {
        self.change(id, |user| user.is_active = is_active).await
    }

    async fn set_role(&self, id: UserId, role: Role) -> Result<bool, PortError> {
        self.change(id, |user| user.role = role).await
    }

    async fn delete(&self, id: UserId) -> Result<bool, PortError> {
        Ok(self
            .scope
            .write(|users: &mut UserTable, _| users.users.remove(&id).is_some())
            .await)
    }

    async fn list(
        &self,
        query: Option<&str>,
        limit: u32,
        after: Option<UserId>,
    ) -> Result<Vec<User>, PortError> {
        let limit = usize::try_from(clamp_user_list_limit(limit)).unwrap_or(usize::MAX);
        let needle = query.map(canonical_login).filter(|q| !q.is_empty());
        Ok(self
            .scope
            .read(|users: &UserTable| users.list(needle.as_deref(), limit, after))
            .await)
    }
}
