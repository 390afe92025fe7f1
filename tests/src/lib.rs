//! twofa's black-box test support: `spawn_app` starts the real wiring (`twofa::Application`)
//! on port 0 over the chosen backend and returns a `TestApp` with one method per endpoint.
//!
//! PostgreSQL and Redis come from `./scripts/test` (`TWOFA_TEST_DATABASE_URL`,
//! `TWOFA_TEST_REDIS_URL`); a test that needs them and finds them missing fails, naming the
//! variable: it is never skipped.
//!
//! Every app logs into the capture of [`log_capture`] (`TEST_LOG=1` shows the lines too), and
//! runs no worker loop unless [`AppOptions::background_worker`] asks for one: the test runs
//! the queued jobs with [`TestApp::run_pending_jobs`]. A test that leaves a job behind
//! (waiting, running or dead) fails when its app stops or is dropped, unless it called
//! [`TestApp::allow_leftover_jobs`].

#![expect(
    clippy::expect_used,
    reason = "test support fails loudly, naming what is missing"
)]

mod administrators;
mod app_options;
pub mod contract;
pub mod failing_unit_of_work;
mod jobs;
pub mod log_capture;
pub mod problem;
mod raw_redis;
mod redis_server;
mod second_factors;
mod stored_jobs;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicBool},
};

use figment::providers::Serialized;
use sea_orm::{ConnectionTrait as _, Database};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use twofa::{Application, Mode, Settings, backends::Backends};
use twofa_application::Worker;
use twofa_domain::JobQueue;

pub use administrators::{administrator, app_with_users};
pub use app_options::{AppOptions, Customise};
pub use log_capture::{assert_no_secret_in_logs, captured_logs, secrets_in_logs};
pub use problem::problem;
pub use raw_redis::{let_redis_time_pass, raw_redis_command};
pub use redis_server::RedisServer;
pub use second_factors::{amr, totp_code};

/// Which backends the app runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `memory://`, in-process stores.
    Memory,
    /// A SQLite file in a temporary folder, in-process stores.
    Sqlite,
    /// A fresh PostgreSQL database and the shared Redis.
    PostgresRedis,
}

impl Backend {
    /// Every backend, for tests that must hold on each.
    pub const ALL: [Self; 3] = [Self::Memory, Self::Sqlite, Self::PostgresRedis];
}

/// A running app and a client for it.
///
/// Stopping or dropping it fails the test when jobs remain in its queue (see
/// [`TestApp::allow_leftover_jobs`]).
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Its settings.
    pub settings: Settings,
    /// The database URL it runs over.
    pub database_url: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    /// Taken by `stop`.
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// Keeps the SQLite folder alive as long as the app; taken by `stop`.
    data_dir: Option<tempfile::TempDir>,
    /// `None` in `--mode api`.
    worker: Option<Arc<Worker>>,
    queue: Arc<dyn JobQueue>,
    is_leftover_allowed: AtomicBool,
    is_queue_checked: bool,
}

/// The PostgreSQL admin URL from `./scripts/test`.
pub fn postgres_admin_url() -> String {
    std::env::var("TWOFA_TEST_DATABASE_URL").expect(
        "TWOFA_TEST_DATABASE_URL is not set: run the suite with ./scripts/test, which starts PostgreSQL",
    )
}

/// The shared Redis URL from `./scripts/test`.
pub fn redis_url() -> String {
    std::env::var("TWOFA_TEST_REDIS_URL").expect(
        "TWOFA_TEST_REDIS_URL is not set: run the suite with ./scripts/test, which starts Redis",
    )
}

/// A new, empty PostgreSQL database; its URL.
pub async fn fresh_postgres_database() -> String {
    let admin = postgres_admin_url();
    let connection = Database::connect(&admin)
        .await
        .expect("cannot reach the test PostgreSQL");
    let name = format!("twofa_test_{}", uuid::Uuid::from_u128(rand_u128()).simple());
    connection
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("cannot create a test database");
    let _ = connection.close().await;
    let (base, _) = admin
        .rsplit_once('/')
        .expect("the admin URL names a database");
    format!("{base}/{name}")
}

