//! The HTTP server: the endpoint served over hyper (HTTP/1.1, and HTTP/2 with prior knowledge)
//! as poem's own `Server` serves it, with what that one lacks, so slow or greedy clients cannot
//! hold the service:
//!
//! - a header-read timeout: a connection must bring its first request head within
//!   [`ConnectionLimits::header_read_timeout`] of being accepted, and on HTTP/1.1 each later
//!   head within as long of the end of the previous request, or it is closed unanswered
//!   (poem builds hyper without a timer, which leaves hyper's own timeout off);
//! - a connection cap: at most [`ConnectionLimits::max_connections`] are served at once; the
//!   server accepts no further one until one closes, so they wait in the listen backlog;
//! - hyper's own header limits raised to [`LIBRARY_CEILING_FACTOR`] times the layer's, so a
//!   head over `server.max_headers` or `server.max_header_bytes` reaches the layer and is
//!   answered a `431 headers_too_large` problem with `X-Request-Id`, not hyper's bare 431;
//!   hyper's ceiling remains as the bound of the memory a connection's head may take.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use poem::{
    Endpoint, Request, Response,
    http::uri::Scheme,
    listener::Acceptor,
    web::{LocalAddr, RemoteAddr},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// How far over the layer's header limits hyper's own lie: a head up to this many times
/// `server.max_headers` fields and `server.max_header_bytes` bytes is read whole and refused by
/// the layer as a problem; a larger one is cut off by hyper, which answers a bare 431 and
/// closes the connection.
pub const LIBRARY_CEILING_FACTOR: usize = 8;

/// The smallest read buffer hyper accepts.
const HYPER_MIN_BUFFER: usize = 8192;

/// The pause after a failed accept (out of file descriptors, a connection reset before it was
/// accepted), so a persistent failure does not spin the accept loop.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);

/// What the server allows each connection (`server.*`).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// `server.header_read_timeout`.
    pub header_read_timeout: Duration,
    /// `server.max_connections`.
    pub max_connections: u32,
    /// `server.max_headers`: the layer's limit; hyper's lies [`LIBRARY_CEILING_FACTOR`] times
    /// higher.
    pub max_headers: usize,
    /// `server.max_header_bytes`: the layer's limit; hyper's lies [`LIBRARY_CEILING_FACTOR`]
    /// times higher.
    pub max_header_bytes: usize,
}

/// What every connection task shares.
struct Shared<E> {
    endpoint: E,
    builder: auto::Builder<TokioExecutor>,
    header_read_timeout: Duration,
    /// Cancelled when shutdown starts: connections finish their requests in flight and close.
    draining: CancellationToken,
    /// Cancelled when the drain time is over: connections still open are dropped.
    abort: CancellationToken,
}

/// Serves `endpoint` on the connections `acceptor` accepts until `shutdown` is cancelled; then
/// stops accepting, lets the requests in flight finish for up to `drain`, drops the
/// connections still open after it, and returns.
pub async fn serve<A, E>(
    mut acceptor: A,
    endpoint: E,
    limits: &ConnectionLimits,
    shutdown: CancellationToken,
    drain: Duration,
) where
    A: Acceptor,
    E: Endpoint<Output = Response> + 'static,
{
    let shared = Arc::new(Shared {
        endpoint,
        builder: builder(limits),
        header_read_timeout: limits.header_read_timeout,
        draining: CancellationToken::new(),
        abort: CancellationToken::new(),
    });
    let every_slot = limits.max_connections;
    let slots = Arc::new(Semaphore::new(every_slot as usize));
    loop {
        // A free slot first: while every one is taken, nothing is accepted.
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_closed) => break,
            },
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = acceptor.accept() => accepted,
        };
        match accepted {
            Ok((io, local_addr, remote_addr, scheme)) => {
                tokio::spawn(serve_connection(
                    shared.clone(),
                    io,
                    Peer {
                        local_addr,
                        remote_addr,
                        scheme,
                    },
                    slot,
                ));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
    drop(acceptor);
    shared.draining.cancel();
    // Every slot free again means every connection has ended.
    if tokio::time::timeout(drain, slots.acquire_many(every_slot))
        .await
        .is_err()
    {
        tracing::warn!("closing the connections still open after the shutdown timeout");
        shared.abort.cancel();
        let _all_closed = slots.acquire_many(every_slot).await;
    }
}

/// hyper's connection builder: HTTP/1.1 with the header-read timeout (and the timer it needs),
/// HTTP/2 with prior knowledge; header ceilings [`LIBRARY_CEILING_FACTOR`] times the layer's.
fn builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let ceiling_bytes = limits
        .max_header_bytes
        .saturating_mul(LIBRARY_CEILING_FACTOR)
        .max(HYPER_MIN_BUFFER);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.max_headers.saturating_mul(LIBRARY_CEILING_FACTOR))
        .max_buf_size(ceiling_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(ceiling_bytes).unwrap_or(u32::MAX));
    builder
}

/// Where a connection comes from, for each of its requests.
struct Peer {
    local_addr: LocalAddr,
    remote_addr: RemoteAddr,
    scheme: Scheme,
}

/// Serves one connection, holding `_slot` while it is open.
async fn serve_connection<Io, E>(
    shared: Arc<Shared<E>>,
    io: Io,
    peer: Peer,
    _slot: OwnedSemaphorePermit,
) where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    E: Endpoint<Output = Response> + 'static,
{
    let remote_addr = peer.remote_addr.clone();
    let has_request = Arc::new(AtomicBool::new(false));
    let service = hyper::service::service_fn({
        let shared = shared.clone();
        let has_request = has_request.clone();
        move |request: hyper::Request<Incoming>| {
            has_request.store(true, Ordering::Relaxed);
            let shared = shared.clone();
            let request = Request::from((
                request,
                peer.local_addr.clone(),
                peer.remote_addr.clone(),
                peer.scheme.clone(),
            ));
            async move {
                let response = shared.endpoint.get_response(request).await;
                Ok::<_, Infallible>(hyper::Response::from(response))
            }
        }
    });
    let connection = shared
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    // hyper's timeout starts once it knows the protocol, and covers HTTP/1.1 only: this one
    // bounds the wait for the first head from the accept, whatever the client sends.
    let first_head_late = async {
        tokio::time::sleep(shared.header_read_timeout).await;
        if has_request.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ended = connection.as_mut() => return,
        () = first_head_late => {
            tracing::debug!(
                remote_addr = %remote_addr,
                "closing a connection that sent no request head within server.header_read_timeout"
            );
            return;
        }
        () = shared.draining.cancelled() => {}
        () = shared.abort.cancelled() => return,
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ended = connection => {}
        () = shared.abort.cancelled() => {}
    }
}
