//! Second factors: `users.two_factor_enabled`, and the `factors`, `backup_codes` and
//! `trusted_devices` tables.
//!
//! - `factors`: a user's TOTP authenticators, SMS numbers and e-mail addresses, pending until
//!   `verified_at` is set. A TOTP secret is kept only sealed (`secret_key_id` names the key of
//!   the ring, `secret_ciphertext` holds nonce, ciphertext and tag); `last_used_step` is the
//!   replay guard, advanced by one conditional `UPDATE`. The partial unique index
//!   `factors_pending_key` allows one pending factor per user and kind.
//! - `backup_codes`: the keyed hashes (64 lower-case hex digits) of a user's backup codes,
//!   never the codes; the primary key (`user_id`, `code_hash`) also serves lookups by user.
//! - `trusted_devices`: devices that skip the second factor until `expires_at`, kept under the
//!   SHA-256 of their token (64 hex digits, unique). `ip` is text, as in `sessions`.
//!
//! Every row goes with its account (`ON DELETE CASCADE`). Rows of `users` written before this
//! migration have no second factor (`two_factor_enabled` defaults to false).

use sea_orm_migration::{
    prelude::*,
    schema::{
        big_integer_null, blob_null, boolean, char_len, char_len_uniq, string_len, string_len_null,
        text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::TwoFactorEnabled).default(false))
                    .to_owned(),
            )
            .await?;
        create_factors(manager).await?;
        create_backup_codes(manager).await?;
        create_trusted_devices(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TrustedDevices::Table.into_iden(),
            BackupCodes::Table.into_iden(),
            Factors::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::TwoFactorEnabled)
                    .to_owned(),
            )
            .await
    }
}

/// The foreign key from `table.user_id` to `users.id`, cascading deletes.
fn owned_by_user(
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn create_factors(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Factors::Table)
                .if_not_exists()
                .col(uuid(Factors::Id).primary_key())
                .col(uuid(Factors::UserId))
                // totp | sms | email
                .col(string_len(Factors::Kind, 16))
                .col(string_len_null(Factors::SecretKeyId, 64))
                .col(blob_null(Factors::SecretCiphertext))
                .col(string_len_null(Factors::Destination, 254))
                .col(big_integer_null(Factors::LastUsedStep))
                .col(timestamp_with_time_zone(Factors::CreatedAt))
                .col(timestamp_with_time_zone_null(Factors::VerifiedAt))
                .col(timestamp_with_time_zone_null(Factors::LastUsedAt))
                .foreign_key(&mut owned_by_user(
                    "factors_user_id_fkey",
                    Factors::Table,
                    Factors::UserId,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("factors_user_id_idx")
                .table(Factors::Table)
                .col(Factors::UserId)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("factors_pending_key")
                .table(Factors::Table)
                .col(Factors::UserId)
                .col(Factors::Kind)
                .unique()
                .and_where(Expr::col(Factors::VerifiedAt).is_null())
                .to_owned(),
        )
        .await
}

async fn create_backup_codes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(BackupCodes::Table)
                .if_not_exists()
                .col(uuid(BackupCodes::UserId))
                .col(char_len(BackupCodes::CodeHash, 64))
                .col(timestamp_with_time_zone_null(BackupCodes::UsedAt))
                .col(timestamp_with_time_zone(BackupCodes::CreatedAt))
                .primary_key(
                    Index::create()
                        .name("backup_codes_pkey")
                        .col(BackupCodes::UserId)
                        .col(BackupCodes::CodeHash),
                )
                .foreign_key(&mut owned_by_user(
                    "backup_codes_user_id_fkey",
                    BackupCodes::Table,
                    BackupCodes::UserId,
                ))
                .to_owned(),
        )
        .await
}

async fn create_trusted_devices(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(TrustedDevices::Table)
                .if_not_exists()
                .col(uuid(TrustedDevices::Id).primary_key())
                .col(uuid(TrustedDevices::UserId))
                .col(char_len_uniq(TrustedDevices::TokenHash, 64))
                .col(string_len_null(TrustedDevices::Name, 100))
                .col(string_len_null(TrustedDevices::Ip, 45))
                .col(text_null(TrustedDevices::UserAgent))
                .col(timestamp_with_time_zone(TrustedDevices::CreatedAt))
                .col(timestamp_with_time_zone(TrustedDevices::LastUsedAt))
                .col(timestamp_with_time_zone(TrustedDevices::ExpiresAt))
                .foreign_key(&mut owned_by_user(
                    "trusted_devices_user_id_fkey",
                    TrustedDevices::Table,
                    TrustedDevices::UserId,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("trusted_devices_user_id_idx")
                .table(TrustedDevices::Table)
                .col(TrustedDevices::UserId)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("trusted_devices_expires_at_idx")
                .table(TrustedDevices::Table)
                .col(TrustedDevices::ExpiresAt)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TwoFactorEnabled,
}

#[derive(DeriveIden)]
enum Factors {
    Table,
    Id,
    UserId,
    Kind,
    SecretKeyId,
    SecretCiphertext,
    Destination,
    LastUsedStep,
    CreatedAt,
    VerifiedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum BackupCodes {
    Table,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TrustedDevices {
    Table,
    Id,
    UserId,
    TokenHash,
    Name,
    Ip,
    UserAgent,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
}
