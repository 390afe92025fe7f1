//! `VerifySecondFactor` and `VerifyBackupCode`: answering a login challenge.
//!
//! A used, dead (5 wrong codes) or expired challenge is refused before its code is looked at,
//! so it consumes nothing. Without `method`, TOTP is tried first, then the challenge's pending
//! SMS or e-mail code. A right code is consumed by one atomic conditional write — the TOTP
//! step advanced past (so it cannot be used again, even on a fresh challenge), the sent code
//! taken, the backup code marked used — then the challenge is taken (single use), and the
//! session starts in the same transaction; a lost race on either rolls everything back. A
//! wrong code counts against the challenge and the second-factor failure counters.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    BACKUP_CODES_LOW, BackupCode, ChallengeStore, Factor, FactorId, FactorKind, FactorRepository,
    Limit, NewAuditEvent, RateLimiter, SecretCipher, StoredEntry, UnitOfWork, User, UserRepository,
};

use super::{
    MAX_WRONG_CODES, VerifyError,
    challenges::{LiveChallenge, LoginChallenges},
    failures::{SecondFactorFailures, factor_subject},
    keys::{BACKUP_CODE_PURPOSE, StoredCode, challenge_code_key, code_matches},
    sign_in::{Passed, SecondFactorSignIn, TrustDevice, Verified},
    totp_check::TotpCheck,
};
use crate::{
    auth::{InvalidField, RequestInfo, hit_per_client, user_event},
    webhook_events::record_alone,
};

/// The longest `tempToken` or `code` read.
const MAX_INPUT: usize = 256;

/// What answering a challenge takes.
#[derive(Clone)]
pub struct VerifyInput {
    /// The challenge's `tempToken`.
    pub temp_token: String,
    /// The code, as typed.
    pub code: String,
    /// `totp`, `sms`, `email` or `backup_code`; `None` tries TOTP, then the sent code.
    pub method: Option<String>,
    /// Whether to trust the device, and its name.
    pub trust: TrustDevice,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for VerifyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyInput")
            .field("temp_token", &"[redacted]")
            .field("code", &"[redacted]")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// A way of answering a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Factor(FactorKind),
    BackupCode,
}

impl Method {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "backup_code" => Some(Self::BackupCode),
            other => FactorKind::parse(other).map(Self::Factor),
        }
    }
}

/// A code that matched, not yet consumed.
enum Match {
    Totp {
        factor: Factor,
        step: i64,
    },
    Sent {
        factor: Factor,
        key: String,
        value: String,
    },
}

/// Answers login challenges.
pub struct VerifySecondFactor {
    pub(crate) challenges: LoginChallenges,
    pub(crate) store: Arc<dyn ChallengeStore>,
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) cipher: Arc<dyn SecretCipher>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) totp: TotpCheck,
    pub(crate) failures: SecondFactorFailures,
    pub(crate) sign_in: Arc<SecondFactorSignIn>,
    /// `rate_limits.verify_per_ip`.
    pub(crate) limit: Limit,
}

