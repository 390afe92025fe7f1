//! `RecentAuth`: the proof a sensitive change asks for (removing a factor, regenerating
//! backup codes) — the current password, checked on the hashing pool under the login
//! throttle, or a current TOTP code, consumed like any other (its step advanced past).

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{FactorKind, FactorRepository, PasswordHasher, UnitOfWork, User, Verification};

use super::{ManageError, failures::SecondFactorFailures, totp_check::TotpCheck};
use crate::{
    auth::{InvalidField, LoginThrottle, RequestInfo, user_event},
    webhook_events::record_alone,
};

/// The longest password or code read.
const MAX_INPUT: usize = 1024;

/// What the caller offers as recent authentication.
#[derive(Clone, Default)]
pub struct Reauthentication {
    /// The current password.
    pub password: Option<String>,
    /// A current TOTP code.
    pub code: Option<String>,
}

impl std::fmt::Debug for Reauthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reauthentication")
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Checks recent authentication.
#[derive(Clone)]
pub(crate) struct RecentAuth {
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) throttle: Arc<LoginThrottle>,
    pub(crate) totp: TotpCheck,
    pub(crate) failures: SecondFactorFailures,
}

impl RecentAuth {
    /// `Ok` when `proof` holds the right password or a current TOTP code of `user`.
    pub(crate) async fn check(
        &self,
        user: &User,
        proof: &Reauthentication,
        request: &RequestInfo,
    ) -> Result<(), ManageError> {
        let password = proof.password.as_deref().filter(|text| !text.is_empty());
        let code = proof
            .code
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty());
        for (field, value) in [("password", password), ("code", code)] {
            if value.is_some_and(|text| text.chars().count() > MAX_INPUT) {
                return Err(ManageError::Invalid(vec![InvalidField::new(
                    field,
                    format!("must be at most {MAX_INPUT} characters"),
                )]));
            }
        }
        match (password, code) {
            (Some(password), _) => self.password(user, password, request).await,
            (None, Some(code)) => self.code(user, code, request).await,
            (None, None) => Err(ManageError::ReauthenticationRequired),
        }
    }

    async fn password(
        &self,
        user: &User,
        password: &str,
        request: &RequestInfo,
    ) -> Result<(), ManageError> {
        let attempts = self.throttle.account_attempts(user.id, request.ip);
        let _counted = attempts.attempt::<ManageError>().await?;
        let verdict = self.hasher.verify(password, &user.password_hash).await;
        match verdict {
            Ok(Verification::Match { .. }) => {
                if let Err(error) = attempts.clear().await {
                    tracing::warn!(error = %twofa_domain::error_chain(&error), "could not clear the login failure counters");
                }
                Ok(())
            }
            Ok(Verification::Mismatch) => {
                self.record_failure(user, "wrong_password", request).await?;
                Err(ManageError::InvalidCredentials)
            }
            Err(error) => {
                attempts.forgive().await;
                Err(error.into())
            }
        }
    }

    async fn code(
        &self,
        user: &User,
        code: &str,
        request: &RequestInfo,
    ) -> Result<(), ManageError> {
        let factors = self.factors.enabled(user.id).await?;
        let Some(totp) = factors
            .iter()
            .find(|factor| factor.kind == FactorKind::Totp)
        else {
            return Err(ManageError::InvalidCode);
        };
        let subject = totp.id.to_string();
        let standing = self.failures.check(user.id, &subject).await??;
        if let Some(step) = self.totp.matching_step(totp, code)?
            && self.factors.advance_step(totp.id, step).await?
        {
            self.failures.clear(user.id, &subject, standing).await;
            return Ok(());
        }
        self.failures.count(user.id, &subject).await?;
        self.record_failure(user, "wrong_code", request).await?;
        Err(ManageError::InvalidCode)
    }

    async fn record_failure(
        &self,
        user: &User,
        reason: &str,
        request: &RequestInfo,
    ) -> Result<(), ManageError> {
        record_alone(
            self.unit_of_work.as_ref(),
            [user_event(
                "security.reauthentication.failed",
                Some(user.id),
                false,
                request,
                json!({ "reason": reason }),
            )],
        )
        .await?;
        Ok(())
    }
}
