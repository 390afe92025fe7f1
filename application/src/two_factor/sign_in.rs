//! `SecondFactorSignIn`: the end of a login that passed its second factor — the session (with
//! `amr` naming both factors), the trusted device when asked for, and the events, in the
//! transaction that consumed the code.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    Clock, DEVICE_NAME_LIMIT, DeviceId, NewAuditEvent, NewTrustedDevice, SecretGenerator,
    Transaction, User,
};

use super::keys::token_digest;
use crate::{
    auth::{Fault, RequestInfo, SessionIssuer, SignedIn, opaque_token, user_event},
    webhook_events::record_all,
};

/// A login that passed its second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The account and its new tokens.
    pub signed_in: SignedIn,
    /// The trusted-device token, when `trustDevice` was asked for (shown once).
    pub device_token: Option<String>,
}

/// Whether, and as what, the device is to be trusted.
#[derive(Debug, Clone, Default)]
pub struct TrustDevice {
    /// `trustDevice`.
    pub is_wanted: bool,
    /// `deviceName`.
    pub name: Option<String>,
}

/// What passed the second factor: the `amr` method, the details of `2fa.verified`, and the
/// further events to record with the sign-in.
pub(crate) struct Passed {
    pub(crate) method: &'static str,
    pub(crate) details: serde_json::Value,
    pub(crate) events: Vec<NewAuditEvent>,
}

/// Signs a user in after the second factor.
pub(crate) struct SecondFactorSignIn {
    pub(crate) issuer: SessionIssuer,
    pub(crate) ids: Arc<dyn SecretGenerator>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) trust_ttl: std::time::Duration,
}

impl SecondFactorSignIn {
    /// Starts the session in `transaction` with `amr` `["pwd", "mfa", method]`, trusts the
    /// device if asked, records `2fa.verified`, `user.login.succeeded` and the events of
    /// `passed`, and commits.
    pub(crate) async fn finish(
        &self,
        mut transaction: Box<dyn Transaction>,
        user: &User,
        passed: Passed,
        trust: &TrustDevice,
        request: &RequestInfo,
    ) -> Result<Verified, Fault> {
        let Passed {
            method,
            details,
            events,
        } = passed;
        let amr = vec!["pwd".to_owned(), "mfa".to_owned(), method.to_owned()];
        let tokens = self
            .issuer
            .start(transaction.as_ref(), user, amr.clone(), request)
            .await?;
        let mut recorded = Vec::with_capacity(events.len() + 3);
        let device_token = if trust.is_wanted {
            let (token, trusted) = self
                .trust(transaction.as_mut(), user, trust, request)
                .await?;
            recorded.push(trusted);
            Some(token)
        } else {
            None
        };
        let mut verified = details;
        verified["sessionId"] = json!(tokens.session_id.to_string());
        verified["method"] = json!(method);
        recorded.push(user_event(
            "2fa.verified",
            Some(user.id),
            true,
            request,
            verified,
        ));
        recorded.extend(events);
        recorded.push(user_event(
            "user.login.succeeded",
            Some(user.id),
            true,
            request,
            json!({ "sessionId": tokens.session_id.to_string(), "amr": amr }),
        ));
        // One job carries the sign-in's webhook events.
        record_all(transaction.as_mut(), recorded).await?;
        crate::auth::commit(transaction, request).await?;
        Ok(Verified {
            signed_in: SignedIn {
                user: user.clone(),
                tokens,
            },
            device_token,
        })
    }

    /// Trusts the requesting device: a 256-bit token stored as its SHA-256 for
    /// `devices.trust_ttl`; the token, and its `device.trusted` event to record.
    async fn trust(
        &self,
        transaction: &mut dyn Transaction,
        user: &User,
        trust: &TrustDevice,
        request: &RequestInfo,
    ) -> Result<(String, NewAuditEvent), Fault> {
        let token = opaque_token(self.ids.as_ref());
        let id = DeviceId::from_uuid(self.ids.uuid_v4());
        let name = trust
            .name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| name.chars().take(DEVICE_NAME_LIMIT).collect::<String>());
        transaction
            .devices()
            .add(NewTrustedDevice {
                id,
                user_id: user.id,
                token_hash: token_digest(&token),
                name: name.clone(),
                ip: request.ip,
                user_agent: request.user_agent.clone(),
                expires_at: self.clock.after(self.trust_ttl),
            })
            .await?;
        let trusted = user_event(
            "device.trusted",
            Some(user.id),
            true,
            request,
            json!({ "deviceId": id.to_string(), "name": name }),
        );
        Ok((token, trusted))
    }
}
