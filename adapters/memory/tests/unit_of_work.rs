//! `MemoryUnitOfWork` over a `MemoryDatabase`: a transaction's writes, events and jobs exist
//! only once it commits, it reads its own writes, and transactions and plain writes on one
//! database are serialised.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly at the step that broke"
)]

use std::{
    pin::pin,
    sync::{Arc, Barrier, mpsc},
    task::Poll,
    thread,
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use futures::{executor::block_on, future, poll};
use twofa_domain::{
    Actor, AuditEventId, AuditLog, AuditPage, AuditQuery, ClaimedJob, Clock, JobId, JobQueue,
    NewAuditEvent, NewJob, NewOneTimeToken, NewSession, NewUser, OneTimeTokenHash,
    OneTimeTokenRepository, PasswordHash, PortError, QueueCounts, QueueError, RefreshTokenHash,
    RotateOutcome, SessionId, SessionRepository, TokenPurpose, UniqueField, UnitOfWork, UserId,
    UserRepository, UserRepositoryError,
};
use twofa_domain::{EmailAddress, UnfinishedJob, Username};
use twofa_memory::{
    ManualClock, MemoryAuditLog, MemoryDatabase, MemoryJobQueue, MemoryUnitOfWork,
    SeededSecretGenerator,
};
use uuid::Uuid;

/// A database, its unit of work, and the audit log and queue it commits to.
struct Store {
    clock: Arc<ManualClock>,
    database: MemoryDatabase,
    audit: Arc<MemoryAuditLog>,
    queue: Arc<MemoryJobQueue>,
    unit_of_work: MemoryUnitOfWork,
}

fn store() -> Store {
    let clock = Arc::new(ManualClock::new(
        DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    ));
    let ids = Arc::new(SeededSecretGenerator::new(7));
    let database = MemoryDatabase::new(clock.clone());
    let audit = Arc::new(MemoryAuditLog::new(clock.clone(), ids.clone()));
    let queue = Arc::new(MemoryJobQueue::new(clock.clone(), ids));
    let unit_of_work = MemoryUnitOfWork::new(&database, queue.clone(), audit.clone());
    Store {
        clock,
        database,
        audit,
        queue,
        unit_of_work,
    }
}

fn user(n: u128, email: &str, username: &str) -> NewUser {
    NewUser::new(
        UserId::from_uuid(Uuid::from_u128(n)),
        EmailAddress::parse(email).unwrap(),
        Username::parse(username).unwrap(),
        PasswordHash::from_phc("$argon2id$fake".to_owned()),
    )
}

fn session(n: u128, user_id: UserId, clock: &ManualClock) -> NewSession {
    NewSession {
        id: SessionId::from_uuid(Uuid::from_u128(n)),
        user_id,
        amr: vec!["pwd".to_owned()],
        ip: None,
        user_agent: None,
        expires_at: clock.now() + TimeDelta::days(30),
    }
}

fn refresh(byte: u8) -> RefreshTokenHash {
    RefreshTokenHash::from_bytes([byte; 32])
}

fn one_time(byte: u8) -> OneTimeTokenHash {
    OneTimeTokenHash::from_bytes([byte; 32])
}

fn verification(byte: u8, user_id: UserId, clock: &ManualClock) -> NewOneTimeToken {
    NewOneTimeToken {
        hash: one_time(byte),
        purpose: TokenPurpose::VerifyEmail,
        user_id,
        expires_at: clock.now() + TimeDelta::hours(24),
    }
}

async fn is_verification_live(database: &MemoryDatabase, byte: u8) -> bool {
    let tokens = database.one_time_tokens();
    let hash = one_time(byte);
    tokens
        .is_live(TokenPurpose::VerifyEmail, &hash)
        .await
        .unwrap()
}

async fn event_count(audit: &MemoryAuditLog) -> usize {
    audit.query(&AuditQuery::all()).await.unwrap().items.len()
}

async fn pending_jobs(queue: &MemoryJobQueue) -> u64 {
    queue.counts().await.unwrap().pending
}

/// Opens a transaction writing one of everything: a user, a session with its refresh token,
/// a one-time token, an audit event and a job; hands it back uncommitted.
async fn write_everything(store: &Store) -> (Box<dyn twofa_domain::Transaction>, UserId) {
    let mut transaction = store.unit_of_work.begin().await.unwrap();
    let jane = transaction
        .users()
        .create(user(1, "jane@example.com", "jane"))
        .await
        .unwrap();
    transaction
        .sessions()
        .create(session(10, jane.id, &store.clock), refresh(1))
        .await
        .unwrap();
    transaction
        .one_time_tokens()
        .issue(verification(1, jane.id, &store.clock))
        .await
        .unwrap();
    transaction
        .audit(NewAuditEvent::new(
            "user.registered",
            Actor::user(jane.id),
            true,
        ))
        .await
        .unwrap();
    transaction
        .enqueue(NewJob::new("email.send", serde_json::json!({}), 3))
        .await
        .unwrap();
    (transaction, jane.id)
}

#[test]
fn a_dropped_transaction_leaves_nothing() {
    block_on(async {
        let store = store();
        let (transaction, jane) = write_everything(&store).await;
        drop(transaction);

        assert_eq!(store.database.users().find_by_id(jane).await.unwrap(), None);
        let sessions = store.database.sessions();
        let session_id = SessionId::from_uuid(Uuid::from_u128(10));
        assert_eq!(sessions.find(session_id).await.unwrap(), None);
        assert_eq!(
            sessions.find_by_refresh_token(refresh(1)).await.unwrap(),
            None
        );
        assert!(!is_verification_live(&store.database, 1).await);
        assert_eq!(event_count(&store.audit).await, 0);
        assert_eq!(pending_jobs(&store.queue).await, 0);
    });
}

#[test]
fn a_committed_transaction_shows_everything() {
    block_on(async {
        let store = store();
        let (transaction, jane) = write_everything(&store).await;
        transaction.commit().await.unwrap();

        assert!(
            store
                .database
                .users()
                .find_by_id(jane)
                .await
                .unwrap()
                .is_some()
        );
        let sessions = store.database.sessions();
        let presented = sessions.find_by_refresh_token(refresh(1)).await.unwrap();
        assert_eq!(presented.unwrap().session.user_id, jane);
        assert!(is_verification_live(&store.database, 1).await);
        assert_eq!(event_count(&store.audit).await, 1);
        assert_eq!(pending_jobs(&store.queue).await, 1);
    });
}

#[test]
fn a_transaction_reads_its_own_writes_that_others_do_not_see() {
    block_on(async {
        let store = store();
        let transaction = store.unit_of_work.begin().await.unwrap();
        let jane = transaction
            .users()
            .create(user(1, "jane@example.com", "jane"))
            .await
            .unwrap();
        let found = transaction.users().find_by_login("JANE@example.com").await;
        assert_eq!(found.unwrap(), Some(jane.clone()));
        let plain = store.database.users();
        assert_eq!(plain.find_by_login("jane").await.unwrap(), None);

        transaction.commit().await.unwrap();
        assert_eq!(plain.find_by_login("jane").await.unwrap(), Some(jane));
    });
}

#[test]
fn a_rotation_inside_a_dropped_transaction_is_rolled_back() {
    block_on(async {
        let store = store();
        let sessions = store.database.sessions();
        let jane = UserId::from_uuid(Uuid::from_u128(1));
        sessions
            .create(session(10, jane, &store.clock), refresh(1))
            .await
            .unwrap();

        let transaction = store.unit_of_work.begin().await.unwrap();
        let expires_at = store.clock.now() + TimeDelta::days(60);
        let outcome = transaction
            .sessions()
            .rotate(refresh(1), refresh(2), Duration::ZERO, expires_at)
            .await
            .unwrap();
        assert!(matches!(outcome, RotateOutcome::Rotated(_)));
        let inside = transaction.sessions().find_by_refresh_token(refresh(1));
        assert!(inside.await.unwrap().unwrap().rotated_at.is_some());
        drop(transaction);

        let presented = sessions.find_by_refresh_token(refresh(1)).await.unwrap();
        assert_eq!(presented.unwrap().rotated_at, None);
        assert_eq!(
            sessions.find_by_refresh_token(refresh(2)).await.unwrap(),
            None
        );
        let session = sessions.find(SessionId::from_uuid(Uuid::from_u128(10)));
        assert_ne!(session.await.unwrap().unwrap().expires_at, expires_at);
    });
}

/// Lets the executor run the other futures once before going on.
async fn yield_now() {
    let mut has_yielded = false;
    future::poll_fn(|context| {
        if has_yielded {
            Poll::Ready(())
        } else {
            has_yielded = true;
            context.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// Consumes token 1 in a transaction of its own and commits, letting other futures run in
/// between; what the consume answered.
async fn consume_in_a_transaction(unit_of_work: &MemoryUnitOfWork) -> Option<UserId> {
    let transaction = unit_of_work.begin().await.unwrap();
    let consumed = transaction
        .one_time_tokens()
        .consume(TokenPurpose::VerifyEmail, &one_time(1))
        .await
        .unwrap();
    yield_now().await;
    transaction.commit().await.unwrap();
    consumed
}

#[test]
fn of_two_transactions_on_one_executor_consuming_one_token_exactly_one_gets_it() {
    block_on(async {
        let store = store();
        let jane = UserId::from_uuid(Uuid::from_u128(1));
        let tokens = store.database.one_time_tokens();
        tokens
            .issue(verification(1, jane, &store.clock))
            .await
            .unwrap();

        let (first, second) = futures::join!(
            consume_in_a_transaction(&store.unit_of_work),
            consume_in_a_transaction(&store.unit_of_work),
        );
        let mut answers = [first, second];
        answers.sort();
        assert_eq!(answers, [None, Some(jane)]);
    });
}

#[test]
fn of_two_transactions_on_two_threads_consuming_one_token_exactly_one_gets_it() {
    let store = Arc::new(store());
    let jane = UserId::from_uuid(Uuid::from_u128(1));
    let tokens = store.database.one_time_tokens();
    block_on(tokens.issue(verification(1, jane, &store.clock))).unwrap();

    let start = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                block_on(consume_in_a_transaction(&store.unit_of_work))
            })
        })
        .collect();
    let mut answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    answers.sort();
    assert_eq!(answers, [None, Some(jane)]);
}

/// Creates `new` in a transaction of its own and, letting other futures run in between,
/// commits if it was created.
async fn create_in_a_transaction(
    unit_of_work: &MemoryUnitOfWork,
    new: NewUser,
) -> Result<(), UserRepositoryError> {
    let transaction = unit_of_work.begin().await.unwrap();
    transaction.users().create(new).await?;
    yield_now().await;
    transaction.commit().await?;
    Ok(())
}

#[test]
fn of_two_transactions_creating_one_email_exactly_one_succeeds() {
    block_on(async {
        let store = store();
        let (first, second) = futures::join!(
            create_in_a_transaction(&store.unit_of_work, user(1, "jane@example.com", "jane")),
            create_in_a_transaction(&store.unit_of_work, user(2, "JANE@example.com", "jane2")),
        );
        assert!(first.is_ok());
        assert!(matches!(
            second,
            Err(UserRepositoryError::Conflict(UniqueField::Email))
        ));
        let users = store.database.users();
        assert_eq!(users.list(None, 10, None).await.unwrap().len(), 1);
    });
}

#[test]
fn a_plain_write_waits_for_an_open_transaction_then_sees_its_commit() {
    block_on(async {
        let store = store();
        let users = store.database.users();
        let transaction = store.unit_of_work.begin().await.unwrap();
        transaction
            .users()
            .create(user(1, "jane@example.com", "jane"))
            .await
            .unwrap();

        let mut plain = pin!(users.create(user(2, "Jane@Example.com", "other")));
        assert!(poll!(plain.as_mut()).is_pending());
        assert!(poll!(plain.as_mut()).is_pending());
        assert_eq!(users.find_by_login("other").await.unwrap(), None);

        transaction.commit().await.unwrap();
        assert!(matches!(
            plain.await,
            Err(UserRepositoryError::Conflict(UniqueField::Email))
        ));
    });
}

#[test]
fn a_plain_write_on_another_thread_applies_once_the_transaction_ends() {
    let store = store();
    let users = store.database.users();
    let transaction = block_on(store.unit_of_work.begin()).unwrap();

    let (done, finished) = mpsc::channel();
    let writer = {
        let users = users.clone();
        thread::spawn(move || {
            let created = block_on(users.create(user(2, "joe@example.com", "joe")));
            done.send(created.is_ok()).unwrap();
        })
    };
    assert!(finished.try_recv().is_err());
    assert_eq!(block_on(users.find_by_login("joe")).unwrap(), None);

    drop(transaction);
    assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(true));
    writer.join().unwrap();
    assert!(block_on(users.find_by_login("joe")).unwrap().is_some());
}

