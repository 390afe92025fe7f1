//! `InsertBatch`: rows for one table gathered by a unit of work and written by one multi-row
//! `INSERT` (one round trip however many), early when `MAX_ROWS` are waiting.

use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, InsertStatement},
};

/// Rows for the `INSERT` that `start` begins (table, columns, conflict clause).
pub(crate) struct InsertBatch {
    start: fn() -> InsertStatement,
    insert: Option<InsertStatement>,
    rows: usize,
}

impl InsertBatch {
    /// Rows one `INSERT` holds at most: 500 rows of 10 parameters stay far below PostgreSQL's
    /// 65,535 and SQLite's 32,766.
    pub(crate) const MAX_ROWS: usize = 500;

    pub(crate) fn new(start: fn() -> InsertStatement) -> Self {
        Self {
            start,
            insert: None,
            rows: 0,
        }
    }

    /// Adds one row of values, in the columns' order.
    pub(crate) fn push(&mut self, row: Vec<Expr>) -> Result<(), sea_orm::sea_query::error::Error> {
        self.insert.get_or_insert_with(self.start).values(row)?;
        self.rows += 1;
        Ok(())
    }

    /// Whether `MAX_ROWS` are waiting and should be written now.
    pub(crate) fn is_full(&self) -> bool {
        self.rows >= Self::MAX_ROWS
    }

    /// The `INSERT` of the rows waiting, if any; the batch is empty after.
    pub(crate) fn take(&mut self) -> Option<InsertStatement> {
        self.rows = 0;
        self.insert.take()
    }

    /// Writes the rows through `connection` and empties the batch.
    pub(crate) async fn write_on<C: ConnectionTrait>(
        &mut self,
        connection: &C,
    ) -> Result<(), DbErr> {
        let Some(insert) = self.take() else {
            return Ok(());
        };
        connection.execute(&insert).await?;
        Ok(())
    }
}
