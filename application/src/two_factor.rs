//! Second factors: TOTP, SMS and e-mail codes, backup codes and trusted devices — their
//! setup, the login challenge that follows a password when an account has one, and their
//! management.
//!
//! One use case per file (`setup`, `confirm`, `verify`, `resend`, `manage`), over small
//! collaborators: [`LoginChallenges`] (the challenge after a password), the code sender (the
//! send caps and the job that mints a code), the TOTP check, the enrolment (enable a factor,
//! issue backup codes), the second-factor failure counters, recent authentication, and the
//! sign-in that ends a verified login. Every one-time secret is consumed by one atomic
//! conditional write; every change records its audit event and queues its webhook event in
//! its transaction.

mod challenges;
mod code_sender;
mod confirm;
mod enrolment;
mod error;
mod failures;
mod keys;
mod manage;
mod recent_auth;
mod reseal_secrets;
mod resend;
mod setup;
mod sign_in;
mod totp_check;
mod verify;

use std::{sync::Arc, time::Duration};

use twofa_domain::{Limit, TotpPolicy};

pub(crate) use challenges::SecondStep;
pub use challenges::{CHALLENGE_TTL, LoginChallenges, MAX_WRONG_CODES, TwoFactorChallenge};
pub use code_sender::SendCaps;
pub use confirm::{ConfirmFactor, ConfirmFactorInput, Confirmed};
pub use error::{
    ConfirmError, ManageError, ResendError, RevokeDeviceError, SetupError, SetupTotpError,
    VerifyError,
};
pub(crate) use keys::{StoredCode, challenge_code_key, challenge_key, code_digest, setup_code_key};
pub use manage::{
    CountBackupCodes, ListDevices, ListFactors, RegenerateBackupCodes, RegenerateBackupCodesInput,
    RemoveFactor, RemoveFactorInput, RevokeDevices,
};
pub use recent_auth::Reauthentication;
pub use reseal_secrets::{ResealSecrets, Resealed};
pub use resend::{ResendCode, ResendInput};
pub use setup::{SetupSentFactor, SetupSentFactorInput, SetupTotp, TotpSetup};
pub use sign_in::{TrustDevice, Verified};
pub use verify::{VerifyBackupCodeInput, VerifyInput, VerifySecondFactor};

use crate::auth::{AuthPolicy, AuthPorts, Parts};

/// The settings the second factors follow (`totp.*`, `otp.*`, `devices.*`, …).
#[derive(Debug, Clone)]
pub struct TwoFactorPolicy {
    /// How TOTP codes are made and accepted.
    pub totp: TotpPolicy,
    /// The issuer in `otpauth://` URLs (`totp.issuer`).
    pub issuer: String,
    /// How long a sent code lives (`otp.ttl`).
    pub otp_ttl: Duration,
    /// The caps on sent codes and the resend cooldown.
    pub sends: SendCaps,
    /// How long a trusted device is trusted (`devices.trust_ttl`).
    pub trust_ttl: Duration,
    /// Whether setup needs a verified e-mail address (`auth.require_verified_email`).
    pub require_verified_email: bool,
    /// Wrong codes per factor before 429 (`rate_limits.second_factor_failures_per_factor`).
    pub failures_per_factor: Limit,
    /// Wrong codes per account before 429 (`rate_limits.second_factor_failures_per_account`).
    pub failures_per_account: Limit,
    /// Runs a code-sending job gets.
    pub send_max_attempts: u32,
}

/// Every second-factor use case.
pub struct SecondFactors {
    /// `POST /api/2fa/totp/setup`.
    pub setup_totp: SetupTotp,
    /// `POST /api/2fa/sms/setup`, `POST /api/2fa/email/setup`.
    pub setup_sent: SetupSentFactor,
    /// The verify-setup routes.
    pub confirm: ConfirmFactor,
    /// `POST /api/2fa/verify`, `POST /api/2fa/verify-backup-code`.
    pub verify: VerifySecondFactor,
    /// `POST /api/2fa/resend`.
    pub resend: ResendCode,
    /// `GET /api/2fa/methods`.
    pub list_factors: ListFactors,
    /// `DELETE /api/2fa/methods/{id}`.
    pub remove_factor: RemoveFactor,
    /// `GET /api/2fa/backup-codes/count`.
    pub count_backup_codes: CountBackupCodes,
    /// `POST /api/2fa/backup-codes/generate`.
    pub regenerate_backup_codes: RegenerateBackupCodes,
    /// `GET /api/2fa/devices`.
    pub list_devices: ListDevices,
    /// `DELETE /api/2fa/devices/{id}`, `DELETE /api/2fa/devices`.
    pub revoke_devices: RevokeDevices,
}

