//! `SqlSessionRepository`: the `SessionRepository` port over the `sessions` and
//! `refresh_tokens` tables.
//!
//! A rotation is one transaction: it reads the presented token's row joined with its session
//! `FOR UPDATE` (PostgreSQL; SQLite serialises writers, and the transaction begins
//! `IMMEDIATE`, so it holds the write lock from the start), decides, writes and commits. Of
//! two processes rotating one token, the second waits for the first and then sees the token
//! rotated (and, for a third, its grace used). The write that consumes the token is
//! conditional besides (`rotated_at IS NULL` for a current token, `grace_used_at IS NULL` for
//! one honoured under the grace) and its row count is checked, so a token is never honoured
//! twice the same way even were the lock missing. Inside a unit of work's transaction the
//! rotation is a savepoint of it: the row lock is held until the outer transaction ends, and
//! the rotation commits or rolls back with it. Timestamps come from the clock, to the
//! microsecond as both databases keep them.

use std::{net::IpAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DeriveIden, QueryResult,
    sea_query::{
        Cond, Expr, ExprTrait as _, InsertStatement, LockType, Order, Query, SelectStatement,
        UpdateStatement,
    },
};
use twofa_domain::{
    Clock, NewSession, PortError, PresentedToken, RefreshTokenHash, RotateOutcome, Session,
    SessionId, SessionRepository, UserId, is_within_grace,
};

use crate::{db_error::port_error, executor::Executor};

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    UserId,
    Amr,
    Ip,
    UserAgent,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    IssuedAt,
    RotatedAt,
    GraceUsedAt,
}

const COLUMNS: [Sessions; 9] = [
    Sessions::Id,
    Sessions::UserId,
    Sessions::Amr,
    Sessions::Ip,
    Sessions::UserAgent,
    Sessions::CreatedAt,
    Sessions::LastUsedAt,
    Sessions::ExpiresAt,
    Sessions::RevokedAt,
];

/// The `SessionRepository` port over PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlSessionRepository {
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl SqlSessionRepository {
    /// Sessions in `connection`'s `sessions` and `refresh_tokens` tables, stamped with
    /// `clock`'s time.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self::on(Executor::Pool(connection), clock)
    }

    /// Sessions read and written through `executor` (a unit of work's transaction).
    pub(crate) fn on(executor: Executor, clock: Arc<dyn Clock>) -> Self {
        Self { executor, clock }
    }

    /// The clock's time to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Writes the sessions this unit of work created and deferred, so a statement about to
    /// run sees them.
    async fn settle(&self, doing: &'static str) -> Result<(), PortError> {
        self.executor
            .write_deferred()
            .await
            .map_err(|error| port_error(doing, error))
    }

    /// A transaction that holds SQLite's write lock from its start; a savepoint when the
    /// repository works inside a unit of work's transaction.
    async fn begin(&self, doing: &'static str) -> Result<DatabaseTransaction, PortError> {
        self.executor
            .begin_immediate()
            .await
            .map_err(|error| port_error(doing, error))
    }
}

/// Every column of the sessions, from `sessions`.
fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Sessions::Table)
        .to_owned()
}

/// A hash as the `token_hash` column holds it.
fn hash_value(hash: RefreshTokenHash) -> sea_orm::Value {
    hash.as_bytes().to_vec().into()
}

/// The session in `row`.
fn session(row: &QueryResult) -> Result<Session, PortError> {
    const DOING: &str = "reading a session";
    let get_err = |error| port_error(DOING, error);
    let corrupt = |what: String| PortError::Unexpected(anyhow::anyhow!(what).context(DOING));
    let id: uuid::Uuid = row.try_get("", "id").map_err(get_err)?;
    let user_id: uuid::Uuid = row.try_get("", "user_id").map_err(get_err)?;
    let amr: String = row.try_get("", "amr").map_err(get_err)?;
    let amr = serde_json::from_str(&amr)
        .map_err(|error| corrupt(format!("stored amr is not a list of strings: {error}")))?;
    let ip: Option<String> = row.try_get("", "ip").map_err(get_err)?;
    let ip = ip
        .map(|ip| ip.parse::<IpAddr>())
        .transpose()
        .map_err(|error| corrupt(format!("stored ip is invalid: {error}")))?;
    Ok(Session {
        id: SessionId::from_uuid(id),
        user_id: UserId::from_uuid(user_id),
        amr,
        ip,
        user_agent: row.try_get("", "user_agent").map_err(get_err)?,
        created_at: row.try_get("", "created_at").map_err(get_err)?,
        last_used_at: row.try_get("", "last_used_at").map_err(get_err)?,
        expires_at: row.try_get("", "expires_at").map_err(get_err)?,
        revoked_at: row.try_get("", "revoked_at").map_err(get_err)?,
    })
}

