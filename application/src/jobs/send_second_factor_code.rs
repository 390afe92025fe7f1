//! `2fa.code.send`: mints an SMS or e-mail code for a login challenge or a factor's setup,
//! stores its keyed digest in the `ChallengeStore` for `otp.ttl`, and sends it. The payload
//! names only the user, the factor and the challenge's token digest: the code exists nowhere
//! but in the message (the queue never holds it). A run whose challenge is gone, or whose
//! setup is confirmed or replaced, sends nothing; a retried run mints a fresh code, replacing
//! the one before.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use twofa_domain::{
    ChallengeStore, Destination, FactorId, FactorRepository, NewJob, OtpCode, SecretCipher,
    SecretGenerator, SmsMessage, SmsSender, UserId,
};

use super::Mailer;
use crate::{
    two_factor::{StoredCode, challenge_code_key, challenge_key, code_digest, setup_code_key},
    worker::{JobFailure, JobHandler},
};

/// The job kind.
pub const SEND_SECOND_FACTOR_CODE: &str = "2fa.code.send";

/// What a `2fa.code.send` job carries: nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendSecondFactorCodePayload {
    /// Whose factor.
    pub user_id: UserId,
    /// The factor whose destination gets the code.
    pub factor_id: FactorId,
    /// The SHA-256 (hex) of the login challenge's token; `None` for the factor's setup.
    pub challenge: Option<String>,
}

impl SendSecondFactorCodePayload {
    /// The job, with at most `max_attempts` runs.
    pub fn into_job(self, max_attempts: u32) -> NewJob {
        NewJob::new(
            SEND_SECOND_FACTOR_CODE,
            serde_json::to_value(self).unwrap_or_default(),
            max_attempts,
        )
    }
}

/// Runs `2fa.code.send`.
pub struct SendSecondFactorCode {
    factors: Arc<dyn FactorRepository>,
    challenges: Arc<dyn ChallengeStore>,
    cipher: Arc<dyn SecretCipher>,
    ids: Arc<dyn SecretGenerator>,
    sms: Arc<dyn SmsSender>,
    mailer: Mailer,
    ttl: Duration,
}

impl SendSecondFactorCode {
    /// Codes live `ttl` (`otp.ttl`); SMS go through `sms`, e-mails through `mailer`.
    pub fn new(
        factors: Arc<dyn FactorRepository>,
        challenges: Arc<dyn ChallengeStore>,
        cipher: Arc<dyn SecretCipher>,
        ids: Arc<dyn SecretGenerator>,
        sms: Arc<dyn SmsSender>,
        mailer: Mailer,
        ttl: Duration,
    ) -> Self {
        Self {
            factors,
            challenges,
            cipher,
            ids,
            sms,
            mailer,
            ttl,
        }
    }

    /// Where the code is to be stored, and the destination; `None` when nothing is to be
    /// sent any more.
    async fn target(
        &self,
        payload: &SendSecondFactorCodePayload,
    ) -> Result<Option<(String, twofa_domain::Factor, Destination)>, twofa_domain::PortError> {
        let Some(factor) = self
            .factors
            .find(payload.user_id, payload.factor_id)
            .await?
        else {
            return Ok(None);
        };
        let key = if let Some(digest) = &payload.challenge {
            if !factor.is_enabled() || self.challenges.get(&challenge_key(digest)).await?.is_none()
            {
                return Ok(None);
            }
            challenge_code_key(digest)
        } else {
            if factor.is_enabled() {
                return Ok(None);
            }
            setup_code_key(factor.id)
        };
        let Some(destination) = factor.destination.clone() else {
            return Ok(None);
        };
        Ok(Some((key, factor, destination)))
    }
}

#[async_trait]
impl JobHandler for SendSecondFactorCode {
    fn kind(&self) -> &'static str {
        SEND_SECOND_FACTOR_CODE
    }

    #[tracing::instrument(name = "send_second_factor_code", skip_all)]
    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure> {
        let payload: SendSecondFactorCodePayload = super::parse(payload)?;
        let Some((key, factor, destination)) = self
            .target(&payload)
            .await
            .map_err(|error| JobFailure::Retryable(error.into()))?
        else {
            tracing::info!("the challenge or setup of the code is gone; nothing is sent");
            return Ok(());
        };
        let code = OtpCode::generate(self.ids.as_ref());
        let digest = code_digest(self.cipher.as_ref(), &key, &code)
            .into_iter()
            .next()
            .ok_or_else(|| {
                JobFailure::Permanent(anyhow::anyhow!("the secret cipher has no key"))
            })?;
        let stored = StoredCode {
            factor_id: factor.id,
            kind: factor.kind.as_str().to_owned(),
            digest: digest.to_hex(),
        };
        let value =
            serde_json::to_string(&stored).map_err(|error| JobFailure::Permanent(error.into()))?;
        self.challenges
            .put(&key, &value, self.ttl)
            .await
            .map_err(|error| JobFailure::Retryable(error.into()))?;
        tracing::info!(to = %destination.masked(), kind = %factor.kind, "sending a second-factor code");
        let minutes = self.ttl.as_secs().div_ceil(60);
        match destination {
            Destination::Phone(to) => self
                .sms
                .send(&SmsMessage {
                    to,
                    body: format!(
                        "Your twofa verification code is {}. It expires in {minutes} minutes. Never share it.",
                        code.as_str()
                    ),
                })
                .await
                .map_err(super::from_send_error),
            Destination::Email(to) => {
                let mut params = serde_json::Map::new();
                params.insert("code".to_owned(), serde_json::Value::String(code.as_str().to_owned()));
                self.mailer.send(to, "otp_code", &params).await
            }
        }
    }
}
