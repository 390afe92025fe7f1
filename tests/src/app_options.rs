//! `AppOptions`: how `spawn_app_with` starts an app.

use std::sync::Arc;

use twofa::{Mode, backends::Backends};
use twofa_domain::Clock;

use crate::Backend;

/// Changes the backends before the app is built over them (see [`AppOptions::customise`]).
pub type Customise = Box<dyn FnOnce(&mut Backends) + Send + 'static>;

/// How to start the app.
pub struct AppOptions {
    /// Backends.
    pub backend: Backend,
    /// `--mode`.
    pub mode: Mode,
    /// Extra settings, as (dotted key, value), applied last.
    pub settings: Vec<(String, serde_json::Value)>,
    /// An existing database to run over (another app's), instead of a fresh one.
    pub database_url: Option<String>,
    /// Runs the worker loop as the binary does, instead of leaving the jobs to
    /// [`TestApp::run_pending_jobs`](crate::TestApp::run_pending_jobs).
    pub is_background_worker: bool,
    /// Applied to the backends once connected.
    pub customise: Option<Customise>,
    /// The clock every store, the job queue and the use cases read (the system's if `None`).
    pub clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("backend", &self.backend)
            .field("mode", &self.mode)
            .field("settings", &self.settings)
            .field("database_url", &self.database_url)
            .field("is_background_worker", &self.is_background_worker)
            .field("is_customised", &self.customise.is_some())
            .field("has_clock", &self.clock.is_some())
            .finish()
    }
}

impl AppOptions {
    /// `--mode all` over `backend`.
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            mode: Mode::All,
            settings: Vec::new(),
            database_url: None,
            is_background_worker: false,
            customise: None,
            clock: None,
        }
    }

    /// Runs the whole service (stores, job queue, use cases) on `clock`: a test that moves a
    /// [`ManualClock`](twofa_memory::ManualClock) moves time on for everything at once, retry
    /// delays of queued jobs included.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Runs the worker loop (its slots polling every `jobs.poll_interval`, and the maintenance
    /// scheduler) as the binary does: for tests of the loop itself, of several processes, or
    /// of outages the loop must ride out.
    #[must_use]
    pub fn background_worker(mut self) -> Self {
        self.is_background_worker = true;
        self
    }

    /// Changes the backends once connected, before anything is built over them: a test
    /// replaces `backends.unit_of_work` with a wrapper that fails, say.
    #[must_use]
    pub fn customise(mut self, customise: impl FnOnce(&mut Backends) + Send + 'static) -> Self {
        self.customise = Some(Box::new(customise));
        self
    }

    /// Runs over `url` (another app's database) instead of a fresh one.
    #[must_use]
    pub fn database(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    /// Sets a configuration key.
    #[must_use]
    pub fn set(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.settings.push((key.to_owned(), value.into()));
        self
    }

    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}
