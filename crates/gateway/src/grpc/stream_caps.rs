//! The caps on open streams, per caller and per connection.
//!
//! A stream holds a subscriber's place in the fan-out, its queue and a task
//! for as long as it is open; without a cap, one caller (or anyone, through
//! the unauthenticated health `Watch`) could open them until the gateway runs
//! out of memory. A stream takes its place when the call arrives, before any
//! work, and frees it when its response body is dropped: the stream ended,
//! or the client went away.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

/// The caller unauthenticated streams count against.
pub const ANONYMOUS: &str = "anonymous";

/// GATEWAY_MAX_STREAMS_PER_CALLER and GATEWAY_MAX_STREAMS_PER_CONNECTION.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCaps {
    pub per_caller: usize,
    pub per_connection: usize,
}

impl Default for StreamCaps {
    /// The documented defaults.
    fn default() -> Self {
        StreamCaps {
            per_caller: 1024,
            per_connection: 512,
        }
    }
}

/// The streams open now, by caller and by connection.
#[derive(Debug)]
pub struct StreamSlots {
    caps: StreamCaps,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    callers: HashMap<String, usize>,
    connections: HashMap<SocketAddr, usize>,
}

/// One open stream's place; dropping it frees the place.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    caller: String,
    connection: Option<SocketAddr>,
}

impl StreamSlots {
    pub fn new(caps: StreamCaps) -> Arc<Self> {
        Arc::new(StreamSlots {
            caps,
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for one more stream of `caller` on `connection`, or
    /// RESOURCE_EXHAUSTED naming the cap that is reached.
    pub fn acquire(
        self: &Arc<Self>,
        caller: &str,
        connection: Option<SocketAddr>,
    ) -> Result<StreamSlot, Status> {
        let mut open = self.lock();
        let of_caller = open.callers.get(caller).copied().unwrap_or(0);
        if of_caller >= self.caps.per_caller {
            return Err(Status::resource_exhausted(format!(
                "caller {caller} has {of_caller} streams open, the most allowed \
                 (GATEWAY_MAX_STREAMS_PER_CALLER); end one before opening another"
            )));
        }
        if let Some(connection) = connection {
            let on_connection = open.connections.get(&connection).copied().unwrap_or(0);
            if on_connection >= self.caps.per_connection {
                return Err(Status::resource_exhausted(format!(
                    "this connection carries {on_connection} streams, the most allowed \
                     (GATEWAY_MAX_STREAMS_PER_CONNECTION); end one or open another connection"
                )));
            }
            *open.connections.entry(connection).or_default() += 1;
        }
        *open.callers.entry(caller.to_owned()).or_default() += 1;
        Ok(StreamSlot {
            slots: Arc::clone(self),
            caller: caller.to_owned(),
            connection,
        })
    }

    /// How many streams `caller` has open.
    #[cfg(test)]
    fn of_caller(&self, caller: &str) -> usize {
        self.lock().callers.get(caller).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(count) = open.callers.get_mut(&self.caller) {
            *count -= 1;
            if *count == 0 {
                open.callers.remove(&self.caller);
            }
        }
        if let Some(connection) = self.connection
            && let Some(count) = open.connections.get_mut(&connection)
        {
            *count -= 1;
            if *count == 0 {
                open.connections.remove(&connection);
            }
        }
    }
}

/// The connection a call came on: its peer's address, which is unique among
/// open connections.
pub fn connection_of<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.get_ref().remote_addr())
        })
}

/// `response`, holding `slot` until its body is dropped.
pub fn hold(
    response: http::Response<tonic::body::Body>,
    slot: StreamSlot,
) -> http::Response<tonic::body::Body> {
    response.map(|body| tonic::body::Body::new(Holding { body, _slot: slot }))
}

/// A response body and the stream place it holds.
struct Holding {
    body: tonic::body::Body,
    _slot: StreamSlot,
}

impl HttpBody for Holding {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cap_holds_and_frees_its_places() {
        let slots = StreamSlots::new(StreamCaps {
            per_caller: 3,
            per_connection: 2,
        });
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.1:1001".parse().unwrap();
        let first = slots.acquire("billing", Some(a)).unwrap();
        let _second = slots.acquire("billing", Some(a)).unwrap();
        let refused = slots.acquire("billing", Some(a)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(
            refused
                .message()
                .contains("GATEWAY_MAX_STREAMS_PER_CONNECTION"),
            "{}",
            refused.message()
        );
        // The refused call took no place.
        assert_eq!(slots.of_caller("billing"), 2);
        let _third = slots.acquire("billing", Some(b)).unwrap();
        let refused = slots.acquire("billing", Some(b)).unwrap_err();
        assert!(
            refused.message().contains("GATEWAY_MAX_STREAMS_PER_CALLER"),
            "{}",
            refused.message()
        );
        // Another caller is not held back by this one.
        let _other = slots.acquire("reporting", None).unwrap();
        drop(first);
        assert_eq!(slots.of_caller("billing"), 2);
        slots.acquire("billing", Some(a)).unwrap();
    }
}
