//! Administration (API.md "API keys, webhooks, audit, admin"): the accounts an administrator
//! lists, searches, disables, enables, strips of their second factors and deletes, each change
//! committed with its audit event (the administrator as `actor`) and, where the event type is
//! one, its webhook event; and `CreateAdministrator`, the `twofa admin create` command.
//!
//! Only an active account of role `admin` passes [`Administration::require_admin`]; every
//! route calls it first, with an access token (no API key reaches `/api/admin`).

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    Actor, ActorKind, AuditDetails, EmailAddress, NewAuditEvent, NewUser, Password, PasswordHasher,
    Role, SecretGenerator, SessionCache, UnitOfWork, User, UserId, UserRepository,
    UserRepositoryError, Username, clamp_user_list_limit,
};

use crate::{
    auth::{
        EndedSessions, Fault, InvalidField, Principal, RequestInfo, commit, faults, overloaded,
    },
    webhook_events::record,
};

/// Why the caller may not administer.
#[derive(Debug, thiserror::Error)]
pub enum AdminAccessError {
    /// The caller's account is gone or disabled.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// The caller is not an administrator.
    #[error("only administrators may do this")]
    Forbidden,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why an administrative read or change of an account was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No account has the id.
    #[error("no such account")]
    NotFound,
    /// A filter is malformed.
    #[error("invalid input")]
    Invalid(Vec<InvalidField>),
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why disabling or deleting an account was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveAccountError {
    /// No account has the id.
    #[error("no such account")]
    NotFound,
    /// An administrator may not disable or delete their own account.
    #[error("an administrator cannot disable or delete their own account")]
    OwnAccount,
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// Why making an administrator was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateAdministratorError {
    /// A field breaks the sign-up rules.
    #[error("invalid input")]
    Invalid(Vec<InvalidField>),
    /// The e-mail address or username is taken.
    #[error("the e-mail address or username is taken")]
    Conflict(twofa_domain::UniqueField),
    /// The hashing pool is full.
    #[error("overloaded")]
    Overloaded {
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// The service's failure.
    #[error(transparent)]
    Fault(#[from] Fault),
}

faults!(
    AdminAccessError,
    AdminError,
    RemoveAccountError,
    CreateAdministratorError
);
overloaded!(CreateAdministratorError);

/// A page of accounts.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The accounts, newest first.
    pub items: Vec<User>,
    /// The cursor of the next page, when the page was full.
    pub next: Option<UserId>,
}

/// Every administrative use case over the accounts.
pub struct Administration {
    users: Arc<dyn UserRepository>,
    unit_of_work: Arc<dyn UnitOfWork>,
    ended: EndedSessions,
}

impl Administration {
    /// Over the stores; `access_ttl` is how long an ended session's "ended" answer is cached.
    pub fn new(
        users: Arc<dyn UserRepository>,
        unit_of_work: Arc<dyn UnitOfWork>,
        session_cache: Arc<dyn SessionCache>,
        access_ttl: std::time::Duration,
    ) -> Self {
        Self {
            users,
            unit_of_work,
            ended: EndedSessions::new(session_cache, access_ttl),
        }
    }

    /// The caller's account, when it is an active administrator's.
    ///
    /// # Errors
    /// `Unauthorized` for a gone or disabled account; `Forbidden` for another role; `Fault`.
    pub async fn require_admin(&self, principal: &Principal) -> Result<User, AdminAccessError> {
        match self.users.find_by_id(principal.user_id).await? {
            Some(user) if user.is_active && user.role == Role::Admin => Ok(user),
            Some(user) if user.is_active => Err(AdminAccessError::Forbidden),
            Some(_) | None => Err(AdminAccessError::Unauthorized),
        }
    }

    /// A page of accounts, newest first, whose e-mail address or username contains `query`
    /// (ignoring case); `limit` 1–200.
    ///
    /// # Errors
    /// `Invalid` for a query over 254 characters; `Fault`.
    pub async fn list_users(
        &self,
        query: Option<&str>,
        limit: u32,
        after: Option<UserId>,
    ) -> Result<UserPage, AdminError> {
        let query = query.map(str::trim).filter(|query| !query.is_empty());
        if query.is_some_and(|query| query.chars().count() > 254) {
            return Err(AdminError::Invalid(vec![InvalidField::new(
                "q",
                "must be at most 254 characters",
            )]));
        }
        let limit = clamp_user_list_limit(limit);
        let items = self.users.list(query, limit, after).await?;
        let next = (items.len() == usize::try_from(limit).unwrap_or(usize::MAX))
            .then(|| items.last().map(|user| user.id))
            .flatten();
        Ok(UserPage { items, next })
    }

    /// The account `id`.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    pub async fn get_user(&self, id: UserId) -> Result<User, AdminError> {
        self.users.find_by_id(id).await?.ok_or(AdminError::NotFound)
    }

    /// Disables the account `id`: it cannot sign in, every session ends and every API key stops
    /// from the next request; recorded as `user.disabled`.
    ///
    /// # Errors
    /// `NotFound`; `OwnAccount` for the caller's own account; `Fault`.
    #[tracing::instrument(name = "admin_disable_user", skip_all, fields(admin = %admin.id, user = %id))]
    pub async fn disable_user(
        &self,
        admin: &User,
        id: UserId,
        request: &RequestInfo,
    ) -> Result<User, RemoveAccountError> {
        if admin.id == id {
            return Err(RemoveAccountError::OwnAccount);
        }
        let mut transaction = self.unit_of_work.begin().await?;
        if !transaction.users().set_active(id, false).await? {
            return Err(RemoveAccountError::NotFound);
        }
        let ended = transaction.sessions().revoke_all(id, None).await?;
        record(
            transaction.as_mut(),
            admin_event(
                "user.disabled",
                admin,
                id,
                request,
                json!({ "sessionsEnded": ended.len() }),
            ),
        )
        .await?;
        let user = transaction
            .users()
            .find_by_id(id)
            .await?
            .ok_or(RemoveAccountError::NotFound)?;
        self.ended
            .end_and_commit(&ended, transaction, request)
            .await?;
        Ok(user)
    }

    /// Enables the account `id` again (its ended sessions stay ended); recorded as
    /// `user.enabled`.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    #[tracing::instrument(name = "admin_enable_user", skip_all, fields(admin = %admin.id, user = %id))]
    pub async fn enable_user(
        &self,
        admin: &User,
        id: UserId,
        request: &RequestInfo,
    ) -> Result<User, AdminError> {
        let mut transaction = self.unit_of_work.begin().await?;
        if !transaction.users().set_active(id, true).await? {
            return Err(AdminError::NotFound);
        }
        record(
            transaction.as_mut(),
            admin_event("user.enabled", admin, id, request, json!({})),
        )
        .await?;
        let user = transaction
            .users()
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)?;
        commit(transaction, request).await?;
        Ok(user)
    }

