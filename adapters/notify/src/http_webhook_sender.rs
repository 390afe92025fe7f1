//! `HttpWebhookSender`: the `WebhookSender` port over reqwest, guarded against SSRF.
//!
//! Every send parses the URL (https, or http in development; no user name or password),
//! resolves its host then and there, checks every address it resolved to against the ranges a
//! webhook may never reach (loopback, private, link-local and metadata, carrier-grade NAT,
//! multicast, reserved; IPv4-mapped and NAT64 IPv6 addresses as the IPv4 address they carry)
//! unless `webhooks.allowed_cidrs` allows it, and connects only to those checked addresses: the
//! request's client has the name pinned to them and no other resolver, so a second, rebound
//! answer is never asked for. The Host header and TLS server name stay the URL's host.
//! Redirects are answers, never followed; no proxy is used; the body is read only as far as
//! [`RESPONSE_BODY_LIMIT`]. Headers and bodies (signatures) are never logged.

use std::{
    error::Error as _,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use async_trait::async_trait;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::{
    Client, Response, Url,
    dns::{Name, Resolve, Resolving},
    header::{HeaderMap, HeaderName, HeaderValue},
    redirect, retry,
};
use rustls_platform_verifier::BuilderVerifierExt as _;
use tokio::time::{Instant, timeout_at};
use twofa_domain::{
    RESPONSE_BODY_LIMIT, WebhookRequest, WebhookResponse, WebhookSendError, WebhookSender,
};

/// The User-Agent of every webhook request.
const USER_AGENT: &str = concat!("twofa-webhooks/", env!("CARGO_PKG_VERSION"));

/// The most of a body read: the limit, plus the rest of a character that starts just before it.
const READ_LIMIT: usize = RESPONSE_BODY_LIMIT + 3;

/// The most characters of a low-level error message kept in a failure's reason.
const MAX_REASON_CHARS: usize = 200;

/// How webhooks are sent (`webhooks.timeout`, `webhooks.allowed_cidrs`, and whether the
/// environment is development).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSenderConfig {
    /// The longest one attempt may take, resolving the name included.
    pub timeout: Duration,
    /// Whether plain `http://` URLs may be called (development only); otherwise https only.
    pub allow_http: bool,
    /// Ranges that may be called although they are private, loopback or otherwise forbidden
    /// (receivers inside a private network).
    pub allowed_cidrs: Vec<IpNet>,
}

/// Sends webhooks with reqwest: one fresh client per send, pinned to the checked addresses.
#[derive(Debug)]
pub struct HttpWebhookSender {
    config: WebhookSenderConfig,
    /// Built once (the system's trust store is read once), shared by every send's client.
    tls: rustls::ClientConfig,
}

