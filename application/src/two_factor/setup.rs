//! Starting a factor's setup: `SetupTotp` (a server-generated secret, kept pending and sealed
//! until a code confirms it) and `SetupSentFactor` (a phone number or address kept pending,
//! its code sent through the job queue). Both need a verified e-mail address unless
//! `auth.require_verified_email = false`, and refuse a kind already enabled.

use std::sync::Arc;

use serde_json::json;
use twofa_domain::{
    Destination, FactorId, FactorKind, FactorRepository, NewFactor, PortError, SecretCipher,
    SecretGenerator, TotpPolicy, TotpSecret, UnitOfWork, User, UserId, UserRepository,
};

use super::{
    SetupError, SetupTotpError,
    code_sender::{CodeSender, SendKind},
    error::SetupRefusal,
    totp_check::secret_binding,
};
use crate::{
    auth::{InvalidField, RequestInfo, user_event},
    webhook_events::record,
};

/// What a TOTP setup shows once: the secret (base32) and the `otpauth://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://totp/…` URL a QR code carries.
    pub otpauth_url: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup([redacted])")
    }
}

/// The account of `user_id`, if it may set a factor of `kind` up.
async fn account_for_setup<E: From<SetupRefusal> + From<PortError>>(
    users: &dyn UserRepository,
    factors: &dyn FactorRepository,
    user_id: UserId,
    kind: FactorKind,
    require_verified_email: bool,
) -> Result<User, E> {
    let Some(user) = users.find_by_id(user_id).await? else {
        return Err(SetupRefusal::Unauthorized.into());
    };
    if !user.is_active {
        return Err(SetupRefusal::Unauthorized.into());
    }
    if require_verified_email && !user.email_verified {
        return Err(SetupRefusal::EmailNotVerified.into());
    }
    if factors
        .enabled(user_id)
        .await?
        .iter()
        .any(|factor| factor.kind == kind)
    {
        return Err(SetupRefusal::AlreadyEnabled.into());
    }
    Ok(user)
}

/// Starts a TOTP setup.
pub struct SetupTotp {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) cipher: Arc<dyn SecretCipher>,
    pub(crate) ids: Arc<dyn SecretGenerator>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) policy: TotpPolicy,
    pub(crate) issuer: String,
    pub(crate) require_verified_email: bool,
}

impl SetupTotp {
    /// Generates a 160-bit secret, stores it sealed as the user's pending TOTP factor
    /// (replacing an earlier pending one), and shows it once.
    ///
    /// # Errors
    /// `EmailNotVerified`, `AlreadyEnabled`, `Unauthorized` (the account is gone or
    /// disabled), `Fault`.
    #[tracing::instrument(name = "setup_totp", skip_all)]
    pub async fn execute(
        &self,
        user_id: UserId,
        request: &RequestInfo,
    ) -> Result<TotpSetup, SetupTotpError> {
        let user = account_for_setup::<SetupTotpError>(
            self.users.as_ref(),
            self.factors.as_ref(),
            user_id,
            FactorKind::Totp,
            self.require_verified_email,
        )
        .await?;
        let id = FactorId::from_uuid(self.ids.uuid_v4());
        let secret = TotpSecret::generate(self.ids.as_ref());
        let sealed = self.cipher.seal(secret.as_bytes(), &secret_binding(id));
        let mut transaction = self.unit_of_work.begin().await?;
        transaction
            .factors()
            .add_pending(NewFactor {
                id,
                user_id,
                kind: FactorKind::Totp,
                secret: Some(sealed),
                destination: None,
            })
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "2fa.setup.started",
                Some(user_id),
                true,
                request,
                json!({ "factorId": id.to_string(), "type": "totp" }),
            ),
        )
        .await?;
        crate::auth::commit(transaction, request).await?;
        Ok(TotpSetup {
            secret: secret.to_base32(),
            otpauth_url: self
                .policy
                .otpauth_url(&secret, &self.issuer, user.email.as_str()),
        })
    }
}

/// What an SMS or e-mail setup takes.
#[derive(Debug, Clone)]
pub struct SetupSentFactorInput {
    /// The caller.
    pub user_id: UserId,
    /// `Sms` or `Email`.
    pub kind: FactorKind,
    /// The phone number (E.164) or address, as typed.
    pub destination: String,
    /// Where the request came from.
    pub request: RequestInfo,
}

/// Starts an SMS or e-mail factor's setup.
pub struct SetupSentFactor {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) factors: Arc<dyn FactorRepository>,
    pub(crate) ids: Arc<dyn SecretGenerator>,
    pub(crate) unit_of_work: Arc<dyn UnitOfWork>,
    pub(crate) sender: CodeSender,
    pub(crate) require_verified_email: bool,
}

impl SetupSentFactor {
    /// Stores the destination as the user's pending factor of its kind (replacing an earlier
    /// pending one) and queues its code, in one commit.
    ///
    /// # Errors
    /// `Invalid` (`phoneNumber` or `email`), `EmailNotVerified`, `AlreadyEnabled`,
    /// `RateLimited` (cooldown or a send cap), `Unauthorized`, `Fault`.
    #[tracing::instrument(name = "setup_sent_factor", skip_all, fields(kind = %input.kind))]
    pub async fn execute(&self, input: SetupSentFactorInput) -> Result<(), SetupError> {
        let field = match input.kind {
            FactorKind::Sms => "phoneNumber",
            FactorKind::Email | FactorKind::Totp => "email",
        };
        let Some(destination) = Destination::parse(input.kind, input.destination.trim()) else {
            let message = match input.kind {
                FactorKind::Sms => "must be an E.164 phone number such as +14155550123",
                FactorKind::Email | FactorKind::Totp => "must be an e-mail address",
            };
            return Err(SetupError::Invalid(vec![InvalidField::new(field, message)]));
        };
        account_for_setup::<SetupError>(
            self.users.as_ref(),
            self.factors.as_ref(),
            input.user_id,
            input.kind,
            self.require_verified_email,
        )
        .await?;
        let subject = format!("setup:{}:{}", input.user_id, input.kind);
        self.sender
            .allow(
                SendKind::Requested {
                    cooldown_subject: &subject,
                    ip: input.request.ip,
                },
                input.user_id,
                &destination,
            )
            .await??;
        let id = FactorId::from_uuid(self.ids.uuid_v4());
        let masked = destination.masked();
        let mut transaction = self.unit_of_work.begin().await?;
        transaction
            .factors()
            .add_pending(NewFactor {
                id,
                user_id: input.user_id,
                kind: input.kind,
                secret: None,
                destination: Some(destination),
            })
            .await?;
        transaction
            .enqueue(self.sender.job(input.user_id, id, None))
            .await?;
        record(
            transaction.as_mut(),
            user_event(
                "2fa.setup.started",
                Some(input.user_id),
                true,
                &input.request,
                json!({ "factorId": id.to_string(), "type": input.kind.as_str(), "maskedDestination": masked }),
            ),
        )
        .await?;
        crate::auth::commit(transaction, &input.request).await?;
        Ok(())
    }
}
