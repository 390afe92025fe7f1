//! The command line: `twofa [--config PATH] [--mode api|worker|all]`, `twofa migrate`,
//! `twofa openapi`, `twofa --version`.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
    app::{Application, VERSION, connect_database},
    settings::{DatabaseKind, Mode, Settings},
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
