//! The `one_time_tokens` table: e-mail verification and password reset links, kept as the
//! SHA-256 of the opaque token (64 lower-case hex digits), never the token itself.
//!
//! A token is consumed by one conditional `UPDATE … WHERE used_at IS NULL AND expires_at > now`,
//! so the primary key on the hash is all a consume needs; `user_id` is indexed for revoking a
//! user's links and cascades when the account is deleted.

use sea_orm_migration::{
    prelude::*,
    schema::{string_len, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OneTimeTokens::Table)
                    .if_not_exists()
                    .col(string_len(OneTimeTokens::TokenHash, 64).primary_key())
                    // verify_email | reset_password
                    .col(string_len(OneTimeTokens::Purpose, 32))
                    .col(uuid(OneTimeTokens::UserId))
                    .col(timestamp_with_time_zone(OneTimeTokens::CreatedAt))
                    .col(timestamp_with_time_zone(OneTimeTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OneTimeTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("one_time_tokens_user_id_fkey")
                            .from(OneTimeTokens::Table, OneTimeTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("one_time_tokens_user_id_purpose_idx")
                    .table(OneTimeTokens::Table)
                    .col(OneTimeTokens::UserId)
                    .col(OneTimeTokens::Purpose)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("one_time_tokens_expires_at_idx")
                    .table(OneTimeTokens::Table)
                    .col(OneTimeTokens::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OneTimeTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OneTimeTokens {
    Table,
    TokenHash,
    Purpose,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
