//! `SecondFactorFailures`: wrong second-factor codes counted per factor and per account, on
//! counters of their own, so password failures and code failures neither reset nor exhaust
//! each other. A counter at its limit refuses further codes (429) until its window ends; a
//! success clears both.

use std::sync::Arc;

use twofa_domain::{Decision, FactorId, Limit, PortError, RateLimiter, UserId};

use crate::auth::Throttled;

/// The second-factor failure counters.
#[derive(Clone)]
pub(crate) struct SecondFactorFailures {
    limiter: Arc<dyn RateLimiter>,
    per_factor: Limit,
    per_account: Limit,
}

fn account_key(user: UserId) -> String {
    format!("2fa:failures:user:{user}")
}

fn factor_key(subject: &str) -> String {
    format!("2fa:failures:factor:{subject}")
}

/// The counter subject of a factor, or of the account's backup codes.
pub(crate) fn factor_subject(factor: Option<FactorId>, user: UserId) -> String {
    factor.map_or_else(|| format!("backup:{user}"), |id| id.to_string())
}

impl SecondFactorFailures {
    pub(crate) fn new(
        limiter: Arc<dyn RateLimiter>,
        per_factor: Limit,
        per_account: Limit,
    ) -> Self {
        Self {
            limiter,
            per_factor,
            per_account,
        }
    }

    /// `Err(Throttled)` inside when the account's, or the factor's, failures are at their
    /// limit: no code is looked at then.
    pub(crate) async fn check(
        &self,
        user: UserId,
        subject: &str,
    ) -> Result<Result<(), Throttled>, PortError> {
        for (key, limit) in [
            (account_key(user), self.per_account),
            (factor_key(subject), self.per_factor),
        ] {
            if let Decision::Limited { retry_after } = self.limiter.check(&key, limit).await? {
                return Ok(Err(Throttled {
                    limit: limit.max,
                    retry_after,
                }));
            }
        }
        Ok(Ok(()))
    }

    /// Counts one wrong code of the account against `subject`.
    pub(crate) async fn count(&self, user: UserId, subject: &str) -> Result<(), PortError> {
        self.limiter
            .hit(&account_key(user), self.per_account)
            .await?;
        self.limiter
            .hit(&factor_key(subject), self.per_factor)
            .await?;
        Ok(())
    }

    /// Clears the account's and `subject`'s counters after a right code; a limiter that fails
    /// is logged (the counters end with their windows).
    pub(crate) async fn clear(&self, user: UserId, subject: &str) {
        for key in [account_key(user), factor_key(subject)] {
            if let Err(error) = self.limiter.clear(&key).await {
                tracing::warn!(error = %twofa_domain::error_chain(&error), "could not clear a second-factor failure counter");
            }
        }
    }
}
