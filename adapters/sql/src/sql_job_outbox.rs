//! `SqlJobOutbox`: the `job_outbox` table, where a unit of work writes the jobs bound for a
//! queue outside the database (`JobsTarget::After`) inside its transaction, so a job exists
//! exactly when its change committed, whatever happens after the commit.
//!
//! After the commit the transaction hands each of its jobs to the queue and deletes its row;
//! a row still there (the process died between the commit and the hand-over, or the queue
//! failed) is handed over by [`SqlJobOutbox::relay`]. Every hand-over carries an idempotency
//! key (the job's own, else `outbox:<row id>`), so a job handed over twice (a relay racing a
//! commit or another relay, a delete that failed after its enqueue) is enqueued once.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound as _, TimeDelta, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DeriveIden, QueryResult,
    sea_query::{Cond, Expr, ExprTrait as _, Func, Order, Query},
};
use twofa_domain::{
    Clock, JobQueue, NewJob, PortError, QueueError, SecretGenerator, time_ordered_id,
};
use uuid::Uuid;

use crate::db_error::{port_error, queue_error};

/// How many rows the relay reads at a time.
const BATCH: u64 = 100;

#[derive(DeriveIden)]
enum JobOutbox {
    Table,
    Id,
    Kind,
    Payload,
    RunAt,
    IdempotencyKey,
    MaxAttempts,
    CreatedAt,
}

const COLUMNS: [JobOutbox; 7] = [
    JobOutbox::Id,
    JobOutbox::Kind,
    JobOutbox::Payload,
    JobOutbox::RunAt,
    JobOutbox::IdempotencyKey,
    JobOutbox::MaxAttempts,
    JobOutbox::CreatedAt,
];

/// A job in the outbox: its row's id, and the job as the queue gets it (with the hand-over's
/// idempotency key).
pub(crate) struct OutboxEntry {
    pub(crate) id: Uuid,
    pub(crate) job: NewJob,
}

impl OutboxEntry {
    /// The entry for row `id` holding `job`: the job keeps its own idempotency key, or gets
    /// `outbox:<id>`.
    fn new(id: Uuid, mut job: NewJob) -> Self {
        if job.idempotency_key.is_none() {
            job.idempotency_key = Some(format!("outbox:{id}"));
        }
        Self { id, job }
    }
}

/// Writes `job` into the outbox through `connection` (a unit of work's transaction), at `now`.
pub(crate) async fn write_on<C: ConnectionTrait>(
    connection: &C,
    now: DateTime<Utc>,
    ids: &dyn SecretGenerator,
    job: NewJob,
) -> Result<OutboxEntry, QueueError> {
    const DOING: &str = "writing a job to the outbox";
    let now = now.trunc_subsecs(6);
    let id = time_ordered_id(now, ids);
    let payload = serde_json::to_string(&job.payload)
        .map_err(|error| QueueError::Unexpected(anyhow::Error::new(error).context(DOING)))?;
    let insert = Query::insert()
        .into_table(JobOutbox::Table)
        .columns(COLUMNS)
        .values([
            id.into(),
            job.kind.clone().into(),
            payload.into(),
            job.run_at.map(|at| at.trunc_subsecs(6)).into(),
            job.idempotency_key.clone().into(),
            i32::try_from(job.max_attempts).unwrap_or(i32::MAX).into(),
            now.into(),
        ])
        .map_err(|error| QueueError::Unexpected(anyhow::Error::new(error).context(DOING)))?
        .to_owned();
    connection
        .execute(&insert)
        .await
        .map_err(|error| queue_error(DOING, error))?;
    Ok(OutboxEntry::new(id, job))
}

/// Hands `entry`'s job to `queue`.
pub(crate) async fn enqueue(queue: &dyn JobQueue, entry: &OutboxEntry) -> Result<(), QueueError> {
    queue.enqueue(entry.job.clone()).await.map(|_| ())
}

/// Deletes the row `id` (its job was handed over).
pub(crate) async fn delete(connection: &DatabaseConnection, id: Uuid) -> Result<(), PortError> {
    let delete = Query::delete()
        .from_table(JobOutbox::Table)
        .and_where(Expr::col(JobOutbox::Id).eq(id))
        .to_owned();
    connection
        .execute(&delete)
        .await
        .map_err(|error| port_error("deleting a handed-over job from the outbox", error))?;
    Ok(())
}

/// A queue's refusal of a job handed over from the outbox.
pub(crate) fn handover_error(error: QueueError) -> PortError {
    const DOING: &str = "handing a committed job from the outbox to the job queue";
    match error {
        QueueError::Unavailable(source) => PortError::Unavailable {
            dependency: "job queue",
            source: source.context(DOING),
        },
        QueueError::Unexpected(source) => PortError::Unexpected(source.context(DOING)),
        QueueError::LeaseLost => {
            PortError::Unexpected(anyhow::Error::new(QueueError::LeaseLost).context(DOING))
        }
    }
}

/// The entry in `row`.
fn entry(row: &QueryResult) -> Result<OutboxEntry, PortError> {
    const DOING: &str = "reading a job from the outbox";
    let get_err = |error| port_error(DOING, error);
    let id: Uuid = row.try_get("", "id").map_err(get_err)?;
    let payload: String = row.try_get("", "payload").map_err(get_err)?;
    let payload = serde_json::from_str(&payload).map_err(|error| {
        PortError::Unexpected(
            anyhow::Error::new(error).context(format!("{DOING}: the payload of {id} is not JSON")),
        )
    })?;
    let max_attempts: i32 = row.try_get("", "max_attempts").map_err(get_err)?;
    let job = NewJob {
        kind: row.try_get("", "kind").map_err(get_err)?,
        payload,
        run_at: row.try_get("", "run_at").map_err(get_err)?,
        idempotency_key: row.try_get("", "idempotency_key").map_err(get_err)?,
        max_attempts: u32::try_from(max_attempts).unwrap_or(0),
    };
    Ok(OutboxEntry::new(id, job))
}

