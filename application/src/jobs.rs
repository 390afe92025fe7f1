//! The job kinds the worker runs, one handler each, and their payloads; and the [`Mailer`]
//! the e-mail jobs share.
//!
//! No payload holds a live secret (a payload stays readable in the queue's store until the
//! purge): a job that mails a link mints the link when it runs and sends the e-mail itself.

pub mod mail_email_verification;
pub mod mail_password_reset;
pub mod mailer;
pub mod purge_expired;
pub mod schedule_maintenance;
pub mod send_email;
pub mod send_second_factor_code;
pub mod send_sms;

pub use mail_email_verification::{
    MAIL_EMAIL_VERIFICATION, MailEmailVerification, MailEmailVerificationPayload,
};
pub use mail_password_reset::{MAIL_PASSWORD_RESET, MailPasswordReset, MailPasswordResetPayload};
pub use mailer::Mailer;
pub use purge_expired::{PURGE_EXPIRED, PurgeExpired};
pub use schedule_maintenance::ScheduleMaintenance;
pub use send_email::{SEND_EMAIL, SendEmail, SendEmailPayload};
pub use send_second_factor_code::{
    SEND_SECOND_FACTOR_CODE, SendSecondFactorCode, SendSecondFactorCodePayload,
};
pub use send_sms::{SEND_SMS, SendSms, SendSmsPayload};

use crate::worker::JobFailure;

/// A payload that does not parse will never parse: permanent.
fn parse<T: serde::de::DeserializeOwned>(payload: &serde_json::Value) -> Result<T, JobFailure> {
    serde_json::from_value(payload.clone()).map_err(|error| {
        JobFailure::Permanent(anyhow::anyhow!("the payload does not parse: {error}"))
    })
}

/// A sender's verdict, kept.
fn from_send_error(error: twofa_domain::SendError) -> JobFailure {
    match error {
        twofa_domain::SendError::Retryable(error) => JobFailure::Retryable(error),
        twofa_domain::SendError::Permanent(error) => JobFailure::Permanent(error),
    }
}
