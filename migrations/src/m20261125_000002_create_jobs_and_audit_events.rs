//! The `jobs` table (the SQL job queue and transactional outbox) and the `audit_events` table
//! (the append-only audit trail).
//!
//! Both use time-ordered (UUID v7) ids, so `ORDER BY id` is enqueue or event order. JSON
//! (a job's payload, an event's details) is stored as text: the same type on both databases,
//! and the bytes written are the bytes read.

use sea_orm_migration::{
    prelude::*,
    schema::{
        boolean, integer, string_len, string_len_null, text, text_null, timestamp_with_time_zone,
        timestamp_with_time_zone_null, uuid, uuid_null,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_jobs(manager).await?;
        create_audit_events(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}

async fn create_jobs(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Jobs::Table)
                .if_not_exists()
                .col(uuid(Jobs::Id).primary_key())
                .col(string_len(Jobs::Kind, 64))
                .col(text(Jobs::Payload))
                // pending | running | done | dead
                .col(string_len(Jobs::State, 16))
                .col(integer(Jobs::Attempts))
                .col(integer(Jobs::MaxAttempts))
                .col(timestamp_with_time_zone(Jobs::RunAt))
                .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                .col(string_len_null(Jobs::LeaseToken, 64))
                .col(string_len_null(Jobs::IdempotencyKey, 200))
                .col(text_null(Jobs::LastError))
                .col(timestamp_with_time_zone(Jobs::CreatedAt))
                .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("jobs_idempotency_key_key")
                .table(Jobs::Table)
                .col(Jobs::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("jobs_state_run_at_idx")
                .table(Jobs::Table)
                .col(Jobs::State)
                .col(Jobs::RunAt)
                .to_owned(),
        )
        .await
}

async fn create_audit_events(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(AuditEvents::Table)
                .if_not_exists()
                .col(uuid(AuditEvents::Id).primary_key())
                .col(uuid_null(AuditEvents::UserId))
                // user | admin | api_key | system
                .col(string_len(AuditEvents::ActorType, 16))
                .col(string_len_null(AuditEvents::ActorId, 64))
                .col(string_len(AuditEvents::Action, 64))
                .col(boolean(AuditEvents::Success))
                .col(string_len_null(AuditEvents::Ip, 45))
                .col(string_len_null(AuditEvents::UserAgent, 512))
                .col(text(AuditEvents::Details))
                .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("audit_events_user_id_id_idx")
                .table(AuditEvents::Table)
                .col(AuditEvents::UserId)
                .col(AuditEvents::Id)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("audit_events_action_id_idx")
                .table(AuditEvents::Table)
                .col(AuditEvents::Action)
                .col(AuditEvents::Id)
                .to_owned(),
        )
        .await
}

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

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    UserId,
    ActorType,
    ActorId,
    Action,
    Success,
    Ip,
    UserAgent,
    Details,
    CreatedAt,
}
