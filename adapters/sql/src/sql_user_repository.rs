//! `SqlUserRepository`: the `UserRepository` port over the `users` table.
//!
//! Uniqueness is the database's: the unique indexes `users_email_key` and `users_username_key`
//! on the canonical (lower-case) columns. A create that breaks one is translated into
//! `Conflict(Email)` or `Conflict(Username)` (PostgreSQL names the index; SQLite names the
//! column), so two processes racing on one address cannot both win. Timestamps come from the
//! clock, to the microsecond as both databases keep them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DbErr, DeriveIden, QueryResult, RuntimeErr,
    sea_query::{Cond, Expr, ExprTrait as _, LikeExpr, Order, Query, SelectStatement, SimpleExpr},
    sqlx,
};
use twofa_domain::{
    Clock, EmailAddress, NewUser, PasswordHash, PortError, Role, UniqueField, User, UserId,
    UserRepository, UserRepositoryError, Username, canonical_login, clamp_user_list_limit,
};

use crate::{db_error::port_error, executor::Executor};

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailCanonical,
    Username,
    UsernameCanonical,
    PasswordHash,
    Role,
    EmailVerified,
    IsActive,
    TwoFactorEnabled,
    CreatedAt,
    UpdatedAt,
}

const COLUMNS: [Users; 12] = [
    Users::Id,
    Users::Email,
    Users::EmailCanonical,
    Users::Username,
    Users::UsernameCanonical,
    Users::PasswordHash,
    Users::Role,
    Users::EmailVerified,
    Users::IsActive,
    Users::TwoFactorEnabled,
    Users::CreatedAt,
    Users::UpdatedAt,
];

/// The unique index on `email_canonical`, and the column SQLite names instead.
const EMAIL_KEY: (&str, &str) = ("users_email_key", "users.email_canonical");
/// The unique index on `username_canonical`, and the column SQLite names instead.
const USERNAME_KEY: (&str, &str) = ("users_username_key", "users.username_canonical");

/// The `UserRepository` port over the `users` table, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlUserRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlUserRepository {
    /// Accounts in `connection`'s `users` table, stamped with `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Accounts read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Sets `column` to `value` and `updated_at` to now on the account with `id`; whether it
    /// exists.
    async fn change(
        &self,
        doing: &'static str,
        id: UserId,
        column: Users,
        value: SimpleExpr,
    ) -> Result<bool, PortError> {
        let update = Query::update()
            .table(Users::Table)
            .value(column, value)
            .value(Users::UpdatedAt, self.now())
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&update)
            .await
            .map_err(|error| port_error(doing, error))?;
        Ok(result.rows_affected() > 0)
    }

    /// The one account `select` finds, if any.
    async fn find_one(
        &self,
        doing: &'static str,
        select: &SelectStatement,
    ) -> Result<Option<User>, PortError> {
        self.executor
            .get()
            .query_one(select)
            .await
            .map_err(|error| port_error(doing, error))?
            .as_ref()
            .map(user)
            .transpose()
    }
}

/// Every column of the accounts, from `users`.
fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .to_owned()
}

/// The account in `row`.
fn user(row: &QueryResult) -> Result<User, PortError> {
    const DOING: &str = "reading a user";
    let get_err = |error| port_error(DOING, error);
    let corrupt = |what: String| PortError::Unexpected(anyhow::anyhow!(what).context(DOING));
    let email: String = row.try_get("", "email").map_err(get_err)?;
    let email = EmailAddress::parse(&email)
        .map_err(|error| corrupt(format!("stored e-mail address is invalid: {error}")))?;
    let username: String = row.try_get("", "username").map_err(get_err)?;
    let username = Username::parse(&username)
        .map_err(|error| corrupt(format!("stored username is invalid: {error}")))?;
    let role: String = row.try_get("", "role").map_err(get_err)?;
    let role = Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role `{role}`")))?;
    let id: uuid::Uuid = row.try_get("", "id").map_err(get_err)?;
    Ok(User {
        id: UserId::from_uuid(id),
        email,
        username,
        password_hash: PasswordHash::from_phc(row.try_get("", "password_hash").map_err(get_err)?),
        role,
        email_verified: row.try_get("", "email_verified").map_err(get_err)?,
        is_active: row.try_get("", "is_active").map_err(get_err)?,
        two_factor_enabled: row.try_get("", "two_factor_enabled").map_err(get_err)?,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
        updated_at: row.try_get("", "updated_at").map_err(get_err)?,
    })
}

/// The unique field `error` says was taken, if it is a unique violation on `users`.
fn taken_field(error: &DbErr) -> Option<UniqueField> {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) =
        error
    else {
        return None;
    };
    let sqlx::Error::Database(database) = error.as_ref() else {
        return None;
    };
    if !database.is_unique_violation() {
        return None;
    }
    let names = |(index, column): (&str, &str)| match database.constraint() {
        Some(constraint) => constraint == index,
        None => database.message().contains(column),
    };
    if names(EMAIL_KEY) {
        Some(UniqueField::Email)
    } else if names(USERNAME_KEY) {
        Some(UniqueField::Username)
    } else {
        None
    }
}

