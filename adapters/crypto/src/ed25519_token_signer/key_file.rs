//! The development signing key file: generated once, then shared by every process that runs in
//! the same working directory (server, worker, a second server), so they all verify each
//! other's tokens.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use twofa_domain::SecretGenerator;
use zeroize::Zeroizing;

use super::key_material::{generate_signing_key_pem, parse_private_key};

/// The PEM in `path` if the file exists; otherwise a new key from `ids`, written there first.
///
/// For development only (production configures `tokens.signing_key`). The file is created
/// with mode 0600, its folder if missing; it appears complete or not at all (written to a
/// temporary file beside it, then hard-linked into place, which fails rather than replaces if
/// another process got there first; then that process's key is read and returned), so
/// processes starting together agree on one key.
///
/// # Errors
/// The file cannot be read or written, or holds something other than an Ed25519 PKCS#8 PEM
/// (it is never overwritten: delete it to get a new key).
pub fn load_or_generate_signing_key(
    path: &Path,
    ids: &dyn SecretGenerator,
) -> anyhow::Result<String> {
    if let Some(pem) = read_existing(path)? {
        return Ok(pem);
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        Some(_) | None => PathBuf::from("."),
    };
    fs::create_dir_all(&folder)
        .with_context(|| format!("creating the folder of the signing key {}", path.display()))?;

    let pem = Zeroizing::new(generate_signing_key_pem(ids));
    let temporary = folder.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name()
            .map_or_else(|| "signing-key".into(), |name| name.to_string_lossy()),
        std::process::id(),
        ids.hex(8)
    ));
    write_private_file(&temporary, pem.as_bytes())
        .with_context(|| format!("writing the signing key {}", temporary.display()))?;
    let published = fs::hard_link(&temporary, path);
    let _ = fs::remove_file(&temporary);
    match published {
        Ok(()) => Ok(pem.as_str().to_owned()),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => read_existing(path)?
            .with_context(|| format!("the signing key {} vanished", path.display())),
        Err(error) => {
            Err(error).with_context(|| format!("publishing the signing key {}", path.display()))
        }
    }
}

/// The key in `path`, `None` if there is no such file.
fn read_existing(path: &Path) -> anyhow::Result<Option<String>> {
    let pem = match fs::read_to_string(path) {
        Ok(pem) => pem,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("reading the signing key {}", path.display()));
        }
    };
    parse_private_key(&pem).with_context(|| {
        format!(
            "the signing key file {} is unusable; delete it to generate a new one",
            path.display()
        )
    })?;
    warn_if_readable_by_others(path);
    Ok(Some(pem))
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
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(metadata) = fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the signing key file is readable by other users; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}
