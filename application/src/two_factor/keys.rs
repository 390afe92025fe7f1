//! The keys, digests and stored values of the second factors' short-lived state in the
//! `ChallengeStore`: login challenges, their pending SMS/e-mail codes, and setup codes. No
//! key or value holds a secret: a challenge is keyed by its token's SHA-256, a code is kept as
//! its keyed digest.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use twofa_domain::{FactorId, FactorKind, OtpCode, SecretCipher, SecretDigest, UserId};

/// The digest purpose of one-time codes.
const OTP_PURPOSE: &str = "otp-code";

/// The digest purpose of backup codes.
pub(crate) const BACKUP_CODE_PURPOSE: &str = "backup-code";

/// The hex SHA-256 of an opaque token: how a challenge (or a device) is looked up.
pub(crate) fn token_digest(token: &str) -> SecretDigest {
    SecretDigest::from_bytes(Sha256::digest(token.as_bytes()).into())
}

/// Where a login challenge lives, by its token's digest.
pub(crate) fn challenge_key(digest: &str) -> String {
    format!("login:{digest}")
}

/// Where a login challenge's pending SMS or e-mail code lives.
pub(crate) fn challenge_code_key(digest: &str) -> String {
    format!("login:{digest}:code")
}

/// Where a pending SMS or e-mail factor's setup code lives.
pub(crate) fn setup_code_key(factor: FactorId) -> String {
    format!("setup:{factor}")
}

/// A login challenge as stored: whose it is and what may answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredChallenge {
    /// The user whose password was verified.
    pub(crate) user_id: UserId,
    /// The enabled factors when it was made.
    pub(crate) factors: Vec<ChallengeFactor>,
    /// Whether unused backup codes remained.
    pub(crate) has_backup_codes: bool,
    /// The random part that makes each challenge's value unique.
    pub(crate) nonce: String,
}

/// A factor a challenge may be answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChallengeFactor {
    /// The factor.
    pub(crate) id: FactorId,
    /// Its kind.
    pub(crate) kind: String,
}

impl StoredChallenge {
    /// The factor of `kind`, if the challenge has one.
    pub(crate) fn factor(&self, kind: FactorKind) -> Option<FactorId> {
        self.factors
            .iter()
            .find(|factor| factor.kind == kind.as_str())
            .map(|factor| factor.id)
    }

    /// The methods the challenge can be answered with, as the login shows them.
    pub(crate) fn methods(&self) -> Vec<String> {
        let mut methods: Vec<String> = FactorKind::ALL
            .into_iter()
            .filter(|kind| self.factor(*kind).is_some())
            .map(|kind| kind.as_str().to_owned())
            .collect();
        if self.has_backup_codes {
            methods.push("backup_code".to_owned());
        }
        methods
    }
}

/// A sent code as stored: which factor it belongs to and its keyed digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredCode {
    /// The factor whose destination it was sent to.
    pub(crate) factor_id: FactorId,
    /// `sms` or `email`.
    pub(crate) kind: String,
    /// The code's keyed digest (hex), bound to the key it is stored under.
    pub(crate) digest: String,
}

/// The keyed digest of `code` stored under `key`: a code only matches where it was sent.
pub(crate) fn code_digest(
    cipher: &dyn SecretCipher,
    key: &str,
    code: &OtpCode,
) -> Vec<SecretDigest> {
    cipher.digests(OTP_PURPOSE, format!("{key}\n{}", code.as_str()).as_bytes())
}

/// Whether `code` is the one `stored` keeps under `key` (constant-time comparison of digests).
pub(crate) fn code_matches(
    cipher: &dyn SecretCipher,
    key: &str,
    stored: &StoredCode,
    code: &str,
) -> bool {
    let Some(code) = OtpCode::parse(code) else {
        return false;
    };
    let Some(expected) = SecretDigest::from_hex(&stored.digest) else {
        return false;
    };
    // Every candidate is compared (each in constant time), so timing tells nothing.
    code_digest(cipher, key, &code)
        .iter()
        .filter(|digest| **digest == expected)
        .count()
        > 0
}
