//! Settings: the defaults built into the binary (the repository's `config.toml`), then a
//! `config.toml` in the working directory or `--config PATH`, then `TWOFA_*` environment
//! variables (`__` between levels), then `validate()`. A wrong value stops the start with a
//! message naming the key.

mod auth;
mod duration;
mod hashing;
mod rate_limits;
mod text_variables;
mod two_factor;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format as _, Toml},
};
use ipnet::IpNet;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer};

use self::text_variables::{TextVariables, is_text_key};
pub use self::{
    auth::AuthSettings,
    hashing::HashingSettings,
    rate_limits::RateLimitSettings,
    two_factor::{
        ApiKeysSettings, DevicesSettings, OtpSettings, SecretsSettings, TotpAlgorithmSetting,
        TotpSettings,
    },
};

/// The defaults: the repository's `config.toml`, every key with its default value.
pub const DEFAULTS: &str = include_str!("../../config.toml");

/// `development` or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Generated keys, console notifiers, in-process stores and SQLite are allowed.
    Development,
    /// Refuses everything that only suits development.
    Production,
}

/// Which parts of the service this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The HTTP API only.
    Api,
    /// The background worker only (it serves `/api/health/*` too).
    Worker,
    /// Both in one process.
    All,
}

/// Every setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `environment`.
    pub environment: Environment,
    /// `mode`; `--mode` overrides it.
    pub mode: Mode,
    /// `server.*`.
    pub server: ServerSettings,
    /// `database.*`.
    pub database: DatabaseSettings,
    /// `redis.*`.
    pub redis: RedisSettings,
    /// `jobs.*`.
    pub jobs: JobsSettings,
    /// `notify.*`.
    pub notify: NotifySettings,
    /// `tokens.*`.
    pub tokens: TokensSettings,
    /// `hashing.*`.
    pub hashing: HashingSettings,
    /// `auth.*`.
    pub auth: AuthSettings,
    /// `rate_limits.*`.
    pub rate_limits: RateLimitSettings,
    /// `secrets.*`.
    pub secrets: SecretsSettings,
    /// `totp.*`.
    pub totp: TotpSettings,
    /// `otp.*`.
    pub otp: OtpSettings,
    /// `devices.*`.
    pub devices: DevicesSettings,
    /// `api_keys.*`.
    pub api_keys: ApiKeysSettings,
    /// `webhooks.*`.
    pub webhooks: WebhookSettings,
    /// `log.*`.
    pub log: LogSettings,
}

/// `server.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address of the HTTP listener.
    pub listen: SocketAddr,
    /// Base of every link the service sends.
    pub public_url: String,
    /// CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Request body limit in bytes.
    pub body_limit: usize,
    /// Most header fields a request may carry (431 above).
    pub max_headers: usize,
    /// Most bytes a request's head (request line and header fields) may take (431 above).
    pub max_header_bytes: usize,
    /// How long a client has to send a whole request head, from the connection's start or the
    /// end of its previous request; a connection slower than this is closed unanswered.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: u32,
    /// Per-request timeout.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// How long a shutdown waits for in-flight requests and jobs.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
}

/// `database.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://…`, `sqlite://…`, or `memory://` (in-process, nothing kept; tests).
    pub url: SecretString,
    /// A file holding the URL (it may carry a password); wins over `url`.
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// Pool size.
    pub max_connections: u32,
    /// The longest a connection or a health probe may take.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

/// `redis.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// Unset: shared state lives in the process. Set: in Redis, shared by every instance.
    #[serde(default)]
    pub url: Option<SecretString>,
    /// A file holding the URL; wins over `url`.
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// A Redis call slower than this fails.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Prefix of every key; the `{…}` hash tag keeps one queue's keys in one cluster slot.
    pub key_prefix: String,
}

/// Where jobs are queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobsBackend {
    /// A table of the database; enqueued in the same transaction as the change (outbox).
    Sql,
    /// Redis lists and sorted sets, enqueued right after the change commits.
    Redis,
    /// Process memory: lost on exit (tests only).
    Memory,
}

