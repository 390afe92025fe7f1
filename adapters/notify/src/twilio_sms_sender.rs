//! `TwilioSmsSender`: the `SmsSender` port over Twilio's Messages API
//! (`POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth, a form
//! body with `To`, `Body` and `From` or `MessagingServiceSid`).

use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use reqwest::{Client, Response, StatusCode, Url, redirect};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use twofa_domain::{SendError, SmsMessage, SmsSender};

/// The most of an error answer read to find Twilio's `code` and `message`.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// The most characters of Twilio's error `message` kept in a `SendError`.
const MAX_ERROR_MESSAGE_CHARS: usize = 300;

/// How to reach Twilio (`notify.twilio.*`).
#[derive(Debug, Clone)]
pub struct TwilioSettings {
    /// The account SID (`AC…`), the user name of HTTP basic auth and part of the path.
    pub account_sid: String,
    /// The auth token, the password of HTTP basic auth.
    pub auth_token: SecretString,
    /// The sending number or alphanumeric sender ID; exactly one of this and
    /// `messaging_service_sid` is set. A blank value counts as unset.
    pub from: Option<String>,
    /// The Messaging Service (`MG…`) that picks the sender; exactly one of this and `from`.
    pub messaging_service_sid: Option<String>,
    /// Where the API lives: [`TwilioSettings::DEFAULT_BASE_URL`], or a test server.
    pub base_url: String,
    /// The longest a whole request may take (connecting included) before it is retryable.
    pub timeout: Duration,
}

impl TwilioSettings {
    /// Twilio's REST API.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.twilio.com";
    /// A sensible per-request timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

/// Why the Twilio settings cannot be used; each message names the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum TwilioSettingsError {
    /// The account SID is empty or has something other than letters and digits.
    #[error("notify.twilio.account_sid must be the account SID (letters and digits, `AC…`)")]
    InvalidAccountSid,
    /// Neither a sender number nor a Messaging Service is set.
    #[error("set one of notify.twilio.from and notify.twilio.messaging_service_sid")]
    NoSender,
    /// Both a sender number and a Messaging Service are set.
    #[error("set only one of notify.twilio.from and notify.twilio.messaging_service_sid, not both")]
    BothSenders,
    /// `base_url` is not an http(s) URL.
    #[error("notify.twilio.base_url is not an http(s) URL: {0}")]
    InvalidBaseUrl(String),
    /// The HTTP client could not be built.
    #[error("the HTTP client for Twilio could not be built")]
    HttpClient(#[source] reqwest::Error),
}

/// Who the message is sent from: exactly one of Twilio's two ways.
#[derive(Debug, Clone)]
enum Sender {
    /// `From`: a number or an alphanumeric sender ID.
    From(String),
    /// `MessagingServiceSid`: Twilio picks the sender from the service's pool.
    MessagingService(String),
}

impl Sender {
    /// The form field and its value.
    fn field(&self) -> (&'static str, &str) {
        match self {
            Self::From(from) => ("From", from),
            Self::MessagingService(sid) => ("MessagingServiceSid", sid),
        }
    }
}

/// Sends SMS through Twilio's Messages API.
///
/// 2xx is sent; 429, 5xx, timeouts and connection failures are `SendError::Retryable`; any
/// other answer (a rejected number, bad credentials) is `SendError::Permanent` with Twilio's
/// error `code` and `message`, the destination masked and the body never included.
#[derive(Debug)]
pub struct TwilioSmsSender {
    client: Client,
    messages_url: Url,
    account_sid: String,
    auth_token: SecretString,
    sender: Sender,
}

impl TwilioSmsSender {
    /// Checks `settings` and builds the HTTP client once (installing rustls' ring provider as
    /// the process default first, which does nothing when one is already installed).
    pub fn new(settings: TwilioSettings) -> Result<Self, TwilioSettingsError> {
        let TwilioSettings {
            account_sid,
            auth_token,
            from,
            messaging_service_sid,
            base_url,
            timeout,
        } = settings;
        let account_sid = account_sid.trim().to_owned();
        if account_sid.is_empty() || !account_sid.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return Err(TwilioSettingsError::InvalidAccountSid);
        }
        let sender = match (non_blank(from), non_blank(messaging_service_sid)) {
            (Some(from), None) => Sender::From(from),
            (None, Some(sid)) => Sender::MessagingService(sid),
            (None, None) => return Err(TwilioSettingsError::NoSender),
            (Some(_), Some(_)) => return Err(TwilioSettingsError::BothSenders),
        };
        let messages_url = messages_url(&base_url, &account_sid)?;

        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirect::Policy::none())
            .user_agent(concat!("twofa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(TwilioSettingsError::HttpClient)?;

        Ok(Self {
            client,
            messages_url,
            account_sid,
            auth_token,
            sender,
        })
    }
}

#[async_trait]
impl SmsSender for TwilioSmsSender {
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        let masked = message.to.masked();
        let form = [
            ("To", message.to.as_str()),
            self.sender.field(),
            ("Body", message.body.as_str()),
        ];
        let response = self
            .client
            .post(self.messages_url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|error| transport_error(error, &masked))?;

        let status = response.status();
        if status.is_success() {
            let accepted: TwilioMessage = response.json().await.unwrap_or_default();
            tracing::info!(
                to = %masked,
                sid = accepted.sid.as_deref().unwrap_or("?"),
                "Twilio accepted the SMS"
            );
            return Ok(());
        }

