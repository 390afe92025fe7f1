//! The statements `SqlJobQueue` runs, built with sea-query so one definition renders for
//! PostgreSQL (`$1` placeholders, row locks) and SQLite (`?`, no lock clause).

use chrono::{DateTime, Utc};
use sea_orm::{
    DbBackend, DeriveIden,
    sea_query::{
        Cond, DeleteStatement, Expr, ExprTrait as _, Func, InsertStatement, LockBehavior, LockType,
        OnConflict, Order, Query, SelectStatement, UpdateStatement,
    },
};
use twofa_domain::{ClaimedJob, JobId, NewJob};

const PENDING: &str = "pending";
const RUNNING: &str = "running";
const DONE: &str = "done";
const DEAD: &str = "dead";

/// Keeps at most this many characters of a failure's message.
const LAST_ERROR_LIMIT: usize = 2000;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    State,
    Attempts,
    MaxAttempts,
    RunAt,
    LeaseUntil,
    LeaseToken,
    IdempotencyKey,
    LastError,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}

/// Inserts `job` as pending; with an idempotency key, `ON CONFLICT (idempotency_key) DO
/// NOTHING`, so a second enqueue affects no row.
pub(super) fn insert(
    id: JobId,
    job: NewJob,
    now: DateTime<Utc>,
) -> anyhow::Result<InsertStatement> {
    let has_key = job.idempotency_key.is_some();
    let mut insert = insert_into();
    insert.values(row(id, job, now)?)?;
    if has_key {
        insert.on_conflict(skip_known_keys());
    }
    Ok(insert)
}

/// `INSERT INTO jobs (…)`, without values.
pub(super) fn insert_into() -> InsertStatement {
    Query::insert()
        .into_table(Jobs::Table)
        .columns([
            Jobs::Id,
            Jobs::Kind,
            Jobs::Payload,
            Jobs::State,
            Jobs::Attempts,
            Jobs::MaxAttempts,
            Jobs::RunAt,
            Jobs::IdempotencyKey,
            Jobs::CreatedAt,
            Jobs::UpdatedAt,
        ])
        .to_owned()
}

/// `ON CONFLICT (idempotency_key) DO NOTHING`: a row whose key is taken is skipped (a `NULL`
/// key conflicts with nothing).
pub(super) fn skip_known_keys() -> OnConflict {
    OnConflict::column(Jobs::IdempotencyKey)
        .do_nothing()
        .to_owned()
}

/// The values of `job` as a pending row of [`insert_into`].
pub(super) fn row(id: JobId, job: NewJob, now: DateTime<Utc>) -> anyhow::Result<Vec<Expr>> {
    let payload = serde_json::to_string(&job.payload)?;
    Ok(vec![
        id.as_uuid().into(),
        job.kind.into(),
        payload.into(),
        PENDING.into(),
        0_i32.into(),
        i32::try_from(job.max_attempts).unwrap_or(i32::MAX).into(),
        job.run_at.unwrap_or(now).into(),
        job.idempotency_key.into(),
        now.into(),
        now.into(),
    ])
}

/// The id of the job holding idempotency key `key`.
pub(super) fn id_by_key(key: &str) -> SelectStatement {
    Query::select()
        .column(Jobs::Id)
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::IdempotencyKey).eq(key))
        .to_owned()
}

/// The states a claimable job is in, as SQL with literals: the predicate of the partial index
/// `jobs_claimable_idx` (migration `m20261203_000008`), which PostgreSQL and SQLite use only
/// for a query whose `WHERE` holds this very text (a bound parameter proves nothing).
pub(crate) const CLAIMABLE_STATES: &str = "\"state\" IN ('pending', 'running')";

