//! `jobs_claimable_idx`: the jobs a worker may claim, in claim order, so a claim reads one
//! index entry however many jobs are done, dead or waiting.
//!
//! A claim takes the oldest due job that is pending, or running with an expired lease. From
//! this migration on, a running job's `run_at` is its lease's end (the claim and every renewal
//! set both), so "claimable" is one range over one partial index: `state IN ('pending',
//! 'running') AND run_at <= now`, ordered by `run_at, id`. Before it, the claim's `OR` over two
//! columns could use no index in order: under a backlog each claim sorted every pending row
//! (26 ms a claim with 24,000 queued on PostgreSQL), and the worker fell behind the API.
//! Running rows written before this migration get `run_at = lease_until` here.
//!
//! The predicate is spelled with literals, not parameters, in the index and in the claim
//! (`twofa-sql`'s `CLAIMABLE_STATES`): PostgreSQL and SQLite use a partial index only for a
//! query whose `WHERE` provably implies the index's, and a bound parameter proves nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        connection
            .execute_unprepared(
                "UPDATE jobs SET run_at = lease_until \
                 WHERE state = 'running' AND lease_until IS NOT NULL",
            )
            .await?;
        connection
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS jobs_claimable_idx ON jobs (run_at, id) \
                 WHERE state IN ('pending', 'running')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS jobs_claimable_idx")
            .await?;
        Ok(())
    }
}