impl HttpWebhookSender {
    /// Checks `config` and builds the TLS configuration once (ring, the system's trust store).
    ///
    /// # Errors
    /// When the timeout is zero or the TLS configuration cannot be built.
    pub fn new(config: WebhookSenderConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !config.timeout.is_zero(),
            "the webhook timeout must be longer than 0s"
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("choosing the TLS versions for webhooks")?
            .with_platform_verifier()
            .context("loading the system's trust store for webhooks")?
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { config, tls })
    }

    /// Whether `webhooks.allowed_cidrs` lets `ip` be called although its range is forbidden.
    fn is_allowed(&self, ip: IpAddr) -> bool {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.config
            .allowed_cidrs
            .iter()
            .any(|net| net.contains(&ip) || embedded.is_some_and(|v4| net.contains(&v4)))
    }

    /// Refuses the destination when any of its addresses is forbidden and not allowed.
    fn check(&self, addrs: &[SocketAddr]) -> Result<(), WebhookSendError> {
        for addr in addrs {
            let ip = addr.ip();
            if let Some(kind) = forbidden_range(ip)
                && !self.is_allowed(ip)
            {
                return Err(WebhookSendError::Refused(format!(
                    "{ip} is a {kind} address, which only webhooks.allowed_cidrs can open"
                )));
            }
        }
        Ok(())
    }

    /// A client for one send: it reaches `target`'s name only at `addrs`, resolves nothing else,
    /// follows no redirect, uses no proxy and retries nothing.
    fn pinned_client(
        &self,
        target: &Target,
        addrs: &[SocketAddr],
        timeout: Duration,
    ) -> Result<Client, reqwest::Error> {
        let mut builder = Client::builder()
            .tls_backend_preconfigured(self.tls.clone())
            .dns_resolver(Arc::new(NoResolver))
            .redirect(redirect::Policy::none())
            .no_proxy()
            .retry(retry::never())
            .pool_max_idle_per_host(0)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(USER_AGENT);
        if let TargetHost::Name(name) = &target.host {
            builder = builder.resolve_to_addrs(name, addrs);
        }
        builder.build()
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: WebhookRequest) -> Result<WebhookResponse, WebhookSendError> {
        let started = Instant::now();
        let timeout = self.config.timeout;
        let deadline = started + timeout;
        let failed = |reason: String| WebhookSendError::Failed {
            reason,
            duration: started.elapsed(),
        };

        let target = Target::parse(&request.url, self.config.allow_http)?;
        let headers = header_map(&request.headers)?;
        let addrs = resolve(&target, deadline)
            .await
            .map_err(|failure| match failure {
                ResolveFailure::Unresolved(reason) => failed(reason),
                ResolveFailure::TimedOut => failed(format!(
                    "timed out after {} resolving the host",
                    human(timeout)
                )),
            })?;
        self.check(&addrs)?;

        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(failed(timed_out(timeout)));
        }
        let client = self
            .pinned_client(&target, &addrs, remaining)
            .map_err(|_| failed("the HTTP client could not be built".to_owned()))?;
        let host = target.host.to_string();
        tracing::debug!(host = %host, "sending a webhook");

        let sending = client
            .post(target.url)
            .headers(headers)
            .body(request.body)
            .send();
        let mut response = match timeout_at(deadline, sending).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                let reason = failure_reason(&error, timeout);
                tracing::debug!(host = %host, reason = %reason, "a webhook got no answer");
                return Err(failed(reason));
            }
            Err(_elapsed) => return Err(failed(timed_out(timeout))),
        };
        let status = response.status().as_u16();
        let mut body = Vec::new();
        // A body slower than the deadline keeps what arrived: the status is the answer.
        let _ = timeout_at(deadline, read_prefix(&mut response, &mut body)).await;
        let duration = started.elapsed();
        tracing::debug!(host = %host, status, ?duration, "a webhook was answered");
        Ok(WebhookResponse {
            status,
            body: body_text(&body),
            duration,
        })
    }
}

/// Where a request goes: the parsed URL and its host and port.
#[derive(Debug)]
struct Target {
    url: Url,
    host: TargetHost,
    port: u16,
}

/// A URL's host: a name to resolve, or an address written in the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TargetHost {
    Name(String),
    Ip(IpAddr),
}

impl std::fmt::Display for TargetHost {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(name) => formatter.write_str(name),
            Self::Ip(ip) => ip.fmt(formatter),
        }
    }
}

impl Target {
    /// Parses `url`: https (or http when `allow_http`), a host, no user name or password.
    fn parse(url: &str, allow_http: bool) -> Result<Self, WebhookSendError> {
        let refused = |reason: &str| WebhookSendError::Refused(reason.to_owned());
        let url = Url::parse(url).map_err(|error| {
            WebhookSendError::Refused(format!("the URL does not parse: {error}"))
        })?;
        match url.scheme() {
            "https" => {}
            "http" if allow_http => {}
            "http" => return Err(refused("plain http is allowed only in development")),
            _ => return Err(refused("the URL must be https")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("the URL must not carry a user name or password"));
        }
        let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
            return Err(refused("the URL has no host"));
        };
        let literal = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'));
        let host = match literal.unwrap_or(host).parse::<IpAddr>() {
            Ok(ip) => TargetHost::Ip(ip),
            Err(_) => TargetHost::Name(host.to_owned()),
        };
        let Some(port) = url.port_or_known_default() else {
            return Err(refused("the URL has no port"));
        };
        Ok(Self { url, host, port })
    }
}

