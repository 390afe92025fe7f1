//! `ConfirmFactor`: verify-setup. The pending factor's code — a TOTP code of its secret, or
//! the SMS/e-mail code sent for its setup — enables it; the user's first factor comes with 10
//! backup codes. Wrong codes count on the second-factor failure counters; a sent setup code
//! dies after 5 wrong tries.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    ChallengeStore, Factor, FactorKind, FactorRepository, SecretCipher, StoredEntry, UnitOfWork,
    UserId, UserRepository,
};

use super::{
    ConfirmError, MAX_WRONG_CODES,
    enrolment::{Enabled, Enrolment},
    failures::SecondFactorFailures,
    keys::{StoredCode, code_matches, setup_code_key},
    totp_check::TotpCheck,
};
use crate::{
    auth::{InvalidField, RequestInfo, user_event},
    webhook_events::record_alone,
};

/// The longest code text read.
const MAX_CODE_INPUT: usize = 64;

/// What confirming a setup takes.
#[derive(Clone)]
pub struct ConfirmFactorInput {
    /// The caller.
    pub user_id: UserId,
    /// Which pending factor.
    pub kind: FactorKind,
    /// The code, as typed.
    pub code: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for ConfirmFactorInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmFactorInput")
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("code", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A confirmed setup: the backup codes when it was the user's first factor.
#[derive(Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// The 10 backup codes, shown once, when this is the first factor.
    pub backup_codes: Option<Vec<String>>,
}

impl std::fmt::Debug for Confirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmed")
            .field("backup_codes", &self.backup_codes.as_ref().map(Vec::len))
            .finish()
    }
}

/// Confirms a pending factor.
pub struct ConfirmFactor {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) challenges: Arc<dyn ChallengeStore>,
    pub(crate) cipher: Arc<dyn SecretCipher>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) totp: TotpCheck,
    pub(crate) enrolment: Enrolment,
    pub(crate) failures: SecondFactorFailures,
}

impl ConfirmFactor {
    /// Checks the code and enables the factor.
    ///
    /// # Errors
    /// `Invalid` (`code`), `NotPending`, `AlreadyEnabled`, `RateLimited`, `InvalidCode`,
    /// `Unauthorized`, `Fault`.
    #[tracing::instrument(name = "confirm_factor", skip_all, fields(kind = %input.kind))]
    pub async fn execute(&self, input: ConfirmFactorInput) -> Result<Confirmed, ConfirmError> {
        let code = input.code.trim();
        if code.is_empty() || code.chars().count() > MAX_CODE_INPUT {
            return Err(ConfirmError::Invalid(vec![InvalidField::new(
                "code",
                format!("must be 1 to {MAX_CODE_INPUT} characters"),
            )]));
        }
        let Some(user) = self.users.find_by_id(input.user_id).await? else {
            return Err(ConfirmError::Unauthorized);
        };
        if !user.is_active {
            return Err(ConfirmError::Unauthorized);
        }
        let Some(factor) = self.factors.pending(user.id, input.kind).await? else {
            return Err(ConfirmError::NotPending);
        };
        if self
            .factors
            .enabled(user.id)
            .await?
            .iter()
            .any(|other| other.kind == input.kind)
        {
            return Err(ConfirmError::AlreadyEnabled);
        }
        let subject = factor.id.to_string();
        let standing = self.failures.check(user.id, &subject).await??;
        let verdict = if input.kind == FactorKind::Totp {
            self.totp.matching_step(&factor, code)?.map(Some)
        } else {
            self.take_sent_code(&factor, code).await?.then_some(None)
        };
        let Some(step) = verdict else {
            return Err(self.failed(&factor, &input.request).await);
        };
        let mut transaction = self.unit_of_work.begin().await?;
        let enabled = self
            .enrolment
            .enable(transaction.as_mut(), &factor, step, &input.request)
            .await?;
        let Enabled::Done(backup_codes) = enabled else {
            return Err(ConfirmError::NotPending);
        };
        crate::auth::commit(transaction, &input.request).await?;
        self.failures.clear(user.id, &subject, standing).await;
        Ok(Confirmed { backup_codes })
    }

    /// Whether `code` is the setup code sent for `factor`, consuming it if so (one atomic
    /// conditional take) and counting a wrong try against it otherwise.
    async fn take_sent_code(&self, factor: &Factor, code: &str) -> Result<bool, ConfirmError> {
        let key = setup_code_key(factor.id);
        let Some(StoredEntry { value, failures }) = self.challenges.get(&key).await? else {
            return Ok(false);
        };
        if failures >= MAX_WRONG_CODES {
            return Ok(false);
        }
        let Ok(stored) = serde_json::from_str::<StoredCode>(&value) else {
            return Ok(false);
        };
        if stored.factor_id == factor.id && code_matches(self.cipher.as_ref(), &key, &stored, code)
        {
            return Ok(self.challenges.take(&key, &value, MAX_WRONG_CODES).await?);
        }
        self.challenges.fail(&key).await?;
        Ok(false)
    }

    /// Counts and records a wrong setup code; the answer it gets.
    async fn failed(&self, factor: &Factor, request: &RequestInfo) -> ConfirmError {
        if let Err(error) = self
            .failures
            .count(factor.user_id, &factor.id.to_string())
            .await
        {
            return error.into();
        }
        let event = user_event(
            "2fa.failed",
            Some(factor.user_id),
            false,
            request,
            json!({ "factorId": factor.id.to_string(), "type": factor.kind.as_str(), "stage": "setup" }),
        );
        match record_alone(self.unit_of_work.as_ref(), [event]).await {
            Ok(()) => ConfirmError::InvalidCode,
            Err(fault) => fault.into(),
        }
    }
}
