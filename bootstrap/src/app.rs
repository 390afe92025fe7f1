//! Wiring: builds the adapters the settings choose, the use cases over them, and the HTTP
//! server and worker of the chosen mode; then runs them until shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use poem::listener::{Acceptor as _, Listener as _, TcpAcceptor, TcpListener};
use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;
use twofa_application::{
    CheckHealth, RetryPolicy, Worker,
    audit_trail::ListAuditEvents,
    auth::{Accounts, AuthLimits, AuthPolicy, AuthPorts, EmailLinkPolicy, EmailLinks},
    jobs::{
        MailEmailVerification, MailPasswordReset, Mailer, PurgeExpired, ScheduleMaintenance,
        SendEmail, SendSecondFactorCode, SendSms,
    },
    two_factor::{SecondFactors, SendCaps, TwoFactorPolicy},
    webhooks::{
        DeliverWebhook, DeliveryPolicy, DispatchWebhookEvent, WebhookEndpoints, WebhookPorts,
    },
};
use twofa_crypto::{
    Argon2PasswordHasher, Argon2Settings, Ed25519TokenSigner,
    ed25519_token_signer::load_or_generate_signing_key,
};
use twofa_domain::Limit;
use twofa_http::{AppState, AuthState, ConnectionLimits, CookieSettings, HttpSettings, Surface};

pub use crate::backends::connect_database;
use crate::{
    backends::{Backends, Notifiers},
    settings::{Environment, JobsBackend, Mode, Settings},
    worker::{OutboxRelay, WorkerLoop},
};

/// The version `twofa --version` prints and `/api/health` reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A built service: connected, migrated, listening, not yet serving.
pub struct Application {
    settings: Settings,
    mode: Mode,
    acceptor: TcpAcceptor,
    local_addr: SocketAddr,
    backends: Backends,
    worker: Option<WorkerLoop>,
    is_worker_loop_on: bool,
    endpoint: poem::endpoint::BoxEndpoint<'static>,
}

impl Application {
    /// Connects to the configured backends, migrates (development) or checks the schema
    /// (production), builds the worker when the mode runs one, and binds `server.listen`.
    ///
    /// # Errors
    /// When a backend cannot be reached, the schema is not migrated in production, a notifier
    /// is misconfigured, or the address cannot be bound; the message says which.
    pub async fn build(settings: Settings, mode: Mode) -> anyhow::Result<Self> {
        Self::build_with(settings, mode, |_| {}).await
    }

    /// [`Application::build`], with `customise` changing the backends once connected, before
    /// anything is built over them (a test wraps a store in one that fails).
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with(
        settings: Settings,
        mode: Mode,
        customise: impl FnOnce(&mut Backends),
    ) -> anyhow::Result<Self> {
        Self::build_with_clock(
            settings,
            mode,
            Arc::new(twofa_crypto::SystemClock),
            customise,
        )
        .await
    }

    /// [`Application::build_with`] over `clock`, which every store, the job queue and the
    /// use cases read (a test moves time on for all of them at once).
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with_clock(
        settings: Settings,
        mode: Mode,
        clock: Arc<dyn twofa_domain::Clock>,
        customise: impl FnOnce(&mut Backends),
    ) -> anyhow::Result<Self> {
        let mut backends = Backends::connect_with_clock(&settings, clock).await?;
        customise(&mut backends);
        let worker = match mode {
            Mode::Worker | Mode::All => Some(worker_loop(&settings, &backends)?),
            Mode::Api => None,
        };
        let check_health = CheckHealth::new(backends.probes.clone(), backends.clock.clone())
            .with_queue(backends.queue.clone(), settings.jobs.backlog_threshold);
        let state = Arc::new(AppState {
            version: VERSION,
            started_at: backends.clock.now(),
            clock: backends.clock.clone(),
            check_health,
            token_signer: Arc::new(token_signer(&settings, backends.ids.as_ref())?),
        });
        let surface = match mode {
            Mode::Api | Mode::All => Surface::Api(auth_state(&settings, &backends, &state)?),
            Mode::Worker => Surface::WorkerProbes,
        };
        let http = HttpSettings {
            body_limit: settings.server.body_limit,
            max_headers: settings.server.max_headers,
            max_header_bytes: settings.server.max_header_bytes,
            request_timeout: settings.server.request_timeout,
            trusted_proxies: settings.server.trusted_proxies.clone(),
            cors_origins: settings.server.cors_origins.clone(),
            is_https: settings.server.public_url.starts_with("https://"),
        };
        let endpoint = poem::EndpointExt::boxed(twofa_http::build_endpoint(
            surface,
            state,
            &http,
            backends.ids.clone(),
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
            backends,
            worker,
            is_worker_loop_on: true,
            endpoint,
        })
    }

