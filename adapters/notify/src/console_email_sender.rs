//! `ConsoleEmailSender`: the development `EmailSender`, writing each message to the outbox.

use async_trait::async_trait;
use twofa_domain::{EmailMessage, EmailSender, SendError};

use crate::dev_outbox::{DevOutbox, OutboxLine};

/// Appends each e-mail to the development outbox as
/// `{"channel":"email","to":"…","subject":"…","body":"<plain text>","createdAt":"…"}` (the
/// HTML alternative is not written) and logs the masked address.
/// Production refuses it (the outbox holds codes and links in clear).
#[derive(Debug, Clone)]
pub struct ConsoleEmailSender {
    outbox: DevOutbox,
}

impl ConsoleEmailSender {
    /// Writes to `outbox`.
    pub fn new(outbox: DevOutbox) -> Self {
        Self { outbox }
    }
}

#[async_trait]
impl EmailSender for ConsoleEmailSender {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        self.outbox
            .append(OutboxLine {
                channel: "email",
                to: message.to.as_str(),
                subject: Some(&message.subject),
                body: &message.text,
            })
            .await?;
        tracing::info!(
            to = %message.to.masked(),
            outbox = %self.outbox.path().display(),
            "e-mail written to the development outbox"
        );
        Ok(())
    }
}
