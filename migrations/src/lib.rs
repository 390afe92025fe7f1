//! twofa's schema migrations, written with sea-orm-migration's schema builder so that the same
//! migration runs on PostgreSQL and on SQLite.
//!
//! What belongs here: one file per migration, named `mYYYYMMDD_NNNNNN_what.rs`, applied in the
//! order `Migrator::migrations` lists them. What must not: data access used at run time (that
//! is `twofa-sql`), and edits to a migration that has shipped: write a new one instead.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users;
mod m20261125_000002_create_jobs_and_audit_events;
mod m20261125_000003_create_sessions;
mod m20261125_000004_create_one_time_tokens;
mod m20261125_000005_create_job_outbox;
mod m20261202_000006_add_refresh_token_grace_used_at;
mod m20261202_000007_create_second_factors;
mod m20261203_000008_index_claimable_jobs;
mod m20261203_000009_create_api_keys;
mod m20261203_000010_create_webhooks;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users::Migration),
            Box::new(m20261125_000002_create_jobs_and_audit_events::Migration),
            Box::new(m20261125_000003_create_sessions::Migration),
            Box::new(m20261125_000004_create_one_time_tokens::Migration),
            Box::new(m20261125_000005_create_job_outbox::Migration),
            Box::new(m20261202_000006_add_refresh_token_grace_used_at::Migration),
            Box::new(m20261202_000007_create_second_factors::Migration),
            Box::new(m20261203_000008_index_claimable_jobs::Migration),
            Box::new(m20261203_000009_create_api_keys::Migration),
            Box::new(m20261203_000010_create_webhooks::Migration),
        ]
    }
}
