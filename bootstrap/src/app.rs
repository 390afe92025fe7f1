//! Wiring: builds the adapters the settings choose, the use cases over them, and the HTTP
//! server and worker of the chosen mode; then runs them until shutdown.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use poem::{
    Server,
    listener::{Acceptor as _, Listener as _, TcpAcceptor, TcpListener},
};
use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;
use twofa_application::CheckHealth;
use twofa_crypto::{OsSecretGenerator, SystemClock};
use twofa_domain::{Clock as _, DependencyProbe};
use twofa_http::{AppState, HttpSettings, Surface};
use twofa_memory::AlwaysUpProbe;
use twofa_redis::RedisConnection;
use twofa_sql::{SqlDatabase, SqlSettings};

use crate::settings::{DatabaseKind, Environment, Mode, Settings};

/// The version `twofa --version` prints and `/api/health` reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A built service: connected, migrated, listening, not yet serving.
pub struct Application {
    settings: Settings,
    mode: Mode,
    acceptor: TcpAcceptor,
    local_addr: SocketAddr,
    database: Option<SqlDatabase>,
    endpoint: poem::endpoint::BoxEndpoint<'static>,
}

impl Application {
    /// Connects to the configured backends, migrates (development) or checks the schema
    /// (production), and binds `server.listen`.
    ///
    /// # Errors
    /// When a backend cannot be reached, the schema is not migrated in production, or the
    /// address cannot be bound; the message says which and what to do.
    pub async fn build(settings: Settings, mode: Mode) -> anyhow::Result<Self> {
        let clock = Arc::new(SystemClock);
        let mut probes: Vec<Arc<dyn DependencyProbe>> = Vec::new();
        let database = match settings.database_kind() {
            DatabaseKind::Memory => {
                probes.push(Arc::new(AlwaysUpProbe::new("database")));
                None
            }
            DatabaseKind::Postgres | DatabaseKind::Sqlite => {
                let database = connect_database(&settings).await?;
                prepare_schema(&database, settings.environment).await?;
                probes.push(Arc::new(database.probe()));
                Some(database)
            }
        };
        if let Some(url) = &settings.redis.url {
            let redis = RedisConnection::open(&twofa_redis::RedisSettings {
                url: url.expose_secret().to_owned(),
                timeout: settings.redis.timeout,
            })?;
            probes.push(Arc::new(redis.probe()));
        }
        let state = Arc::new(AppState {
            version: VERSION,
            started_at: clock.now(),
            clock: clock.clone(),
            check_health: CheckHealth::new(probes, clock),
        });
        let surface = match mode {
            Mode::Api | Mode::All => Surface::Api,
            Mode::Worker => Surface::WorkerProbes,
        };
        let http = HttpSettings {
            body_limit: settings.server.body_limit,
            request_timeout: settings.server.request_timeout,
            trusted_proxies: settings.server.trusted_proxies.clone(),
            cors_origins: settings.server.cors_origins.clone(),
            is_https: settings.server.public_url.starts_with("https://"),
        };
        let endpoint = poem::EndpointExt::boxed(twofa_http::build_endpoint(
            surface,
            state,
            &http,
            Arc::new(OsSecretGenerator),
        ));
        let acceptor = TcpListener::bind(settings.server.listen)
            .into_acceptor()
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (server.listen)",
                    settings.server.listen
                )
            })?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .context("the listener has no address")?;
        Ok(Self {
            settings,
            mode,
            acceptor,
            local_addr,
            database,
            endpoint,
        })
    }

    /// The address the server listens on (the real port when `server.listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, lets in-flight requests
    /// and the worker finish (bounded by `server.shutdown_timeout`) and closes the pool.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let drain = self.settings.server.shutdown_timeout;
        tracing::info!(address = %self.local_addr, mode = ?self.mode, version = VERSION, "twofa is listening");
        let worker = matches!(self.mode, Mode::Worker | Mode::All)
            .then(|| tokio::spawn(crate::worker::run(shutdown.clone())));
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(
                self.endpoint,
                shutdown.clone().cancelled_owned(),
                Some(drain),
            )
            .await;
        shutdown.cancel();
        if let Some(worker) = worker
            && tokio::time::timeout(drain, worker).await.is_err()
        {
            tracing::warn!("the worker did not stop within the shutdown timeout");
        }
        if let Some(database) = self.database {
            database.close().await;
        }
        tracing::info!("twofa stopped");
        served.context("the HTTP server failed")
    }
}

/// Opens the configured SQL database.
///
/// # Errors
/// When it cannot be reached within `database.timeout`.
pub async fn connect_database(settings: &Settings) -> anyhow::Result<SqlDatabase> {
    SqlDatabase::connect(&SqlSettings {
        url: settings.database.url.expose_secret().to_owned(),
        max_connections: settings.database.max_connections,
        timeout: settings.database.timeout,
    })
    .await
    .context("cannot open the database (database.url)")
}

/// Development migrates on start; production only checks, and refuses an old schema.
async fn prepare_schema(database: &SqlDatabase, environment: Environment) -> anyhow::Result<()> {
    match environment {
        Environment::Development => {
            let applied = database.migrate().await?;
            if applied > 0 {
                tracing::info!(applied, "database migrated");
            }
        }
        Environment::Production => {
            let pending = database.pending_migrations().await?;
            if !pending.is_empty() {
                anyhow::bail!(
                    "the database schema is not up to date ({} migration(s) pending: {}); run `twofa migrate` first",
                    pending.len(),
                    pending.join(", ")
                );
            }
        }
    }
    Ok(())
}