/// The outbox of the jobs bound for a queue outside the database, for the relay and health.
#[derive(Clone)]
pub struct SqlJobOutbox {
    connection: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl SqlJobOutbox {
    /// The `job_outbox` table of `connection`, judging the age of its rows by `clock`.
    pub fn new(connection: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { connection, clock }
    }

    /// Hands to `queue` every job written to the outbox more than `older_than` ago (a commit
    /// younger than that may still be handing its jobs over itself), oldest first, deleting
    /// each row once the queue took its job; answers how many it handed over.
    ///
    /// Each job goes with its own idempotency key, else `outbox:<row id>`, so a job handed
    /// over twice (two relays racing, a relay racing a commit) is enqueued once.
    ///
    /// # Errors
    /// Stops when the queue is down (`PortError::Unavailable` with dependency `"job queue"`);
    /// the row stays for the next relay. A row that cannot be read, or a job the queue refuses
    /// otherwise, is logged and stepped past (it stays in the outbox for an operator), so it
    /// never holds up the rows behind it. `PortError::Unavailable` (`"database"`) when the outbox cannot be
    /// read or a row deleted.
    pub async fn relay(
        &self,
        queue: &dyn JobQueue,
        older_than: Duration,
    ) -> Result<u64, PortError> {
        const DOING: &str = "reading the job outbox";
        let now = self.clock.now();
        let cutoff = TimeDelta::from_std(older_than)
            .ok()
            .and_then(|age| now.checked_sub_signed(age))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let select = Query::select()
            .columns(COLUMNS)
            .from(JobOutbox::Table)
            .and_where(Expr::col(JobOutbox::CreatedAt).lt(cutoff))
            .order_by(JobOutbox::CreatedAt, Order::Asc)
            .order_by(JobOutbox::Id, Order::Asc)
            .limit(BATCH)
            .to_owned();
        let mut relayed = 0;
        // Keyset pages, so a row that cannot be handed over is stepped past, not re-read.
        let mut after: Option<(DateTime<Utc>, Uuid)> = None;
        loop {
            let mut page = select.clone();
            if let Some((created_at, id)) = after {
                page.cond_where(
                    Cond::any()
                        .add(Expr::col(JobOutbox::CreatedAt).gt(created_at))
                        .add(
                            Cond::all()
                                .add(Expr::col(JobOutbox::CreatedAt).eq(created_at))
                                .add(Expr::col(JobOutbox::Id).gt(id)),
                        ),
                );
            }
            let rows = self
                .connection
                .query_all(&page)
                .await
                .map_err(|error| port_error(DOING, error))?;
            if rows.is_empty() {
                return Ok(relayed);
            }
            for row in &rows {
                let id: Uuid = row
                    .try_get("", "id")
                    .map_err(|error| port_error(DOING, error))?;
                let created_at: DateTime<Utc> = row
                    .try_get("", "created_at")
                    .map_err(|error| port_error(DOING, error))?;
                after = Some((created_at, id));
                // A row that cannot be read, or a job the queue refuses for good, is left for an
                // operator (and logged) rather than holding up every row behind it; a queue
                // that is down stops the relay until the next round.
                let handed = match entry(row) {
                    Ok(entry) => enqueue(queue, &entry).await.map_err(handover_error),
                    Err(error) => Err(error),
                };
                match handed {
                    Ok(()) => {
                        delete(&self.connection, id).await?;
                        relayed += 1;
                    }
                    Err(error @ PortError::Unavailable { .. }) => return Err(error),
                    Err(error @ PortError::Unexpected(_)) => {
                        tracing::error!(
                            outbox_id = %id,
                            error = %twofa_domain::error_chain(&error),
                            "a job in the outbox cannot be handed over; it stays for an operator"
                        );
                    }
                }
            }
        }
    }

    /// How many jobs wait in the outbox.
    ///
    /// # Errors
    /// `PortError::Unavailable` when the database cannot be reached in time.
    pub async fn pending(&self) -> Result<u64, PortError> {
        const DOING: &str = "counting the job outbox";
        let count = Query::select()
            .expr_as(Func::count(Expr::col(JobOutbox::Id)), "pending")
            .from(JobOutbox::Table)
            .to_owned();
        let row = self
            .connection
            .query_one(&count)
            .await
            .map_err(|error| port_error(DOING, error))?;
        let pending: i64 = match row {
            Some(row) => row
                .try_get("", "pending")
                .map_err(|error| port_error(DOING, error))?,
            None => 0,
        };
        Ok(u64::try_from(pending).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_job_without_a_key_is_handed_over_under_its_row_id_and_one_with_a_key_keeps_it() {
        let id = Uuid::from_u128(7);
        let plain = OutboxEntry::new(id, NewJob::new("email.send", json!({}), 5));
        assert_eq!(
            plain.job.idempotency_key.as_deref(),
            Some("outbox:00000000-0000-0000-0000-000000000007")
        );
        let keyed = OutboxEntry::new(
            id,
            NewJob::new("email.send", json!({}), 5).idempotency_key("welcome:1"),
        );
        assert_eq!(keyed.job.idempotency_key.as_deref(), Some("welcome:1"));
    }
}
