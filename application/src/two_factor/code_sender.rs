//! `CodeSender`: queues the job that sends an SMS or e-mail code, behind the send caps — the
//! resend cooldown, and the per-address, per-account and per-destination caps
//! (`rate_limits.otp_send_per_ip`, `otp.sends_per_user_per_hour`,
//! `otp.sends_per_destination_per_hour`). The job mints the code when it runs; the queue never
//! holds one.

use std::{net::IpAddr, sync::Arc};

use sha2::{Digest as _, Sha256};
use twofa_domain::{Decision, Destination, FactorId, Limit, PortError, RateLimiter, UserId};

use crate::{
    auth::{Throttled, client_key},
    jobs::SendSecondFactorCodePayload,
};

/// The caps on sent codes.
#[derive(Debug, Clone, Copy)]
pub struct SendCaps {
    /// Codes sent for requests from one client address.
    pub per_ip: Limit,
    /// Codes sent to one account's destinations.
    pub per_user: Limit,
    /// Codes sent to one phone number or address, whoever asks.
    pub per_destination: Limit,
    /// The least wait between two sends of one challenge or one setup.
    pub cooldown: Limit,
}

/// Which caps a send is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SendKind<'a> {
    /// The code sent as a login challenge is made: only the per-destination cap.
    ChallengeCreated,
    /// A resend of a challenge (keyed by its digest) or a setup (keyed by the user and kind):
    /// every cap and the cooldown.
    Requested {
        /// What the cooldown is kept for.
        cooldown_subject: &'a str,
        /// The client address.
        ip: Option<IpAddr>,
    },
}

/// Sends codes through the job queue.
#[derive(Clone)]
pub(crate) struct CodeSender {
    limiter: Arc<dyn RateLimiter>,
    caps: SendCaps,
    max_attempts: u32,
}

impl CodeSender {
    pub(crate) fn new(limiter: Arc<dyn RateLimiter>, caps: SendCaps, max_attempts: u32) -> Self {
        Self {
            limiter,
            caps,
            max_attempts,
        }
    }

    /// Counts a send of `kind` to `destination` for `user` against its caps: `Err(Throttled)`
    /// inside when one is reached (then nothing may be sent).
    pub(crate) async fn allow(
        &self,
        kind: SendKind<'_>,
        user: UserId,
        destination: &Destination,
    ) -> Result<Result<(), Throttled>, PortError> {
        let mut counters = Vec::with_capacity(4);
        if let SendKind::Requested {
            cooldown_subject,
            ip,
        } = kind
        {
            counters.push((
                format!("otp:cooldown:{cooldown_subject}"),
                self.caps.cooldown,
            ));
            counters.push((
                twofa_domain::per_address_key("otp_send", &client_key(ip)),
                self.caps.per_ip,
            ));
            counters.push((format!("otp:user:{user}"), self.caps.per_user));
        }
        counters.push((destination_key(destination), self.caps.per_destination));
        for (key, limit) in counters {
            if let Decision::Limited { retry_after } = self.limiter.hit(&key, limit).await? {
                return Ok(Err(Throttled {
                    limit: limit.max,
                    retry_after,
                }));
            }
        }
        Ok(Ok(()))
    }

    /// The job that mints and sends a code of `factor` for the challenge whose token digest
    /// is `challenge`, or for the factor's setup.
    pub(crate) fn job(
        &self,
        user_id: UserId,
        factor_id: FactorId,
        challenge: Option<String>,
    ) -> twofa_domain::NewJob {
        SendSecondFactorCodePayload {
            user_id,
            factor_id,
            challenge,
        }
        .into_job(self.max_attempts)
    }
}

/// The per-destination counter: keyed on the destination's SHA-256 (case-folded), so the key
/// does not reveal it.
fn destination_key(destination: &Destination) -> String {
    let digest = Sha256::digest(destination.as_str().to_lowercase().as_bytes());
    format!(
        "otp:destination:{}",
        twofa_domain::SecretDigest::from_bytes(digest.into()).to_hex()
    )
}