/// Inserts `hash` as a current token of `session`, issued at `now`.
async fn insert_token(
    connection: &impl ConnectionTrait,
    doing: &'static str,
    hash: RefreshTokenHash,
    session: SessionId,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    connection
        .execute(&token_insert(doing, hash, session, now)?)
        .await
        .map_err(|error| port_error(doing, error))?;
    Ok(())
}

/// `INSERT INTO refresh_tokens …` of one token.
fn token_insert(
    doing: &'static str,
    hash: RefreshTokenHash,
    session: SessionId,
    now: DateTime<Utc>,
) -> Result<InsertStatement, PortError> {
    Ok(Query::insert()
        .into_table(RefreshTokens::Table)
        .columns([
            RefreshTokens::TokenHash,
            RefreshTokens::SessionId,
            RefreshTokens::IssuedAt,
        ])
        .values([
            hash_value(hash).into(),
            session.as_uuid().into(),
            now.into(),
        ])
        .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(doing)))?
        .to_owned())
}

/// Runs `statement` inside `transaction`.
async fn run(
    transaction: &DatabaseTransaction,
    doing: &'static str,
    statement: &UpdateStatement,
) -> Result<(), PortError> {
    transaction
        .execute(statement)
        .await
        .map_err(|error| port_error(doing, error))?;
    Ok(())
}

/// Runs `statement` inside `transaction`; whether it changed a row.
async fn run_if(
    transaction: &DatabaseTransaction,
    doing: &'static str,
    statement: &UpdateStatement,
) -> Result<bool, PortError> {
    let result = transaction
        .execute(statement)
        .await
        .map_err(|error| port_error(doing, error))?;
    Ok(result.rows_affected() > 0)
}

/// The write that consumes the presented token, from what its row held: as the current token
/// (it is rotated now), or as one rotated within the grace and not yet honoured under it (its
/// grace is used now); `None` when it may not be consumed (reuse). Either write changes the
/// row only if it still holds what was read (the column it sets is `NULL`).
fn consume(
    presented: RefreshTokenHash,
    rotated_at: Option<DateTime<Utc>>,
    grace_used_at: Option<DateTime<Utc>>,
    grace: Duration,
    now: DateTime<Utc>,
) -> Option<UpdateStatement> {
    let column = match (rotated_at, grace_used_at) {
        (None, _) => RefreshTokens::RotatedAt,
        (Some(rotated_at), None) if is_within_grace(rotated_at, now, grace) => {
            RefreshTokens::GraceUsedAt
        }
        (Some(_), _) => return None,
    };
    Some(
        Query::update()
            .table(RefreshTokens::Table)
            .value(column, now)
            .and_where(Expr::col(RefreshTokens::TokenHash).eq(hash_value(presented)))
            .and_where(Expr::col(column).is_null())
            .to_owned(),
    )
}

/// Rolls back `transaction`, which changed nothing, and answers `outcome`. (Dropping it would
/// too, but lazily: inside a unit of work, only when the next statement runs.)
async fn end_unchanged(
    transaction: DatabaseTransaction,
    doing: &'static str,
    outcome: RotateOutcome,
) -> Result<RotateOutcome, PortError> {
    transaction
        .rollback()
        .await
        .map_err(|error| port_error(doing, error))?;
    Ok(outcome)
}

