//! `SqlUnitOfWork` on SQLite and PostgreSQL: the repositories a transaction hands out, its
//! audit events and its jobs are visible exactly when it commits; the job outbox of
//! `JobsTarget::After` survives a failed hand-over and the relay delivers it once; PostgreSQL's
//! `statement_timeout` bounds every pooled statement; a job claim over a table of finished jobs
//! reads `jobs_claimable_idx`, not the table.
//!
//! The PostgreSQL cases need `TWOFA_TEST_DATABASE_URL` (set by `./scripts/test`) and fail
//! without it; each case gets a database of its own.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the step that broke"
)]

/// Runs every named case (an `async fn(Backend)` of the invoking module) on SQLite and on
/// PostgreSQL.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::fixture::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::fixture::Backend::Postgres).await;
                }
            )*
        }
    };
}

mod fixture;
mod job_claim_plan;
mod job_outbox;
mod recording_queue;
mod statement_timeout;
mod transactions;
