//! The adapters the settings choose, built once per process: database, Redis, job queue,
//! audit log, unit of work, challenge store, secret cipher, notifiers, and the health probes
//! over them.

use std::sync::Arc;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use twofa_crypto::{AesGcmSecretCipher, aes_gcm_secret_cipher::load_or_generate_secrets_key};
use twofa_domain::{
    AuditLog, BackupCodeRepository, ChallengeStore, Clock, DependencyProbe, DeviceRepository,
    EmailRenderer, EmailSender, FactorRepository, JobQueue, OneTimeTokenRepository, RateLimiter,
    SecretCipher, SecretGenerator, SessionCache, SessionRepository, SmsSender, UnitOfWork,
    UserRepository,
};
use twofa_memory::{
    AlwaysUpProbe, FallbackRateLimiter, MemoryAuditLog, MemoryChallengeStore, MemoryDatabase,
    MemoryJobQueue, MemoryRateLimiter, MemorySessionCache, MemoryUnitOfWork,
};
use twofa_redis::{
    RedisChallengeStore, RedisConnection, RedisJobQueue, RedisRateLimiter, RedisSessionCache,
};
use twofa_sql::{
    JobsTarget, SqlAuditLog, SqlBackupCodeRepository, SqlDatabase, SqlDeviceRepository,
    SqlFactorRepository, SqlJobQueue, SqlOneTimeTokenRepository, SqlSessionRepository, SqlSettings,
    SqlUnitOfWork, SqlUserRepository, TimeLimitedJobQueue,
};

use crate::settings::{
    DatabaseKind, EmailBackend, Environment, JobsBackend, Settings, SmsBackend, SmtpTlsMode,
};

/// Every store of the process.
pub struct Backends {
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// The OS-seeded random source.
    pub ids: Arc<dyn SecretGenerator>,
    /// The SQL database, unless `database.url` is `memory://`.
    pub database: Option<SqlDatabase>,
    /// Redis, when `redis.url` is set.
    pub redis: Option<RedisConnection>,
    /// The job queue of `jobs.backend`.
    pub queue: Arc<dyn JobQueue>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Transactions over the database, the queue and the audit trail.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// Accounts.
    pub users: Arc<dyn UserRepository>,
    /// Sessions and their refresh tokens.
    pub sessions: Arc<dyn SessionRepository>,
    /// Short-lived answers to "is this session live?" (Redis when set, else the process).
    pub session_cache: Arc<dyn SessionCache>,
    /// Attempt counters (Redis when set, falling back to the process's own; else the
    /// process's own).
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// E-mail verification and password reset tokens.
    pub one_time_tokens: Arc<dyn OneTimeTokenRepository>,
    /// Second factors.
    pub factors: Arc<dyn FactorRepository>,
    /// Backup codes.
    pub backup_codes: Arc<dyn BackupCodeRepository>,
    /// Trusted devices.
    pub devices: Arc<dyn DeviceRepository>,
    /// API keys.
    pub api_keys: Arc<dyn twofa_domain::ApiKeyRepository>,
    /// Webhook endpoints and their deliveries.
    pub webhooks: Arc<dyn twofa_domain::WebhookRepository>,
    /// Login challenges and pending SMS and e-mail codes (Redis when set, else the process).
    pub challenges: Arc<dyn ChallengeStore>,
    /// Encryption of stored secrets and the keyed digests of codes (`secrets.*`).
    pub cipher: Arc<dyn SecretCipher>,
    /// The database's and Redis's health probes.
    pub probes: Vec<Arc<dyn DependencyProbe>>,
}