    /// Leaves the worker loop (its slots and the maintenance scheduler) out of
    /// [`Application::run`]: jobs then run only when the caller steps
    /// [`Application::worker`], as tests do to run them deterministically.
    #[must_use]
    pub fn without_worker_loop(mut self) -> Self {
        self.is_worker_loop_on = false;
        self
    }

    /// The worker, when the mode runs one.
    pub fn worker(&self) -> Option<Arc<Worker>> {
        self.worker.as_ref().map(|worker| worker.worker.clone())
    }

    /// The job queue.
    pub fn queue(&self) -> Arc<dyn twofa_domain::JobQueue> {
        self.backends.queue.clone()
    }

    /// The address the server listens on (the real port when `server.listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, lets in-flight requests
    /// and jobs finish (bounded by `server.shutdown_timeout`) and closes the pool.
    ///
    /// # Errors
    /// None at present (a failed accept is logged and retried); kept for what a server may
    /// yet fail at.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let drain = self.settings.server.shutdown_timeout;
        tracing::info!(address = %self.local_addr, mode = ?self.mode, version = VERSION, "twofa is listening");
        let worker = self
            .worker
            .filter(|_| self.is_worker_loop_on)
            .map(|worker| tokio::spawn(worker.run(shutdown.clone())));
        // One drain budget from the moment shutdown starts, for the server and the worker alike.
        let shutdown_started = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                shutdown.cancelled().await;
                tokio::time::Instant::now()
            })
        };
        let server = &self.settings.server;
        twofa_http::serve(
            self.acceptor,
            self.endpoint,
            &ConnectionLimits {
                header_read_timeout: server.header_read_timeout,
                max_connections: server.max_connections,
                max_headers: server.max_headers,
                max_header_bytes: server.max_header_bytes,
            },
            shutdown.clone(),
            drain,
        )
        .await;
        shutdown.cancel();
        let deadline = shutdown_started
            .await
            .unwrap_or_else(|_| tokio::time::Instant::now())
            + drain;
        if let Some(worker) = worker
            && tokio::time::timeout_at(deadline, worker).await.is_err()
        {
            tracing::warn!(
                "the worker did not finish its jobs within the shutdown timeout; their leases will return them"
            );
        }
        self.backends.close().await;
        tracing::info!("twofa stopped");
        Ok(())
    }
}

/// The Argon2 pool of `hashing.*`.
pub(crate) fn password_hasher(
    settings: &Settings,
    backends: &Backends,
) -> anyhow::Result<Argon2PasswordHasher> {
    let hashing = &settings.hashing;
    Argon2PasswordHasher::new(
        Argon2Settings {
            memory_kib: hashing.memory_kib,
            iterations: hashing.iterations,
            parallelism: hashing.parallelism,
            workers: hashing.workers,
            queue: hashing.queue,
        },
        backends.ids.clone(),
    )
    .context("hashing.*")
}

/// The account use cases over the backends, with the Argon2 pool of `hashing.*`.
fn auth_state(
    settings: &Settings,
    backends: &Backends,
    state: &AppState,
) -> anyhow::Result<Arc<AuthState>> {
    let hasher = password_hasher(settings, backends)?;
    let limits = &settings.rate_limits;
    let ports = AuthPorts {
        users: backends.users.clone(),
        sessions: backends.sessions.clone(),
        session_cache: backends.session_cache.clone(),
        one_time_tokens: backends.one_time_tokens.clone(),
        hasher: Arc::new(hasher),
        signer: state.token_signer.clone(),
        limiter: backends.rate_limiter.clone(),
        unit_of_work: backends.unit_of_work.clone(),
        clock: backends.clock.clone(),
        ids: backends.ids.clone(),
        factors: backends.factors.clone(),
        backup_codes: backends.backup_codes.clone(),
        devices: backends.devices.clone(),
        api_keys: backends.api_keys.clone(),
        challenges: backends.challenges.clone(),
        cipher: backends.cipher.clone(),
    };
    let policy = AuthPolicy {
        access_ttl: settings.tokens.access_ttl,
        refresh_ttl: settings.tokens.refresh_ttl,
        refresh_reuse_grace: settings.tokens.refresh_reuse_grace,
        links: email_link_policy(settings),
        email_cooldown: settings.auth.verification_resend_cooldown,
        limits: AuthLimits {
            login_per_ip: limits.login_per_ip,
            register_per_ip: limits.register_per_ip,
            forgot_per_ip: limits.forgot_per_ip,
            verify_per_ip: limits.verify_per_ip,
            failures_per_account_ip: limits.failures_per_account_ip,
            failures_per_account: limits.failures_per_account,
            per_api_key: Limit {
                max: settings.api_keys.rate_limit_per_minute,
                window: Duration::from_mins(1),
            },
        },
        two_factor: two_factor_policy(settings),
    };
    Ok(Arc::new(AuthState {
        accounts: Accounts::new(&ports, &policy),
        second_factors: SecondFactors::new(&ports, &policy),
        list_audit_events: ListAuditEvents::new(backends.audit.clone()),
        api_keys: twofa_application::api_keys::ApiKeys::new(&ports, &policy),
        administration: twofa_application::admin::Administration::new(
            backends.users.clone(),
            backends.unit_of_work.clone(),
            backends.session_cache.clone(),
            settings.tokens.access_ttl,
        ),
        webhook_endpoints: WebhookEndpoints::new(
            webhook_ports(backends),
            settings.environment == Environment::Development,
        ),
        cookies: CookieSettings {
            is_secure: are_cookies_secure(settings.environment, &settings.server.public_url),
            max_age: settings.tokens.refresh_ttl,
            device_max_age: policy.two_factor.trust_ttl,
        },
    }))
}