/// Leases the next `limit` claimable jobs (due and pending, or running with an expired lease;
/// oldest `run_at` first, then id) until `lease_until` under `lease_token`, in one statement.
///
/// A running job's `run_at` is its lease's end (the claim and every renewal set both), so
/// "pending and due, or running and expired" is one range over `jobs_claimable_idx`, read in
/// claim order. The range's head also holds the entries of jobs claimed or finished since the
/// last vacuum, which the scan steps over; taking several jobs per statement steps over them
/// once for the lot.
///
/// ```sql
/// UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = :lease_until,
///        run_at = :lease_until, lease_token = :lease_token, updated_at = :now
///  WHERE id IN (SELECT id FROM jobs
///                WHERE state IN ('pending', 'running') AND run_at <= :now
///                ORDER BY run_at, id LIMIT :limit
///                FOR UPDATE SKIP LOCKED)          -- PostgreSQL only
/// RETURNING id, kind, payload, attempts, max_attempts, created_at
/// ```
pub(super) fn claim(
    backend: DbBackend,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    lease_token: &str,
    limit: u64,
) -> UpdateStatement {
    let mut next = Query::select();
    next.column(Jobs::Id)
        .from(Jobs::Table)
        .and_where(Expr::cust(CLAIMABLE_STATES))
        .and_where(Expr::col(Jobs::RunAt).lte(now))
        .order_by(Jobs::RunAt, Order::Asc)
        .order_by(Jobs::Id, Order::Asc)
        .limit(limit);
    if backend == DbBackend::Postgres {
        next.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Query::update()
        .table(Jobs::Table)
        .value(Jobs::State, RUNNING)
        .value(Jobs::Attempts, Expr::col(Jobs::Attempts).add(1))
        .value(Jobs::LeaseUntil, lease_until)
        .value(Jobs::RunAt, lease_until)
        .value(Jobs::LeaseToken, lease_token)
        .value(Jobs::UpdatedAt, now)
        .and_where(Expr::col(Jobs::Id).in_subquery(next))
        .returning(Query::returning().columns([
            Jobs::Id,
            Jobs::Kind,
            Jobs::Payload,
            Jobs::Attempts,
            Jobs::MaxAttempts,
            Jobs::CreatedAt,
        ]))
        .to_owned()
}

/// Running with an expired lease.
fn lease_expired(now: DateTime<Utc>) -> Expr {
    Expr::col(Jobs::State)
        .eq(RUNNING)
        .and(Expr::col(Jobs::LeaseUntil).lte(now))
}

/// What happens to a claimed job.
#[derive(Debug, Clone, Copy)]
pub(super) enum ClaimedChange<'a> {
    /// The lease now runs until `until`.
    Renew { until: DateTime<Utc> },
    /// Done.
    Complete,
    /// Back to pending, due at `at`.
    Retry { at: DateTime<Utc>, error: &'a str },
    /// Into the dead letter.
    Bury { error: &'a str },
}

/// Applies `change` at `now` to the job, only while `job`'s claim holds:
/// `… WHERE id = $n AND state = 'running' AND lease_token = $m`.
pub(super) fn change_claimed(
    job: &ClaimedJob,
    change: ClaimedChange<'_>,
    now: DateTime<Utc>,
) -> UpdateStatement {
    let mut update = Query::update();
    update.table(Jobs::Table).value(Jobs::UpdatedAt, now);
    match change {
        ClaimedChange::Renew { until } => {
            // A running job's `run_at` is its lease's end: see `claim`.
            update
                .value(Jobs::LeaseUntil, until)
                .value(Jobs::RunAt, until);
        }
        ClaimedChange::Complete => {
            release(&mut update)
                .value(Jobs::State, DONE)
                .value(Jobs::FinishedAt, now);
        }
        ClaimedChange::Retry { at, error } => {
            release(&mut update)
                .value(Jobs::State, PENDING)
                .value(Jobs::RunAt, at)
                .value(Jobs::LastError, clip(error));
        }
        ClaimedChange::Bury { error } => {
            release(&mut update)
                .value(Jobs::State, DEAD)
                .value(Jobs::LastError, clip(error))
                .value(Jobs::FinishedAt, now);
        }
    }
    update
        .and_where(Expr::col(Jobs::Id).eq(job.id.as_uuid()))
        .and_where(Expr::col(Jobs::State).eq(RUNNING))
        .and_where(Expr::col(Jobs::LeaseToken).eq(job.lease_token.as_str()))
        .to_owned()
}

/// Clears the lease.
/// Completes every job of `jobs` whose claim is still valid, in one statement; `RETURNING id`
/// names them (a job it does not name had a stale claim).
pub(super) fn complete_batch(jobs: &[ClaimedJob], now: DateTime<Utc>) -> UpdateStatement {
    let mut claims = Cond::any();
    for job in jobs {
        claims = claims.add(
            Expr::col(Jobs::Id)
                .eq(job.id.as_uuid())
                .and(Expr::col(Jobs::LeaseToken).eq(job.lease_token.as_str())),
        );
    }
    let mut update = Query::update();
    update.table(Jobs::Table).value(Jobs::UpdatedAt, now);
    release(&mut update)
        .value(Jobs::State, DONE)
        .value(Jobs::FinishedAt, now)
        .and_where(Expr::col(Jobs::State).eq(RUNNING))
        .cond_where(claims)
        .returning_col(Jobs::Id)
        .to_owned()
}

fn release(update: &mut UpdateStatement) -> &mut UpdateStatement {
    update
        .value(Jobs::LeaseUntil, Option::<DateTime<Utc>>::None)
        .value(Jobs::LeaseToken, Option::<String>::None)
}

/// At most `LAST_ERROR_LIMIT` characters of `error`.
fn clip(error: &str) -> String {
    error.chars().take(LAST_ERROR_LIMIT).collect()
}

/// One row: `pending` (pending, or running with an expired lease), `running` (with a live
/// lease) and `dead`.
pub(super) fn counts(now: DateTime<Utc>) -> SelectStatement {
    let pending = Expr::col(Jobs::State).eq(PENDING).or(lease_expired(now));
    let running = Expr::col(Jobs::State)
        .eq(RUNNING)
        .and(Expr::col(Jobs::LeaseUntil).gt(now));
    let dead = Expr::col(Jobs::State).eq(DEAD);
    Query::select()
        .expr_as(Func::count(Expr::case(pending, 1)), "pending")
        .expr_as(Func::count(Expr::case(running, 1)), "running")
        .expr_as(Func::count(Expr::case(dead, 1)), "dead")
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::State).is_in([PENDING, RUNNING, DEAD]))
        .to_owned()
}

