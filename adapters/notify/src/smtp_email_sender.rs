//! `SmtpEmailSender`: the `EmailSender` port over SMTP (lettre's pooled
//! `AsyncSmtpTransport<Tokio1Executor>`), with STARTTLS, implicit TLS or none.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{self, PoolConfig};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use twofa_domain::{EmailMessage, EmailSender, SendError};

/// How the connection to the SMTP server is protected (`notify.smtp.tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// `starttls`: plain connect, then STARTTLS, which is required (usually port 587). No
    /// credentials or mail cross the network before the upgrade.
    #[default]
    StartTls,
    /// `tls`: TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// `none`: no encryption; for a local relay or a test server only.
    None,
}

/// How to reach the SMTP server (`notify.smtp.*`).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// The server's host name; also the name its TLS certificate must carry.
    pub host: String,
    /// The server's port (587 for STARTTLS, 465 for TLS, 25 for a local relay).
    pub port: u16,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// The user name for AUTH; set together with `password`, or neither.
    pub username: Option<String>,
    /// The password for AUTH.
    pub password: Option<SecretString>,
    /// The `From` mailbox, e.g. `twofa <no-reply@example.com>`.
    pub from: String,
    /// The longest one send may take, connecting and the whole SMTP dialogue included, before
    /// it is abandoned as retryable.
    pub timeout: Duration,
}

impl SmtpSettings {
    /// A sensible per-send timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

/// Why the SMTP settings cannot be used; each message names the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum SmtpSettingsError {
    /// `host` is blank.
    #[error("notify.smtp.host must name the SMTP server")]
    MissingHost,
    /// `from` is not a mailbox.
    #[error("notify.smtp.from `{from}` is not a mailbox like `twofa <no-reply@example.com>`")]
    InvalidFrom {
        /// The value given.
        from: String,
        /// What lettre found wrong.
        #[source]
        source: lettre::address::AddressError,
    },
    /// Only one of `username` and `password` is set.
    #[error("set both notify.smtp.username and notify.smtp.password, or neither")]
    IncompleteCredentials,
    /// The TLS parameters for `host` could not be built.
    #[error("the TLS settings for notify.smtp.host `{host}` could not be built")]
    Tls {
        /// The host.
        host: String,
        /// What lettre reported.
        #[source]
        source: smtp::Error,
    },
    /// The sender was built outside a Tokio runtime (its pool needs one for its clean-up task).
    #[error("the SMTP sender must be created inside the Tokio runtime")]
    NoRuntime,
}

/// Sends e-mail through one SMTP server, reusing pooled connections.
///
/// SMTP 4xx replies, connection failures and timeouts are `SendError::Retryable`; 5xx replies
/// (a rejected recipient, failed authentication) and client-side failures (an address lettre
/// refuses, a server without STARTTLS when it is required) are `SendError::Permanent`.
///
/// lettre's async transport bounds only connecting by its timeout (lettre issue #1027), so each
/// send runs under `timeout` here. A send abandoned mid-dialogue would hand its connection back
/// to the pool out of step with the server, so a timeout also replaces the pool: sends in flight
/// finish on the old one, later sends open fresh connections.
pub struct SmtpEmailSender {
    builder: AsyncSmtpTransportBuilder,
    transport: Mutex<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpEmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEmailSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpEmailSender {
    /// Checks `settings` and builds the pooled transport. Connects lazily, on the first send.
    /// Must be called inside a Tokio runtime; installs rustls' ring provider as the process
    /// default when none is installed yet.
    pub fn new(settings: SmtpSettings) -> Result<Self, SmtpSettingsError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SmtpSettingsError::NoRuntime);
        }
        let host = settings.host.trim().to_owned();
        if host.is_empty() {
            return Err(SmtpSettingsError::MissingHost);
        }
        let from: Mailbox =
            settings
                .from
                .trim()
                .parse()
                .map_err(|source| SmtpSettingsError::InvalidFrom {
                    from: settings.from.clone(),
                    source,
                })?;

        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = match settings.tls {
            SmtpTls::StartTls => Tls::Required(tls_parameters(&host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&host)?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout))
            .pool_config(PoolConfig::new().max_size(8));
        match (settings.username, settings.password) {
            (Some(username), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    username,
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err(SmtpSettingsError::IncompleteCredentials);
            }
        }

        Ok(Self {
            transport: Mutex::new(builder.clone().build()),
            builder,
            from,
            timeout: settings.timeout,
        })
    }

    /// The current pool (a cheap handle).
    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        self.transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops the current pool for a new, empty one.
    fn replace_pool(&self) {
        let fresh = self.builder.clone().build();
        *self
            .transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fresh;
    }
}

#[async_trait]
impl EmailSender for SmtpEmailSender {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        let masked = message.to.masked();
        let email = self.build(message).map_err(SendError::Permanent)?;
        let transport = self.transport();
        let Ok(sent) = tokio::time::timeout(self.timeout, transport.send(email)).await else {
            self.replace_pool();
            tracing::debug!(to = %masked, "the SMTP server did not answer in time");
            return Err(SendError::Retryable(anyhow!(
                "the SMTP server did not finish the send to {masked} within {:?}",
                self.timeout
            )));
        };
        match sent {
            Ok(_) => {
                tracing::info!(to = %masked, "the SMTP server accepted the e-mail");
                Ok(())
            }
            Err(error) => {
                let is_permanent = error.is_permanent() || error.is_client();
                // The server's reply may quote the recipient; only the masked form is kept.
                let detail = error.to_string().replace(message.to.as_str(), &masked);
                let error = anyhow!("sending the e-mail to {masked} over SMTP failed: {detail}");
                tracing::debug!(to = %masked, is_permanent, "the e-mail was not sent");
                if is_permanent {
                    Err(SendError::Permanent(error))
                } else {
                    Err(SendError::Retryable(error))
                }
            }
        }
    }
}

impl SmtpEmailSender {
    /// The MIME message: multipart/alternative text + HTML when there is HTML, plain text
    /// otherwise.
    fn build(&self, message: &EmailMessage) -> anyhow::Result<Message> {
        let to: Address = message.to.as_str().parse().map_err(|error| {
            anyhow!(
                "the address {} is not accepted for SMTP: {error}",
                message.to.masked()
            )
        })?;
        let subject: String = message
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .message_id(None);
        let built = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(message.text.clone()),
        };
        built.map_err(|error| anyhow!("the e-mail could not be built: {error}"))
    }
}

/// Certificate checks against the public roots, for `host`.
fn tls_parameters(host: &str) -> Result<TlsParameters, SmtpSettingsError> {
    TlsParameters::new(host.to_owned()).map_err(|source| SmtpSettingsError::Tls {
        host: host.to_owned(),
        source,
    })
}