/// `text` for a `LIKE … ESCAPE '\'` pattern: `\`, `%` and `_` taken literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[async_trait]
impl UserRepository for SqlUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, UserRepositoryError> {
        const DOING: &str = "creating a user";
        let user = user.into_user(self.now());
        let insert = Query::insert()
            .into_table(Users::Table)
            .columns(COLUMNS)
            .values([
                user.id.as_uuid().into(),
                user.email.as_str().into(),
                user.email.canonical().into(),
                user.username.as_str().into(),
                user.username.canonical().into(),
                user.password_hash.as_phc().into(),
                user.role.as_str().into(),
                user.email_verified.into(),
                user.is_active.into(),
                user.two_factor_enabled.into(),
                user.created_at.into(),
                user.updated_at.into(),
            ])
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?
            .to_owned();
        match self.executor.get().execute(&insert).await {
            Ok(_) => Ok(user),
            Err(error) => Err(match taken_field(&error) {
                Some(field) => UserRepositoryError::Conflict(field),
                None => port_error(DOING, error).into(),
            }),
        }
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        let select = select()
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .to_owned();
        self.find_one("finding a user by id", &select).await
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<User>, PortError> {
        let login = canonical_login(login);
        let select = select()
            .cond_where(
                Cond::any()
                    .add(Expr::col(Users::EmailCanonical).eq(login.as_str()))
                    .add(Expr::col(Users::UsernameCanonical).eq(login.as_str())),
            )
            .limit(1)
            .to_owned();
        self.find_one("finding a user by login", &select).await
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
    ) -> Result<bool, PortError> {
        let hash = Expr::val(hash.as_phc());
        self.change("updating a password hash", id, Users::PasswordHash, hash)
            .await
    }

    async fn set_email_verified(&self, id: UserId, is_verified: bool) -> Result<bool, PortError> {
        let value = Expr::val(is_verified);
        self.change("marking an e-mail address", id, Users::EmailVerified, value)
            .await
    }

    async fn set_two_factor_enabled(
        &self,
        id: UserId,
        is_enabled: bool,
    ) -> Result<bool, PortError> {
        let value = Expr::val(is_enabled);
        self.change(
            "marking two-factor authentication",
            id,
            Users::TwoFactorEnabled,
            value,
        )
        .await
    }

    async fn set_active(&self, id: UserId, is_active: bool) -> Result<bool, PortError> {
        let value = Expr::val(is_active);
        self.change("activating a user", id, Users::IsActive, value)
            .await
    }

    async fn set_role(&self, id: UserId, role: Role) -> Result<bool, PortError> {
        let value = Expr::val(role.as_str());
        self.change("changing a role", id, Users::Role, value).await
    }

    async fn delete(&self, id: UserId) -> Result<bool, PortError> {
        let delete = Query::delete()
            .from_table(Users::Table)
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error("deleting a user", error))?;
        Ok(result.rows_affected() > 0)
    }

    async fn list(
        &self,
        query: Option<&str>,
        limit: u32,
        after: Option<UserId>,
    ) -> Result<Vec<User>, PortError> {
        const DOING: &str = "listing users";
        let mut select = select();
        if let Some(needle) = query.map(canonical_login).filter(|q| !q.is_empty()) {
            let pattern = format!("%{}%", escape_like(&needle));
            select.cond_where(
                Cond::any()
                    .add(
                        Expr::col(Users::EmailCanonical)
                            .like(LikeExpr::new(pattern.clone()).escape('\\')),
                    )
                    .add(
                        Expr::col(Users::UsernameCanonical)
                            .like(LikeExpr::new(pattern).escape('\\')),
                    ),
            );
        }
        if let Some(after) = after {
            let Some(cursor) = self.find_by_id(after).await? else {
                return Ok(Vec::new());
            };
            select.cond_where(
                Cond::any()
                    .add(Expr::col(Users::CreatedAt).lt(cursor.created_at))
                    .add(
                        Cond::all()
                            .add(Expr::col(Users::CreatedAt).eq(cursor.created_at))
                            .add(Expr::col(Users::Id).lt(cursor.id.as_uuid())),
                    ),
            );
        }
        select
            .order_by(Users::CreatedAt, Order::Desc)
            .order_by(Users::Id, Order::Desc)
            .limit(u64::from(clamp_user_list_limit(limit)));
        let rows = self
            .executor
            .get()
            .query_all(&select)
            .await
            .map_err(|error| port_error(DOING, error))?;
        rows.iter().map(user).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_query_are_taken_literally() {
        assert_eq!(escape_like("a_b%c\\d"), "a\\_b\\%c\\\\d");
        assert_eq!(escape_like("jane"), "jane");
    }

    #[test]
    fn an_error_that_is_not_a_unique_violation_names_no_field() {
        assert_eq!(taken_field(&DbErr::Custom("boom".to_owned())), None);
    }
}
