//! `sms.send`: sends one text message.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use twofa_domain::{NewJob, PhoneNumber, SmsMessage, SmsSender};

use crate::worker::{JobFailure, JobHandler};

/// The job kind.
pub const SEND_SMS: &str = "sms.send";

/// What an `sms.send` job carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSmsPayload {
    /// The destination.
    pub to: PhoneNumber,
    /// The full text.
    pub body: String,
}

impl SendSmsPayload {
    /// The job that sends this message, with at most `max_attempts` runs.
    pub fn into_job(self, max_attempts: u32) -> NewJob {
        NewJob::new(
            SEND_SMS,
            serde_json::to_value(self).unwrap_or_default(),
            max_attempts,
        )
    }
}

/// Sends SMS.
pub struct SendSms {
    sender: Arc<dyn SmsSender>,
}

impl SendSms {
    /// Sends with `sender`.
    pub fn new(sender: Arc<dyn SmsSender>) -> Self {
        Self { sender }
    }
}

#[async_trait]
impl JobHandler for SendSms {
    fn kind(&self) -> &'static str {
        SEND_SMS
    }

    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure> {
        let payload: SendSmsPayload = super::parse(payload)?;
        let message = SmsMessage {
            to: payload.to,
            body: payload.body,
        };
        self.sender
            .send(&message)
            .await
            .map_err(super::from_send_error)
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use serde_json::json;
    use twofa_domain::SendError;
    use twofa_memory::RecordingSmsSender;

    use super::*;

    fn payload() -> serde_json::Value {
        let payload = SendSmsPayload {
            to: PhoneNumber::parse("+15551234567").unwrap(),
            body: "Your twofa code is 123456".to_owned(),
        };
        payload.into_job(5).payload
    }

    #[test]
    fn sends_the_message_in_the_payload() {
        let sender = Arc::new(RecordingSmsSender::new());
        block_on(SendSms::new(sender.clone()).handle(&payload())).unwrap();
        let sent = sender.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to.as_str(), "+15551234567");
        assert_eq!(sent[0].body, "Your twofa code is 123456");
    }

    #[test]
    fn keeps_the_senders_verdict() {
        let sender = Arc::new(RecordingSmsSender::new());
        sender.fail_next(SendError::Retryable(anyhow::anyhow!("429")));
        sender.fail_next(SendError::Permanent(anyhow::anyhow!("invalid number")));
        let handler = SendSms::new(sender.clone());
        assert!(matches!(
            block_on(handler.handle(&payload())),
            Err(JobFailure::Retryable(_))
        ));
        assert!(matches!(
            block_on(handler.handle(&payload())),
            Err(JobFailure::Permanent(_))
        ));
        assert!(sender.sent().is_empty());
    }

    #[test]
    fn a_payload_that_does_not_parse_is_permanent() {
        let handler = SendSms::new(Arc::new(RecordingSmsSender::new()));
        let outcome = block_on(handler.handle(&json!({"to": "555-1234", "body": "x"})));
        assert!(matches!(outcome, Err(JobFailure::Permanent(_))));
    }
}