    /// Removes every second factor, backup code and trusted device of the account `id` (it
    /// signs in with its password alone until it enrols again); recorded as `2fa.disabled`.
    ///
    /// # Errors
    /// `NotFound`, `Fault`.
    #[tracing::instrument(name = "admin_reset_2fa", skip_all, fields(admin = %admin.id, user = %id))]
    pub async fn reset_two_factor(
        &self,
        admin: &User,
        id: UserId,
        request: &RequestInfo,
    ) -> Result<User, AdminError> {
        let mut transaction = self.unit_of_work.begin().await?;
        if !transaction
            .users()
            .set_two_factor_enabled(id, false)
            .await?
        {
            return Err(AdminError::NotFound);
        }
        let factors = transaction.factors().remove_all(id).await?;
        let codes = transaction.backup_codes().remove_all(id).await?;
        let devices = transaction.devices().revoke_all(id).await?;
        record(
            transaction.as_mut(),
            admin_event(
                "2fa.disabled",
                admin,
                id,
                request,
                json!({
                    "all": true,
                    "factors": factors,
                    "backupCodes": codes,
                    "devices": devices,
                }),
            ),
        )
        .await?;
        let user = transaction
            .users()
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)?;
        commit(transaction, request).await?;
        Ok(user)
    }

    /// Deletes the account `id` with everything it owns: every access token and API key of it
    /// fails from the next request; recorded as `user.deleted` (the trail stays).
    ///
    /// # Errors
    /// `NotFound`; `OwnAccount` for the caller's own account; `Fault`.
    #[tracing::instrument(name = "admin_delete_user", skip_all, fields(admin = %admin.id, user = %id))]
    pub async fn delete_user(
        &self,
        admin: &User,
        id: UserId,
        request: &RequestInfo,
    ) -> Result<(), RemoveAccountError> {
        if admin.id == id {
            return Err(RemoveAccountError::OwnAccount);
        }
        let mut transaction = self.unit_of_work.begin().await?;
        let ended = transaction.sessions().revoke_all(id, None).await?;
        if !transaction.users().delete(id).await? {
            return Err(RemoveAccountError::NotFound);
        }
        record(
            transaction.as_mut(),
            admin_event("user.deleted", admin, id, request, json!({})),
        )
        .await?;
        self.ended
            .end_and_commit(&ended, transaction, request)
            .await?;
        Ok(())
    }
}

