//! The `users` table: one row per account. E-mail and username are unique case-insensitively,
//! enforced by unique indexes on their canonical (lower-case) forms.

use sea_orm_migration::{
    prelude::*,
    schema::{boolean, string_len, text, timestamp_with_time_zone, uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(uuid(Users::Id).primary_key())
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::EmailCanonical, 254))
                    .col(string_len(Users::Username, 32))
                    .col(string_len(Users::UsernameCanonical, 32))
                    .col(text(Users::PasswordHash))
                    .col(string_len(Users::Role, 16).default("user"))
                    .col(boolean(Users::EmailVerified).default(false))
                    .col(boolean(Users::IsActive).default(true))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_email_key")
                    .table(Users::Table)
                    .col(Users::EmailCanonical)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_username_key")
                    .table(Users::Table)
                    .col(Users::UsernameCanonical)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailCanonical,
    Username,
    UsernameCanonical,
    PasswordHash,
    Role,
    EmailVerified,
    IsActive,
    CreatedAt,
    UpdatedAt,
}
