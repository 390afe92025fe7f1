//! Development key files: a key generated once into a file of its owner's only, then read back
//! by every process that runs in the same working directory (server, worker, a second
//! server), so that they all agree on it. What the key is (its format, how it is made and
//! checked) belongs to the caller; this module only keeps the file.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use twofa_domain::SecretGenerator;
use zeroize::Zeroizing;

/// A key file: where it is and what it holds, for messages (`"signing key"`).
pub(crate) struct PrivateKeyFile<'a> {
    /// The file.
    pub path: &'a Path,
    /// What it holds, as messages name it.
    pub what: &'a str,
}

impl PrivateKeyFile<'_> {
    /// The content of the file if it exists (after `check` accepts it); otherwise `generate`'s
    /// content, written there first.
    ///
    /// The file is created with mode 0600, its folder if missing; it appears complete or not
    /// at all (written to a temporary file beside it, then hard-linked into place, which fails
    /// rather than replaces if another process got there first; then that process's content
    /// is read and returned), so processes starting together agree on one key.
    ///
    /// # Errors
    /// The file cannot be read or written, or `check` refuses what it holds (it is never
    /// overwritten: delete it to get a new key).
    pub fn load_or_generate(
        &self,
        ids: &dyn SecretGenerator,
        generate: impl FnOnce() -> Zeroizing<String>,
        check: impl Fn(&str) -> anyhow::Result<()>,
    ) -> anyhow::Result<Zeroizing<String>> {
        let Self { path, what } = *self;
        if let Some(content) = self.read_existing(&check)? {
            return Ok(content);
        }
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            Some(_) | None => PathBuf::from("."),
        };
        fs::create_dir_all(&folder)
            .with_context(|| format!("creating the folder of the {what} {}", path.display()))?;

        let content = generate();
        let temporary = folder.join(format!(
            ".{}.{}-{}.tmp",
            path.file_name()
                .map_or_else(|| "key".into(), |name| name.to_string_lossy()),
            std::process::id(),
            ids.hex(8)
        ));
        write_private_file(&temporary, content.as_bytes())
            .with_context(|| format!("writing the {what} {}", temporary.display()))?;
        let published = fs::hard_link(&temporary, path);
        let _ = fs::remove_file(&temporary);
        match published {
            Ok(()) => Ok(content),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => self
                .read_existing(&check)?
                .with_context(|| format!("the {what} {} vanished", path.display())),
            Err(error) => {
                Err(error).with_context(|| format!("publishing the {what} {}", path.display()))
            }
        }
    }

    /// The content of the file, `None` if there is no such file.
    fn read_existing(
        &self,
        check: &impl Fn(&str) -> anyhow::Result<()>,
    ) -> anyhow::Result<Option<Zeroizing<String>>> {
        let Self { path, what } = *self;
        let content = match fs::read_to_string(path) {
            Ok(content) => Zeroizing::new(content),
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("reading the {what} {}", path.display()));
            }
        };
        check(&content).with_context(|| {
            format!(
                "the {what} file {} is unusable; delete it to generate a new one",
                path.display()
            )
        })?;
        warn_if_readable_by_others(path, what);
        Ok(Some(content))
    }
}

/// Creates `path` (which must not exist) readable and writable by its owner only, and writes
/// `contents` to disk.
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(metadata) = fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            key = what,
            "a key file is readable by other users; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path, _what: &str) {}
