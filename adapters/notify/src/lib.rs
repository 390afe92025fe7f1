//! twofa's outbound adapters: SMS through Twilio's REST API, e-mail over SMTP (lettre), and
//! signed webhook delivery (reqwest with an SSRF guard), plus the development console
//! notifiers that append to `notify.dev_outbox`.
//!
//! What belongs here: speaking each provider's protocol exactly and sorting its failures into
//! retryable and permanent. What must not: deciding what to send or when (the use cases and the
//! worker do), or secrets in logs.
//!
//! The crate holds its place in the workspace layout; its adapters arrive with the worker issue
//! (`SmsSender`, `EmailSender`) and the webhooks issue (`WebhookTransport`).
