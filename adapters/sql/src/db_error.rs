//! Translation of SeaORM's `DbErr` into the ports' errors, at the boundary.
//!
//! A database that cannot be reached in time (no connection from the pool, a broken socket,
//! PostgreSQL shutting down or refusing connections or cancelling a statement at its
//! `statement_timeout`, SQLite busy past its timeout) is "unavailable"; anything else is unexpected. The driver's error (which may quote SQL) stays in
//! the cause chain for the log, behind a message that names only what was being done.

use sea_orm::{DbErr, RuntimeErr, sqlx};
use twofa_domain::{PortError, QueueError};

/// `error` as the job queue's error; `doing` says what failed ("claiming a job").
pub(crate) fn queue_error(doing: &'static str, error: DbErr) -> QueueError {
    if is_unavailable(&error) {
        QueueError::Unavailable(anyhow::Error::new(error).context(doing))
    } else {
        QueueError::Unexpected(anyhow::Error::new(error).context(doing))
    }
}

/// `error` as a plain port's error; `doing` says what failed ("appending an audit event").
pub(crate) fn port_error(doing: &'static str, error: DbErr) -> PortError {
    if is_unavailable(&error) {
        PortError::Unavailable {
            dependency: "database",
            source: anyhow::Error::new(error).context(doing),
        }
    } else {
        PortError::Unexpected(anyhow::Error::new(error).context(doing))
    }
}

/// Whether `error` says the database could not be reached in time.
fn is_unavailable(error: &DbErr) -> bool {
    if matches!(error, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    if let DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) =
        error
    {
        return is_unavailable_sqlx(error);
    }
    false
}

fn is_unavailable_sqlx(error: &sqlx::Error) -> bool {
    if let sqlx::Error::Database(database) = error {
        let code = database.code();
        return if database
            .try_downcast_ref::<sqlx::sqlite::SqliteError>()
            .is_some()
        {
            is_sqlite_busy(code.as_deref())
        } else {
            code.as_deref().is_some_and(is_postgres_unavailable)
        };
    }
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED` (any extended code): another writer held the database past
/// the busy timeout.
fn is_sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// Connection exceptions (class 08), too many connections, shutting down or starting up, a
/// statement cancelled by `statement_timeout`, and a transaction PostgreSQL aborted to break a
/// deadlock or a serialisation conflict (the request may simply be tried again).
fn is_postgres_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "53300" | "57P01" | "57P02" | "57P03" | "57014" | "40P01" | "40001"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_timeout_is_unavailable_and_a_type_error_is_not() {
        let timeout = DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout);
        assert!(matches!(
            queue_error("claiming a job", timeout),
            QueueError::Unavailable(_)
        ));
        let broken = DbErr::Type("not a uuid".to_owned());
        assert!(matches!(
            port_error("listing audit events", broken),
            PortError::Unexpected(_)
        ));
    }

    #[test]
    fn the_message_names_what_failed_and_keeps_the_driver_in_the_chain() {
        let error = queue_error("claiming a job", DbErr::Custom("SELECT secret".to_owned()));
        assert_eq!(error.to_string(), "claiming a job");
        let QueueError::Unexpected(error) = error else {
            panic!("unexpected variant");
        };
        assert!(format!("{error:#}").contains("SELECT secret"));
    }

    #[test]
    fn sqlite_busy_codes_and_postgres_connection_codes_are_recognised() {
        assert!(is_sqlite_busy(Some("5")));
        assert!(is_sqlite_busy(Some("517")));
        assert!(!is_sqlite_busy(Some("19")));
        assert!(is_postgres_unavailable("08006"));
        assert!(is_postgres_unavailable("57P01"));
        assert!(
            is_postgres_unavailable("57014"),
            "cancelled by statement_timeout"
        );
        assert!(is_postgres_unavailable("40P01"), "a deadlock victim");
        assert!(!is_postgres_unavailable("23505"));
    }
}
