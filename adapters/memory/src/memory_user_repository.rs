//! `MemoryUserRepository`: the `UserRepository` port in process memory.

use std::{
    cmp::Reverse,
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use twofa_domain::{
    Clock, NewUser, PasswordHash, PortError, Role, UniqueField, User, UserId, UserRepository,
    UserRepositoryError, canonical_login, clamp_user_list_limit,
};

/// Accounts in a map by id. One lock covers the uniqueness check and the insert, so of two
/// concurrent creates with one e-mail address exactly one succeeds.
pub struct MemoryUserRepository {
    users: Mutex<HashMap<UserId, User>>,
    clock: Arc<dyn Clock>,
}

impl MemoryUserRepository {
    /// No accounts; timestamps from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// The clock's time to the microsecond, as the SQL databases keep it.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Applies `change` to the account with `id` and bumps its `updated_at`; whether it exists.
    fn change(&self, id: UserId, change: impl FnOnce(&mut User)) -> bool {
        let now = self.now();
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.get_mut(&id).is_some_and(|user| {
            change(user);
            user.updated_at = now;
            true
        })
    }
}

/// Whether `user`'s e-mail address or username contains `needle` (already in lower case).
fn matches(user: &User, needle: &str) -> bool {
    user.email.canonical().contains(needle) || user.username.canonical().contains(needle)
}

#[async_trait]
impl UserRepository for MemoryUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, UserRepositoryError> {
        let now = self.now();
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let email = user.email.canonical();
        let username = user.username.canonical();
        if users.values().any(|u| u.email.canonical() == email) {
            return Err(UserRepositoryError::Conflict(UniqueField::Email));
        }
        if users.values().any(|u| u.username.canonical() == username) {
            return Err(UserRepositoryError::Conflict(UniqueField::Username));
        }
        if users.contains_key(&user.id) {
            return Err(PortError::Unexpected(anyhow::anyhow!(
                "creating a user: the id {} is taken",
                user.id
            ))
            .into());
        }
        let user = user.into_user(now);
        users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(users.get(&id).cloned())
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<User>, PortError> {
        let login = canonical_login(login);
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(users
            .values()
            .find(|u| u.email.canonical() == login || u.username.canonical() == login)
            .cloned())
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
    ) -> Result<bool, PortError> {
        Ok(self.change(id, |user| user.password_hash = hash.clone()))
    }

    async fn set_email_verified(&self, id: UserId, is_verified: bool) -> Result<bool, PortError> {
        Ok(self.change(id, |user| user.email_verified = is_verified))
    }

    async fn set_active(&self, id: UserId, is_active: bool) -> Result<bool, PortError> {
        Ok(self.change(id, |user| user.is_active = is_active))
    }

    async fn set_role(&self, id: UserId, role: Role) -> Result<bool, PortError> {
        Ok(self.change(id, |user| user.role = role))
    }

    async fn delete(&self, id: UserId) -> Result<bool, PortError> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(users.remove(&id).is_some())
    }

    async fn list(
        &self,
        query: Option<&str>,
        limit: u32,
        after: Option<UserId>,
    ) -> Result<Vec<User>, PortError> {
        let limit = usize::try_from(clamp_user_list_limit(limit)).unwrap_or(usize::MAX);
        let needle = query.map(canonical_login).filter(|q| !q.is_empty());
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let cursor = match after {
            Some(id) => match users.get(&id) {
                Some(user) => Some((user.created_at, user.id)),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut page: Vec<&User> = users
            .values()
            .filter(|u| needle.as_deref().is_none_or(|needle| matches(u, needle)))
            .filter(|u| cursor.is_none_or(|cursor| (u.created_at, u.id) < cursor))
            .collect();
        page.sort_by_key(|u| Reverse((u.created_at, u.id)));
        Ok(page.into_iter().take(limit).cloned().collect())
    }
}