/// A unique number per call, from the process id, time and a counter (test names only).
fn rand_u128() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (u128::from(std::process::id()) << 96)
        ^ nanos
        ^ (u128::from(COUNTER.fetch_add(1, Ordering::Relaxed)) << 64)
}

/// Starts `--mode all` over `backend`, without a worker loop.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(AppOptions::new(backend)).await
}

/// Starts the app as `options` say.
pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary folder");
    let database_url = match (&options.database_url, options.backend) {
        (Some(url), _) => url.clone(),
        (None, Backend::Memory) => "memory://".to_owned(),
        (None, Backend::Sqlite) => sqlite_url(&data_dir.path().join("twofa.db")),
        (None, Backend::PostgresRedis) => fresh_postgres_database().await,
    };
    let outbox = data_dir.path().join("outbox.jsonl");
    let mut figment = Settings::figment(None)
        .expect("settings")
        .merge(Serialized::default("server.listen", "127.0.0.1:0"))
        .merge(Serialized::default("database.url", &database_url))
        .merge(Serialized::default("notify.dev_outbox", &outbox))
        .merge(Serialized::default(
            "tokens.dev_key_file",
            data_dir.path().join("jwt-signing-key.pem"),
        ))
        .merge(Serialized::default(
            "secrets.dev_key_file",
            data_dir.path().join("secrets.key"),
        ))
        .merge(Serialized::default("jobs.poll_interval", "100ms"))
        // Cheap Argon2 parameters keep the suite fast; the hasher's own tests and the bench
        // use the defaults.
        .merge(Serialized::default("hashing.memory_kib", 256))
        .merge(Serialized::default("hashing.iterations", 1));
    match options.backend {
        Backend::Memory => figment = figment.merge(Serialized::default("jobs.backend", "memory")),
        Backend::Sqlite => {}
        Backend::PostgresRedis => {
            // Tests share one Redis: keys of apps over one database share a prefix, and no
            // others do (rate limits keyed on 127.0.0.1 would otherwise add up across tests).
            let database = database_url.rsplit('/').next().unwrap_or_default();
            figment = figment
                .merge(Serialized::default("redis.url", redis_url()))
                .merge(Serialized::default(
                    "redis.key_prefix",
                    format!("{{twofa-{database}}}:"),
                ));
        }
    }
    for (key, value) in &options.settings {
        figment = figment.merge(Serialized::default(key, value));
    }
    let settings = Settings::from_figment(&figment).expect("valid test settings");
    launch(
        settings,
        options.mode,
        database_url,
        data_dir,
        options.is_background_worker,
        options.customise,
        options.clock,
    )
    .await
}

/// Starts the app over already-built `settings` (restart tests reuse a data folder), without
/// a worker loop.
pub async fn start(
    settings: Settings,
    mode: Mode,
    database_url: String,
    data_dir: tempfile::TempDir,
) -> TestApp {
    launch(settings, mode, database_url, data_dir, false, None, None).await
}

async fn launch(
    settings: Settings,
    mode: Mode,
    database_url: String,
    data_dir: tempfile::TempDir,
    is_background_worker: bool,
    customise: Option<Customise>,
    clock: Option<Arc<dyn twofa_domain::Clock>>,
) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    log_capture::install();
    let customise = customise.unwrap_or_else(|| Box::new(|_| {}));
    let clock = clock.unwrap_or_else(|| Arc::new(twofa_crypto::SystemClock));
    let mut application = Application::build_with_clock(settings.clone(), mode, clock, customise)
        .await
        .expect("the app starts");
    if !is_background_worker {
        application = application.without_worker_loop();
    }
    let address = format!("http://{}", application.local_addr());
    let worker = application.worker();
    let queue = application.queue();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(application.run(shutdown.clone()));
    TestApp {
        address,
        settings,
        database_url,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
        shutdown,
        server: Some(server),
        data_dir: Some(data_dir),
        worker,
        queue,
        is_leftover_allowed: AtomicBool::new(false),
        is_queue_checked: false,
    }
}

/// A SQL engine a contract runs on; each store gets a new, empty database on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlEngine {
    /// A SQLite file in a folder of its own.
    Sqlite,
    /// A PostgreSQL database of `./scripts/test`'s server.
    Postgres,
}

