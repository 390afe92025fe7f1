//! The repositories a transaction hands out, its events and its jobs: visible exactly when it
//! commits; a rotation and a consume keep their contracts inside it.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use twofa_domain::{
    Actor, Clock as _, NewAuditEvent, OneTimeTokenRepository as _, QueueCounts, RotateOutcome,
    SessionId, SessionRepository as _, TokenPurpose, Transaction, UnitOfWork as _, UserId,
    UserRepository as _,
};
use twofa_sql::{JobsTarget, SqlUnitOfWork};

use crate::fixture::{Backend, Fixture, link, link_token, new_session, new_user, refresh, welcome};

on_both_backends!(
    a_dropped_transaction_leaves_no_write_event_or_job,
    a_committed_transaction_shows_every_write_event_and_job,
    reads_inside_a_transaction_see_its_own_writes,
    a_rotation_inside_a_transaction_works_and_rolls_back_with_it,
    an_unchanged_rotation_inside_a_transaction_leaves_it_usable,
);

/// A user, a session and its refresh token, a one-time token, an event and a job, all in
/// one transaction; answers the user's id and the session's.
async fn write_everything(
    fixture: &Fixture,
    transaction: &mut dyn Transaction,
) -> (UserId, SessionId) {
    let user = transaction.users().create(new_user("jane")).await.unwrap();
    let session = transaction
        .sessions()
        .create(new_session(user.id, &fixture.clock), refresh(1))
        .await
        .unwrap();
    transaction
        .one_time_tokens()
        .issue(link_token(user.id, 9, &fixture.clock))
        .await
        .unwrap();
    transaction
        .audit(NewAuditEvent::new("user.registered", Actor::system(), true))
        .await
        .unwrap();
    transaction.enqueue(welcome()).await.unwrap();
    (user.id, session.id)
}

async fn a_dropped_transaction_leaves_no_write_event_or_job(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let mut transaction = fixture.unit_of_work(JobsTarget::Sql).begin().await.unwrap();
    let (user, session) = write_everything(&fixture, transaction.as_mut()).await;
    drop(transaction);

    assert_eq!(fixture.users().find_by_id(user).await.unwrap(), None);
    assert_eq!(fixture.users().find_by_login("jane").await.unwrap(), None);
    assert_eq!(fixture.sessions().find(session).await.unwrap(), None);
    assert_eq!(
        fixture
            .sessions()
            .find_by_refresh_token(refresh(1))
            .await
            .unwrap(),
        None
    );
    assert!(
        !fixture
            .one_time_tokens()
            .is_live(TokenPurpose::VerifyEmail, &link(9))
            .await
            .unwrap()
    );
    assert!(fixture.audit_actions().await.is_empty());
    assert_eq!(fixture.queue_counts().await, QueueCounts::default());
}

