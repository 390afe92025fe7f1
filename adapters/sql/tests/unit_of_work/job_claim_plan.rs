//! The job claim's plan on PostgreSQL: over a table of many finished jobs (what a running
//! service accumulates until the purge), a claim reads the partial index `jobs_claimable_idx`
//! and never scans the table. Session 6 found claims doing a sequential scan and sort (26 ms
//! under a backlog) because the predicate could not use an index; this pins the fix to what
//! PostgreSQL actually chose, not to the statement's text.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use serde_json::json;
use twofa_domain::{JobQueue as _, NewJob};

use crate::fixture::{Backend, Fixture};

/// `(sequential scans of jobs, scans of jobs_claimable_idx)` as the statistics hold them.
async fn scans(connection: &DatabaseConnection) -> (i64, i64) {
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT t.seq_scan, i.idx_scan
               FROM pg_stat_user_tables t
               JOIN pg_stat_user_indexes i ON i.relid = t.relid
              WHERE t.relname = 'jobs' AND i.indexrelname = 'jobs_claimable_idx'",
        ))
        .await
        .unwrap()
        .expect("the jobs table and its claimable index");
    (
        row.try_get("", "seq_scan").unwrap(),
        row.try_get("", "idx_scan").unwrap(),
    )
}

/// Makes this server session publish its pending statistics when the statement ends (they
/// are otherwise published at most once a second), so the next statement reads them.
async fn publish_statistics(connection: &DatabaseConnection) {
    connection
        .execute_unprepared("SELECT pg_stat_force_next_flush()")
        .await
        .unwrap();
}

#[tokio::test]
async fn postgres_a_claim_reads_the_claimable_index_not_the_table() {
    // One connection: the claim and the statistics it leaves are on one server session.
    let fixture = Fixture::open_with(Backend::Postgres, Duration::from_secs(5), 1).await;
    let connection = fixture.database.connection();
    // 20,000 finished jobs, then ANALYZE, so the planner costs the real shape.
    connection
        .execute_unprepared(
            "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at,
                               created_at, updated_at, finished_at)
             SELECT gen_random_uuid(), 'webhook.event', '{}', 'done', 1, 8,
                    now() - interval '1 hour', now() - interval '1 hour',
                    now() - interval '1 hour', now() - interval '1 hour'
               FROM generate_series(1, 20000);
             ANALYZE jobs",
        )
        .await
        .unwrap();
    let queue = fixture
        .database
        .job_queue(fixture.clock.clone(), fixture.ids.clone());
    for n in 0..3 {
        queue
            .enqueue(NewJob::new("email.send", json!({ "n": n }), 5))
            .await
            .unwrap();
    }
    publish_statistics(connection).await;
    let (seq_before, index_before) = scans(connection).await;

    let claimed = queue
        .claim_batch(Duration::from_secs(30), 16)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    publish_statistics(connection).await;
    let (seq_after, index_after) = scans(connection).await;

    assert_eq!(seq_after, seq_before, "the claim scanned the jobs table");
    assert!(
        index_after > index_before,
        "the claim did not read jobs_claimable_idx ({index_before} -> {index_after})"
    );
}
