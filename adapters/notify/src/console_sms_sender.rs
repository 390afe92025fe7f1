//! `ConsoleSmsSender`: the development `SmsSender`, writing each message to the outbox.

use async_trait::async_trait;
use twofa_domain::{SendError, SmsMessage, SmsSender};

use crate::dev_outbox::{DevOutbox, OutboxLine};

/// Appends each SMS to the development outbox as
/// `{"channel":"sms","to":"+1…","body":"…","createdAt":"…"}` and logs the masked number.
/// Production refuses it (the outbox holds codes in clear).
#[derive(Debug, Clone)]
pub struct ConsoleSmsSender {
    outbox: DevOutbox,
}

impl ConsoleSmsSender {
    /// Writes to `outbox`.
    pub fn new(outbox: DevOutbox) -> Self {
        Self { outbox }
    }
}

#[async_trait]
impl SmsSender for ConsoleSmsSender {
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        self.outbox
            .append(OutboxLine {
                channel: "sms",
                to: message.to.as_str(),
                subject: None,
                body: &message.body,
            })
            .await?;
        tracing::info!(
            to = %message.to.masked(),
            outbox = %self.outbox.path().display(),
            "SMS written to the development outbox"
        );
        Ok(())
    }
}