/// The jobs not done, oldest first, at most `limit`: `id`, `kind`, `state`, `run_at`,
/// `lease_until`, `attempts`, `last_error`.
pub(super) fn unfinished(limit: u32) -> SelectStatement {
    Query::select()
        .columns([
            Jobs::Id,
            Jobs::Kind,
            Jobs::State,
            Jobs::RunAt,
            Jobs::LeaseUntil,
            Jobs::Attempts,
            Jobs::LastError,
        ])
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::State).is_in([PENDING, RUNNING, DEAD]))
        .order_by(Jobs::Id, Order::Asc)
        .limit(u64::from(limit))
        .to_owned()
}

/// Deletes done and dead jobs finished before `before` (freeing their idempotency keys).
pub(super) fn purge(before: DateTime<Utc>) -> DeleteStatement {
    Query::delete()
        .from_table(Jobs::Table)
        .and_where(Expr::col(Jobs::State).is_in([DONE, DEAD]))
        .and_where(Expr::col(Jobs::FinishedAt).lt(before))
        .to_owned()
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn the_postgres_claim_locks_the_chosen_row_and_skips_locked_ones() {
        let (sql, _) = claim(DbBackend::Postgres, now(), now(), "t", 8).build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"UPDATE "jobs" SET "state" = $1, "attempts" = "attempts" + $2, "lease_until" = $3, "run_at" = $4, "lease_token" = $5, "updated_at" = $6 WHERE "id" IN (SELECT "id" FROM "jobs" WHERE ("state" IN ('pending', 'running')) AND "run_at" <= $7 ORDER BY "run_at" ASC, "id" ASC LIMIT $8 FOR UPDATE SKIP LOCKED) RETURNING "id", "kind", "payload", "attempts", "max_attempts", "created_at""#
        );
    }

    #[test]
    fn the_claim_holds_the_claimable_index_predicate_as_literals() {
        // The migration's index predicate, which the planner matches textually.
        let index = "state IN ('pending', 'running')";
        for sql in [
            claim(DbBackend::Postgres, now(), now(), "t", 8)
                .build(PostgresQueryBuilder)
                .0,
            claim(DbBackend::Sqlite, now(), now(), "t", 8)
                .build(SqliteQueryBuilder)
                .0,
        ] {
            assert!(sql.replace('"', "").contains(index), "{sql}");
        }
    }

    #[test]
    fn the_sqlite_claim_is_the_same_statement_without_a_lock_clause() {
        let (sql, _) = claim(DbBackend::Sqlite, now(), now(), "t", 8).build(SqliteQueryBuilder);
        assert!(sql.contains("LIMIT ?) RETURNING"), "{sql}");
        assert!(!sql.contains("FOR UPDATE"), "{sql}");
    }

    #[test]
    fn a_long_error_is_clipped_by_characters() {
        assert_eq!(clip(&"é".repeat(3000)).chars().count(), LAST_ERROR_LIMIT);
    }
}
