//! The development secrets key file: with `secrets.key` unset, a key is generated once into
//! `secrets.dev_key_file` (base64 of 32 random bytes, one line) and reused by every process
//! of the working directory, so that what one seals the others open, across restarts too.

use std::path::Path;

use super::CipherKey;
use crate::private_key_file::PrivateKeyFile;
use twofa_domain::SecretGenerator;

/// The key in `path` if the file exists; otherwise a new key from `ids`, written there first.
///
/// For development only (production configures `secrets.key`). The file is created with mode
/// 0600, its folder if missing, complete or not at all, so processes starting together agree
/// on one key (as the development signing key file does).
///
/// # Errors
/// The file cannot be read or written, or holds something other than base64 of 32 bytes (it
/// is never overwritten: delete it to get a new key, and lose what the old one sealed).
pub fn load_or_generate_secrets_key(
    path: &Path,
    ids: &dyn SecretGenerator,
) -> anyhow::Result<CipherKey> {
    let file = PrivateKeyFile {
        path,
        what: "secrets key",
    };
    let text = file.load_or_generate(
        ids,
        || {
            let mut line = CipherKey::generate(ids).to_base64();
            line.push('\n');
            line
        },
        |text| CipherKey::from_base64(text).map(drop).map_err(Into::into),
    )?;
    Ok(CipherKey::from_base64(&text)?)
}