impl SqlEngine {
    /// The URL of a new, empty database.
    pub async fn fresh_url(self) -> String {
        match self {
            Self::Sqlite => {
                // Kept on disk: the pools outlive this call, and the suite's process ends soon.
                let folder = tempfile::tempdir().expect("a temporary folder").keep();
                sqlite_url(&folder.join("twofa.db"))
            }
            Self::Postgres => fresh_postgres_database().await,
        }
    }
}

/// A pool on `url` for a contract test.
pub async fn connect_sql(url: &str) -> twofa_sql::SqlDatabase {
    twofa_sql::SqlDatabase::connect(&twofa_sql::SqlSettings {
        url: url.to_owned(),
        max_connections: 4,
        timeout: std::time::Duration::from_secs(10),
    })
    .await
    .expect("the test database answers")
}

/// The SQLite URL of `file`.
pub fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}?mode=rwc", file.display())
}

impl TestApp {
    /// `GET /api/health`.
    pub async fn health(&self) -> reqwest::Response {
        self.get("/api/health").await
    }

    /// `GET /api/health/live`.
    pub async fn health_live(&self) -> reqwest::Response {
        self.get("/api/health/live").await
    }

    /// `GET /api/health/ready`.
    pub async fn health_ready(&self) -> reqwest::Response {
        self.get("/api/health/ready").await
    }

    /// `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> reqwest::Response {
        self.get("/.well-known/jwks.json").await
    }

    /// `GET /api/openapi.json`.
    pub async fn openapi_json(&self) -> reqwest::Response {
        self.get("/api/openapi.json").await
    }

    /// `GET /api/docs`.
    pub async fn docs(&self) -> reqwest::Response {
        self.get("/api/docs").await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("the request is sent")
    }

    /// A request to `path`, to add headers or a body to.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// The app's stores, opened afresh as another process with the same settings would.
    pub async fn connect_backends(&self) -> Backends {
        Backends::connect(&self.settings)
            .await
            .expect("the stores open")
    }

    /// `GET /api/health`'s body.
    pub async fn health_body(&self) -> serde_json::Value {
        self.health()
            .await
            .json()
            .await
            .expect("health answers JSON")
    }

    /// The messages the console notifiers wrote, one JSON object each.
    pub fn outbox(&self) -> Vec<serde_json::Value> {
        read_outbox(&self.data_dir().join("outbox.jsonl"))
    }

    /// The app's data folder (the SQLite file, the outbox, the development signing key).
    pub fn data_dir(&self) -> &Path {
        self.data_dir
            .as_ref()
            .expect("the data folder is kept until the app stops")
            .path()
    }

    /// The socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        self.address
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address")
    }

    /// Checks that no job was left behind (see [`TestApp::allow_leftover_jobs`]), stops the
    /// app gracefully and waits for it; returns its data folder.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.check_no_leftover_jobs().await;
        self.is_queue_checked = true;
        self.shutdown.cancel();
        self.server
            .take()
            .expect("a running app has its server task")
            .await
            .expect("the server task ends")
            .expect("the server stops cleanly");
        self.data_dir
            .take()
            .expect("the data folder is kept until the app stops")
    }

    /// Every line the service logged so far in this process (see [`log_capture`]).
    pub fn captured_logs(&self) -> String {
        captured_logs()
    }

    /// Panics, listing them (each line shown with the secrets replaced by `<secret>`), when
    /// any of `secrets` appears in the logs so far; refuses a secret shorter than
    /// [`log_capture::MIN_SECRET_CHARS`].
    pub fn assert_no_secret_in_logs(&self, secrets: &[&str]) {
        assert_no_secret_in_logs(secrets);
    }
}

/// Instantiates `async fn case(backend: Backend)` functions as one `#[tokio::test]` per
/// backend: `memory::case`, `sqlite::case`, `postgres_redis::case`.
#[macro_export]
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        $crate::on_every_backend!(@backend memory, Memory; $($case),*);
        $crate::on_every_backend!(@backend sqlite, Sqlite; $($case),*);
        $crate::on_every_backend!(@backend postgres_redis, PostgresRedis; $($case),*);
    };
    (@backend $module:ident, $backend:ident; $($case:ident),*) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::Backend::$backend).await;
                }
            )*
        }
    };
}

/// The password the account helpers sign up with.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in account, as register or login answered.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account's id.
    pub user_id: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
}