/// `jobs.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// `sql`, `redis` or `memory`.
    pub backend: JobsBackend,
    /// Jobs a worker runs at once.
    pub concurrency: usize,
    /// Jobs each of those slots claims in one go, then runs in turn.
    pub claim_batch: usize,
    /// A claimed job whose worker stops renewing it for this long goes back to the queue.
    #[serde(with = "duration")]
    pub lease: Duration,
    /// Runs of a job before it goes to the dead letter.
    pub max_attempts: u32,
    /// How often an idle worker looks for due jobs.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// The wait before the first retry; it doubles with each further one.
    #[serde(with = "duration")]
    pub retry_base: Duration,
    /// The longest wait between retries.
    #[serde(with = "duration")]
    pub retry_max: Duration,
    /// How long done and dead jobs are kept (idempotency, inspection) before the purge.
    #[serde(with = "duration")]
    pub retention: Duration,
    /// How often the maintenance purge runs (once per interval across all workers).
    #[serde(with = "duration")]
    pub maintenance_interval: Duration,
    /// Pending jobs above this turn `/api/health` to `degraded`.
    pub backlog_threshold: u64,
}

/// `tokens.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensSettings {
    /// Access JWT lifetime.
    #[serde(with = "duration")]
    pub access_ttl: Duration,
    /// Refresh token lifetime.
    #[serde(with = "duration")]
    pub refresh_ttl: Duration,
    /// A concurrent double refresh inside this window is not treated as theft.
    #[serde(with = "duration")]
    pub refresh_reuse_grace: Duration,
    /// The Ed25519 private key (PKCS#8 PEM) that signs access tokens.
    #[serde(default)]
    pub signing_key: Option<SecretString>,
    /// A file holding `signing_key`; wins over it.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// Public (or retired private) keys, PEM, that still verify tokens: key rotation.
    #[serde(default)]
    pub verification_keys: Vec<String>,
    /// Development only: where the generated signing key is kept and shared by every process
    /// of the working directory when `signing_key` is unset.
    pub dev_key_file: PathBuf,
}

/// Which SMS adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsBackend {
    /// Log a masked notice and append to `notify.dev_outbox` (development only).
    Console,
    /// Twilio's Messages API.
    Twilio,
}

/// Which e-mail adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailBackend {
    /// Log a masked notice and append to `notify.dev_outbox` (development only).
    Console,
    /// An SMTP server.
    Smtp,
}

/// `notify.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// `console` or `twilio`.
    pub sms: SmsBackend,
    /// `console` or `smtp`.
    pub email: EmailBackend,
    /// Where the console notifiers append one JSON line per message.
    pub dev_outbox: PathBuf,
    /// `notify.twilio.*`.
    pub twilio: TwilioSettings,
    /// `notify.smtp.*`.
    pub smtp: SmtpSettings,
}

/// `notify.twilio.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    /// The account SID (`AC…`).
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The auth token.
    #[serde(default)]
    pub auth_token: Option<SecretString>,
    /// A file holding the auth token; wins over `auth_token`.
    #[serde(default)]
    pub auth_token_file: Option<PathBuf>,
    /// The sending number (E.164); set this or `messaging_service_sid`.
    #[serde(default)]
    pub from: Option<String>,
    /// A messaging service (`MG…`); set this or `from`.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// The API's base URL (tests point it at a mock).
    pub base_url: String,
    /// Per-request timeout.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTlsMode {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a relay on the same host, or tests).
    None,
}

/// `notify.smtp.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// The server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    pub tls: SmtpTlsMode,
    /// Login name, when the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A file holding the password; wins over `password`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender mailbox: `twofa <no-reply@example.com>`.
    pub from: String,
    /// Per-message timeout.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

/// `webhooks.*`: delivery of signed events to the endpoints users register.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The wait before each retry of a delivery (each ±10% at random); when it is spent the
    /// delivery is `failed`. Empty: no retry.
    #[serde(deserialize_with = "duration_list")]
    pub retry_schedule: Vec<Duration>,
    /// The longest one delivery attempt may take (resolving, connecting, the answer).
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Failed deliveries in a row after which an endpoint is disabled (its owner re-enables it).
    pub disable_after_failures: u32,
    /// Destinations inside these ranges may be called although they are private or loopback
    /// (receivers inside a private network); nothing else private is ever called.
    #[serde(deserialize_with = "cidr_list")]
    pub allowed_cidrs: Vec<IpNet>,
}

