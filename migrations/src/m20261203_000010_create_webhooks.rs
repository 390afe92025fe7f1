//! Webhooks: the `webhook_endpoints` and `webhook_deliveries` tables.
//!
//! - `webhook_endpoints`: URLs that receive signed events. `owner_id` is the user whose
//!   endpoint it is, or null for an admin's global endpoint (which receives every user's
//!   events); `webhook_endpoints_owner_id_created_at_idx` serves the owner's list, newest
//!   first. `events` is the JSON array of the event types it receives (`["*"]` for all). The
//!   signing secret is kept only sealed, as factors keep theirs (`secret_key_id` names the key
//!   of the ring, `secret_ciphertext` holds nonce, ciphertext and tag); after a rotation the
//!   secret before it is kept the same way (`previous_secret_*`) until
//!   `previous_secret_expires_at`. `consecutive_failures` counts failed deliveries since the
//!   last success; reaching the configured limit clears `enabled`.
//! - `webhook_deliveries`: one event for one endpoint, unique by (`endpoint_id`, `event_id`)
//!   (`event_id` is the `webhook-id` header), so fanning an event out twice stores it once.
//!   `payload` is the JSON body posted, as text (as `jobs.payload`); `status` is `pending`,
//!   `delivered` or `failed`; the `response_*` and `duration_ms` columns describe the latest
//!   attempt. Ids are time-ordered: `webhook_deliveries_endpoint_id_id_idx` serves an
//!   endpoint's deliveries newest first, `webhook_deliveries_created_at_idx` the purge of old
//!   ones.
//!
//! An endpoint goes with its owner's account, and a delivery with its endpoint (`ON DELETE
//! CASCADE`).

use sea_orm_migration::{
    prelude::*,
    schema::{
        big_integer_null, blob, blob_null, boolean, integer, integer_null, string_len,
        string_len_null, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
        uuid, uuid_null,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_endpoints(manager).await?;
        create_deliveries(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn create_endpoints(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(WebhookEndpoints::Table)
                .if_not_exists()
                .col(uuid(WebhookEndpoints::Id).primary_key())
                .col(uuid_null(WebhookEndpoints::OwnerId))
                .col(text(WebhookEndpoints::Url))
                .col(text(WebhookEndpoints::Events))
                .col(text_null(WebhookEndpoints::Description))
                .col(boolean(WebhookEndpoints::Enabled))
                .col(integer(WebhookEndpoints::ConsecutiveFailures))
                .col(string_len(WebhookEndpoints::SecretKeyId, 64))
                .col(blob(WebhookEndpoints::SecretCiphertext))
                .col(string_len_null(WebhookEndpoints::PreviousSecretKeyId, 64))
                .col(blob_null(WebhookEndpoints::PreviousSecretCiphertext))
                .col(timestamp_with_time_zone_null(
                    WebhookEndpoints::PreviousSecretExpiresAt,
                ))
                .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("webhook_endpoints_owner_id_fkey")
                        .from(WebhookEndpoints::Table, WebhookEndpoints::OwnerId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("webhook_endpoints_owner_id_created_at_idx")
                .table(WebhookEndpoints::Table)
                .col(WebhookEndpoints::OwnerId)
                .col(WebhookEndpoints::CreatedAt)
                .to_owned(),
        )
        .await
}

async fn create_deliveries(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .if_not_exists()
                .col(uuid(WebhookDeliveries::Id).primary_key())
                .col(uuid(WebhookDeliveries::EndpointId))
                .col(text(WebhookDeliveries::EventId))
                .col(text(WebhookDeliveries::EventType))
                .col(text(WebhookDeliveries::Payload))
                // pending | delivered | failed
                .col(string_len(WebhookDeliveries::Status, 16))
                .col(integer(WebhookDeliveries::Attempts))
                .col(timestamp_with_time_zone_null(
                    WebhookDeliveries::LastAttemptAt,
                ))
                .col(integer_null(WebhookDeliveries::ResponseStatus))
                .col(big_integer_null(WebhookDeliveries::DurationMs))
                .col(text_null(WebhookDeliveries::ResponseBody))
                .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("webhook_deliveries_endpoint_id_fkey")
                        .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                        .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("webhook_deliveries_endpoint_id_event_id_key")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::EndpointId)
                .col(WebhookDeliveries::EventId)
                .unique()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("webhook_deliveries_endpoint_id_id_idx")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::EndpointId)
                .col(WebhookDeliveries::Id)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("webhook_deliveries_created_at_idx")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::CreatedAt)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    OwnerId,
    Url,
    Events,
    Description,
    Enabled,
    ConsecutiveFailures,
    SecretKeyId,
    SecretCiphertext,
    PreviousSecretKeyId,
    PreviousSecretCiphertext,
    PreviousSecretExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventId,
    EventType,
    Payload,
    Status,
    Attempts,
    LastAttemptAt,
    ResponseStatus,
    DurationMs,
    ResponseBody,
    CreatedAt,
}
