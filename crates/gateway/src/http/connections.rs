//! The HTTP listener's connections: how long each may take and how many are
//! served, so that slow or idle clients cannot hold the listener.
//!
//! Every connection lives under three clocks and one cap:
//!
//! - **Header timeout** (`GATEWAY_HTTP_HEADER_TIMEOUT_MS`): a new connection
//!   must deliver its first request's headers within it, counted from the
//!   accept; on a kept-alive connection, a request's headers must be complete
//!   within it of their first byte. Slower connections are closed.
//! - **Request timeout** (`GATEWAY_HTTP_BODY_TIMEOUT_MS`): once the headers
//!   are in, the whole request, body included, gets this long; the answer is
//!   then 408 (Telnyx delivers the webhook again).
//! - **Idle timeout** (`GATEWAY_HTTP_IDLE_TIMEOUT_MS`): a kept-alive
//!   connection without a request in progress is closed after it.
//! - **Connection cap** (`GATEWAY_HTTP_MAX_CONNECTIONS`): at the cap, a new
//!   connection takes the place of the connection that has waited longest for
//!   a request (idle, or still sending headers), which is closed. Legitimate
//!   clients send their request at once, so the connections given up are the
//!   slow and idle ones. When every connection is mid-request, the new one is
//!   served on a reserve of [`PROBE_RESERVE`] connections that answer only the
//!   probes (`GET /healthz`, `/readyz`, `/metrics`), one request each; the
//!   reserve gives up its own waiting connections the same way. A request can
//!   last no longer than the request timeout, so Kubernetes' probes keep
//!   answering whatever the load, and a webhook refused meanwhile is delivered
//!   again by Telnyx.
//!
//! The listener speaks HTTP/1.1 only: Telnyx, the kubelet and Prometheus all
//! do, and every limit above is defined for it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use futures::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutLayer;

/// Connections beyond the cap that may still be served, for probes only.
pub const PROBE_RESERVE: usize = 32;

/// The paths a reserve connection answers.
pub const PROBE_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// How long the listener pauses when it cannot accept (out of file
/// descriptors, say), rather than spin on a listener that stays readable.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The HTTP listener's timeouts and connection cap (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` within `limits` until `shutdown`; then stops
/// accepting, lets requests in progress finish, and returns once every
/// connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let router = router.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let registry = Arc::new(Registry::new(limits.max_connections, PROBE_RESERVE));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _peer)) => tcp,
            Err(error) => {
                tracing::warn!(%error, "the HTTP listener cannot accept a connection");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let Some(admitted) = registry.admit() else {
            tracing::debug!("HTTP connection refused: the cap and the probe reserve are full");
            continue;
        };
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on an HTTP connection");
        }
        connections.spawn(serve_connection(
            tcp,
            router.clone(),
            admitted,
            limits,
            shutdown.clone(),
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn serve_connection(
    tcp: TcpStream,
    router: Router,
    admitted: Admitted,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let state = Arc::clone(&admitted.state);
    let probes_only = admitted.class == Class::Reserve;
    let service = TowerToHyperService::new(Tracked {
        router,
        state: Arc::clone(&state),
        probes_only,
    });
    let io = TokioIo::new(Watched {
        tcp,
        state: Arc::clone(&state),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // The header clock is ours (see `deadline`): hyper's would also run
        // while a kept-alive connection waits, making it the idle timeout.
        .header_read_timeout(None)
        .keep_alive(!probes_only);
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "HTTP connection ended with an error");
                }
                return;
            }
            () = state.evicted.cancelled(), if !closing => {
                if state.busy() == 0 {
                    tracing::debug!("HTTP connection closed to make room for a new one");
                    return;
                }
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = shutdown.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = state.expired(&limits) => {
                tracing::debug!("HTTP connection closed: it sent no complete request in time");
                return;
            }
        }
    }
}

/// Which budget a connection was admitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Counted against `GATEWAY_HTTP_MAX_CONNECTIONS`; serves everything.
    General,
    /// Counted against [`PROBE_RESERVE`]; serves the probes only.
    Reserve,
}

/// The connections open on each budget, oldest first.
#[derive(Debug)]
struct Registry {
    inner: Mutex<Budgets>,
}

#[derive(Debug)]
struct Budgets {
    next_id: u64,
    general: BTreeMap<u64, Arc<ConnectionState>>,
    general_cap: usize,
    reserve: BTreeMap<u64, Arc<ConnectionState>>,
    reserve_cap: usize,
}

