//! The `SmsSender` and `EmailSender` ports: one message out, and whether a failure is worth
//! retrying.

use async_trait::async_trait;

use crate::{EmailAddress, PhoneNumber};

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: a timeout, a 5xx, a 429, a connection refused.
    #[error("sending failed, retryable: {0:#}")]
    Retryable(anyhow::Error),
    /// Trying again will not help: a rejected number or address, bad credentials.
    #[error("sending failed permanently: {0:#}")]
    Permanent(anyhow::Error),
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// The destination.
    pub to: PhoneNumber,
    /// The full text.
    pub body: String,
}

/// An e-mail, as plain text and (optionally) HTML alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    /// The recipient.
    pub to: EmailAddress,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: Option<String>,
}

/// Sends SMS.
///
/// # Errors
/// `SendError::Retryable` or `SendError::Permanent`, as the provider's answer says.
/// Implementations MUST NOT log the full number or the body (it carries codes).
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// Sends one message.
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError>;
}

/// Sends e-mail.
///
/// # Errors
/// `SendError::Retryable` or `SendError::Permanent`, as the server's answer says.
/// Implementations MUST NOT log the body (it carries codes and links).
#[async_trait]
pub trait EmailSender: Send + Sync + 'static {
    /// Sends one message.
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError>;
}
