//! `SqlDatabase`: the connection pool, and the schema's state.

use std::{fmt, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, sqlx::sqlite};
use sea_orm_migration::MigratorTrait as _;
use twofa_domain::{Clock, SecretGenerator};
use twofa_migrations::Migrator;

use crate::{JobsTarget, SqlAuditLog, SqlJobOutbox, SqlJobQueue, SqlUnitOfWork, probe::SqlProbe};

/// How to connect (`database.*`).
#[derive(Debug, Clone)]
pub struct SqlSettings {
    /// `postgres://…` or `sqlite://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a connection (and for a health probe) before giving up.
    pub timeout: Duration,
}

/// A pool of connections to PostgreSQL or SQLite.
///
/// On PostgreSQL every pooled connection runs with `statement_timeout = settings.timeout`: a
/// statement the server cannot finish in time (a stalled connection, a lock held too long) is
/// cancelled, and answers `PortError::Unavailable`, instead of holding a request or a
/// transaction forever. Migrations run on a connection of their own without that limit.
#[derive(Clone)]
pub struct SqlDatabase {
    connection: DatabaseConnection,
    /// How it was opened (the URL may hold a password: kept out of `Debug`).
    settings: SqlSettings,
}

impl fmt::Debug for SqlDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlDatabase")
            .field("connection", &self.connection)
            .field("timeout", &self.settings.timeout)
            .finish_non_exhaustive()
    }
}

impl SqlDatabase {
    /// Opens the pool. A SQLite file and its folder are created when missing.
    ///
    /// # Errors
    /// When the URL is not PostgreSQL or SQLite, the folder cannot be created, or the first
    /// connection fails within `settings.timeout`.
    pub async fn connect(settings: &SqlSettings) -> anyhow::Result<Self> {
        let is_sqlite = settings.url.starts_with("sqlite:");
        if !is_sqlite
            && !settings.url.starts_with("postgres://")
            && !settings.url.starts_with("postgresql://")
        {
            anyhow::bail!("database.url must start with postgres:// or sqlite://");
        }
        if is_sqlite {
            create_sqlite_folder(&settings.url)?;
        }
        let max_connections = if is_sqlite {
            settings.max_connections.min(8)
        } else {
            settings.max_connections
        };
        let connection = open(settings, max_connections, Some(settings.timeout)).await?;
        Ok(Self {
            connection,
            settings: settings.clone(),
        })
    }

    /// The SeaORM connection, for the repositories.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Whether this is PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        self.connection.get_database_backend() == DbBackend::Postgres
    }

    /// Applies every pending migration; returns how many ran. On PostgreSQL they run on a
    /// connection of their own without `statement_timeout` (building an index on a large
    /// table may take longer than a request's statements may).
    ///
    /// # Errors
    /// When a migration fails; the ones before it stay applied.
    pub async fn migrate(&self) -> anyhow::Result<usize> {
        let pending = Migrator::get_pending_migrations(&self.connection)
            .await
            .context("cannot read the applied migrations")?
            .len();
        if self.is_postgres() {
            let connection = open(&self.settings, 1, None).await?;
            let migrated = Migrator::up(&connection, None).await;
            if let Err(error) = connection.close().await {
                tracing::warn!(%error, "closing the migration connection failed");
            }
            migrated.context("a migration failed")?;
        } else {
            Migrator::up(&self.connection, None)
                .await
                .context("a migration failed")?;
        }
        Ok(pending)
    }

    /// The names of the migrations not yet applied, without changing the database.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn pending_migrations(&self) -> anyhow::Result<Vec<String>> {
        let pending = Migrator::get_pending_migrations_read_only(&self.connection)
            .await
            .context("cannot read the applied migrations")?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// The health probe of this database.
    pub fn probe(&self) -> SqlProbe {
        SqlProbe::new(self.connection.clone(), self.settings.timeout)
    }

    /// The job queue over this database's `jobs` table.
    pub fn job_queue(&self, clock: Arc<dyn Clock>, ids: Arc<dyn SecretGenerator>) -> SqlJobQueue {
        SqlJobQueue::new(self.connection.clone(), clock, ids)
    }

    /// The audit log over this database's `audit_events` table.
    pub fn audit_log(&self, clock: Arc<dyn Clock>, ids: Arc<dyn SecretGenerator>) -> SqlAuditLog {
        SqlAuditLog::new(self.connection.clone(), clock, ids)
    }

    /// The outbox of the jobs bound for a queue outside this database, for the relay.
    pub fn job_outbox(&self, clock: Arc<dyn Clock>) -> SqlJobOutbox {
        SqlJobOutbox::new(self.connection.clone(), clock)
    }

    /// Transactions on this database, sending their jobs to `jobs`.
    pub fn unit_of_work(
        &self,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
        jobs: JobsTarget,
    ) -> SqlUnitOfWork {
        SqlUnitOfWork::new(self.connection.clone(), clock, ids, jobs)
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(self) {
        if let Err(error) = self.connection.close().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
    }
}

/// A pool of at most `max_connections` to `settings.url`, its first connection made within
/// `settings.timeout`; on PostgreSQL with `statement_timeout` set to `statement_timeout`.
async fn open(
    settings: &SqlSettings,
    max_connections: u32,
    statement_timeout: Option<Duration>,
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(settings.timeout)
        .acquire_timeout(settings.timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|options| {
            options
                .journal_mode(sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    if let Some(limit) = statement_timeout {
        // Sent as the `-c statement_timeout=<ms>` startup option (PostgreSQL only: SQLite
        // ignores it), so every connection the pool opens has it, with no extra round trip.
        options.statement_timeout(limit);
    }
    tokio::time::timeout(settings.timeout, Database::connect(options))
        .await
        .map_err(|_| anyhow::anyhow!("no answer from the database within {:?}", settings.timeout))?
        .context("cannot connect to the database")
}

/// `sqlite://data/twofa.db?mode=rwc` → creates `data/`.
fn create_sqlite_folder(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(folder) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create the database folder {}", folder.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: String) -> SqlSettings {
        SqlSettings {
            url,
            max_connections: 4,
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_new_sqlite_file_and_its_folder_are_created_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested/folder/twofa.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let database = SqlDatabase::connect(&settings(url)).await.unwrap();
        assert!(file.exists());
        assert!(!database.pending_migrations().await.unwrap().is_empty());
        assert!(database.migrate().await.unwrap() >= 1);
        assert!(database.pending_migrations().await.unwrap().is_empty());
        assert_eq!(database.migrate().await.unwrap(), 0);
        database.probe_once().await;
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_with_the_key_named() {
        let error = SqlDatabase::connect(&settings("mysql://x".into()))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("database.url"));
    }

    impl SqlDatabase {
        async fn probe_once(&self) {
            use twofa_domain::DependencyProbe as _;
            self.probe().check().await.unwrap();
        }
    }
}