async fn a_committed_transaction_shows_every_write_event_and_job(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let mut transaction = fixture.unit_of_work(JobsTarget::Sql).begin().await.unwrap();
    let (user, session) = write_everything(&fixture, transaction.as_mut()).await;
    transaction.commit().await.unwrap();

    assert_eq!(
        fixture
            .users()
            .find_by_login("jane")
            .await
            .unwrap()
            .unwrap()
            .id,
        user
    );
    assert_eq!(
        fixture
            .sessions()
            .find(session)
            .await
            .unwrap()
            .unwrap()
            .user_id,
        user
    );
    let presented = fixture
        .sessions()
        .find_by_refresh_token(refresh(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(presented.session.id, session);
    assert_eq!(
        fixture
            .one_time_tokens()
            .consume(TokenPurpose::VerifyEmail, &link(9))
            .await
            .unwrap(),
        Some(user)
    );
    assert_eq!(fixture.audit_actions().await, ["user.registered"]);
    assert_eq!(fixture.queue_counts().await.pending, 1);
    assert_eq!(fixture.outbox().pending().await.unwrap(), 0);
}

async fn reads_inside_a_transaction_see_its_own_writes(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let mut transaction = fixture.unit_of_work(JobsTarget::Sql).begin().await.unwrap();
    let (user, session) = write_everything(&fixture, transaction.as_mut()).await;

    let found = transaction.users().find_by_login("JANE").await.unwrap();
    assert_eq!(found.map(|found| found.id), Some(user));
    assert!(
        transaction
            .sessions()
            .find(session)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        transaction
            .one_time_tokens()
            .is_live(TokenPurpose::VerifyEmail, &link(9))
            .await
            .unwrap()
    );
    assert!(
        transaction
            .users()
            .set_email_verified(user, true)
            .await
            .unwrap(),
        "an update inside the transaction finds the row it inserted"
    );
    assert!(
        transaction
            .users()
            .find_by_id(user)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    // Others do not see it before the commit.
    assert_eq!(fixture.users().find_by_login("jane").await.unwrap(), None);
    transaction.commit().await.unwrap();
    assert!(
        fixture
            .users()
            .find_by_id(user)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
}

// ---------------------------------------------------------------------------------------------
// Sessions inside a transaction
// ---------------------------------------------------------------------------------------------

/// A committed user with a committed session whose first token is `refresh(1)`.
async fn signed_in(fixture: &Fixture) -> (UserId, SessionId) {
    let user = fixture.users().create(new_user("jane")).await.unwrap();
    let session = fixture
        .sessions()
        .create(new_session(user.id, &fixture.clock), refresh(1))
        .await
        .unwrap();
    (user.id, session.id)
}

async fn a_rotation_inside_a_transaction_works_and_rolls_back_with_it(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let (_, session) = signed_in(&fixture).await;
    let unit_of_work = fixture.unit_of_work(JobsTarget::Sql);
    let expires_at = fixture.clock.now() + TimeDelta::days(60);

    let transaction = unit_of_work.begin().await.unwrap();
    let outcome = transaction
        .sessions()
        .rotate(refresh(1), refresh(2), Duration::ZERO, expires_at)
        .await
        .unwrap();
    assert!(matches!(outcome, RotateOutcome::Rotated(ref s) if s.id == session));
    let next = transaction
        .sessions()
        .find_by_refresh_token(refresh(2))
        .await
        .unwrap();
    assert_eq!(next.map(|next| next.session.id), Some(session));
    drop(transaction);

    let first = fixture
        .sessions()
        .find_by_refresh_token(refresh(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.rotated_at, None, "the rotation rolled back");
    assert_eq!(
        fixture
            .sessions()
            .find_by_refresh_token(refresh(2))
            .await
            .unwrap(),
        None
    );

    let transaction = unit_of_work.begin().await.unwrap();
    let outcome = transaction
        .sessions()
        .rotate(refresh(1), refresh(2), Duration::ZERO, expires_at)
        .await
        .unwrap();
    assert!(matches!(outcome, RotateOutcome::Rotated(_)));
    transaction.commit().await.unwrap();
    let first = fixture
        .sessions()
        .find_by_refresh_token(refresh(1))
        .await
        .unwrap()
        .unwrap();
    assert!(first.rotated_at.is_some());
    let stored = fixture.sessions().find(session).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, expires_at);
    assert!(
        fixture
            .sessions()
            .find_by_refresh_token(refresh(2))
            .await
            .unwrap()
            .is_some()
    );
}

/// A rotation that changes nothing (`NotFound`) ends its savepoint; the transaction goes on
/// and commits what it wrote before and after.
async fn an_unchanged_rotation_inside_a_transaction_leaves_it_usable(backend: Backend) {
    let fixture = Fixture::open(backend).await;
    let mut transaction = fixture.unit_of_work(JobsTarget::Sql).begin().await.unwrap();
    let user = transaction.users().create(new_user("jane")).await.unwrap();
    let outcome = transaction
        .sessions()
        .rotate(refresh(7), refresh(8), Duration::ZERO, fixture.clock.now())
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::NotFound);
    transaction
        .audit(NewAuditEvent::new(
            "session.refresh_failed",
            Actor::system(),
            false,
        ))
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    assert!(fixture.users().find_by_id(user.id).await.unwrap().is_some());
    assert_eq!(fixture.audit_actions().await, ["session.refresh_failed"]);
}

// ---------------------------------------------------------------------------------------------
// Concurrency (PostgreSQL: SQLite serialises whole transactions)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_transactions_consuming_one_token_exactly_one_gets_it() {
    let fixture = Fixture::open(Backend::Postgres).await;
    let user = fixture.users().create(new_user("jane")).await.unwrap();
    fixture
        .one_time_tokens()
        .issue(link_token(user.id, 9, &fixture.clock))
        .await
        .unwrap();
    let unit_of_work = Arc::new(fixture.unit_of_work(JobsTarget::Sql));
    let consume = |unit_of_work: Arc<SqlUnitOfWork>| async move {
        let transaction = unit_of_work.begin().await.unwrap();
        let consumed = transaction
            .one_time_tokens()
            .consume(TokenPurpose::VerifyEmail, &link(9))
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        consumed
    };
    let first = tokio::spawn(consume(unit_of_work.clone()));
    let second = tokio::spawn(consume(unit_of_work.clone()));
    let answers = [first.await.unwrap(), second.await.unwrap()];
    assert_eq!(
        answers.iter().filter(|answer| answer.is_some()).count(),
        1,
        "{answers:?}"
    );

    // The same with the first transaction's lock held on purpose: the second waits for the
    // commit, then finds the token used.
    fixture
        .one_time_tokens()
        .issue(link_token(user.id, 10, &fixture.clock))
        .await
        .unwrap();
    let holder = unit_of_work.begin().await.unwrap();
    assert_eq!(
        holder
            .one_time_tokens()
            .consume(TokenPurpose::VerifyEmail, &link(10))
            .await
            .unwrap(),
        Some(user.id)
    );
    let waiter = {
        let unit_of_work = unit_of_work.clone();
        tokio::spawn(async move {
            let transaction = unit_of_work.begin().await.unwrap();
            let consumed = transaction
                .one_time_tokens()
                .consume(TokenPurpose::VerifyEmail, &link(10))
                .await
                .unwrap();
            transaction.commit().await.unwrap();
            consumed
        })
    };
    holder.commit().await.unwrap();
    assert_eq!(waiter.await.unwrap(), None);
}