impl WebhookSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.timeout.is_zero() || self.timeout > MAX_WEBHOOK_TIMEOUT {
            return refuse("webhooks.timeout", "must be longer than 0s and at most 5m");
        }
        if self.retry_schedule.len() > MAX_WEBHOOK_RETRIES {
            return refuse(
                "webhooks.retry_schedule",
                &format!("may hold at most {MAX_WEBHOOK_RETRIES} retries"),
            );
        }
        if let Some(position) = self
            .retry_schedule
            .iter()
            .position(|delay| delay.is_zero() || *delay > MAX_WEBHOOK_RETRY_DELAY)
        {
            return refuse(
                "webhooks.retry_schedule",
                &format!(
                    "each retry must wait longer than 0s and at most 24h (retry {} does not)",
                    position + 1
                ),
            );
        }
        if self.disable_after_failures == 0 {
            return refuse("webhooks.disable_after_failures", "must be at least 1");
        }
        Ok(())
    }
}

/// A list of durations, each written as the other duration keys are (`"5s"`, `"2h"`).
fn duration_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
    /// One entry.
    #[derive(Deserialize)]
    struct Entry(#[serde(with = "duration")] Duration);

    let entries = Vec::<Entry>::deserialize(deserializer)?;
    Ok(entries
        .into_iter()
        .map(|Entry(duration)| duration)
        .collect())
}

/// A list of CIDR ranges (`"10.0.0.0/8"`, `"fd00::/8"`), an entry that is not one named.
fn cidr_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| {
            text.trim().parse::<IpNet>().map_err(|error| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a CIDR range ({error}); write e.g. \"10.0.0.0/8\" or \"fd00::/8\""
                ))
            })
        })
        .collect()
}

/// `log.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter (`info`, `twofa=debug,info`); `RUST_LOG` wins when set.
    pub level: String,
    /// `auto` (pretty in development, JSON in production), `pretty` or `json`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty in development, JSON in production.
    Auto,
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Why the settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file named by `--config` does not exist.
    #[error("the configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value does not parse: each problem with its dotted key and where it came from.
    #[error("{}", describe(.0))]
    Invalid(#[from] Box<figment::Error>),
    /// A value parses but is not allowed.
    #[error("`{key}`: {message}")]
    Refused {
        /// The key, dotted.
        key: &'static str,
        /// What is wrong and what to set instead.
        message: String,
    },
}

/// Which database backend `database.url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// `postgres://`.
    Postgres,
    /// `sqlite:`.
    Sqlite,
    /// `memory://`.
    Memory,
}

impl Settings {
    /// Loads and validates the settings. `config` is `--config`; without it a `config.toml`
    /// in the working directory is read when there is one.
    ///
    /// # Errors
    /// `SettingsError`, naming the key.
    pub fn load(config: Option<&Path>) -> Result<Self, SettingsError> {
        Self::from_figment(&Self::figment(config)?)
    }

