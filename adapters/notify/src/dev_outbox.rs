//! `DevOutbox`: the development outbox (`notify.dev_outbox`), one JSON object per line, shared by
//! the console notifiers so that their lines never interleave.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::SecondsFormat;
use serde::Serialize;
use twofa_domain::{Clock, SendError};

/// The file the console notifiers append to, with the clock that stamps each line.
///
/// Cloning shares the file and its lock: give clones of one `DevOutbox` to every console
/// notifier of a process. Each line is written with one `write` on a file opened in append
/// mode, so processes sharing the file (an API and a worker) do not interleave either.
#[derive(Clone)]
pub struct DevOutbox {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DevOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevOutbox")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// One line of the outbox, in the field order of CONFIG.md.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutboxLine<'a> {
    /// `sms` or `email`.
    pub channel: &'static str,
    /// The E.164 number or the address, in full.
    pub to: &'a str,
    /// The subject, for e-mail only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    /// The full text.
    pub body: &'a str,
}

/// What is written: the line and its time.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stamped<'a> {
    #[serde(flatten)]
    line: OutboxLine<'a>,
    created_at: String,
}

impl DevOutbox {
    /// The outbox at `path` (its folder is created on the first write), stamped by `clock`.
    pub fn new(path: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                path: path.into(),
                clock,
                lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Appends `line` with `createdAt` set to the clock's now (RFC 3339, milliseconds, `Z`).
    /// A failure to write is `SendError::Retryable`: the folder may become writable.
    pub(crate) async fn append(&self, line: OutboxLine<'_>) -> Result<(), SendError> {
        let created_at = self
            .inner
            .clock
            .now()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut bytes = serde_json::to_vec(&Stamped { line, created_at })
            .map_err(|error| SendError::Permanent(error.into()))?;
        bytes.push(b'\n');

        let path = self.inner.path.clone();
        let _guard = self.inner.lock.lock().await;
        tokio::task::spawn_blocking(move || write_line(&path, &bytes))
            .await
            .map_err(|error| SendError::Retryable(error.into()))?
            .map_err(SendError::Retryable)
    }
}

/// Creates the parent folder if missing and appends `bytes` in one write.
fn write_line(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the folder {}", parent.display()))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the development outbox {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("appending to the development outbox {}", path.display()))
}
