//! `refresh_tokens.grace_used_at`: when a rotated refresh token was honoured once more under
//! `tokens.refresh_reuse_grace` (two tabs refreshing at once); `NULL` while it has not been.
//!
//! A rotation within the grace sets it in the same conditional write that checks it is still
//! `NULL`, so a token is honoured so once at most; a presentation after that is reuse. Rows
//! written before this migration start unused, as every token rotated until then had no such
//! limit.

use sea_orm_migration::{prelude::*, schema::timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(timestamp_with_time_zone_null(RefreshTokens::GraceUsedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .drop_column(RefreshTokens::GraceUsedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    GraceUsedAt,
}