/// The ports of the webhook use cases and handlers.
fn webhook_ports(backends: &Backends) -> WebhookPorts {
    WebhookPorts {
        webhooks: backends.webhooks.clone(),
        unit_of_work: backends.unit_of_work.clone(),
        clock: backends.clock.clone(),
        ids: backends.ids.clone(),
        cipher: backends.cipher.clone(),
    }
}

/// The sender of `webhooks.*`: `webhooks.timeout` per attempt, plain http in development
/// only, private destinations only inside `webhooks.allowed_cidrs`.
fn webhook_sender(settings: &Settings) -> anyhow::Result<twofa_notify::HttpWebhookSender> {
    twofa_notify::HttpWebhookSender::new(twofa_notify::WebhookSenderConfig {
        timeout: settings.webhooks.timeout,
        allow_http: settings.environment == Environment::Development,
        allowed_cidrs: settings.webhooks.allowed_cidrs.clone(),
    })
    .context("webhooks.*")
}

/// The second factors' settings: `totp.*`, `otp.*`, `devices.*`, `auth.require_verified_email`
/// and their rate limits.
fn two_factor_policy(settings: &Settings) -> TwoFactorPolicy {
    let limits = &settings.rate_limits;
    let hourly = |max: u32| Limit {
        max: max.max(1),
        window: Duration::from_hours(1),
    };
    TwoFactorPolicy {
        totp: settings.totp.policy(),
        issuer: settings.totp.issuer.clone(),
        otp_ttl: settings.otp.ttl,
        sends: SendCaps {
            per_ip: limits.otp_send_per_ip,
            per_user: hourly(settings.otp.sends_per_user_per_hour),
            per_destination: hourly(settings.otp.sends_per_destination_per_hour),
            cooldown: Limit {
                max: 1,
                window: settings.otp.resend_cooldown,
            },
        },
        trust_ttl: settings.devices.trust_ttl,
        require_verified_email: settings.auth.require_verified_email,
        failures_per_factor: limits.second_factor_failures_per_factor,
        failures_per_account: limits.second_factor_failures_per_account,
        send_max_attempts: settings.jobs.max_attempts,
    }
}

/// The e-mail links `server.public_url`, `auth.*_ttl` and `jobs.max_attempts` describe.
fn email_link_policy(settings: &Settings) -> EmailLinkPolicy {
    EmailLinkPolicy {
        public_url: settings.server.public_url.clone(),
        verification_ttl: settings.auth.verification_ttl,
        reset_ttl: settings.auth.reset_ttl,
        email_max_attempts: settings.jobs.max_attempts,
    }
}

/// Cookies are `Secure` outside development, and in development too behind an https
/// `server.public_url` (a plain-HTTP development server could not get them back otherwise).
fn are_cookies_secure(environment: Environment, public_url: &str) -> bool {
    environment != Environment::Development || public_url.starts_with("https://")
}

/// The access-token signer: the configured key, or in development the key generated once into
/// `tokens.dev_key_file` and shared by every process of the working directory.
fn token_signer(
    settings: &Settings,
    ids: &dyn twofa_domain::SecretGenerator,
) -> anyhow::Result<Ed25519TokenSigner> {
    let tokens = &settings.tokens;
    let signing_key = match &tokens.signing_key {
        Some(key) => key.expose_secret().to_owned(),
        None => load_or_generate_signing_key(&tokens.dev_key_file, ids)
            .context("cannot keep the development signing key (tokens.dev_key_file)")?,
    };
    Ed25519TokenSigner::new(
        &signing_key,
        &tokens.verification_keys,
        settings.server.public_url.clone(),
    )
    .context("tokens.signing_key / tokens.verification_keys")
}