impl VerifySecondFactor {
    /// Checks the code against the challenge and signs the user in.
    ///
    /// # Errors
    /// `Invalid` for an empty or overlong field or an unknown `method`; `RateLimited` past
    /// the per-address limit or the account's second-factor failures; `ChallengeExpired` for
    /// an unknown, used, expired or dead challenge (before the code is looked at);
    /// `InvalidCode` for a wrong, used or expired code; `Fault`.
    #[tracing::instrument(name = "verify_second_factor", skip_all)]
    pub async fn execute(&self, input: VerifyInput) -> Result<Verified, VerifyError> {
        let method = validate(&input)?;
        hit_per_client::<VerifyError>(
            self.limiter.as_ref(),
            "2fa_verify",
            input.request.ip,
            self.limit,
        )
        .await?;
        let Some(live) = self.challenges.live(&input.temp_token).await? else {
            return Err(VerifyError::ChallengeExpired);
        };
        let Some(user) = self.users.find_by_id(live.challenge.user_id).await? else {
            return Err(VerifyError::ChallengeExpired);
        };
        if !user.is_active {
            return Err(VerifyError::ChallengeExpired);
        }
        if method == Some(Method::BackupCode) {
            return self.backup_code(&live, &user, &input).await;
        }
        let kinds: Vec<FactorKind> = match method {
            Some(Method::Factor(kind)) if live.challenge.factor(kind).is_some() => vec![kind],
            Some(Method::Factor(_) | Method::BackupCode) => {
                return Err(VerifyError::Invalid(vec![InvalidField::new(
                    "method",
                    "is not a method of this challenge",
                )]));
            }
            None => FactorKind::ALL
                .into_iter()
                .filter(|kind| live.challenge.factor(*kind).is_some())
                .collect(),
        };
        let subject_factor = kinds.first().and_then(|kind| live.challenge.factor(*kind));
        let subject = factor_subject(subject_factor, user.id);
        let standing = self.failures.check(user.id, &subject).await??;
        let Some(found) = self.find_match(&live, &user, &kinds, &input.code).await? else {
            return Err(self
                .wrong(&live, &user, &subject, "wrong_code", &input.request)
                .await);
        };
        let transaction = self.unit_of_work.begin().await?;
        let factor = match found {
            Match::Totp { factor, step } => {
                if !transaction.factors().advance_step(factor.id, step).await? {
                    drop(transaction);
                    return Err(self
                        .wrong(&live, &user, &subject, "replayed_code", &input.request)
                        .await);
                }
                factor
            }
            Match::Sent { factor, key, value } => {
                if !self.store.take(&key, &value, MAX_WRONG_CODES).await? {
                    drop(transaction);
                    return Err(VerifyError::InvalidCode);
                }
                transaction.factors().mark_used(factor.id).await?;
                factor
            }
        };
        if !self.take_challenge(&live).await? {
            drop(transaction);
            return Err(VerifyError::ChallengeExpired);
        }
        let verified = self
            .sign_in
            .finish(
                transaction,
                &user,
                Passed {
                    method: factor.kind.amr(),
                    details: json!({ "factorId": factor.id.to_string(), "type": factor.kind.as_str() }),
                    events: Vec::new(),
                },
                &input.trust,
                &input.request,
            )
            .await?;
        self.failures.clear(user.id, &subject, standing).await;
        Ok(verified)
    }

    /// The first of `kinds` whose code `code` is.
    async fn find_match(
        &self,
        live: &LiveChallenge,
        user: &User,
        kinds: &[FactorKind],
        code: &str,
    ) -> Result<Option<Match>, VerifyError> {
        for kind in kinds {
            let Some(id) = live.challenge.factor(*kind) else {
                continue;
            };
            let Some(factor) = self.enabled_factor(user, id).await? else {
                continue;
            };
            if *kind == FactorKind::Totp {
                if let Some(step) = self.totp.matching_step(&factor, code)? {
                    return Ok(Some(Match::Totp { factor, step }));
                }
                continue;
            }
            let key = challenge_code_key(&live.digest);
            let Some(StoredEntry { value, failures }) = self.store.get(&key).await? else {
                continue;
            };
            let Ok(stored) = serde_json::from_str::<StoredCode>(&value) else {
                continue;
            };
            if failures < MAX_WRONG_CODES
                && stored.factor_id == factor.id
                && code_matches(self.cipher.as_ref(), &key, &stored, code)
            {
                return Ok(Some(Match::Sent { factor, key, value }));
            }
        }
        Ok(None)
    }

    async fn enabled_factor(
        &self,
        user: &User,
        id: FactorId,
    ) -> Result<Option<Factor>, VerifyError> {
        Ok(self
            .factors
            .find(user.id, id)
            .await?
            .filter(Factor::is_enabled))
    }

    /// Answers a challenge with a backup code.
    async fn backup_code(
        &self,
        live: &LiveChallenge,
        user: &User,
        input: &VerifyInput,
    ) -> Result<Verified, VerifyError> {
        let subject = factor_subject(None, user.id);
        let standing = self.failures.check(user.id, &subject).await??;
        let Ok(code) = BackupCode::parse(&input.code) else {
            return Err(self
                .wrong(
                    live,
                    user,
                    &subject,
                    "malformed_backup_code",
                    &input.request,
                )
                .await);
        };
        let candidates = self
            .cipher
            .digests(BACKUP_CODE_PURPOSE, code.canonical().as_bytes());
        let transaction = self.unit_of_work.begin().await?;
        if !transaction
            .backup_codes()
            .consume(user.id, &candidates)
            .await?
        {
            drop(transaction);
            return Err(self
                .wrong(live, user, &subject, "wrong_backup_code", &input.request)
                .await);
        }
        if !self.take_challenge(live).await? {
            drop(transaction);
            return Err(VerifyError::ChallengeExpired);
        }
        let remaining = transaction.backup_codes().remaining(user.id).await?;
        let mut events = vec![user_event(
            "2fa.backup_code.used",
            Some(user.id),
            true,
            &input.request,
            json!({ "remaining": remaining }),
        )];
        if remaining <= BACKUP_CODES_LOW {
            events.push(user_event(
                "2fa.backup_codes.low",
                Some(user.id),
                true,
                &input.request,
                json!({ "remaining": remaining }),
            ));
        }
        let verified = self
            .sign_in
            .finish(
                transaction,
                user,
                Passed {
                    method: "backup",
                    details: json!({ "type": "backup_code" }),
                    events,
                },
                &input.trust,
                &input.request,
            )
            .await?;
        self.failures.clear(user.id, &subject, standing).await;
        Ok(verified)
    }