impl Backends {
    /// Connects to the configured stores, migrating (development) or checking (production)
    /// the schema.
    ///
    /// # Errors
    /// When a store cannot be reached or the schema is not up to date in production.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        Self::connect_with_clock(settings, Arc::new(twofa_crypto::SystemClock)).await
    }

    /// [`Backends::connect`], every store (the job queue included) reading `clock`: a test
    /// moves time on for the whole service at once.
    ///
    /// # Errors
    /// As [`Backends::connect`].
    pub async fn connect_with_clock(
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let ids: Arc<dyn SecretGenerator> = Arc::new(twofa_crypto::OsSecretGenerator);
        let mut probes: Vec<Arc<dyn DependencyProbe>> = Vec::new();
        let database = match settings.database_kind() {
            DatabaseKind::Memory => {
                probes.push(Arc::new(AlwaysUpProbe::new("database")));
                None
            }
            DatabaseKind::Postgres | DatabaseKind::Sqlite => {
                let database = connect_database(settings).await?;
                prepare_schema(&database, settings.environment).await?;
                probes.push(Arc::new(database.probe()));
                Some(database)
            }
        };
        let redis = match &settings.redis.url {
            Some(url) => {
                let redis = RedisConnection::open(&twofa_redis::RedisSettings {
                    url: url.expose_secret().to_owned(),
                    timeout: settings.redis.timeout,
                })?;
                probes.push(Arc::new(redis.probe()));
                Some(redis)
            }
            None => None,
        };
        let queue: Arc<dyn JobQueue> = match (settings.jobs.backend, &database, &redis) {
            (JobsBackend::Sql, Some(database), _) => Arc::new(TimeLimitedJobQueue::new(
                SqlJobQueue::new(database.connection().clone(), clock.clone(), ids.clone()),
                settings.database.timeout,
            )),
            (JobsBackend::Redis, _, Some(redis)) => Arc::new(RedisJobQueue::new(
                redis.clone(),
                format!("{}jobs:", settings.redis.key_prefix),
                clock.clone(),
                ids.clone(),
            )),
            (JobsBackend::Memory, _, _) => {
                Arc::new(MemoryJobQueue::new(clock.clone(), ids.clone()))
            }
            (JobsBackend::Sql | JobsBackend::Redis, _, _) => {
                anyhow::bail!("jobs.backend does not match the configured stores")
            }
        };
        let Stores {
            audit,
            unit_of_work,
            users,
            sessions,
            one_time_tokens,
            factors,
            backup_codes,
            devices,
            api_keys,
            webhooks,
        } = stores(settings, database.as_ref(), &queue, &clock, &ids);
        let (session_cache, rate_limiter) = shared_state(settings, redis.as_ref(), &clock);
        let challenges = challenge_store(settings, redis.as_ref(), &clock)?;
        let cipher = Arc::new(secret_cipher(settings, ids.clone())?);
        Ok(Self {
            clock,
            ids,
            database,
            redis,
            queue,
            audit,
            unit_of_work,
            users,
            sessions,
            session_cache,
            rate_limiter,
            one_time_tokens,
            factors,
            backup_codes,
            devices,
            api_keys,
            webhooks,
            challenges,
            cipher,
            probes,
        })
    }

    /// Closes the database pool.
    pub async fn close(self) {
        if let Some(database) = self.database {
            database.close().await;
        }
    }
}

/// The stores that live in the database, or in memory with `database.url = "memory://"`.
struct Stores {
    audit: Arc<dyn AuditLog>,
    unit_of_work: Arc<dyn UnitOfWork>,
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    one_time_tokens: Arc<dyn OneTimeTokenRepository>,
    factors: Arc<dyn FactorRepository>,
    backup_codes: Arc<dyn BackupCodeRepository>,
    devices: Arc<dyn DeviceRepository>,
    api_keys: Arc<dyn twofa_domain::ApiKeyRepository>,
    webhooks: Arc<dyn twofa_domain::WebhookRepository>,
}

fn stores(
    settings: &Settings,
    database: Option<&SqlDatabase>,
    queue: &Arc<dyn JobQueue>,
    clock: &Arc<dyn Clock>,
    ids: &Arc<dyn SecretGenerator>,
) -> Stores {
    let Some(database) = database else {
        let audit: Arc<dyn AuditLog> = Arc::new(MemoryAuditLog::new(clock.clone(), ids.clone()));
        let database = MemoryDatabase::new(clock.clone());
        return Stores {
            unit_of_work: Arc::new(MemoryUnitOfWork::new(
                &database,
                queue.clone(),
                audit.clone(),
            )),
            audit,
            users: database.users(),
            sessions: database.sessions(),
            one_time_tokens: database.one_time_tokens(),
            factors: database.factors(),
            backup_codes: database.backup_codes(),
            devices: database.devices(),
            api_keys: database.api_keys(),
            webhooks: database.webhooks(),
        };
    };
    let connection = database.connection();
    let target = match settings.jobs.backend {
        JobsBackend::Sql => JobsTarget::Sql,
        JobsBackend::Redis | JobsBackend::Memory => JobsTarget::After(queue.clone()),
    };
    Stores {
        audit: Arc::new(SqlAuditLog::new(
            connection.clone(),
            clock.clone(),
            ids.clone(),
        )),
        unit_of_work: Arc::new(SqlUnitOfWork::new(
            connection.clone(),
            clock.clone(),
            ids.clone(),
            target,
        )),
        users: Arc::new(SqlUserRepository::new(connection.clone(), clock.clone())),
        sessions: Arc::new(SqlSessionRepository::new(connection.clone(), clock.clone())),
        one_time_tokens: Arc::new(SqlOneTimeTokenRepository::new(
            connection.clone(),
            clock.clone(),
        )),
        factors: Arc::new(SqlFactorRepository::new(connection.clone(), clock.clone())),
        backup_codes: Arc::new(SqlBackupCodeRepository::new(
            connection.clone(),
            clock.clone(),
        )),
        devices: Arc::new(SqlDeviceRepository::new(connection.clone(), clock.clone())),
        api_keys: Arc::new(twofa_sql::SqlApiKeyRepository::new(
            connection.clone(),
            clock.clone(),
        )),
        webhooks: Arc::new(twofa_sql::SqlWebhookRepository::new(
            connection.clone(),
            clock.clone(),
        )),
    }
}

