//! Settings: the defaults built into the binary (the repository's `config.toml`), then a
//! `config.toml` in the working directory or `--config PATH`, then `TWOFA_*` environment
//! variables (`__` between levels), then `validate()`. A wrong value stops the start with a
//! message naming the key.

mod duration;

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
use serde::Deserialize;

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
        Ok(figment.merge(
            Env::prefixed("TWOFA_")
                .split("__")
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_")),
        ))
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
        settings.validate()?;
        Ok(settings)
    }

    /// Which database `database.url` names.
    pub fn database_kind(&self) -> DatabaseKind {
        database_kind(self.database.url.expose_secret()).unwrap_or(DatabaseKind::Memory)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let refuse = |key, message: &str| {
            Err(SettingsError::Refused {
                key,
                message: message.to_owned(),
            })
        };
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
        if self.database.max_connections == 0 {
            return refuse("database.max_connections", "must be at least 1");
        }
        for (key, duration) in [
            ("server.request_timeout", self.server.request_timeout),
            ("database.timeout", self.database.timeout),
            ("redis.timeout", self.redis.timeout),
        ] {
            if duration.is_zero() {
                return refuse(key, "must be longer than 0s");
            }
        }
        if self.environment == Environment::Production {
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
