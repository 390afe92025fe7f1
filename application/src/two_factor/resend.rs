//! `ResendCode`: a new SMS or e-mail code for a live challenge, behind the resend cooldown
//! and every send cap. A dead or used challenge is refused like an unknown one.

use std::sync::Arc;

use twofa_domain::{FactorKind, FactorRepository, UnitOfWork};

use super::{
    ResendError,
    challenges::LoginChallenges,
    code_sender::{CodeSender, SendKind},
};
use crate::auth::{InvalidField, RequestInfo};

/// What a resend takes.
#[derive(Clone)]
pub struct ResendInput {
    /// The challenge's `tempToken`.
    pub temp_token: String,
    /// `sms` or `email`.
    pub method: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

impl std::fmt::Debug for ResendInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResendInput")
            .field("temp_token", &"[redacted]")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Resends a challenge's code.
pub struct ResendCode {
    pub(crate) challenges: LoginChallenges,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) sender: CodeSender,
}

impl ResendCode {
    /// Queues a new code of the challenge's factor of `method`.
    ///
    /// # Errors
    /// `Invalid` (`method`), `ChallengeExpired`, `RateLimited`, `Fault`.
    #[tracing::instrument(name = "resend_code", skip_all)]
    pub async fn execute(&self, input: ResendInput) -> Result<(), ResendError> {
        let kind = FactorKind::parse(&input.method).filter(|kind| kind.is_sent());
        let Some(kind) = kind else {
            return Err(ResendError::Invalid(vec![InvalidField::new(
                "method",
                "must be sms or email",
            )]));
        };
        let Some(live) = self.challenges.live(&input.temp_token).await? else {
            return Err(ResendError::ChallengeExpired);
        };
        let user_id = live.challenge.user_id;
        let Some(factor) = live.challenge.factor(kind) else {
            return Err(ResendError::Invalid(vec![InvalidField::new(
                "method",
                "is not a method of this challenge",
            )]));
        };
        let Some(factor) = self
            .factors
            .find(user_id, factor)
            .await?
            .filter(twofa_domain::Factor::is_enabled)
        else {
            return Err(ResendError::ChallengeExpired);
        };
        let Some(destination) = &factor.destination else {
            return Err(ResendError::ChallengeExpired);
        };
        let subject = format!("login:{}", live.digest);
        self.sender
            .allow(
                SendKind::Requested {
                    cooldown_subject: &subject,
                    ip: input.request.ip,
                },
                user_id,
                destination,
            )
            .await??;
        let mut transaction = self.unit_of_work.begin().await?;
        transaction
            .enqueue(
                self.sender
                    .job(user_id, factor.id, Some(live.digest.clone())),
            )
            .await?;
        crate::auth::commit(transaction, &input.request).await?;
        Ok(())
    }
}