/// The session cache and the rate limiter: in Redis, shared by every instance, when
/// `redis.url` is set (the limiter falling back to per-process counters, never to none, while
/// Redis is down); in the process otherwise.
fn shared_state(
    settings: &Settings,
    redis: Option<&RedisConnection>,
    clock: &Arc<dyn Clock>,
) -> (Arc<dyn SessionCache>, Arc<dyn RateLimiter>) {
    let Some(redis) = redis else {
        return (
            Arc::new(MemorySessionCache::new(clock.clone())),
            Arc::new(MemoryRateLimiter::new(clock.clone())),
        );
    };
    let prefix = &settings.redis.key_prefix;
    let shared = Arc::new(RedisRateLimiter::new(
        redis.clone(),
        format!("{prefix}limits:"),
        clock.clone(),
    ));
    let limiter = FallbackRateLimiter::new(shared, MemoryRateLimiter::new(clock.clone()))
        .on_outage(|error| {
            tracing::warn!(error = %twofa_domain::error_chain(error), "Redis is unavailable; rate limits fall back to this process's own counters");
        })
        .on_recovery(|| tracing::info!("Redis answers again; rate limits are shared again"));
    (
        Arc::new(RedisSessionCache::new(
            redis.clone(),
            format!("{prefix}sessions:"),
            clock.clone(),
        )),
        Arc::new(limiter),
    )
}

