//! `lock_user`: the row lock that serialises the multi-statement writes of one user's
//! second-factor rows (a pending factor replaced, backup codes replaced) across processes.

use sea_orm::{
    ConnectionTrait, DeriveIden,
    sea_query::{Expr, ExprTrait as _, LockType, Query},
};
use twofa_domain::{PortError, UserId};

use crate::db_error::port_error;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// Locks the account `user_id`'s row until `transaction` ends: `SELECT … FOR NO KEY UPDATE`
/// on PostgreSQL, so a second writer of the same user's rows waits and then sees the first's
/// rows (foreign-key checks, which take `KEY SHARE`, do not wait). SQLite has no row locks
/// and needs none: the transaction began `IMMEDIATE`, holding the database's write lock.
/// An unknown account is not an error here; the insert that follows fails its foreign key.
pub(crate) async fn lock_user(
    transaction: &impl ConnectionTrait,
    doing: &'static str,
    user_id: UserId,
) -> Result<(), PortError> {
    let select = Query::select()
        .column(Users::Id)
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(user_id.as_uuid()))
        .lock(LockType::NoKeyUpdate)
        .to_owned();
    transaction
        .query_one(&select)
        .await
        .map_err(|error| port_error(doing, error))?;
    Ok(())
}
