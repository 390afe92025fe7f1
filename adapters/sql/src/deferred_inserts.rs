//! `DeferredInserts`: new rows a unit of work writes at its commit rather than one round trip
//! each as they come, together with its audit events and jobs.
//!
//! On PostgreSQL they are one statement: each insert but the last a data-modifying `WITH`
//! clause of the last. PostgreSQL runs every one of them whatever the outer statement reads,
//! and checks foreign keys at the statement's end, so a row may refer to another of the same
//! statement. SQLite has no data-modifying `WITH`; it runs in-process, so there each insert
//! runs on its own, in order.

use std::sync::{Arc, Mutex, PoisonError};

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr,
    sea_query::{CommonTableExpression, InsertStatement, WithClause},
};

/// Inserts waiting for their transaction's commit, shared by the repositories bound to it.
#[derive(Clone, Default)]
pub(crate) struct DeferredInserts(Arc<Mutex<Vec<InsertStatement>>>);

impl DeferredInserts {
    /// Adds `insert`, written after the ones before it.
    pub(crate) fn push(&self, insert: InsertStatement) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(insert);
    }

    /// Takes every waiting insert, in order.
    pub(crate) fn take(&self) -> Vec<InsertStatement> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Writes what is waiting now (before a statement that must see it).
    pub(crate) async fn write_on<C: ConnectionTrait>(&self, connection: &C) -> Result<(), DbErr> {
        write_all(connection, self.take()).await
    }
}

/// Writes `inserts` through `connection`, in one round trip on PostgreSQL.
pub(crate) async fn write_all<C: ConnectionTrait>(
    connection: &C,
    mut inserts: Vec<InsertStatement>,
) -> Result<(), DbErr> {
    if connection.get_database_backend() == DbBackend::Sqlite {
        for insert in &inserts {
            connection.execute(insert).await?;
        }
        return Ok(());
    }
    let Some(mut last) = inserts.pop() else {
        return Ok(());
    };
    if !inserts.is_empty() {
        last.with_cte(with_clause(inserts));
    }
    connection.execute(&last).await?;
    Ok(())
}

/// `WITH w0 AS (INSERT …), w1 AS (INSERT …), …`.
fn with_clause(inserts: Vec<InsertStatement>) -> WithClause {
    let mut clause = WithClause::new();
    for (n, insert) in inserts.into_iter().enumerate() {
        clause.cte(
            CommonTableExpression::new()
                .query(insert)
                .table_name(format!("w{n}"))
                .to_owned(),
        );
    }
    clause
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Alias, PostgresQueryBuilder, Query};

    use super::*;

    fn insert(table: &str, value: i32) -> InsertStatement {
        Query::insert()
            .into_table(Alias::new(table))
            .columns([Alias::new("v")])
            .values_panic([value.into()])
            .to_owned()
    }

    #[test]
    fn the_inserts_before_the_last_are_its_with_clauses_in_order() {
        let mut last = insert("c", 3);
        last.with_cte(with_clause(vec![insert("a", 1), insert("b", 2)]));
        let (sql, values) = last.build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"WITH "w0" AS (INSERT INTO "a" ("v") VALUES ($1)) , "w1" AS (INSERT INTO "b" ("v") VALUES ($2)) INSERT INTO "c" ("v") VALUES ($3)"#
        );
        assert_eq!(values.0.len(), 3);
    }
}