/// The challenge store: in Redis, shared by every instance, when `redis.url` is set; in the
/// process otherwise, which only suits a single instance and which production refuses (the
/// settings already refuse production without `redis.url`).
fn challenge_store(
    settings: &Settings,
    redis: Option<&RedisConnection>,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn ChallengeStore>> {
    match (redis, settings.environment) {
        (Some(redis), Environment::Development | Environment::Production) => {
            Ok(Arc::new(RedisChallengeStore::new(
                redis.clone(),
                format!("{}challenges:", settings.redis.key_prefix),
            )))
        }
        (None, Environment::Development) => Ok(Arc::new(MemoryChallengeStore::new(clock.clone()))),
        (None, Environment::Production) => {
            anyhow::bail!("production keeps challenges in Redis: set redis.url (TWOFA_REDIS__URL)")
        }
    }
}

/// The secret cipher of `secrets.*`: `secrets.key` and `secrets.previous_keys`, or in
/// development without `secrets.key` the key generated once into `secrets.dev_key_file` and
/// shared by every process of the working directory. Production refuses to start without
/// `secrets.key` (the settings refuse it first).
///
/// # Errors
/// When a key is malformed, the development key file cannot be kept, or production has no
/// key.
pub fn secret_cipher(
    settings: &Settings,
    ids: Arc<dyn SecretGenerator>,
) -> anyhow::Result<AesGcmSecretCipher> {
    let secrets = &settings.secrets;
    let current = match (secrets.key()?, settings.environment) {
        (Some(key), Environment::Development | Environment::Production) => key,
        (None, Environment::Development) => {
            load_or_generate_secrets_key(&secrets.dev_key_file, ids.as_ref())
                .context("cannot keep the development secrets key (secrets.dev_key_file)")?
        }
        (None, Environment::Production) => anyhow::bail!(
            "production refuses a generated secrets key: set secrets.key (or TWOFA_SECRETS__KEY_FILE)"
        ),
    };
    Ok(AesGcmSecretCipher::new(
        current,
        secrets.previous_keys()?,
        ids,
    ))
}

/// The senders and the e-mail renderer `notify.*` chooses.
pub struct Notifiers {
    /// SMS.
    pub sms: Arc<dyn SmsSender>,
    /// E-mail.
    pub email: Arc<dyn EmailSender>,
    /// The e-mail templates.
    pub renderer: Arc<dyn EmailRenderer>,
}

impl Notifiers {
    /// Builds the configured notifiers.
    ///
    /// # Errors
    /// When a notifier's settings are unusable.
    pub fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let notify = &settings.notify;
        // Both console notifiers append through one outbox, so their lines never interleave.
        let outbox = twofa_notify::DevOutbox::new(notify.dev_outbox.clone(), clock);
        let sms: Arc<dyn SmsSender> = match notify.sms {
            SmsBackend::Console => Arc::new(twofa_notify::ConsoleSmsSender::new(outbox.clone())),
            SmsBackend::Twilio => {
                let twilio = &notify.twilio;
                Arc::new(
                    twofa_notify::TwilioSmsSender::new(twofa_notify::TwilioSettings {
                        account_sid: twilio.account_sid.clone().unwrap_or_default(),
                        auth_token: twilio
                            .auth_token
                            .clone()
                            .unwrap_or_else(|| String::new().into()),
                        from: twilio.from.clone(),
                        messaging_service_sid: twilio.messaging_service_sid.clone(),
                        base_url: twilio.base_url.clone(),
                        timeout: twilio.timeout,
                    })
                    .context("notify.twilio")?,
                )
            }
        };
        let email: Arc<dyn EmailSender> = match notify.email {
            EmailBackend::Console => Arc::new(twofa_notify::ConsoleEmailSender::new(outbox)),
            EmailBackend::Smtp => {
                let smtp = &notify.smtp;
                Arc::new(
                    twofa_notify::SmtpEmailSender::new(twofa_notify::SmtpSettings {
                        host: smtp.host.clone(),
                        port: smtp.port,
                        tls: match smtp.tls {
                            SmtpTlsMode::Starttls => twofa_notify::SmtpTls::StartTls,
                            SmtpTlsMode::Tls => twofa_notify::SmtpTls::Tls,
                            SmtpTlsMode::None => twofa_notify::SmtpTls::None,
                        },
                        username: smtp.username.clone(),
                        password: smtp.password.clone(),
                        from: smtp.from.clone(),
                        timeout: smtp.timeout,
                    })
                    .context("notify.smtp")?,
                )
            }
        };
        Ok(Self {
            sms,
            email,
            renderer: Arc::new(twofa_notify::EmailTemplates::new()),
        })
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

#[cfg(test)]
mod tests {
    #![expect(
        clippy::result_large_err,
        reason = "figment::Jail closures return figment::Error, which is large"
    )]

    use figment::Jail;
    use twofa_crypto::{CipherKey, OsSecretGenerator};

    use super::*;

    fn ids() -> Arc<dyn SecretGenerator> {
        Arc::new(OsSecretGenerator)
    }

    fn key_text(byte: u8) -> String {
        CipherKey::from_bytes([byte; 32])
            .to_base64()
            .as_str()
            .to_owned()
    }

    #[test]
    fn without_a_key_development_generates_one_and_every_process_reuses_it() {
        Jail::expect_with(|jail| {
            let settings = Settings::load(None).unwrap();
            let first = secret_cipher(&settings, ids()).unwrap();
            let sealed = first.seal(b"secret", b"factor-1");
            let path = jail.directory().join("data").join("secrets.key");
            assert!(path.exists(), "the key is kept in secrets.dev_key_file");
            let second = secret_cipher(&settings, ids()).unwrap();
            assert_eq!(second.current_key_id(), first.current_key_id());
            assert_eq!(
                second.open(&sealed, b"factor-1").unwrap().as_slice(),
                b"secret"
            );
            Ok(())
        });
    }

    #[test]
    fn a_configured_key_seals_and_the_previous_keys_still_open() {
        Jail::expect_with(|jail| {
            jail.set_env("TWOFA_SECRETS__KEY", key_text(2));
            jail.set_env(
                "TWOFA_SECRETS__PREVIOUS_KEYS",
                format!(r#"["{}"]"#, key_text(1)),
            );
            let settings = Settings::load(None).unwrap();
            let cipher = secret_cipher(&settings, ids()).unwrap();
            assert_eq!(cipher.current_key_id(), CipherKey::from_bytes([2; 32]).id());
            assert_eq!(
                cipher.key_ids().collect::<Vec<_>>(),
                [
                    CipherKey::from_bytes([2; 32]).id(),
                    CipherKey::from_bytes([1; 32]).id()
                ]
            );
            let old = AesGcmSecretCipher::new(CipherKey::from_bytes([1; 32]), [], ids());
            let sealed = old.seal(b"secret", b"factor-1");
            assert_eq!(
                cipher.open(&sealed, b"factor-1").unwrap().as_slice(),
                b"secret"
            );
            assert!(
                !jail.directory().join("data").join("secrets.key").exists(),
                "no development key is generated when one is configured"
            );
            Ok(())
        });
    }

    #[test]
    fn production_builds_neither_an_in_process_challenge_store_nor_a_generated_key() {
        Jail::expect_with(|_| {
            let mut settings = Settings::load(None).unwrap();
            settings.environment = Environment::Production;
            let clock: Arc<dyn Clock> = Arc::new(twofa_crypto::SystemClock);
            let message = challenge_store(&settings, None, &clock)
                .err()
                .unwrap()
                .to_string();
            assert!(message.contains("redis.url"), "{message}");
            let message = secret_cipher(&settings, ids()).unwrap_err().to_string();
            assert!(message.contains("secrets.key"), "{message}");
            Ok(())
        });
    }
}
