//! `email.send`: renders a template and sends it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use twofa_domain::{EmailAddress, NewJob};

use super::Mailer;
use crate::worker::{JobFailure, JobHandler};

/// The job kind.
pub const SEND_EMAIL: &str = "email.send";

/// What an `email.send` job carries: the recipient, a template and its parameters. Nothing
/// secret: a job payload is readable in the queue's store (and its backups) until purged, so
/// a message that carries a link or a code is sent by the job that mints it, never queued
/// here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendEmailPayload {
    /// The recipient.
    pub to: EmailAddress,
    /// A template name (`verify_email`, `password_reset`, `otp_code`, `test_email`).
    pub template: String,
    /// The template's parameters.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl SendEmailPayload {
    /// The job that sends this e-mail, with at most `max_attempts` runs.
    pub fn into_job(self, max_attempts: u32) -> NewJob {
        NewJob::new(
            SEND_EMAIL,
            serde_json::to_value(self).unwrap_or_default(),
            max_attempts,
        )
    }
}

/// Renders and sends e-mail.
pub struct SendEmail {
    mailer: Mailer,
}

impl SendEmail {
    /// Renders and sends with `mailer`.
    pub fn new(mailer: Mailer) -> Self {
        Self { mailer }
    }
}

#[async_trait]
impl JobHandler for SendEmail {
    fn kind(&self) -> &'static str {
        SEND_EMAIL
    }

    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobFailure> {
        let payload: SendEmailPayload = super::parse(payload)?;
        self.mailer
            .send(payload.to, &payload.template, &payload.params)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::executor::block_on;
    use serde_json::json;
    use twofa_domain::{EmailMessage, EmailRenderer, RenderError};
    use twofa_memory::RecordingEmailSender;

    use super::*;

    /// Knows one template, `hello`, needing `name`.
    struct Hello;

    impl EmailRenderer for Hello {
        fn render(
            &self,
            to: EmailAddress,
            template: &str,
            params: &serde_json::Map<String, serde_json::Value>,
        ) -> Result<EmailMessage, RenderError> {
            if template != "hello" {
                return Err(RenderError::UnknownTemplate(template.to_owned()));
            }
            let name = params.get("name").and_then(|v| v.as_str()).ok_or_else(|| {
                RenderError::MissingParameter {
                    template: template.to_owned(),
                    parameter: "name".to_owned(),
                }
            })?;
            Ok(EmailMessage {
                to,
                subject: "Hello".to_owned(),
                text: format!("Hi {name}"),
                html: None,
            })
        }
    }

    fn payload(template: &str) -> serde_json::Value {
        SendEmailPayload {
            to: EmailAddress::parse("ada@example.com").unwrap(),
            template: template.to_owned(),
            params: json!({"name": "Ada"}).as_object().cloned().unwrap(),
        }
        .into_job(5)
        .payload
    }

    #[test]
    fn renders_and_sends() {
        let sender = Arc::new(RecordingEmailSender::new());
        block_on(
            SendEmail::new(Mailer::new(Arc::new(Hello), sender.clone())).handle(&payload("hello")),
        )
        .unwrap();
        let sent = sender.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to.as_str(), "ada@example.com");
        assert_eq!(sent[0].text, "Hi Ada");
    }

    #[test]
    fn an_unknown_template_is_permanent_and_sends_nothing() {
        let sender = Arc::new(RecordingEmailSender::new());
        let outcome = block_on(
            SendEmail::new(Mailer::new(Arc::new(Hello), sender.clone())).handle(&payload("nope")),
        );
        assert!(matches!(outcome, Err(JobFailure::Permanent(_))));
        assert!(sender.sent().is_empty());
    }
}
