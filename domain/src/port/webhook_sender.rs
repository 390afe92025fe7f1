//! The `WebhookSender` port: one signed POST to a subscriber, and what came back.

use std::time::Duration;

use async_trait::async_trait;

/// The most of a response body a sender keeps, in bytes (the delivery log's `responseBody`).
pub const RESPONSE_BODY_LIMIT: usize = 1024;

/// One webhook request, already signed: the sender adds nothing that the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The endpoint's URL.
    pub url: String,
    /// The headers to send, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// What the subscriber answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The HTTP status (a 3xx is an answer too: redirects are never followed).
    pub status: u16,
    /// The start of the body, at most [`RESPONSE_BODY_LIMIT`] bytes, cut at a character
    /// boundary, invalid UTF-8 replaced.
    pub body: String,
    /// From the start of the connection to the end of the response.
    pub duration: Duration,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSendError {
    /// The destination may not be called (a private, loopback or metadata address outside
    /// `webhooks.allowed_cidrs`, plain http outside development): nothing was sent, and
    /// trying again will not help.
    #[error("refused: {0}")]
    Refused(String),
    /// Sent or tried, and no answer: a name that does not resolve, connection refused,
    /// timeout, TLS failure, reset.
    #[error("failed after {duration:?}: {reason}")]
    Failed {
        /// What went wrong, for the delivery log.
        reason: String,
        /// How long the attempt took.
        duration: Duration,
    },
}

/// Sends webhook requests.
///
/// Implementations resolve the destination at every call, check every address it resolves
/// to, connect to an address they checked, and never follow a redirect.
#[async_trait]
pub trait WebhookSender: Send + Sync + 'static {
    /// Sends `request` once.
    ///
    /// # Errors
    /// `WebhookSendError::Refused` when the destination may not be called,
    /// `WebhookSendError::Failed` when no answer came.
    async fn send(&self, request: WebhookRequest) -> Result<WebhookResponse, WebhookSendError>;
}