    /// The layered sources, before extraction (tests add their own layer on top).
    ///
    /// # Errors
    /// When `config` names a file that does not exist.
    pub fn figment(config: Option<&Path>) -> Result<Figment, SettingsError> {
        let file = match config {
            Some(path) if !path.exists() => {
                return Err(SettingsError::MissingFile(path.to_owned()));
            }
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from("config.toml")).filter(|p| p.exists()),
        };
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file(file));
        }
        // TWOFA_TEST_* are the test suite's own variables, not settings.
        let env = || {
            Env::prefixed("TWOFA_")
                .split("__")
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
        };
        // figment reads `+15550001111` or `0123` as numbers, losing the `+` or the zero: the
        // variables of text settings are taken as written.
        Ok(figment
            .merge(env().filter(|key| !is_text_key(key.as_str())))
            .merge(TextVariables(env().filter(|key| is_text_key(key.as_str())))))
    }

    /// Extracts, resolves `*_file` secrets and validates.
    ///
    /// # Errors
    /// `SettingsError`, naming the key.
    pub fn from_figment(figment: &Figment) -> Result<Self, SettingsError> {
        let mut settings: Self = figment.extract().map_err(Box::new)?;
        if let Some(path) = settings.database.url_file.take() {
            settings.database.url = read_secret_file(&path, "database.url_file")?;
        }
        if let Some(path) = settings.redis.url_file.take() {
            settings.redis.url = Some(read_secret_file(&path, "redis.url_file")?);
        }
        if let Some(path) = settings.notify.twilio.auth_token_file.take() {
            settings.notify.twilio.auth_token =
                Some(read_secret_file(&path, "notify.twilio.auth_token_file")?);
        }
        for optional in [
            &mut settings.notify.twilio.account_sid,
            &mut settings.notify.twilio.from,
            &mut settings.notify.twilio.messaging_service_sid,
            &mut settings.notify.smtp.username,
        ] {
            if optional
                .as_deref()
                .is_some_and(|text| text.trim().is_empty())
            {
                *optional = None;
            }
        }
        if let Some(path) = settings.tokens.signing_key_file.take() {
            settings.tokens.signing_key = Some(read_secret_file(&path, "tokens.signing_key_file")?);
        }
        if let Some(path) = settings.notify.smtp.password_file.take() {
            settings.notify.smtp.password =
                Some(read_secret_file(&path, "notify.smtp.password_file")?);
        }
        if let Some(path) = settings.secrets.key_file.take() {
            settings.secrets.key = Some(read_secret_file(&path, "secrets.key_file")?);
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Which database `database.url` names.
    pub fn database_kind(&self) -> DatabaseKind {
        database_kind(self.database.url.expose_secret()).unwrap_or(DatabaseKind::Memory)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let Some(kind) = database_kind(self.database.url.expose_secret()) else {
            return refuse(
                "database.url",
                "must start with postgres://, sqlite:// or memory://",
            );
        };
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return refuse("server.public_url", "must be an http:// or https:// URL");
        }
        if self.server.body_limit == 0 {
            return refuse("server.body_limit", "must be at least 1 byte");
        }
        if self.server.max_headers == 0 {
            return refuse("server.max_headers", "must be at least 1");
        }
        if self.server.max_header_bytes < MIN_HEADER_BYTES {
            return refuse(
                "server.max_header_bytes",
                &format!("must be at least {MIN_HEADER_BYTES} bytes"),
            );
        }
        if self.server.max_connections == 0 {
            return refuse("server.max_connections", "must be at least 1");
        }
        if self.database.max_connections == 0 {
            return refuse("database.max_connections", "must be at least 1");
        }
        for (key, duration) in [
            ("server.request_timeout", self.server.request_timeout),
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("database.timeout", self.database.timeout),
            ("redis.timeout", self.redis.timeout),
        ] {
            if duration.is_zero() {
                return refuse(key, "must be longer than 0s");
            }
        }
        self.validate_jobs(kind)?;
        self.validate_notify()?;
        self.hashing.validate()?;
        self.auth.validate()?;
        self.secrets.validate()?;
        self.totp.validate()?;
        self.otp.validate()?;
        self.devices.validate()?;
        self.api_keys.validate()?;
        self.webhooks.validate()?;
        if self.environment == Environment::Production {
            self.validate_production(kind)?;
        }
        Ok(())
    }

    /// What production refuses: everything that only suits one developer's machine.
    fn validate_production(&self, kind: DatabaseKind) -> Result<(), SettingsError> {
        match kind {
            DatabaseKind::Postgres => {}
            DatabaseKind::Sqlite | DatabaseKind::Memory => {
                return refuse(
                    "database.url",
                    "production needs PostgreSQL: set database.url (TWOFA_DATABASE__URL) to a postgres:// URL",
                );
            }
        }
        if self.redis.url.is_none() {
            return refuse(
                "redis.url",
                "production keeps challenges, counters and caches in Redis: set redis.url (TWOFA_REDIS__URL)",
            );
        }
        if self.jobs.backend == JobsBackend::Memory {
            return refuse(
                "jobs.backend",
                "production needs a durable queue: set jobs.backend to sql or redis",
            );
        }
        if self.notify.sms == SmsBackend::Console {
            return refuse(
                "notify.sms",
                "the console notifier is for development: set notify.sms = \"twilio\" (TWOFA_NOTIFY__SMS) and notify.twilio.*",
            );
        }
        if self.notify.email == EmailBackend::Console {
            return refuse(
                "notify.email",
                "the console notifier is for development: set notify.email = \"smtp\" (TWOFA_NOTIFY__EMAIL) and notify.smtp.*",
            );
        }
        if self.tokens.signing_key.is_none() {
            return refuse(
                "tokens.signing_key",
                "production refuses a generated signing key: set tokens.signing_key (or TWOFA_TOKENS__SIGNING_KEY_FILE) to an Ed25519 private key in PEM",
            );
        }
        if self.secrets.key.is_none() {
            return refuse(
                "secrets.key",
                "production refuses a generated secrets key: set secrets.key (or TWOFA_SECRETS__KEY_FILE) to base64 of 32 random bytes (`openssl rand -base64 32`)",
            );
        }
        Ok(())
    }

    fn validate_jobs(&self, database: DatabaseKind) -> Result<(), SettingsError> {
        match self.jobs.backend {
            JobsBackend::Sql if database == DatabaseKind::Memory => {
                return refuse(
                    "jobs.backend",
                    "sql needs a SQL database.url; with database.url = memory:// use jobs.backend = \"memory\"",
                );
            }
            JobsBackend::Redis if self.redis.url.is_none() => {
                return refuse("jobs.backend", "redis needs redis.url (TWOFA_REDIS__URL)");
            }
            JobsBackend::Redis if database == DatabaseKind::Memory => {
                // Its jobs would have no durable outbox to wait in between a commit and Redis.
                return refuse(
                    "jobs.backend",
                    "redis needs a SQL database.url (its job outbox lives there); with database.url = memory:// use jobs.backend = \"memory\"",
                );
            }
            JobsBackend::Sql | JobsBackend::Redis | JobsBackend::Memory => {}
        }
        if self.jobs.concurrency == 0 {
            return refuse("jobs.concurrency", "must be at least 1");
        }
        if !(1..=1000).contains(&self.jobs.claim_batch) {
            return refuse("jobs.claim_batch", "must be from 1 to 1000");
        }
        if self.jobs.max_attempts == 0 {
            return refuse("jobs.max_attempts", "must be at least 1");
        }
        for (key, duration) in [
            ("jobs.lease", self.jobs.lease),
            ("jobs.poll_interval", self.jobs.poll_interval),
            ("jobs.maintenance_interval", self.jobs.maintenance_interval),
        ] {
            if duration.is_zero() {
                return refuse(key, "must be longer than 0s");
            }
        }
        Ok(())
    }

    fn validate_notify(&self) -> Result<(), SettingsError> {
        let twilio = &self.notify.twilio;
        if self.notify.sms == SmsBackend::Twilio {
            if twilio.account_sid.is_none() {
                return refuse(
                    "notify.twilio.account_sid",
                    "notify.sms = \"twilio\" needs the account SID",
                );
            }
            if twilio.auth_token.is_none() {
                return refuse(
                    "notify.twilio.auth_token",
                    "notify.sms = \"twilio\" needs the auth token",
                );
            }
            if twilio.from.is_some() == twilio.messaging_service_sid.is_some() {
                return refuse(
                    "notify.twilio.from",
                    "set exactly one of notify.twilio.from and notify.twilio.messaging_service_sid",
                );
            }
        }
        if self.notify.email == EmailBackend::Smtp && self.notify.smtp.host.is_empty() {
            return refuse(
                "notify.smtp.host",
                "notify.email = \"smtp\" needs the server's host",
            );
        }
        Ok(())
    }
}