/// The collaborators the second-factor use cases share, built once over the ports.
pub(crate) struct Collaborators {
    pub(crate) challenges: LoginChallenges,
    pub(crate) sender: code_sender::CodeSender,
    pub(crate) totp: totp_check::TotpCheck,
    pub(crate) enrolment: enrolment::Enrolment,
    pub(crate) failures: failures::SecondFactorFailures,
}

impl Collaborators {
    pub(crate) fn new(ports: &AuthPorts, policy: &TwoFactorPolicy) -> Self {
        let sender = code_sender::CodeSender::new(
            ports.limiter.clone(),
            policy.sends,
            policy.send_max_attempts,
        );
        Self {
            challenges: LoginChallenges {
                challenges: ports.challenges.clone(),
                factors: ports.factors.clone(),
                backup_codes: ports.backup_codes.clone(),
                devices: ports.devices.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                ids: ports.ids.clone(),
                sender: sender.clone(),
            },
            sender,
            totp: totp_check::TotpCheck {
                cipher: ports.cipher.clone(),
                clock: ports.clock.clone(),
                policy: policy.totp,
            },
            enrolment: enrolment::Enrolment {
                cipher: ports.cipher.clone(),
                ids: ports.ids.clone(),
            },
            failures: failures::SecondFactorFailures::new(
                ports.limiter.clone(),
                policy.failures_per_factor,
                policy.failures_per_account,
            ),
        }
    }
}

impl SecondFactors {
    /// Every second-factor use case over `ports`, following `policy`.
    pub fn new(ports: &AuthPorts, policy: &AuthPolicy) -> Self {
        let two_factor = &policy.two_factor;
        let shared = Collaborators::new(ports, two_factor);
        let account_parts = Parts { ports, policy };
        let throttle = Arc::new(account_parts.throttle());
        let recent = recent_auth::RecentAuth {
            hasher: ports.hasher.clone(),
            factors: ports.factors.clone(),
            unit_of_work: ports.unit_of_work.clone(),
            throttle,
            totp: shared.totp.clone(),
            failures: shared.failures.clone(),
        };
        let sign_in = Arc::new(sign_in::SecondFactorSignIn {
            issuer: account_parts.issuer(),
            ids: ports.ids.clone(),
            clock: ports.clock.clone(),
            trust_ttl: two_factor.trust_ttl,
        });
        Self {
            setup_totp: SetupTotp {
                users: ports.users.clone(),
                factors: ports.factors.clone(),
                cipher: ports.cipher.clone(),
                ids: ports.ids.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                policy: two_factor.totp,
                issuer: two_factor.issuer.clone(),
                require_verified_email: two_factor.require_verified_email,
            },
            setup_sent: SetupSentFactor {
                users: ports.users.clone(),
                factors: ports.factors.clone(),
                ids: ports.ids.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                sender: shared.sender.clone(),
                require_verified_email: two_factor.require_verified_email,
            },
            confirm: ConfirmFactor {
                users: ports.users.clone(),
                factors: ports.factors.clone(),
                challenges: ports.challenges.clone(),
                cipher: ports.cipher.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                totp: shared.totp.clone(),
                enrolment: shared.enrolment.clone(),
                failures: shared.failures.clone(),
            },
            verify: VerifySecondFactor {
                challenges: shared.challenges.clone(),
                store: ports.challenges.clone(),
                users: ports.users.clone(),
                factors: ports.factors.clone(),
                cipher: ports.cipher.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                limiter: ports.limiter.clone(),
                totp: shared.totp.clone(),
                failures: shared.failures.clone(),
                sign_in,
                limit: policy.limits.verify_per_ip,
            },
            resend: ResendCode {
                challenges: shared.challenges.clone(),
                factors: ports.factors.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                sender: shared.sender.clone(),
            },
            list_factors: ListFactors {
                factors: ports.factors.clone(),
            },
            remove_factor: RemoveFactor {
                users: ports.users.clone(),
                factors: ports.factors.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                recent: recent.clone(),
            },
            count_backup_codes: CountBackupCodes {
                backup_codes: ports.backup_codes.clone(),
            },
            regenerate_backup_codes: RegenerateBackupCodes {
                users: ports.users.clone(),
                unit_of_work: ports.unit_of_work.clone(),
                recent,
                enrolment: shared.enrolment,
            },
            list_devices: ListDevices {
                devices: ports.devices.clone(),
            },
            revoke_devices: RevokeDevices {
                unit_of_work: ports.unit_of_work.clone(),
            },
        }
    }
}