/// An audit event of `action` about the account `subject`, done by `admin`.
fn admin_event(
    action: &str,
    admin: &User,
    subject: UserId,
    request: &RequestInfo,
    details: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        user_id: Some(subject),
        ip: request.ip,
        user_agent: request.user_agent.clone(),
        details: AuditDetails::new(details),
        ..NewAuditEvent::new(
            action,
            Actor {
                kind: ActorKind::Admin,
                id: Some(admin.id.to_string()),
            },
            true,
        )
    }
}

/// What `twofa admin create` takes.
#[derive(Clone)]
pub struct CreateAdministratorInput {
    /// The e-mail address.
    pub email: String,
    /// The username.
    pub username: String,
    /// The password (read from a prompt or standard input, never an argument).
    pub password: String,
}

impl std::fmt::Debug for CreateAdministratorInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateAdministratorInput")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Makes an administrator account.
pub struct CreateAdministrator {
    hasher: Arc<dyn PasswordHasher>,
    unit_of_work: Arc<dyn UnitOfWork>,
    ids: Arc<dyn SecretGenerator>,
}

impl CreateAdministrator {
    /// Over the stores.
    pub fn new(
        hasher: Arc<dyn PasswordHasher>,
        unit_of_work: Arc<dyn UnitOfWork>,
        ids: Arc<dyn SecretGenerator>,
    ) -> Self {
        Self {
            hasher,
            unit_of_work,
            ids,
        }
    }

    /// A new active account of role `admin` with a verified address (the operator vouches for
    /// it), recorded as `admin.created` by the system.
    ///
    /// # Errors
    /// `Invalid` under the sign-up rules; `Conflict` for a taken address or username; `Fault`.
    pub async fn execute(
        &self,
        input: CreateAdministratorInput,
    ) -> Result<User, CreateAdministratorError> {
        let mut invalid = Vec::new();
        let email = EmailAddress::parse(&input.email)
            .map_err(|error| invalid.push(InvalidField::new("email", error.to_string())))
            .ok();
        let username = Username::parse(&input.username)
            .map_err(|error| invalid.push(InvalidField::new("username", error.to_string())))
            .ok();
        let password = Password::new(input.password)
            .map_err(|error| invalid.push(InvalidField::new("password", error.to_string())))
            .ok();
        let (Some(email), Some(username), Some(password)) = (email, username, password) else {
            return Err(CreateAdministratorError::Invalid(invalid));
        };
        let password_hash = self.hasher.hash(&password).await?;
        let mut new = NewUser::new(
            UserId::from_uuid(self.ids.uuid_v4()),
            email,
            username,
            password_hash,
        );
        new.role = Role::Admin;
        new.email_verified = true;
        let mut transaction = self.unit_of_work.begin().await?;
        let user = transaction
            .users()
            .create(new)
            .await
            .map_err(|error| match error {
                UserRepositoryError::Conflict(field) => CreateAdministratorError::Conflict(field),
                UserRepositoryError::Port(error) => error.into(),
            })?;
        transaction
            .audit(NewAuditEvent {
                user_id: Some(user.id),
                details: AuditDetails::new(json!({
                    "email": user.email.masked(),
                    "username": user.username.as_str(),
                })),
                ..NewAuditEvent::new("admin.created", Actor::system(), true)
            })
            .await?;
        transaction.commit().await?;
        Ok(user)
    }
}