impl SignedIn {
    /// Reads a token body (`{user, accessToken, refreshToken, …}`).
    pub fn from_body(body: &serde_json::Value) -> Self {
        let text = |value: &serde_json::Value| {
            value
                .as_str()
                .expect("a token body has the field")
                .to_owned()
        };
        Self {
            user_id: text(&body["user"]["id"]),
            access_token: text(&body["accessToken"]),
            refresh_token: text(&body["refreshToken"]),
        }
    }
}

impl TestApp {
    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    /// `method path` with a bearer token.
    pub async fn with_bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        access_token: &str,
    ) -> reqwest::Response {
        self.request(method, path)
            .bearer_auth(access_token)
            .send()
            .await
            .expect("the request is sent")
    }

    /// `POST /api/auth/register`.
    pub async fn register(&self, email: &str, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/register",
            &serde_json::json!({ "email": email, "username": username, "password": password }),
        )
        .await
    }

    /// Registers `username` (`<username>@example.com`, [`PASSWORD`]); panics unless 201.
    pub async fn signed_up(&self, username: &str) -> SignedIn {
        let response = self
            .register(&format!("{username}@example.com"), username, PASSWORD)
            .await;
        assert_eq!(response.status(), 201, "register {username}");
        SignedIn::from_body(&response.json().await.expect("a token body"))
    }

    /// `POST /api/auth/login`.
    pub async fn login(&self, login: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/login",
            &serde_json::json!({ "emailOrUsername": login, "password": password }),
        )
        .await
    }

    /// Logs `login` in with [`PASSWORD`]; panics unless 200.
    pub async fn signed_in(&self, login: &str) -> SignedIn {
        let response = self.login(login, PASSWORD).await;
        assert_eq!(response.status(), 200, "login {login}");
        SignedIn::from_body(&response.json().await.expect("a token body"))
    }

    /// `POST /api/auth/refresh` with the token in the body.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/refresh",
            &serde_json::json!({ "refreshToken": refresh_token }),
        )
        .await
    }

    /// `POST /api/auth/logout` with the token in the body.
    pub async fn logout(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/logout",
            &serde_json::json!({ "refreshToken": refresh_token }),
        )
        .await
    }

    /// `GET /api/auth/me`.
    pub async fn me(&self, access_token: &str) -> reqwest::Response {
        self.with_bearer(reqwest::Method::GET, "/api/auth/me", access_token)
            .await
    }

    /// The token of the last link to `path` (`verify-email`, `reset-password`) mailed to
    /// `to`, once the pending jobs have run.
    pub async fn mailed_token(&self, to: &str, path: &str) -> String {
        self.run_pending_jobs().await;
        let marker = format!("/{path}?token=");
        self.outbox()
            .iter()
            .rev()
            .filter(|message| message["to"] == to)
            .find_map(|message| {
                let body = message["body"].as_str()?;
                let start = body.find(&marker)? + marker.len();
                Some(
                    body[start..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect::<String>(),
                )
            })
            .unwrap_or_else(|| panic!("no {path} link was mailed to {to}"))
    }
}

/// The JSON lines of a dev outbox (none when the file does not exist yet).
pub fn read_outbox(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every outbox line is JSON"))
        .collect()
}

/// The repository root (for the committed OpenAPI document).
pub fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// A call's outcome, or `None` when it took over 2 s, several times any `redis.timeout` the
/// tests set (it hung).
pub async fn prompt<T, E>(call: impl Future<Output = Result<T, E>>) -> Option<Result<T, E>> {
    tokio::time::timeout(std::time::Duration::from_secs(2), call)
        .await
        .ok()
}

/// Whether `outcome` is a prompt `PortError::Unavailable` naming Redis.
pub fn is_redis_unavailable<T>(outcome: Option<&Result<T, twofa_domain::PortError>>) -> bool {
    matches!(
        outcome,
        Some(Err(twofa_domain::PortError::Unavailable {
            dependency: "redis",
            ..
        }))
    )
}

/// Polls `check` until it returns true or `deadline` passes; never sleeps blindly.
pub async fn eventually<F, Fut>(deadline: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The value of the `Set-Cookie` named `name` in `response`; panics when there is none.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| {
            cookie
                .strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} cookie was set"))
}