/// An audit log that refuses every event.
struct DownAuditLog;

#[async_trait]
impl AuditLog for DownAuditLog {
    async fn append(&self, _: NewAuditEvent) -> Result<AuditEventId, PortError> {
        Err(PortError::Unexpected(anyhow::anyhow!(
            "the audit log is down"
        )))
    }

    async fn query(&self, _: &AuditQuery) -> Result<AuditPage, PortError> {
        Err(PortError::Unexpected(anyhow::anyhow!(
            "the audit log is down"
        )))
    }
}

/// A queue that refuses everything.
struct DownQueue;

fn down() -> QueueError {
    QueueError::Unavailable(anyhow::anyhow!("the queue is down"))
}

#[async_trait]
impl JobQueue for DownQueue {
    async fn enqueue(&self, _: NewJob) -> Result<JobId, QueueError> {
        Err(down())
    }
    async fn claim(&self, _: Duration) -> Result<Option<ClaimedJob>, QueueError> {
        Err(down())
    }
    async fn renew(&self, _: &ClaimedJob, _: Duration) -> Result<DateTime<Utc>, QueueError> {
        Err(down())
    }
    async fn complete(&self, _: &ClaimedJob) -> Result<(), QueueError> {
        Err(down())
    }
    async fn retry(&self, _: &ClaimedJob, _: DateTime<Utc>, _: &str) -> Result<(), QueueError> {
        Err(down())
    }
    async fn bury(&self, _: &ClaimedJob, _: &str) -> Result<(), QueueError> {
        Err(down())
    }
    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        Err(down())
    }
    async fn unfinished(&self, _: u32) -> Result<Vec<UnfinishedJob>, QueueError> {
        Err(down())
    }

    async fn purge(&self, _: DateTime<Utc>) -> Result<u64, QueueError> {
        Err(down())
    }
}