/// Why a name gave no address to check.
#[derive(Debug)]
enum ResolveFailure {
    /// It does not resolve (now): nothing to call, but a name may come back (a record being
    /// replaced, a resolver outage), so the attempt is a failure worth retrying.
    Unresolved(String),
    /// The resolver did not answer in time: worth trying again.
    TimedOut,
}

/// The addresses `target` is reached at, resolved now (an address in the URL is just that).
async fn resolve(target: &Target, deadline: Instant) -> Result<Vec<SocketAddr>, ResolveFailure> {
    let name = match &target.host {
        TargetHost::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, target.port)]),
        TargetHost::Name(name) => name.as_str(),
    };
    let lookup = tokio::net::lookup_host((name, target.port));
    let resolved = match timeout_at(deadline, lookup).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(_)) => {
            return Err(ResolveFailure::Unresolved(format!(
                "`{name}` does not resolve"
            )));
        }
        Err(_elapsed) => return Err(ResolveFailure::TimedOut),
    };
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in resolved {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(ResolveFailure::Unresolved(format!(
            "`{name}` resolves to no address"
        )));
    }
    Ok(addrs)
}

/// The resolver of a send's client: every name it would have to resolve is refused, since the
/// only name it may reach is pinned to the checked addresses.
#[derive(Debug)]
struct NoResolver;

impl Resolve for NoResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let message = format!("`{}` was not checked", name.as_str());
        Box::pin(async move { Err(message.into()) })
    }
}

/// The request's headers, in order; a name or value HTTP cannot carry refuses the request.
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, WebhookSendError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            WebhookSendError::Refused(format!("`{name}` is not a valid header name"))
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            WebhookSendError::Refused(format!("the value of the `{name}` header is not valid"))
        })?;
        map.append(header, value);
    }
    Ok(map)
}

/// Reads chunks into `body` until [`READ_LIMIT`] bytes are there, the body ends or fails.
async fn read_prefix(response: &mut Response, body: &mut Vec<u8>) {
    while body.len() < READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = READ_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
}

/// At most [`RESPONSE_BODY_LIMIT`] bytes of text: invalid UTF-8 replaced, cut at a character
/// boundary (a character that straddles the limit is left out whole).
fn body_text(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    let cut = text.floor_char_boundary(RESPONSE_BODY_LIMIT);
    text.truncate(cut);
    text
}

/// `timed out after 10s`.
fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", human(timeout))
}

/// `10s`, or `200ms` for a timeout that is not whole seconds.
fn human(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// A short reason for the delivery log, without the URL (it may carry a token): a timeout, a
/// refused or reset connection, a TLS failure, or the lowest error's own words.
fn failure_reason(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return timed_out(timeout);
    }
    let mut lowest: Option<String> = None;
    let mut cause = error.source();
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return shorten(&format!("TLS failed: {tls}"));
        }
        if let Some(mut io) = current.downcast_ref::<io::Error>() {
            // The TLS layers wrap the rustls error in an `io::Error`, sometimes twice.
            loop {
                let inner = io.get_ref();
                if let Some(tls) = inner.and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                    return shorten(&format!("TLS failed: {tls}"));
                }
                if let Some(reason) = io_reason(io.kind(), timeout) {
                    return reason;
                }
                match inner.and_then(|inner| inner.downcast_ref::<io::Error>()) {
                    Some(deeper) => io = deeper,
                    None => break,
                }
            }
        }
        lowest = Some(current.to_string());
        cause = current.source();
    }
    let context = if error.is_connect() {
        "could not connect"
    } else {
        "no answer"
    };
    match lowest {
        Some(lowest) => shorten(&format!("{context}: {lowest}")),
        None => context.to_owned(),
    }
}

