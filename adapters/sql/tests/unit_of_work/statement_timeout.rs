//! PostgreSQL's `statement_timeout` from `SqlSettings::timeout`, on every pooled connection.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait as _, DbErr, RuntimeErr, sqlx};
use twofa_domain::{PortError, UnitOfWork as _, UserRepository as _};
use twofa_sql::JobsTarget;

use crate::fixture::{Backend, Fixture, new_user};

/// The SQLSTATE of a database error, if `error` is one.
fn sqlstate(error: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) =
        error
    else {
        return None;
    };
    let sqlx::Error::Database(database) = error.as_ref() else {
        return None;
    };
    database.code().map(std::borrow::Cow::into_owned)
}

#[tokio::test]
async fn postgres_statement_timeout_bounds_every_pooled_statement() {
    let fixture = Fixture::open_with_timeout(Backend::Postgres, Duration::from_millis(200)).await;
    let connection = fixture.database.connection();

    // Every pooled connection has it (the pool holds several; ask more often than that).
    for _ in 0..6 {
        let row = connection
            .query_one_raw(sea_orm::Statement::from_string(
                connection.get_database_backend(),
                "SHOW statement_timeout",
            ))
            .await
            .unwrap()
            .unwrap();
        let value: String = row.try_get("", "statement_timeout").unwrap();
        assert_eq!(value, "200ms");
    }

    let started = Instant::now();
    let error = connection
        .execute_unprepared("SELECT pg_sleep(2)")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "cancelled after {:?}",
        started.elapsed()
    );
    assert_eq!(sqlstate(&error).as_deref(), Some("57014"), "{error:?}");

    // A write stuck behind a lock is cancelled the same way and answers Unavailable.
    let user = fixture.users().create(new_user("jane")).await.unwrap();
    let holder = fixture.unit_of_work(JobsTarget::Sql).begin().await.unwrap();
    assert!(holder.users().set_active(user.id, false).await.unwrap());
    let started = Instant::now();
    let error = fixture
        .users()
        .set_email_verified(user.id, true)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "cancelled after {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            error,
            PortError::Unavailable {
                dependency: "database",
                ..
            }
        ),
        "{error:?}"
    );
    drop(holder);
}
