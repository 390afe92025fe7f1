//! The database each case opens, and builders for what the cases write.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait as _, Database};
use serde_json::json;
use twofa_domain::{
    AuditLog as _, AuditQuery, Clock, EmailAddress, JobQueue as _, NewJob, NewOneTimeToken,
    NewSession, NewUser, OneTimeTokenHash, PasswordHash, QueueCounts, RefreshTokenHash,
    SecretGenerator, SessionId, TokenPurpose, UserId, Username,
};
use twofa_sql::{
    JobsTarget, SqlDatabase, SqlJobOutbox, SqlOneTimeTokenRepository, SqlSessionRepository,
    SqlSettings, SqlUnitOfWork, SqlUserRepository,
};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A clock the test moves.
pub(crate) struct SetClock(Mutex<DateTime<Utc>>);

impl SetClock {
    pub(crate) fn advance(&self, by: TimeDelta) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for SetClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Distinct bytes on every call.
pub(crate) struct Counting(AtomicU64);

impl SecretGenerator for Counting {
    fn fill_bytes(&self, buf: &mut [u8]) {
        let n = self.0.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte = n[i % n.len()] ^ u8::try_from(i % 251).unwrap();
        }
    }
}

/// A migrated, empty database and what the cases build on it.
pub(crate) struct Fixture {
    pub(crate) database: SqlDatabase,
    pub(crate) clock: Arc<SetClock>,
    pub(crate) ids: Arc<Counting>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    pub(crate) async fn open(backend: Backend) -> Self {
        Self::open_with_timeout(backend, Duration::from_secs(5)).await
    }

    pub(crate) async fn open_with_timeout(backend: Backend, timeout: Duration) -> Self {
        Self::open_with(backend, timeout, 4).await
    }

    /// With a pool of `connections` (1: every statement on one server session).
    pub(crate) async fn open_with(backend: Backend, timeout: Duration, connections: u32) -> Self {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
                (url, Some(dir))
            }
            Backend::Postgres => (fresh_postgres_database().await, None),
        };
        let database = SqlDatabase::connect(&SqlSettings {
            url,
            max_connections: connections,
            timeout,
        })
        .await
        .unwrap();
        database.migrate().await.unwrap();
        let start = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        Self {
            database,
            clock: Arc::new(SetClock(Mutex::new(start))),
            ids: Arc::new(Counting(AtomicU64::new(1))),
            _dir: dir,
        }
    }

    pub(crate) fn unit_of_work(&self, jobs: JobsTarget) -> SqlUnitOfWork {
        self.database
            .unit_of_work(self.clock.clone(), self.ids.clone(), jobs)
    }

    pub(crate) fn users(&self) -> SqlUserRepository {
        SqlUserRepository::new(self.database.connection().clone(), self.clock.clone())
    }

    pub(crate) fn sessions(&self) -> SqlSessionRepository {
        SqlSessionRepository::new(self.database.connection().clone(), self.clock.clone())
    }

    pub(crate) fn one_time_tokens(&self) -> SqlOneTimeTokenRepository {
        SqlOneTimeTokenRepository::new(self.database.connection().clone(), self.clock.clone())
    }

    pub(crate) fn outbox(&self) -> SqlJobOutbox {
        self.database.job_outbox(self.clock.clone())
    }

    pub(crate) async fn queue_counts(&self) -> QueueCounts {
        self.database
            .job_queue(self.clock.clone(), self.ids.clone())
            .counts()
            .await
            .unwrap()
    }

    pub(crate) async fn audit_actions(&self) -> Vec<String> {
        self.database
            .audit_log(self.clock.clone(), self.ids.clone())
            .query(&AuditQuery::all())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|item| item.event.action)
            .collect()
    }
}

/// The PostgreSQL admin URL; the case fails (never skips) without it.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("TWOFA_TEST_DATABASE_URL").expect(
        "TWOFA_TEST_DATABASE_URL is not set: the PostgreSQL cases of twofa-sql need it; \
         run ./scripts/test, which starts PostgreSQL and sets it",
    )
}

/// A new, empty PostgreSQL database; its URL.
pub(crate) async fn fresh_postgres_database() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let admin = postgres_admin_url();
    let connection = Database::connect(&admin)
        .await
        .expect("cannot reach the test PostgreSQL at TWOFA_TEST_DATABASE_URL");
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let name = format!(
        "twofa_sql_test_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    connection
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("cannot create a test database");
    let _ = connection.close().await;
    let (base, _) = admin
        .rsplit_once('/')
        .expect("TWOFA_TEST_DATABASE_URL names a database");
    format!("{base}/{name}")
}

/// A new id for a user or a session.
pub(crate) fn fresh_id() -> uuid::Uuid {
    static IDS: Counting = Counting(AtomicU64::new(1 << 40));
    IDS.uuid_v4()
}

pub(crate) fn new_user(name: &str) -> NewUser {
    NewUser::new(
        UserId::from_uuid(fresh_id()),
        EmailAddress::parse(&format!("{name}@example.com")).unwrap(),
        Username::parse(name).unwrap(),
        PasswordHash::from_phc("$argon2id$v=19$m=256,t=1,p=1$c2FsdA$aGFzaA".to_owned()),
    )
}

pub(crate) fn new_session(user: UserId, clock: &SetClock) -> NewSession {
    NewSession {
        id: SessionId::from_uuid(fresh_id()),
        user_id: user,
        amr: vec!["pwd".to_owned()],
        ip: None,
        user_agent: Some("test".to_owned()),
        expires_at: clock.now() + TimeDelta::days(30),
    }
}

pub(crate) fn refresh(byte: u8) -> RefreshTokenHash {
    RefreshTokenHash::from_bytes([byte; 32])
}

pub(crate) fn link(byte: u8) -> OneTimeTokenHash {
    OneTimeTokenHash::from_bytes([byte; 32])
}

pub(crate) fn link_token(user: UserId, byte: u8, clock: &SetClock) -> NewOneTimeToken {
    NewOneTimeToken {
        hash: link(byte),
        purpose: TokenPurpose::VerifyEmail,
        user_id: user,
        expires_at: clock.now() + TimeDelta::hours(24),
    }
}

pub(crate) fn welcome() -> NewJob {
    NewJob::new("email.send", json!({"template": "verify_email"}), 5)
}