#[async_trait]
impl SessionRepository for SqlSessionRepository {
    async fn create(
        &self,
        session: NewSession,
        first: RefreshTokenHash,
    ) -> Result<Session, PortError> {
        const DOING: &str = "creating a session";
        let session = session.into_session(self.now());
        let amr = serde_json::to_string(&session.amr)
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
        let insert = Query::insert()
            .into_table(Sessions::Table)
            .columns(COLUMNS)
            .values([
                session.id.as_uuid().into(),
                session.user_id.as_uuid().into(),
                amr.into(),
                session.ip.map(|ip| ip.to_string()).into(),
                session.user_agent.clone().into(),
                session.created_at.into(),
                session.last_used_at.into(),
                session.expires_at.into(),
                session.revoked_at.into(),
            ])
            .map_err(|error| PortError::Unexpected(anyhow::Error::new(error).context(DOING)))?
            .to_owned();
        // Inside a unit of work's transaction the two inserts wait for its commit, and go with
        // its events and jobs (one statement on PostgreSQL); a failure fails the commit, which
        // rolls back whole. This repository's other methods write them first, so they see the
        // session.
        if let Executor::Transaction(_, deferred) = &self.executor {
            deferred.push(insert);
            deferred.push(token_insert(DOING, first, session.id, session.created_at)?);
            return Ok(session);
        }
        let transaction = self.begin(DOING).await?;
        transaction
            .execute(&insert)
            .await
            .map_err(|error| port_error(DOING, error))?;
        insert_token(&transaction, DOING, first, session.id, session.created_at).await?;
        transaction
            .commit()
            .await
            .map_err(|error| port_error(DOING, error))?;
        Ok(session)
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, PortError> {
        const DOING: &str = "finding a session";
        self.settle(DOING).await?;
        let select = select()
            .and_where(Expr::col(Sessions::Id).eq(id.as_uuid()))
            .to_owned();
        self.executor
            .get()
            .query_one(&select)
            .await
            .map_err(|error| port_error(DOING, error))?
            .as_ref()
            .map(session)
            .transpose()
    }

    async fn find_by_refresh_token(
        &self,
        presented: RefreshTokenHash,
    ) -> Result<Option<PresentedToken>, PortError> {
        const DOING: &str = "finding a refresh token";
        self.settle(DOING).await?;
        let lookup = token_lookup(presented);
        let Some(row) = self
            .executor
            .get()
            .query_one(&lookup)
            .await
            .map_err(|error| port_error(DOING, error))?
        else {
            return Ok(None);
        };
        let rotated_at: Option<DateTime<Utc>> = row
            .try_get("", "rotated_at")
            .map_err(|error| port_error(DOING, error))?;
        Ok(Some(PresentedToken {
            session: session(&row)?,
            rotated_at,
        }))
    }

    async fn rotate(
        &self,
        presented: RefreshTokenHash,
        next: RefreshTokenHash,
        grace: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<RotateOutcome, PortError> {
        const DOING: &str = "rotating a refresh token";
        self.settle(DOING).await?;
        let now = self.now();
        let transaction = self.begin(DOING).await?;
        let lookup = token_lookup(presented).lock(LockType::Update).to_owned();
        let Some(row) = transaction
            .query_one(&lookup)
            .await
            .map_err(|error| port_error(DOING, error))?
        else {
            return end_unchanged(transaction, DOING, RotateOutcome::NotFound).await;
        };
        let mut found = session(&row)?;
        let rotated_at: Option<DateTime<Utc>> = row
            .try_get("", "rotated_at")
            .map_err(|error| port_error(DOING, error))?;
        let grace_used_at: Option<DateTime<Utc>> = row
            .try_get("", "grace_used_at")
            .map_err(|error| port_error(DOING, error))?;
        if !found.is_active(now) {
            return end_unchanged(transaction, DOING, RotateOutcome::Inactive).await;
        }
        let session_row = Expr::col(Sessions::Id).eq(found.id.as_uuid());
        // The token is consumed only by a write that finds it still unconsumed that way; one
        // that finds it consumed already (impossible under the row lock) is reuse, the safe
        // answer.
        let is_consumed = match consume(presented, rotated_at, grace_used_at, grace, now) {
            Some(update) => run_if(&transaction, DOING, &update).await?,
            None => false,
        };
        if !is_consumed {
            let revoke = Query::update()
                .table(Sessions::Table)
                .value(Sessions::RevokedAt, now)
                .and_where(session_row)
                .to_owned();
            run(&transaction, DOING, &revoke).await?;
            transaction
                .commit()
                .await
                .map_err(|error| port_error(DOING, error))?;
            found.revoked_at = Some(now);
            return Ok(RotateOutcome::Reused(found));
        }
        insert_token(&transaction, DOING, next, found.id, now).await?;
        let touch = Query::update()
            .table(Sessions::Table)
            .value(Sessions::LastUsedAt, now)
            .value(Sessions::ExpiresAt, expires_at)
            .and_where(session_row)
            .to_owned();
        run(&transaction, DOING, &touch).await?;
        transaction
            .commit()
            .await
            .map_err(|error| port_error(DOING, error))?;
        found.last_used_at = now;
        found.expires_at = expires_at;
        Ok(RotateOutcome::Rotated(found))
    }

    async fn revoke(&self, user: UserId, id: SessionId) -> Result<bool, PortError> {
        const DOING: &str = "revoking a session";
        self.settle(DOING).await?;
        let update = Query::update()
            .table(Sessions::Table)
            .value(Sessions::RevokedAt, self.now())
            .and_where(Expr::col(Sessions::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Sessions::UserId).eq(user.as_uuid()))
            .and_where(Expr::col(Sessions::RevokedAt).is_null())
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&update)
            .await
            .map_err(|error| port_error(DOING, error))?;
        Ok(result.rows_affected() > 0)
    }

    async fn revoke_all(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<Vec<SessionId>, PortError> {
        const DOING: &str = "revoking a user's sessions";
        self.settle(DOING).await?;
        let now = self.now();
        let mut filter = Cond::all()
            .add(Expr::col(Sessions::UserId).eq(user.as_uuid()))
            .add(Expr::col(Sessions::RevokedAt).is_null())
            .add(Expr::col(Sessions::ExpiresAt).gt(now));
        if let Some(except) = except {
            filter = filter.add(Expr::col(Sessions::Id).ne(except.as_uuid()));
        }
        let update = Query::update()
            .table(Sessions::Table)
            .value(Sessions::RevokedAt, now)
            .cond_where(filter)
            .returning_col(Sessions::Id)
            .to_owned();
        let rows = self
            .executor
            .get()
            .query_all(&update)
            .await
            .map_err(|error| port_error(DOING, error))?;
        rows.iter()
            .map(|row| {
                row.try_get::<uuid::Uuid>("", "id")
                    .map(SessionId::from_uuid)
                    .map_err(|error| port_error(DOING, error))
            })
            .collect()
    }

    async fn list_active(&self, user: UserId) -> Result<Vec<Session>, PortError> {
        const DOING: &str = "listing a user's sessions";
        self.settle(DOING).await?;
        let select = select()
            .and_where(Expr::col(Sessions::UserId).eq(user.as_uuid()))
            .and_where(Expr::col(Sessions::RevokedAt).is_null())
            .and_where(Expr::col(Sessions::ExpiresAt).gt(self.now()))
            .order_by(Sessions::CreatedAt, Order::Desc)
            .order_by(Sessions::Id, Order::Desc)
            .to_owned();
        let rows = self
            .executor
            .get()
            .query_all(&select)
            .await
            .map_err(|error| port_error(DOING, error))?;
        rows.iter().map(session).collect()
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64, PortError> {
        const DOING: &str = "purging ended sessions";
        self.settle(DOING).await?;
        // The tokens go with their sessions: `refresh_tokens_session_id_fkey` cascades.
        let delete = Query::delete()
            .from_table(Sessions::Table)
            .cond_where(
                Cond::any()
                    .add(Expr::col(Sessions::ExpiresAt).lt(before))
                    .add(Expr::col(Sessions::RevokedAt).lt(before)),
            )
            .to_owned();
        let result = self
            .executor
            .get()
            .execute(&delete)
            .await
            .map_err(|error| port_error(DOING, error))?;
        Ok(result.rows_affected())
    }
}

/// `SELECT s.*, t.rotated_at, t.grace_used_at FROM refresh_tokens t JOIN sessions s ON
/// s.id = t.session_id WHERE t.token_hash = $1`.
fn token_lookup(presented: RefreshTokenHash) -> SelectStatement {
    Query::select()
        .columns(COLUMNS.map(|column| (Sessions::Table, column)))
        .column((RefreshTokens::Table, RefreshTokens::RotatedAt))
        .column((RefreshTokens::Table, RefreshTokens::GraceUsedAt))
        .from(RefreshTokens::Table)
        .inner_join(
            Sessions::Table,
            Expr::col((Sessions::Table, Sessions::Id))
                .equals((RefreshTokens::Table, RefreshTokens::SessionId)),
        )
        .and_where(
            Expr::col((RefreshTokens::Table, RefreshTokens::TokenHash)).eq(hash_value(presented)),
        )
        .to_owned()
}