    /// Counts a wrong code against the challenge and the failure counters, records
    /// `2fa.failed`; the answer it gets.
    /// Takes the challenge (single use) once its code is consumed. Its wrong-code count is not
    /// looked at again: the challenge was alive when this request began (`live`), and the
    /// requests that lost the race for the same right code count as wrong ones, so five of
    /// them could otherwise kill the challenge between the winner's two takes and leave no
    /// request signed in (a wrong code after the 5th still meets a dead challenge at `live`).
    async fn take_challenge(&self, live: &LiveChallenge) -> Result<bool, VerifyError> {
        Ok(self.store.take(&live.key, &live.value, u32::MAX).await?)
    }

    async fn wrong(
        &self,
        live: &LiveChallenge,
        user: &User,
        subject: &str,
        reason: &str,
        request: &RequestInfo,
    ) -> VerifyError {
        let counted = async {
            let failures = self.store.fail(&live.key).await?;
            self.failures.count(user.id, subject).await?;
            Ok::<_, twofa_domain::PortError>(failures)
        };
        let failures = match counted.await {
            Ok(failures) => failures.unwrap_or(MAX_WRONG_CODES),
            Err(error) => return error.into(),
        };
        let event: NewAuditEvent = user_event(
            "2fa.failed",
            Some(user.id),
            false,
            request,
            json!({ "reason": reason, "stage": "login", "challengeFailures": failures }),
        );
        match record_alone(self.unit_of_work.as_ref(), [event]).await {
            Ok(()) => VerifyError::InvalidCode,
            Err(fault) => fault.into(),
        }
    }
}

/// The `method`, once the fields are checked.
fn validate(input: &VerifyInput) -> Result<Option<Method>, VerifyError> {
    let mut invalid = Vec::new();
    for (field, value) in [
        ("tempToken", input.temp_token.as_str()),
        ("code", input.code.trim()),
    ] {
        if value.is_empty() {
            invalid.push(InvalidField::new(field, "must not be empty"));
        } else if value.chars().count() > MAX_INPUT {
            invalid.push(InvalidField::new(
                field,
                format!("must be at most {MAX_INPUT} characters"),
            ));
        }
    }
    let method = match input.method.as_deref() {
        None => None,
        Some(name) => {
            let method = Method::parse(name);
            if method.is_none() {
                invalid.push(InvalidField::new(
                    "method",
                    "must be totp, sms, email or backup_code",
                ));
            }
            method
        }
    };
    if input
        .trust
        .name
        .as_ref()
        .is_some_and(|name| name.chars().count() > twofa_domain::DEVICE_NAME_LIMIT)
    {
        invalid.push(InvalidField::new(
            "deviceName",
            format!(
                "must be at most {} characters",
                twofa_domain::DEVICE_NAME_LIMIT
            ),
        ));
    }
    if invalid.is_empty() {
        Ok(method)
    } else {
        Err(VerifyError::Invalid(invalid))
    }
}

/// What answering a challenge with a backup code takes.
#[derive(Clone)]
pub struct VerifyBackupCodeInput {
    /// The challenge's `tempToken`.
    pub temp_token: String,
    /// The backup code, any case, dashes optional.
    pub code: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for VerifyBackupCodeInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyBackupCodeInput([redacted])")
    }
}

impl VerifySecondFactor {
    /// `/api/2fa/verify-backup-code`: [`VerifySecondFactor::execute`] with `method`
    /// `backup_code` and no device trusted.
    ///
    /// # Errors
    /// As [`VerifySecondFactor::execute`].
    pub async fn backup(&self, input: VerifyBackupCodeInput) -> Result<Verified, VerifyError> {
        self.execute(VerifyInput {
            temp_token: input.temp_token,
            code: input.code,
            method: Some("backup_code".to_owned()),
            trust: TrustDevice::default(),
            request: input.request,
        })
        .await
    }
}
