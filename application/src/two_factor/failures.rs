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

/// What the counters held when checked: whether a failure was counted on either.
#[derive(Debug, Clone, Copy)]
#[must_use = "a right code hands it to `clear`"]
pub(crate) struct Standing {
    counted: bool,
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
    /// limit: no code is looked at then. Otherwise what the counters held, for `clear`.
    pub(crate) async fn check(
        &self,
        user: UserId,
        subject: &str,
    ) -> Result<Result<Standing, Throttled>, PortError> {
        // Both counters at once: one wait, not two (and one write on a multiplexed connection).
        let account_key = account_key(user);
        let factor_key = factor_key(subject);
        let (account, factor) = futures::try_join!(
            self.limiter.check(&account_key, self.per_account),
            self.limiter.check(&factor_key, self.per_factor),
        )?;
        let mut counted = false;
        for (decision, limit) in [(account, self.per_account), (factor, self.per_factor)] {
            match decision {
                Decision::Limited { retry_after } => {
                    return Ok(Err(Throttled {
                        limit: limit.max,
                        retry_after,
                    }));
                }
                Decision::Allowed { remaining, .. } => counted |= remaining < limit.max,
            }
        }
        Ok(Ok(Standing { counted }))
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

    /// Clears the account's and `subject`'s counters after a right code, when `check` found a
    /// failure on either (a right code at the first try, the common case, costs no call); a
    /// limiter that fails is logged (the counters end with their windows). A wrong code
    /// counted between the check and the right one stays until its window ends.
    pub(crate) async fn clear(&self, user: UserId, subject: &str, standing: Standing) {
        if !standing.counted {
            return;
        }
        for key in [account_key(user), factor_key(subject)] {
            if let Err(error) = self.limiter.clear(&key).await {
                tracing::warn!(error = %twofa_domain::error_chain(&error), "could not clear a second-factor failure counter");
            }
        }
    }
}
