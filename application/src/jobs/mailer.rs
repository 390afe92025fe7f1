//! `Mailer`: renders an e-mail template and sends the message, the step `email.send` and the
//! jobs that mail a link share (those send their link themselves, so that it is never queued).

use std::sync::Arc;

use twofa_domain::{EmailAddress, EmailRenderer, EmailSender};

use crate::worker::JobFailure;

/// Renders templates and sends the messages.
#[derive(Clone)]
pub struct Mailer {
    renderer: Arc<dyn EmailRenderer>,
    sender: Arc<dyn EmailSender>,
}

impl Mailer {
    /// Renders with `renderer`, sends with `sender`.
    pub fn new(renderer: Arc<dyn EmailRenderer>, sender: Arc<dyn EmailSender>) -> Self {
        Self { renderer, sender }
    }

    /// Renders `template` with `params` for `to` and sends it.
    ///
    /// # Errors
    /// `JobFailure::Permanent` when the template does not render (an unknown template, a
    /// missing parameter); the sender's verdict, kept, when sending fails.
    pub(crate) async fn send(
        &self,
        to: EmailAddress,
        template: &str,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), JobFailure> {
        let message = self
            .renderer
            .render(to, template, params)
            .map_err(|error| JobFailure::Permanent(error.into()))?;
        self.sender
            .send(&message)
            .await
            .map_err(super::from_send_error)
    }
}
