//! twofa's outbound adapters: SMS through Twilio's REST API ([`TwilioSmsSender`]), e-mail over
//! SMTP with lettre ([`SmtpEmailSender`]), the e-mail templates kept beside them
//! ([`EmailTemplates`], the `EmailRenderer` port), and the development console notifiers
//! ([`ConsoleSmsSender`], [`ConsoleEmailSender`]) that append to `notify.dev_outbox` through a
//! shared [`DevOutbox`].
//!
//! What belongs here: speaking each provider's protocol exactly and sorting its failures into
//! [`SendError::Retryable`](twofa_domain::SendError::Retryable) (timeouts, refused connections,
//! 429, 5xx, SMTP 4xx) and [`SendError::Permanent`](twofa_domain::SendError::Permanent)
//! (rejected numbers and addresses, bad credentials, SMTP 5xx). What must not: deciding what to
//! send or when (the use cases and the worker do), or a body, a code, a secret or a full phone
//! number in a log line or an error (numbers are logged masked; provider messages are scrubbed).
//!
//! Webhooks go out through [`HttpWebhookSender`] (the `WebhookSender` port): reqwest with an SSRF
//! guard that checks every address a destination resolves to at each send and connects only to
//! the checked ones, follows no redirect and keeps at most the start of the answer.

mod console_email_sender;
mod console_sms_sender;
mod dev_outbox;
mod email_templates;
mod http_webhook_sender;
mod smtp_email_sender;
mod twilio_sms_sender;

pub use console_email_sender::ConsoleEmailSender;
pub use console_sms_sender::ConsoleSmsSender;
pub use dev_outbox::DevOutbox;
pub use email_templates::{EmailTemplates, RenderedEmail};
pub use http_webhook_sender::{HttpWebhookSender, WebhookSenderConfig};
pub use smtp_email_sender::{SmtpEmailSender, SmtpSettings, SmtpSettingsError, SmtpTls};
pub use twilio_sms_sender::{TwilioSettings, TwilioSettingsError, TwilioSmsSender};