        let body = read_limited(response, MAX_ERROR_BODY_BYTES).await;
        let detail = error_detail(status, &body, message);
        let error = anyhow!("Twilio refused the SMS to {masked}: {detail}");
        tracing::debug!(to = %masked, status = status.as_u16(), "Twilio refused the SMS");
        if is_retryable(status) {
            Err(SendError::Retryable(error))
        } else {
            Err(SendError::Permanent(error))
        }
    }
}

/// The part of Twilio's answer to a sent message worth logging.
#[derive(Debug, Default, Deserialize)]
struct TwilioMessage {
    sid: Option<String>,
}

/// Twilio's error document (`{"code": 21211, "message": "…", "more_info": "…", "status": 400}`).
#[derive(Debug, Default, Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

/// 429 and 5xx are worth trying again; every other non-2xx answer is not.
fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// A failure before an answer came: a timeout, a refused connection, a reset. Only a request
/// that could not even be built is permanent.
fn transport_error(error: reqwest::Error, masked: &str) -> SendError {
    let is_permanent = error.is_builder();
    let error = anyhow::Error::new(error).context(format!(
        "calling Twilio's Messages API for the SMS to {masked}"
    ));
    if is_permanent {
        SendError::Permanent(error)
    } else {
        SendError::Retryable(error)
    }
}

/// `HTTP 400 Bad Request, Twilio error 21211: Invalid 'To' Phone Number`, with the number
/// masked and the body removed from Twilio's message.
fn error_detail(status: StatusCode, body: &[u8], message: &SmsMessage) -> String {
    let twilio: TwilioError = serde_json::from_slice(body).unwrap_or_default();
    let code = twilio
        .code
        .map(|code| format!(", Twilio error {code}"))
        .unwrap_or_default();
    let text = twilio
        .message
        .map(|text| format!(": {}", scrub(&text, message)))
        .unwrap_or_default();
    format!("HTTP {status}{code}{text}")
}

/// Twilio's `message` with the full number (with or without `+`) replaced by its masked form,
/// the message body removed, and the length capped.
fn scrub(text: &str, message: &SmsMessage) -> String {
    let number = message.to.as_str();
    let masked = message.to.masked();
    let mut text = text.replace(number, &masked);
    if let Some(digits) = number.strip_prefix('+') {
        text = text.replace(digits, &masked);
    }
    let body = message.body.trim();
    if !body.is_empty() {
        text = text.replace(body, "[message body]");
    }
    if text.chars().count() > MAX_ERROR_MESSAGE_CHARS {
        text = text.chars().take(MAX_ERROR_MESSAGE_CHARS).collect();
        text.push('…');
    }
    text
}

/// At most `limit` bytes of the answer's body; whatever could be read if reading fails.
async fn read_limited(mut response: Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(limit);
    body
}

/// `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`, keeping any path prefix of
/// `base_url`.
fn messages_url(base_url: &str, account_sid: &str) -> Result<Url, TwilioSettingsError> {
    let base = base_url.trim().trim_end_matches('/');
    let url = Url::parse(&format!(
        "{base}/2010-04-01/Accounts/{account_sid}/Messages.json"
    ))
    .map_err(|error| TwilioSettingsError::InvalidBaseUrl(format!("`{base_url}`: {error}")))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(TwilioSettingsError::InvalidBaseUrl(format!(
            "`{base_url}` must be http(s)://host[:port][/path], without a query or a fragment"
        )));
    }
    Ok(url)
}

/// `value` trimmed, or `None` when it is unset or blank.
fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofa_domain::PhoneNumber;

    fn message() -> SmsMessage {
        SmsMessage {
            to: PhoneNumber::parse("+15005550001").unwrap(),
            body: "Your twofa code is 123456".to_owned(),
        }
    }

    #[test]
    fn scrubbing_masks_the_number_in_both_forms_and_drops_the_body() {
        let text = "The 'To' number +15005550001 (15005550001) is not valid: Your twofa code is \
                    123456";
        let scrubbed = scrub(text, &message());
        assert_eq!(
            scrubbed,
            "The 'To' number +1********01 (+1********01) is not valid: [message body]"
        );
    }

    #[test]
    fn scrubbing_caps_the_length() {
        let scrubbed = scrub(&"x".repeat(1000), &message());
        assert_eq!(scrubbed.chars().count(), MAX_ERROR_MESSAGE_CHARS + 1);
    }

    #[test]
    fn the_messages_url_keeps_a_path_prefix_and_drops_a_trailing_slash() {
        assert_eq!(
            messages_url("http://127.0.0.1:9999/twilio/", "AC1")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9999/twilio/2010-04-01/Accounts/AC1/Messages.json"
        );
    }

    #[test]
    fn the_messages_url_must_be_http() {
        assert!(messages_url("ftp://example.com", "AC1").is_err());
        assert!(messages_url("not a url", "AC1").is_err());
        assert!(messages_url("https://example.com?x=1", "AC1").is_err());
    }

    #[test]
    fn only_429_and_5xx_are_retryable() {
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
        assert!(!is_retryable(StatusCode::UNAUTHORIZED));
        assert!(!is_retryable(StatusCode::MOVED_PERMANENTLY));
    }
}
