//! API keys: the `api_keys` table.
//!
//! A key is kept under the SHA-256 of its text (64 lower-case hex digits, unique), never the
//! text; `prefix` is the part shown in lists (`tfa_` and 8 characters). `scopes` is the
//! space-separated list of scope names, in the domain's order. A revoked key keeps its row
//! (`revoked_at` set) until its owner deletes it; `api_keys_user_id_created_at_idx` serves the
//! owner's list, newest first.
//!
//! Every row goes with its account (`ON DELETE CASCADE`).

use sea_orm_migration::{
    prelude::*,
    schema::{char_len_uniq, text, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(uuid(ApiKeys::Id).primary_key())
                    .col(uuid(ApiKeys::UserId))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Prefix))
                    .col(char_len_uniq(ApiKeys::KeyHash, 64))
                    .col(text(ApiKeys::Scopes))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_keys_user_id_fkey")
                            .from(ApiKeys::Table, ApiKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_keys_user_id_created_at_idx")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::UserId)
                    .col(ApiKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    ExpiresAt,
    LastUsedAt,
    CreatedAt,
    RevokedAt,
}