/// The common socket failures, in words.
fn io_reason(kind: io::ErrorKind, timeout: Duration) -> Option<String> {
    let reason = if kind == io::ErrorKind::ConnectionRefused {
        "connection refused"
    } else if kind == io::ErrorKind::ConnectionReset {
        "connection reset"
    } else if kind == io::ErrorKind::ConnectionAborted {
        "connection aborted"
    } else if kind == io::ErrorKind::UnexpectedEof {
        "connection closed before an answer"
    } else if kind == io::ErrorKind::HostUnreachable || kind == io::ErrorKind::NetworkUnreachable {
        "host unreachable"
    } else if kind == io::ErrorKind::TimedOut {
        return Some(timed_out(timeout));
    } else {
        return None;
    };
    Some(reason.to_owned())
}

/// `text`, at most [`MAX_REASON_CHARS`] characters.
fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_REASON_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_REASON_CHARS).collect();
    short.push('…');
    short
}

/// The IPv4 ranges no webhook may reach unless `webhooks.allowed_cidrs` allows it, first match
/// named.
const FORBIDDEN_V4: [(Ipv4Net, &str); 16] = [
    (v4net([0, 0, 0, 0], 8), "unspecified (\"this network\")"),
    (v4net([10, 0, 0, 0], 8), "private"),
    (v4net([100, 64, 0, 0], 10), "carrier-grade NAT"),
    (v4net([127, 0, 0, 0], 8), "loopback"),
    (v4net([169, 254, 0, 0], 16), "link-local (cloud metadata)"),
    (v4net([172, 16, 0, 0], 12), "private"),
    (v4net([192, 0, 0, 0], 24), "IETF protocol assignment"),
    (v4net([192, 0, 2, 0], 24), "documentation"),
    (v4net([192, 88, 99, 0], 24), "6to4 relay"),
    (v4net([192, 168, 0, 0], 16), "private"),
    (v4net([198, 18, 0, 0], 15), "benchmarking"),
    (v4net([198, 51, 100, 0], 24), "documentation"),
    (v4net([203, 0, 113, 0], 24), "documentation"),
    (v4net([224, 0, 0, 0], 4), "multicast"),
    (v4net([255, 255, 255, 255], 32), "broadcast"),
    (v4net([240, 0, 0, 0], 4), "reserved"),
];

