//! The command line: `twofa [--config PATH] [--mode api|worker|all]`, `twofa migrate`,
//! `twofa openapi`, `twofa secrets rotate`, `twofa notify …`,
//! `twofa admin create --email … --username …`, `twofa --version`.

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
    /// Manage administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// `twofa admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an administrator account. The password is read as one line from standard input,
    /// or from a prompt that does not echo it when standard input is a terminal; never from
    /// an argument.
    Create {
        /// The administrator's e-mail address (taken as verified).
        #[arg(long, value_name = "ADDRESS")]
        email: String,
        /// The administrator's username.
        #[arg(long, value_name = "NAME")]
        username: String,
    },
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
                Some(Command::Admin(AdminCommand::Create { email, username })) => {
                    create_admin(&settings, email, username).await
                }
                // Boxed: the whole service's future is too large to keep on the stack.
                Some(Command::Openapi) | None => Box::pin(serve(settings, self.mode)).await,
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

/// Makes an administrator, reading the password from standard input.
async fn create_admin(settings: &Settings, email: String, username: String) -> anyhow::Result<()> {
    if settings.database_kind() == DatabaseKind::Memory {
        anyhow::bail!("database.url is memory://: the account would not outlive this process");
    }
    let password = read_password()?;
    let backends = Backends::connect(settings).await?;
    let hasher = crate::app::password_hasher(settings, &backends)?;
    let create = twofa_application::admin::CreateAdministrator::new(
        std::sync::Arc::new(hasher),
        backends.unit_of_work.clone(),
        backends.ids.clone(),
    );
    let outcome = create
        .execute(twofa_application::admin::CreateAdministratorInput {
            email,
            username,
            password,
        })
        .await;
    backends.close().await;
    let user = outcome.map_err(|error| {
        use twofa_application::admin::CreateAdministratorError as E;
        match error {
            E::Invalid(fields) => anyhow::anyhow!(
                "{}",
                fields
                    .iter()
                    .map(|field| format!("--{}: {}", field.field, field.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            E::Conflict(field) => {
                anyhow::anyhow!("--{}: another account has it", field.as_str())
            }
            other @ (E::Overloaded { .. } | E::Fault(_)) => anyhow::Error::new(other),
        }
    })?;
    println!(
        "twofa: administrator {} ({}) created with id {}",
        user.username.as_str(),
        user.email.masked(),
        user.id
    );
    Ok(())
}

/// One line of standard input, without its line ending; on a terminal, after a prompt on
/// standard error, with echo turned off while it is typed.
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    let stdin = std::io::stdin();
    let is_terminal = stdin.is_terminal();
    let set_echo = |on: bool| {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(std::process::Stdio::inherit())
            .status();
    };
    if is_terminal {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
        set_echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if is_terminal {
        set_echo(true);
        eprintln!();
    }
    read.map_err(|error| anyhow::anyhow!("reading the password: {error}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        anyhow::bail!("no password given on standard input");
    }
    Ok(password)
}

/// Reseals every stored secret under the current `secrets.key`.
async fn rotate_secrets(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_kind() == DatabaseKind::Memory {
        anyhow::bail!("database.url is memory://: no secret outlives this process");
    }
    let backends = Backends::connect(settings).await?;
    let rotation = twofa_application::two_factor::ResealSecrets::new(
        backends.factors.clone(),
        backends.webhooks.clone(),
        backends.cipher.clone(),
        backends.clock.clone(),
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