/// `` `server.listen`: invalid socket address syntax (from `TWOFA_` environment variable(s)) ``,
/// one line per problem figment found.
fn describe(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|error| {
            let key = error.path.join(".").to_ascii_lowercase();
            let source = error
                .metadata
                .as_ref()
                .map(|metadata| match &metadata.source {
                    Some(source) => format!(" (from {source})"),
                    None => format!(" (from {})", metadata.name),
                })
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", error.kind)
            } else {
                format!("`{key}`: {}{source}", error.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The smallest `server.max_header_bytes`: a request line and a few ordinary headers.
const MIN_HEADER_BYTES: usize = 1024;

/// The longest `webhooks.timeout`: a receiver slower than this is not answering.
const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_mins(5);
/// The most retries `webhooks.retry_schedule` may hold.
const MAX_WEBHOOK_RETRIES: usize = 20;
/// The longest wait before one retry.
const MAX_WEBHOOK_RETRY_DELAY: Duration = Duration::from_hours(24);

/// A refusal of `key`'s value, saying what to set instead.
fn refuse(key: &'static str, message: &str) -> Result<(), SettingsError> {
    Err(SettingsError::Refused {
        key,
        message: message.to_owned(),
    })
}

fn database_kind(url: &str) -> Option<DatabaseKind> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(DatabaseKind::Postgres)
    } else if url.starts_with("sqlite:") {
        Some(DatabaseKind::Sqlite)
    } else if url.starts_with("memory:") {
        Some(DatabaseKind::Memory)
    } else {
        None
    }
}

fn read_secret_file(path: &Path, key: &'static str) -> Result<SecretString, SettingsError> {
    std::fs::read_to_string(path)
        .map(|content| SecretString::from(content.trim_end_matches(['\r', '\n']).to_owned()))
        .map_err(|error| SettingsError::Refused {
            key,
            message: format!("cannot read {}: {error}", path.display()),
        })
}

#[cfg(test)]
mod tests;