/// The worker with a handler for every job kind.
fn worker_loop(settings: &Settings, backends: &Backends) -> anyhow::Result<WorkerLoop> {
    let jobs = &settings.jobs;
    let notifiers = Notifiers::build(settings, backends.clock.clone())?;
    let retry = RetryPolicy::new(jobs.retry_base, jobs.retry_max, backends.ids.clone());
    let mailer = Mailer::new(notifiers.renderer, notifiers.email);
    // The link jobs mint their links when they run: no link is ever queued.
    let links = || {
        EmailLinks::new(
            backends.clock.clone(),
            backends.ids.clone(),
            email_link_policy(settings),
        )
    };
    let worker = Worker::new(
        backends.queue.clone(),
        backends.clock.clone(),
        retry,
        jobs.lease,
    )
    .with_handler(Arc::new(SendEmail::new(mailer.clone())))
    .with_handler(Arc::new(SendSms::new(notifiers.sms.clone())))
    .with_handler(Arc::new(SendSecondFactorCode::new(
        backends.factors.clone(),
        backends.challenges.clone(),
        backends.cipher.clone(),
        backends.ids.clone(),
        notifiers.sms,
        mailer.clone(),
        settings.otp.ttl,
    )))
    .with_handler(Arc::new(DispatchWebhookEvent::new(
        backends.webhooks.clone(),
        backends.unit_of_work.clone(),
        backends.clock.clone(),
        backends.ids.clone(),
    )))
    .with_handler(Arc::new(DeliverWebhook::new(
        &webhook_ports(backends),
        Arc::new(webhook_sender(settings)?),
        DeliveryPolicy {
            retry_schedule: settings.webhooks.retry_schedule.clone(),
            disable_after_failures: settings.webhooks.disable_after_failures,
        },
    )))
    .with_handler(Arc::new(MailEmailVerification::new(
        backends.users.clone(),
        backends.unit_of_work.clone(),
        links(),
        mailer.clone(),
    )))
    .with_handler(Arc::new(MailPasswordReset::new(
        backends.users.clone(),
        backends.unit_of_work.clone(),
        links(),
        mailer,
    )))
    .with_handler(Arc::new(
        PurgeExpired::new(
            backends.queue.clone(),
            backends.clock.clone(),
            jobs.retention,
        )
        .with_sessions(backends.sessions.clone())
        .with_one_time_tokens(backends.one_time_tokens.clone())
        .with_devices(backends.devices.clone())
        .with_webhook_deliveries(backends.webhooks.clone()),
    ));
    Ok(WorkerLoop {
        worker: Arc::new(worker),
        scheduler: Arc::new(ScheduleMaintenance::new(
            backends.queue.clone(),
            backends.clock.clone(),
            jobs.maintenance_interval,
        )),
        concurrency: jobs.concurrency,
        claim_batch: jobs.claim_batch,
        poll_interval: jobs.poll_interval,
        schedule_every: jobs.maintenance_interval.min(Duration::from_mins(1)),
        relay: outbox_relay(settings, backends),
    })
}

/// The outbox relay, when the jobs of a database transaction are handed to a queue outside
/// the database (`jobs.backend = "redis"` or `"memory"` over SQL).
fn outbox_relay(settings: &Settings, backends: &Backends) -> Option<OutboxRelay> {
    let database = backends.database.as_ref()?;
    match settings.jobs.backend {
        JobsBackend::Sql => None,
        JobsBackend::Redis | JobsBackend::Memory => Some(OutboxRelay {
            outbox: database.job_outbox(backends.clock.clone()),
            queue: backends.queue.clone(),
            every: OUTBOX_RELAY_EVERY,
            older_than: OUTBOX_RELAY_AFTER,
        }),
    }
}

/// How often a worker looks for jobs left in the outbox.
const OUTBOX_RELAY_EVERY: Duration = Duration::from_secs(10);
/// How old a job left in the outbox must be to be relayed (a commit hands its jobs over within
/// milliseconds; this leaves it ample time).
const OUTBOX_RELAY_AFTER: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_outside_development_and_behind_https() {
        assert!(are_cookies_secure(
            Environment::Production,
            "http://auth.internal"
        ));
        assert!(are_cookies_secure(
            Environment::Development,
            "https://auth.example.com"
        ));
        assert!(!are_cookies_secure(
            Environment::Development,
            "http://127.0.0.1:8080"
        ));
    }
}