#[test]
fn a_commit_whose_audit_event_fails_applies_no_table_and_no_job() {
    block_on(async {
        let store = store();
        let failing = Store {
            unit_of_work: MemoryUnitOfWork::new(
                &store.database,
                store.queue.clone(),
                Arc::new(DownAuditLog),
            ),
            ..store
        };
        let (transaction, jane) = write_everything(&failing).await;
        assert!(transaction.commit().await.is_err());

        let users = failing.database.users();
        assert_eq!(users.find_by_id(jane).await.unwrap(), None);
        let sessions = failing.database.sessions();
        assert_eq!(
            sessions.find_by_refresh_token(refresh(1)).await.unwrap(),
            None
        );
        assert_eq!(pending_jobs(&failing.queue).await, 0);
    });
}

#[test]
fn a_commit_whose_job_fails_applies_no_table_and_releases_the_writer() {
    block_on(async {
        let store = store();
        let failing = Store {
            unit_of_work: MemoryUnitOfWork::new(
                &store.database,
                Arc::new(DownQueue),
                store.audit.clone(),
            ),
            ..store
        };
        let (transaction, jane) = write_everything(&failing).await;
        let error = transaction.commit().await.unwrap_err();
        assert!(matches!(error, PortError::Unavailable { .. }));

        let users = failing.database.users();
        assert_eq!(users.find_by_id(jane).await.unwrap(), None);
        assert!(!is_verification_live(&failing.database, 1).await);
        // The residual the adapter documents: the event appended before the failure stays.
        assert_eq!(event_count(&failing.audit).await, 1);

        users
            .create(user(3, "joe@example.com", "joe"))
            .await
            .unwrap();
    });
}
