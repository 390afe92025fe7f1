//! The command line: `twofa [--config PATH] [--mode api|worker|all]`, `twofa migrate`,
//! `twofa openapi`, `twofa secrets rotate`, `twofa notify …`, `twofa --version`.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use twofa_application::jobs::{SendEmailPayload, SendSmsPayload};
use twofa_domain::{Actor, AuditDetails, EmailAddress, NewAuditEvent, NewJob, PhoneNumber};

use crate::{
    app::{Application, VERSION, connect_database},
    backends::Backends,
    settings::{DatabaseKind, JobsBackend, Mode, Settings},
};

/// twofa: a self-hosted two-factor authentication service.
#[derive(Debug, Parser)]
#[command(name = "twofa", version, about)]
pub struct Cli {
    /// A configuration file (default: ./config.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What this process runs; overrides `mode` of the configuration.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands other than serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print the OpenAPI document (the one served at /api/openapi.json) and exit.
    Openapi,
    /// Check the notifier settings: queue a test message for a worker to send.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Manage the key that encrypts stored secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

/// `twofa secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret under `secrets.key` (after moving the old key into
    /// `secrets.previous_keys`); once it reports none left, the previous keys can be dropped.
    Rotate,
}

/// `twofa notify …`.
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Queue a test e-mail to ADDRESS (sent by a worker through notify.email).
    TestEmail {
        /// The recipient.
        #[arg(long, value_name = "ADDRESS")]
        to: String,
    },
    /// Queue a test SMS to NUMBER, in E.164 form (sent by a worker through notify.sms).
    TestSms {
        /// The destination, e.g. +15551234567.
        #[arg(long, value_name = "NUMBER")]
        to: String,
    },
}

/// Exit code of a configuration the service refuses.
const CONFIG_ERROR: u8 = 2;

impl Cli {
    /// Runs the command; the exit code says how it ended.
    pub fn run(self) -> ExitCode {
        if let Some(Command::Openapi) = self.command {
            println!("{}", twofa_http::openapi_document(VERSION));
            return ExitCode::SUCCESS;
        }
        let settings = match Settings::load(self.config.as_deref()) {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("twofa: configuration error: {error}");
                return ExitCode::from(CONFIG_ERROR);
            }
        };
        crate::telemetry::init(&settings.log, settings.environment);
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("twofa: cannot start the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        let outcome = runtime.block_on(async {
            match self.command {
                Some(Command::Migrate) => migrate(&settings).await,
                Some(Command::Notify(command)) => notify(&settings, command).await,
                Some(Command::Secrets(SecretsCommand::Rotate)) => rotate_secrets(&settings).await,
                Some(Command::Openapi) | None => serve(settings, self.mode).await,
            }
        });
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "twofa failed");
                eprintln!("twofa: {error:#}");
                ExitCode::FAILURE
            }
        }
    }
}

async fn serve(settings: Settings, mode: Option<Mode>) -> anyhow::Result<()> {
    let mode = mode.unwrap_or(settings.mode);
    let shutdown = crate::shutdown::on_signals();
    Application::build(settings, mode)
        .await?
        .run(shutdown)
        .await
}

/// Queues a test message through the unit of work (job and audit event commit together).
async fn notify(settings: &Settings, command: NotifyCommand) -> anyhow::Result<()> {
    if settings.jobs.backend == JobsBackend::Memory {
        anyhow::bail!("jobs.backend is memory: a worker in another process cannot see the job");
    }
    let max_attempts = settings.jobs.max_attempts;
    let (job, channel, masked): (NewJob, &str, String) = match command {
        NotifyCommand::TestEmail { to } => {
            let to = EmailAddress::parse(&to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
            let masked = to.masked();
            let payload = SendEmailPayload {
                to,
                template: "test_email".to_owned(),
                params: serde_json::Map::new(),
            };
            (payload.into_job(max_attempts), "email", masked)
        }
        NotifyCommand::TestSms { to } => {
            let to = PhoneNumber::parse(&to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
            let masked = to.masked();
            let payload = SendSmsPayload {
                to,
                body: "twofa test message: your SMS settings work.".to_owned(),
            };
            (payload.into_job(max_attempts), "sms", masked)
        }
    };
    let backends = Backends::connect(settings).await?;
    let mut transaction = backends.unit_of_work.begin().await?;
    transaction.enqueue(job).await?;
    transaction
        .audit(NewAuditEvent {
            details: AuditDetails::new(serde_json::json!({ "channel": channel, "to": masked })),
            ..NewAuditEvent::new("notify.test_queued", Actor::system(), true)
        })
        .await?;
    transaction.commit().await?;
    backends.close().await;
    println!("twofa: a test {channel} to {masked} is queued; a worker sends it");
    Ok(())
}

/// Reseals every stored secret under the current `secrets.key`.
async fn rotate_secrets(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_kind() == DatabaseKind::Memory {
        anyhow::bail!("database.url is memory://: no secret outlives this process");
    }
    let backends = Backends::connect(settings).await?;
    let rotation = twofa_application::two_factor::ResealSecrets::new(
        backends.factors.clone(),
        backends.cipher.clone(),
    );
    let outcome = rotation.execute().await;
    let key_id = backends.cipher.current_key_id().to_owned();
    backends.close().await;
    let done = outcome?;
    println!(
        "twofa: {} secret(s) resealed under key {key_id}; {} changed meanwhile (run again), {} unreadable by any configured key",
        done.resealed, done.changed, done.unreadable
    );
    if done.unreadable > 0 {
        anyhow::bail!(
            "{} stored secret(s) are sealed under a key that is not configured: keep that key in secrets.previous_keys",
            done.unreadable
        );
    }
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_kind() == DatabaseKind::Memory {
        anyhow::bail!("database.url is memory://: there is no schema to migrate");
    }
    let database = connect_database(settings).await?;
    let applied = database.migrate().await?;
    println!("twofa: {applied} migration(s) applied; the schema is up to date");
    database.close().await;
    Ok(())
}