/// A connection's place in the registry; dropping it frees the place.
struct Admitted {
    registry: Arc<Registry>,
    id: u64,
    class: Class,
    state: Arc<ConnectionState>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut budgets = self.registry.lock();
        match self.class {
            Class::General => budgets.general.remove(&self.id),
            Class::Reserve => budgets.reserve.remove(&self.id),
        };
    }
}

impl Registry {
    fn new(general_cap: usize, reserve_cap: usize) -> Self {
        Registry {
            inner: Mutex::new(Budgets {
                next_id: 0,
                general: BTreeMap::new(),
                general_cap: general_cap.max(1),
                reserve: BTreeMap::new(),
                reserve_cap,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Budgets> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new connection: free, or taken from the connection that
    /// has waited longest for a request; on the general budget first, then on
    /// the reserve. `None` when every connection of both is mid-request.
    fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut budgets = self.lock();
        let budgets = &mut *budgets;
        let id = budgets.next_id;
        budgets.next_id += 1;
        let state = Arc::new(ConnectionState::new());
        for (class, open, cap) in [
            (Class::General, &mut budgets.general, budgets.general_cap),
            (Class::Reserve, &mut budgets.reserve, budgets.reserve_cap),
        ] {
            if open.len() >= cap && !evict_one(open) {
                continue;
            }
            open.insert(id, Arc::clone(&state));
            return Some(Admitted {
                registry: Arc::clone(self),
                id,
                class,
                state,
            });
        }
        None
    }

    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let budgets = self.lock();
        (budgets.general.len(), budgets.reserve.len())
    }
}

/// Closes the oldest connection that has no request in progress, and frees
/// its place at once. Whether there was one.
fn evict_one(open: &mut BTreeMap<u64, Arc<ConnectionState>>) -> bool {
    let Some(id) = open
        .iter()
        .find(|(_, state)| state.busy() == 0)
        .map(|(id, _)| *id)
    else {
        return false;
    };
    if let Some(state) = open.remove(&id) {
        state.evicted.cancel();
    }
    true
}

/// What the connection's task, its reader and its service share.
#[derive(Debug)]
struct ConnectionState {
    accepted: Instant,
    /// Requests in progress (one, on HTTP/1.1).
    busy: AtomicUsize,
    /// Requests started so far.
    started: AtomicU64,
    /// Milliseconds from `accepted` to the end of the last response.
    idle_since: AtomicU64,
    /// Milliseconds from `accepted` to the first byte of the next request's
    /// headers, plus one; 0 while none has arrived.
    head_since: AtomicU64,
    /// Wakes the connection's clock when its deadline may have moved.
    changed: Notify,
    /// Cancelled when the registry gave the connection's place away.
    evicted: CancellationToken,
}

impl ConnectionState {
    fn new() -> Self {
        ConnectionState {
            accepted: Instant::now(),
            busy: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            changed: Notify::new(),
            evicted: CancellationToken::new(),
        }
    }

    fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Bytes came in: the start of the next request's headers, when none is
    /// in progress.
    fn bytes_arrived(&self) {
        if self.busy() == 0
            && self
                .head_since
                .compare_exchange(0, self.millis() + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn request_started(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.started.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(0, Ordering::Release);
        self.changed.notify_one();
    }

    fn request_finished(&self) {
        self.idle_since.store(self.millis(), Ordering::Release);
        self.head_since.store(0, Ordering::Release);
        self.busy.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_one();
    }

    /// When the connection must have started its next request, or `None`
    /// while one is in progress (the request timeout bounds it).
    fn deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        if self.busy() > 0 {
            return None;
        }
        let at = |millis: u64| self.accepted + Duration::from_millis(millis);
        if self.started.load(Ordering::Acquire) == 0 {
            return Some(self.accepted + limits.header_timeout);
        }
        match self.head_since.load(Ordering::Acquire) {
            0 => Some(at(self.idle_since.load(Ordering::Acquire)) + limits.idle_timeout),
            since => Some(at(since - 1) + limits.header_timeout),
        }
    }

    /// Completes when the connection is past its deadline.
    async fn expired(&self, limits: &HttpLimits) {
        loop {
            let changed = self.changed.notified();
            match self.deadline(limits) {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// The connection's socket, telling its state when bytes arrive.
struct Watched {
    tcp: TcpStream,
    state: Arc<ConnectionState>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// The router, counting the connection's requests in progress; on a reserve
/// connection, only the probes are answered.
#[derive(Clone)]
struct Tracked {
    router: Router,
    state: Arc<ConnectionState>,
    probes_only: bool,
}

/// Marks the request finished however its future ends.
struct InProgress(Arc<ConnectionState>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

impl tower::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        self.state.request_started();
        let in_progress = InProgress(Arc::clone(&self.state));
        if self.probes_only && !is_probe(&request) {
            return Box::pin(async move {
                drop(in_progress);
                Ok(at_capacity())
            });
        }
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request.map(Body::new)).await;
            drop(in_progress);
            response
        })
    }
}

fn is_probe<B>(request: &Request<B>) -> bool {
    request.method() == Method::GET && PROBE_PATHS.contains(&request.uri().path())
}

/// What a reserve connection answers to anything but a probe.
fn at_capacity() -> Response<Body> {
    let mut response = Response::new(Body::from(
        "the gateway is at its HTTP connection limit (GATEWAY_HTTP_MAX_CONNECTIONS); retry later\n",
    ));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 2,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_waiting_connection_gives_way() {
        let registry = Arc::new(Registry::new(2, 1));
        let first = registry.admit().unwrap();
        let second = registry.admit().unwrap();
        second.state.request_started();
        // The cap is reached: the first (idle) gives way, the busy one stays.
        let third = registry.admit().unwrap();
        assert_eq!(third.class, Class::General);
        assert!(first.state.evicted.is_cancelled());
        assert!(!second.state.evicted.is_cancelled());
        assert_eq!(registry.open(), (2, 0));
        // The evicted connection's end does not free another's place.
        drop(first);
        assert_eq!(registry.open(), (2, 0));
        // Every general connection busy: the reserve takes the next one ...
        third.state.request_started();
        let probe = registry.admit().unwrap();
        assert_eq!(probe.class, Class::Reserve);
        // ... and gives its idle one up for the one after.
        let next_probe = registry.admit().unwrap();
        assert!(probe.state.evicted.is_cancelled());
        // Busy everywhere: refused.
        next_probe.state.request_started();
        assert!(registry.admit().is_none());
        second.state.request_finished();
        assert!(registry.admit().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn each_clock_runs_in_its_phase() {
        let limits = limits();
        let state = ConnectionState::new();
        let accepted = state.accepted;
        // A new connection has the header timeout, bytes or not.
        assert_eq!(
            state.deadline(&limits),
            Some(accepted + limits.header_timeout)
        );
        state.bytes_arrived();
        assert_eq!(
            state.deadline(&limits),
            Some(accepted + limits.header_timeout)
        );
        state.request_started();
        assert_eq!(state.deadline(&limits), None);
        tokio::time::advance(Duration::from_secs(5)).await;
        state.request_finished();
        // Kept alive: the idle timeout, from the end of the response ...
        let idle = state.deadline(&limits).unwrap();
        assert_eq!(
            idle,
            accepted + Duration::from_secs(5) + limits.idle_timeout
        );
        // ... until the next request's first byte starts the header clock.
        tokio::time::advance(Duration::from_secs(20)).await;
        state.bytes_arrived();
        assert_eq!(
            state.deadline(&limits),
            Some(accepted + Duration::from_secs(25) + limits.header_timeout)
        );
        // Body bytes of a request in progress start no clock.
        state.request_started();
        state.bytes_arrived();
        assert_eq!(state.deadline(&limits), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_wakes_when_a_request_begins_late() {
        let limits = limits();
        let state = Arc::new(ConnectionState::new());
        state.request_started();
        state.request_finished();
        let watched = Arc::clone(&state);
        let expired = tokio::spawn(async move { watched.expired(&limits).await });
        tokio::time::advance(Duration::from_secs(30)).await;
        state.bytes_arrived();
        // The header clock (10 s from now) wins over the idle one (30 s left).
        tokio::time::advance(Duration::from_secs(11)).await;
        tokio::task::yield_now().await;
        assert!(expired.is_finished());
    }

    #[test]
    fn only_probes_pass_the_reserve() {
        let get = |path: &str| Request::get(path).body(()).unwrap();
        assert!(is_probe(&get("/healthz")));
        assert!(is_probe(&get("/readyz")));
        assert!(is_probe(&get("/metrics")));
        assert!(!is_probe(&get("/webhooks/telnyx")));
        assert!(!is_probe(&Request::post("/healthz").body(()).unwrap()));
        let response = at_capacity();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONNECTION], "close");
    }
}
