//! The `job_outbox` table: the jobs a unit of work enqueued for a queue outside the database
//! (`jobs.backend = "redis"` or `"memory"`), written in the same transaction as the change
//! that caused them.
//!
//! After the commit each row is handed to the queue and deleted; a row a crash left behind is
//! handed over by the relay, oldest first (hence the index on `created_at`). The payload is the
//! job's JSON as text, like `jobs.payload`.

use sea_orm_migration::{
    prelude::*,
    schema::{
        integer, string_len, string_len_null, text, timestamp_with_time_zone,
        timestamp_with_time_zone_null, uuid,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JobOutbox::Table)
                    .if_not_exists()
                    .col(uuid(JobOutbox::Id).primary_key())
                    .col(string_len(JobOutbox::Kind, 64))
                    .col(text(JobOutbox::Payload))
                    .col(timestamp_with_time_zone_null(JobOutbox::RunAt))
                    .col(string_len_null(JobOutbox::IdempotencyKey, 200))
                    .col(integer(JobOutbox::MaxAttempts))
                    .col(timestamp_with_time_zone(JobOutbox::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("job_outbox_created_at_idx")
                    .table(JobOutbox::Table)
                    .col(JobOutbox::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobOutbox::Table).to_owned())
            .await
    }
}

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
