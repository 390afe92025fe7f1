//! The development signing key file: generated once, then shared by every process that runs in
//! the same working directory (server, worker, a second server), so they all verify each
//! other's tokens.

use std::path::Path;

use twofa_domain::SecretGenerator;
use zeroize::Zeroizing;

use super::key_material::{generate_signing_key_pem, parse_private_key};
use crate::private_key_file::PrivateKeyFile;

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
    let file = PrivateKeyFile {
        path,
        what: "signing key",
    };
    let pem = file.load_or_generate(
        ids,
        || Zeroizing::new(generate_signing_key_pem(ids)),
        |pem| parse_private_key(pem).map(drop),
    )?;
    Ok(pem.as_str().to_owned())
}