/// The IPv6 ranges no webhook may reach unless allowed (the ranges that carry an IPv4
/// address are checked as that address, see [`embedded_ipv4`]).
const FORBIDDEN_V6: [(Ipv6Net, &str); 11] = [
    (v6net([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (v6net([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (v6net([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), "local NAT64"),
    (v6net([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "discard-only"),
    (
        v6net([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "IETF protocol assignment",
    ),
    (
        v6net([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation",
    ),
    (v6net([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), "unique-local"),
    (v6net([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (
        v6net([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local (deprecated)",
    ),
    (v6net([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
    // Last, so the narrower ranges inside it (local NAT64) keep their names.
    (
        v6net([0, 0, 0, 0, 0, 0, 0, 0], 8),
        "reserved (IPv4-compatible, SIIT-translated and the rest of ::/8)",
    ),
];

/// IPv4-mapped addresses (`::ffff:a.b.c.d`).
const MAPPED: Ipv6Net = v6net([0, 0, 0, 0, 0, 0xffff, 0, 0], 96);
/// NAT64's well-known prefix (`64:ff9b::a.b.c.d`).
const NAT64: Ipv6Net = v6net([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
/// 6to4 (`2002:aabb:ccdd::/48` reaches `aa.bb.cc.dd`).
const SIX_TO_FOUR: Ipv6Net = v6net([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

const fn v4net(octets: [u8; 4], prefix: u8) -> Ipv4Net {
    let [a, b, c, d] = octets;
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6net(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let s = segments;
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

/// The IPv4 address an IPv6 address leads to: IPv4-mapped, NAT64 or 6to4.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = ip.to_bits();
    if MAPPED.contains(&ip) || NAT64.contains(&ip) {
        // The low 32 bits are the address.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "the low 32 bits are wanted"
        )]
        let low = bits as u32;
        return Some(Ipv4Addr::from_bits(low));
    }
    if SIX_TO_FOUR.contains(&ip) {
        #[expect(clippy::cast_possible_truncation, reason = "bits 16 to 48 are wanted")]
        let middle = (bits >> 80) as u32;
        return Some(Ipv4Addr::from_bits(middle));
    }
    None
}

/// What kind of forbidden address `ip` is, or `None` when a webhook may call it.
fn forbidden_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => forbidden_v4(v4),
            None => FORBIDDEN_V6
                .iter()
                .find(|(net, _)| net.contains(&v6))
                .map(|(_, kind)| *kind),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    FORBIDDEN_V4
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener as StdListener;

    use tokio::{
        io::{AsyncReadExt as _, AsyncWriteExt as _},
        net::{TcpListener, TcpStream},
        sync::oneshot,
    };

    use super::*;

    fn sender(allow_http: bool, allowed: &[&str]) -> HttpWebhookSender {
        sender_with_timeout(allow_http, allowed, Duration::from_secs(5))
    }

    fn sender_with_timeout(
        allow_http: bool,
        allowed: &[&str],
        timeout: Duration,
    ) -> HttpWebhookSender {
        HttpWebhookSender::new(WebhookSenderConfig {
            timeout,
            allow_http,
            allowed_cidrs: allowed.iter().map(|cidr| cidr.parse().unwrap()).collect(),
        })
        .unwrap()
    }

    fn loopback() -> HttpWebhookSender {
        sender(true, &["127.0.0.0/8", "::1/128"])
    }

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest {
            url: url.to_owned(),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: b"{}".to_vec(),
        }
    }

    /// A listener that is never served: whether anything connected to it is `accept` seeing a
    /// connection waiting (the kernel completes the handshake before `connect` returns).
    fn silent_listener() -> StdListener {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        listener
    }

    fn assert_never_connected(listener: &StdListener) {
        let accepted = listener.accept();
        assert!(
            matches!(&accepted, Err(error) if error.kind() == io::ErrorKind::WouldBlock),
            "something connected: {accepted:?}"
        );
    }

    /// What a receiver got: the request head (request line and headers) and the body.
    #[derive(Debug)]
    struct Received {
        head: String,
        body: Vec<u8>,
    }

    impl Received {
        /// Every header, its name lower-cased, in order.
        fn headers(&self) -> Vec<(String, String)> {
            self.head
                .split("\r\n")
                .skip(1)
                .filter_map(|line| line.split_once(": "))
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
                .collect()
        }

        fn header(&self, name: &str) -> Option<String> {
            self.headers()
                .into_iter()
                .find(|(header, _)| header == name)
                .map(|(_, value)| value)
        }
    }

    /// Reads one HTTP/1.1 request (head, then a `content-length` body).
    async fn read_request(stream: &mut TcpStream) -> Received {
        let mut data = Vec::new();
        let mut buffer = [0_u8; 4096];
        let head_end = loop {
            if let Some(end) = data.windows(4).position(|window| window == b"\r\n\r\n") {
                break end;
            }
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the request ended inside its head");
            data.extend_from_slice(&buffer[..read]);
        };
        let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
        let mut body = data[head_end + 4..].to_vec();
        let received = Received {
            head,
            body: Vec::new(),
        };
        let length: usize = received
            .header("content-length")
            .map_or(0, |length| length.parse().unwrap());
        while body.len() < length {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the request ended inside its body");
            body.extend_from_slice(&buffer[..read]);
        }
        Received { body, ..received }
    }

    /// A receiver on 127.0.0.1 that reads one request, writes `answer` as it is and closes;
    /// the request comes back through the channel.
    async fn receiver(answer: Vec<u8>) -> (SocketAddr, oneshot::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (received, receive) = oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await;
            let _ = received.send(request);
            stream.write_all(&answer).await.unwrap();
            stream.shutdown().await.unwrap();
        });
        (addr, receive)
    }

    fn answer(status_line: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
        let mut answer = format!(
            "HTTP/1.1 {status_line}\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(body);
        answer
    }

    fn refusal(result: Result<WebhookResponse, WebhookSendError>) -> String {
        match result {
            Err(WebhookSendError::Refused(reason)) => reason,
            other @ (Ok(_) | Err(WebhookSendError::Failed { .. })) => {
                panic!("expected a refusal, got {other:?}")
            }
        }
    }

    fn failure(result: Result<WebhookResponse, WebhookSendError>) -> (String, Duration) {
        match result {
            Err(WebhookSendError::Failed { reason, duration }) => (reason, duration),
            other @ (Ok(_) | Err(WebhookSendError::Refused(_))) => {
                panic!("expected a failure, got {other:?}")
            }
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_without_allowed_cidrs_and_nothing_connects() {
        let listener = silent_listener();
        let port = listener.local_addr().unwrap().port();
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        ] {
            let reason = refusal(sender(true, &[]).send(request(&url)).await);
            assert!(reason.contains("loopback"), "{reason}");
            assert!(reason.contains("webhooks.allowed_cidrs"), "{reason}");
        }
        assert_never_connected(&listener);
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let listener = silent_listener();
        let port = listener.local_addr().unwrap().port();
        let reason = refusal(
            sender(true, &[])
                .send(request(&format!("http://localhost:{port}/hook")))
                .await,
        );
        assert!(reason.contains("loopback"), "{reason}");
        assert_never_connected(&listener);
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_a_failure_worth_retrying() {
        let (reason, _) = failure(
            sender(false, &[])
                .send(request("https://no-such-host.invalid/hook"))
                .await,
        );
        assert!(reason.contains("no-such-host.invalid"), "{reason}");
    }

    #[tokio::test]
    async fn plain_http_is_refused_unless_allowed_and_the_url_must_be_plain() {
        let listener = silent_listener();
        let port = listener.local_addr().unwrap().port();
        let strict = sender(false, &["127.0.0.0/8"]);
        let reason = refusal(
            strict
                .send(request(&format!("http://127.0.0.1:{port}/")))
                .await,
        );
        assert_eq!(reason, "plain http is allowed only in development");
        for url in [
            format!("ftp://127.0.0.1:{port}/"),
            format!("https://user:secret@127.0.0.1:{port}/"),
            format!("https://user@127.0.0.1:{port}/"),
            "not a url".to_owned(),
        ] {
            let reason = refusal(strict.send(request(&url)).await);
            assert!(!reason.contains("secret"), "{reason}");
        }
        assert_never_connected(&listener);
    }

    #[tokio::test]
    async fn inside_allowed_cidrs_headers_and_body_arrive_exactly() {
        let (addr, received) = receiver(answer("200 OK", "", b"thanks")).await;
        let mut webhook = request(&format!("http://{addr}/hooks/twofa?tenant=1"));
        webhook.headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "webhook-id".to_owned(),
                "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".to_owned(),
            ),
            ("webhook-timestamp".to_owned(), "1674087231".to_owned()),
            (
                "webhook-signature".to_owned(),
                "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=".to_owned(),
            ),
        ];
        webhook.body = br#"{"type":"user.created","data":{"id":"u_1","name":"Zo\u00eb"}}"#.to_vec();
        let response = sender(true, &["127.0.0.0/8"])
            .send(webhook.clone())
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "thanks");

        let received = received.await.unwrap();
        assert!(
            received
                .head
                .starts_with("POST /hooks/twofa?tenant=1 HTTP/1.1\r\n"),
            "{}",
            received.head
        );
        let headers = received.headers();
        for header in &webhook.headers {
            assert_eq!(
                headers
                    .iter()
                    .filter(|(name, _)| *name == header.0)
                    .collect::<Vec<_>>(),
                [header],
                "{headers:?}"
            );
        }
        assert_eq!(received.header("host"), Some(addr.to_string()));
        assert_eq!(received.header("user-agent").as_deref(), Some(USER_AGENT));
        assert_eq!(received.body, webhook.body);
    }

    #[tokio::test]
    async fn a_name_keeps_its_host_header_and_connects_to_a_checked_address() {
        let (addr, received) = receiver(answer("204 No Content", "", b"")).await;
        let url = format!("http://localhost:{}/hook", addr.port());
        let response = loopback().send(request(&url)).await.unwrap();
        assert_eq!(response.status, 204);
        let received = received.await.unwrap();
        assert_eq!(
            received.header("host"),
            Some(format!("localhost:{}", addr.port()))
        );
    }

    #[tokio::test]
    async fn the_client_of_a_send_reaches_its_name_only_at_the_checked_addresses() {
        let (addr, received) = receiver(answer("200 OK", "", b"")).await;
        let sender = loopback();
        // A name no resolver knows, pinned to the receiver: the connection goes there.
        let target = Target::parse(
            &format!("http://webhooks.example.invalid:{}/", addr.port()),
            true,
        )
        .unwrap();
        let client = sender
            .pinned_client(&target, &[addr], Duration::from_secs(5))
            .unwrap();
        let response = client.post(target.url.clone()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let received = received.await.unwrap();
        assert_eq!(
            received.header("host"),
            Some(format!("webhooks.example.invalid:{}", addr.port()))
        );
        // Any other name is not resolved at all.
        let error = client
            .post(format!("http://localhost:{}/", addr.port()))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
    }

    #[tokio::test]
    async fn a_redirect_is_the_answer_and_is_not_followed() {
        let elsewhere = silent_listener();
        let location = format!("http://{}/stolen", elsewhere.local_addr().unwrap());
        let (addr, _received) = receiver(answer(
            "302 Found",
            &format!("location: {location}\r\n"),
            b"moved",
        ))
        .await;
        let response = loopback()
            .send(request(&format!("http://{addr}/hook")))
            .await
            .unwrap();
        assert_eq!(response.status, 302);
        assert_eq!(response.body, "moved");
        assert_never_connected(&elsewhere);
    }

    #[tokio::test]
    async fn a_long_body_is_cut_to_the_limit() {
        let long = "x".repeat(5000);
        let (addr, _received) =
            receiver(answer("500 Internal Server Error", "", long.as_bytes())).await;
        let response = loopback()
            .send(request(&format!("http://{addr}/hook")))
            .await
            .unwrap();
        assert_eq!(response.status, 500);
        assert_eq!(response.body, long[..RESPONSE_BODY_LIMIT]);
    }

    #[tokio::test]
    async fn a_character_across_the_limit_is_left_out_whole() {
        // 1023 bytes, then `é` (2 bytes) across the limit, then more.
        let body = format!("{}é and more", "a".repeat(RESPONSE_BODY_LIMIT - 1));
        let (addr, _received) = receiver(answer("200 OK", "", body.as_bytes())).await;
        let response = loopback()
            .send(request(&format!("http://{addr}/hook")))
            .await
            .unwrap();
        assert_eq!(response.body, "a".repeat(RESPONSE_BODY_LIMIT - 1));
    }

    #[test]
    fn body_text_replaces_invalid_utf8_and_stays_within_the_limit() {
        assert_eq!(body_text(b"ok \xff"), "ok \u{fffd}");
        // Each invalid byte becomes a 3-byte replacement character: still at most the limit.
        let text = body_text(&[0xff; READ_LIMIT]);
        assert!(text.len() <= RESPONSE_BODY_LIMIT);
        assert!(text.chars().all(|c| c == '\u{fffd}'));
        // A 4-byte character starting at the last byte of the limit is left out.
        let mut bytes = vec![b'a'; RESPONSE_BODY_LIMIT - 1];
        bytes.extend_from_slice("😀".as_bytes());
        assert_eq!(body_text(&bytes), "a".repeat(RESPONSE_BODY_LIMIT - 1));
        assert_eq!(body_text("é".repeat(600).as_bytes()), "é".repeat(512));
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let _request = read_request(&mut stream).await;
            // Holds the connection open, never answering.
            std::future::pending::<()>().await;
        });
        let timeout = Duration::from_millis(200);
        let (reason, duration) = failure(
            sender_with_timeout(true, &["127.0.0.0/8"], timeout)
                .send(request(&format!("http://{addr}/hook")))
                .await,
        );
        assert_eq!(reason, "timed out after 200ms");
        assert!(duration >= timeout, "{duration:?}");
        assert!(duration < Duration::from_secs(5), "{duration:?}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_refused_connection() {
        let port = silent_listener().local_addr().unwrap().port();
        let (reason, _) = failure(
            loopback()
                .send(request(&format!("http://127.0.0.1:{port}/hook")))
                .await,
        );
        assert_eq!(reason, "connection refused");
    }

    #[tokio::test]
    async fn https_goes_through_tls_and_a_tls_failure_is_a_failure() {
        // Not a TLS server: it answers plain HTTP to the ClientHello.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut hello = [0_u8; 1];
            let _ = stream.read(&mut hello).await;
            let _ = stream.write_all(&answer("200 OK", "", b"plain")).await;
            let _ = stream.shutdown().await;
        });
        let (reason, _) = failure(
            sender(false, &["127.0.0.0/8"])
                .send(request(&format!("https://{addr}/hook")))
                .await,
        );
        assert!(reason.starts_with("TLS failed"), "{reason}");
        assert!(!reason.contains("/hook"), "{reason}");
    }

    #[tokio::test]
    async fn an_invalid_header_is_refused() {
        let mut webhook = request("https://93.184.216.34/hook");
        webhook
            .headers
            .push(("bad header".to_owned(), "x".to_owned()));
        let reason = refusal(sender(false, &[]).send(webhook).await);
        assert!(reason.contains("bad header"), "{reason}");
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let error = HttpWebhookSender::new(WebhookSenderConfig {
            timeout: Duration::ZERO,
            allow_http: false,
            allowed_cidrs: Vec::new(),
        })
        .unwrap_err();
        assert!(error.to_string().contains("timeout"), "{error}");
    }

    #[test]
    fn the_classifier_refuses_every_internal_range_and_allows_public_addresses() {
        let forbidden = [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.1.2.3", "private"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.255", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("::ffff:0:7f00:1", "SIIT"),
            ("0:ff::1", "::/8"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::1", "local NAT64"),
            ("2002:7f00:1::1", "loopback"),
            ("2001::1", "IETF"),
            ("2001:db8::1", "documentation"),
            ("fc00::1", "unique-local"),
            ("fd00:ec2::254", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("100::1", "discard-only"),
        ];
        for (ip, kind) in forbidden {
            let range = forbidden_range(ip.parse().unwrap());
            assert!(
                range.is_some_and(|range| range.contains(kind)),
                "{ip}: {range:?}, expected {kind}"
            );
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:2800:220:1::248",
            "2a00:1450:4001:80b::200e",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert_eq!(forbidden_range(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn allowed_cidrs_open_their_ranges_only() {
        let sender = sender(false, &["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"]);
        let at = |ip: &str| [SocketAddr::new(ip.parse().unwrap(), 443)];
        for ip in [
            "10.9.8.7",
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "fd00:ec2::254",
            "93.184.216.34",
        ] {
            assert!(sender.check(&at(ip)).is_ok(), "{ip}");
        }
        for ip in [
            "127.0.0.2",
            "192.168.0.1",
            "169.254.169.254",
            "fc00::1",
            "::1",
        ] {
            assert!(sender.check(&at(ip)).is_err(), "{ip}");
        }
        // Every address is checked: one forbidden among public ones refuses the lot.
        let mixed = [
            SocketAddr::new("93.184.216.34".parse().unwrap(), 443),
            SocketAddr::new("192.168.0.1".parse().unwrap(), 443),
        ];
        assert!(sender.check(&mixed).is_err());
    }

    #[test]
    fn urls_parse_into_their_host_and_port() {
        let target = Target::parse("https://Example.COM/hook", false).unwrap();
        assert_eq!(target.host, TargetHost::Name("example.com".to_owned()));
        assert_eq!(target.port, 443);
        let target = Target::parse("http://[::1]:8080/", true).unwrap();
        assert_eq!(target.host, TargetHost::Ip("::1".parse().unwrap()));
        assert_eq!(target.port, 8080);
        // Spellings of an address are addresses, not names to resolve.
        let target = Target::parse("https://0x7f.1/", false).unwrap();
        assert_eq!(target.host, TargetHost::Ip("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(timed_out(Duration::from_secs(10)), "timed out after 10s");
        assert_eq!(human(Duration::from_millis(1500)), "1500ms");
    }
}
