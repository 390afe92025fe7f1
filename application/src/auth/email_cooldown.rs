//! `EmailCooldown`: the least wait between two e-mails of one kind to one subject (an account,
//! an address), so an inbox cannot be flooded (`auth.verification_resend_cooldown`).

use std::{sync::Arc, time::Duration};

use twofa_domain::{Decision, Limit, PortError, RateLimiter};

use super::Throttled;

/// The kinds of e-mail that have a cooldown.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CooldownKind {
    /// Verification links, per account.
    Verify,
    /// Reset links, per address asked for.
    Reset,
}

impl CooldownKind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
        }
    }
}

/// The cooldowns of e-mails.
pub struct EmailCooldown {
    limiter: Arc<dyn RateLimiter>,
    limit: Limit,
}

impl EmailCooldown {
    /// Cooldowns of `cooldown`, counted by `limiter`.
    pub fn new(limiter: Arc<dyn RateLimiter>, cooldown: Duration) -> Self {
        Self {
            limiter,
            limit: Limit {
                max: 1,
                window: cooldown,
            },
        }
    }

    fn key(kind: CooldownKind, subject: &str) -> String {
        format!("cooldown:{}:{subject}", kind.as_str())
    }

    /// `Err(Throttled)` inside while the cooldown of e-mails of `kind` to `subject` runs.
    pub(crate) async fn check(
        &self,
        kind: CooldownKind,
        subject: &str,
    ) -> Result<Result<(), Throttled>, PortError> {
        Ok(
            match self
                .limiter
                .check(&Self::key(kind, subject), self.limit)
                .await?
            {
                Decision::Allowed { .. } => Ok(()),
                Decision::Limited { retry_after } => Err(Throttled {
                    limit: 1,
                    retry_after,
                }),
            },
        )
    }

    /// Starts the cooldown of e-mails of `kind` to `subject` (once the e-mail is on its way).
    async fn start(&self, kind: CooldownKind, subject: &str) -> Result<(), PortError> {
        self.limiter
            .hit(&Self::key(kind, subject), self.limit)
            .await?;
        Ok(())
    }

    /// [`EmailCooldown::start`] once the e-mail's transaction committed: a limiter that fails
    /// is logged, since the change stands (the next e-mail is then not held back).
    pub(crate) async fn start_after_commit(&self, kind: CooldownKind, subject: &str) {
        if let Err(error) = self.start(kind, subject).await {
            tracing::warn!(error = %twofa_domain::error_chain(&error), "could not start an e-mail cooldown");
        }
    }
}
