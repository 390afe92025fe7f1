//! `LoginChallenges`: the second step of a login. After the password, an account with an
//! enabled factor either presents a live trusted-device token for itself (the factor is
//! skipped) or gets a challenge: an opaque random token, stored only as its SHA-256 in the
//! `ChallengeStore` for 5 minutes with the factors that may answer it, single use, dead after
//! 5 wrong codes. When the preferred factor (the one used last, else the oldest) sends codes,
//! its code is queued as the challenge is made (held back only by the per-destination cap).

use std::{sync::Arc, time::Duration};

use serde_json::json;
use twofa_domain::{
    BackupCodeRepository, ChallengeStore, DeviceRepository, Factor, FactorRepository, PortError,
    SecretGenerator, StoredEntry, TrustedDevice, UnitOfWork, User,
};

use super::{
    code_sender::{CodeSender, SendKind},
    keys::{ChallengeFactor, StoredChallenge, challenge_key, token_digest},
};
use crate::{
    auth::{Fault, RequestInfo, is_opaque_token, opaque_token, user_event},
    webhook_events::record,
};

/// A challenge lives this long.
pub const CHALLENGE_TTL: Duration = Duration::from_mins(5);

/// A challenge is dead after this many wrong codes.
pub const MAX_WRONG_CODES: u32 = 5;

/// A login's second step, when the account has second factors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorChallenge {
    /// The opaque challenge token for `/api/2fa/verify`.
    pub temp_token: String,
    /// The factor types that can answer it (`totp`, `sms`, `email`, `backup_code`).
    pub methods: Vec<String>,
    /// The challenge's lifetime in whole seconds.
    pub expires_in: u64,
}

/// What the second step of a login is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecondStep {
    /// A trusted device of the account: sign in with `["pwd", "device"]`.
    TrustedDevice(TrustedDevice),
    /// A challenge to answer.
    Challenge(TwoFactorChallenge),
}

/// A live challenge, read back.
#[derive(Debug, Clone)]
pub(crate) struct LiveChallenge {
    /// The digest of its token (hex).
    pub(crate) digest: String,
    /// Its key in the store.
    pub(crate) key: String,
    /// The stored value, for the conditional take.
    pub(crate) value: String,
    /// What it holds.
    pub(crate) challenge: StoredChallenge,
}

/// Makes and reads login challenges.
#[derive(Clone)]
pub struct LoginChallenges {
    pub(crate) challenges: Arc<dyn ChallengeStore>,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) backup_codes: Arc<dyn BackupCodeRepository>,
    pub(crate) devices: Arc<dyn DeviceRepository>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) ids: Arc<dyn SecretGenerator>,
    pub(crate) sender: CodeSender,
}

impl LoginChallenges {
    /// The second step for `user`, whose password was just verified; `None` when the account
    /// has no enabled factor.
    pub(crate) async fn begin(
        &self,
        user: &User,
        device_token: Option<&str>,
        request: &RequestInfo,
    ) -> Result<Option<SecondStep>, Fault> {
        if !user.two_factor_enabled {
            return Ok(None);
        }
        if let Some(token) = device_token.filter(|token| is_opaque_token(token))
            && let Some(device) = self
                .devices
                .use_token(user.id, &token_digest(token))
                .await?
        {
            return Ok(Some(SecondStep::TrustedDevice(device)));
        }
        let factors = self.factors.enabled(user.id).await?;
        if factors.is_empty() {
            tracing::warn!(user = %user.id, "the account is marked as having a second factor but has none enabled");
            return Ok(None);
        }
        let has_backup_codes = self.backup_codes.remaining(user.id).await? > 0;
        let token = opaque_token(self.ids.as_ref());
        let digest = token_digest(&token).to_hex();
        let stored = StoredChallenge {
            user_id: user.id,
            factors: factors
                .iter()
                .map(|factor| ChallengeFactor {
                    id: factor.id,
                    kind: factor.kind.as_str().to_owned(),
                })
                .collect(),
            has_backup_codes,
            nonce: self.ids.hex(8),
        };
        let value = serde_json::to_string(&stored)
            .map_err(|error| Fault::Unexpected(anyhow::Error::new(error)))?;
        self.challenges
            .put(&challenge_key(&digest), &value, CHALLENGE_TTL)
            .await?;
        self.send_preferred(user, &factors, &digest, request)
            .await?;
        Ok(Some(SecondStep::Challenge(TwoFactorChallenge {
            temp_token: token,
            methods: stored.methods(),
            expires_in: CHALLENGE_TTL.as_secs(),
        })))
    }

    /// Queues the preferred factor's code when it sends codes, with the audit event of the
    /// challenge, in one commit.
    async fn send_preferred(
        &self,
        user: &User,
        factors: &[Factor],
        digest: &str,
        request: &RequestInfo,
    ) -> Result<(), Fault> {
        let Some(preferred) = preferred(factors) else {
            return Ok(());
        };
        let mut details = json!({ "methods": factors.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>(), "preferred": preferred.kind.as_str() });
        let mut job = None;
        if let Some(destination) = preferred
            .destination
            .as_ref()
            .filter(|_| preferred.kind.is_sent())
        {
            let allowed = self
                .sender
                .allow(SendKind::ChallengeCreated, user.id, destination)
                .await?;
            if allowed.is_ok() {
                job = Some(
                    self.sender
                        .job(user.id, preferred.id, Some(digest.to_owned())),
                );
                details["codeSentTo"] = json!(destination.masked());
            } else {
                tracing::info!(user = %user.id, to = %destination.masked(), "the destination's send cap holds the challenge's code back");
                details["codeHeldBack"] = json!(true);
            }
        }
        let mut transaction = self.unit_of_work.begin().await?;
        record(
            transaction.as_mut(),
            user_event(
                "2fa.challenge.created",
                Some(user.id),
                true,
                request,
                details,
            ),
        )
        .await?;
        if let Some(job) = job {
            transaction.enqueue(job).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The live challenge of `temp_token`, if any; a dead one (5 wrong codes) answers `None`
    /// like an unknown one, before any code is looked at.
    pub(crate) async fn live(&self, temp_token: &str) -> Result<Option<LiveChallenge>, PortError> {
        if !is_opaque_token(temp_token) {
            return Ok(None);
        }
        let digest = token_digest(temp_token).to_hex();
        let key = challenge_key(&digest);
        let Some(StoredEntry { value, failures }) = self.challenges.get(&key).await? else {
            return Ok(None);
        };
        if failures >= MAX_WRONG_CODES {
            return Ok(None);
        }
        let Ok(challenge) = serde_json::from_str::<StoredChallenge>(&value) else {
            tracing::warn!("a stored login challenge does not parse; it is refused");
            return Ok(None);
        };
        Ok(Some(LiveChallenge {
            digest,
            key,
            value,
            challenge,
        }))
    }
}

/// The factor whose code a new challenge sends or expects first: the one a login used last,
/// else the first enabled (`factors` is oldest first; a confirmation's own use does not count).
pub(crate) fn preferred(factors: &[Factor]) -> Option<&Factor> {
    factors
        .iter()
        .filter(|factor| factor.last_used_at > factor.verified_at)
        .max_by_key(|factor| factor.last_used_at)
        .or_else(|| factors.first())
}
