//! `EmailLinks`: the one-time tokens of e-mail links (verification, password reset), written
//! in the caller's transaction, and the e-mail that carries each link; used by the jobs that
//! mail the links, which mint the token when they run and send the e-mail themselves, so that
//! no job payload ever holds a live link.

use std::{sync::Arc, time::Duration};

use twofa_domain::{
    Clock, EmailAddress, NewOneTimeToken, PortError, SecretGenerator, TokenPurpose, Transaction,
    User,
};

use super::tokens::{one_time_hash, opaque_token};

/// What the e-mail links follow.
#[derive(Debug, Clone)]
pub struct EmailLinkPolicy {
    /// The base of the links (`server.public_url`); a trailing `/` is dropped.
    pub public_url: String,
    /// E-mail verification link lifetime.
    pub verification_ttl: Duration,
    /// Password reset link lifetime.
    pub reset_ttl: Duration,
    /// Runs a job that mails a link gets.
    pub email_max_attempts: u32,
}

/// The e-mail of a link just issued: its recipient, template and parameters (the link).
///
/// It holds the live link: it is sent once the token's transaction committed, and never
/// queued, stored or logged (its `Debug` shows neither the link nor the whole address).
pub struct LinkMail {
    /// The account's address.
    pub(crate) to: EmailAddress,
    /// `verify_email` or `password_reset`.
    pub(crate) template: &'static str,
    /// `link`: the link with its token.
    pub(crate) params: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for LinkMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkMail")
            .field("to", &self.to.masked())
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// Issues the one-time tokens of e-mail links, and the e-mails that carry them.
pub struct EmailLinks {
    clock: Arc<dyn Clock>,
    ids: Arc<dyn SecretGenerator>,
    policy: EmailLinkPolicy,
}

impl EmailLinks {
    /// Links following `policy`.
    pub fn new(
        clock: Arc<dyn Clock>,
        ids: Arc<dyn SecretGenerator>,
        mut policy: EmailLinkPolicy,
    ) -> Self {
        policy.public_url = policy.public_url.trim_end_matches('/').to_owned();
        Self { clock, ids, policy }
    }

    /// Issues a one-time token of `purpose` for `user` in `transaction`; the e-mail carrying
    /// its link, for the caller to send once `transaction` committed.
    pub(crate) async fn issue(
        &self,
        transaction: &dyn Transaction,
        user: &User,
        purpose: TokenPurpose,
    ) -> Result<LinkMail, PortError> {
        let (ttl, path, template) = match purpose {
            TokenPurpose::VerifyEmail => {
                (self.policy.verification_ttl, "verify-email", "verify_email")
            }
            TokenPurpose::ResetPassword => {
                (self.policy.reset_ttl, "reset-password", "password_reset")
            }
        };
        let token = opaque_token(self.ids.as_ref());
        transaction
            .one_time_tokens()
            .issue(NewOneTimeToken {
                hash: one_time_hash(&token),
                purpose,
                user_id: user.id,
                expires_at: self.clock.after(ttl),
            })
            .await?;
        let link = format!("{}/{path}?token={token}", self.policy.public_url);
        let mut params = serde_json::Map::new();
        params.insert("link".to_owned(), link.into());
        Ok(LinkMail {
            to: user.email.clone(),
            template,
            params,
        })
    }
}
