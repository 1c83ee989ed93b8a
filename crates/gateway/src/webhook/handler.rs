//! The webhook route. Its steps run in an order that parses nothing unverified:
//!
//! 1. headers: signature and timestamp present, timestamp within the window
//!    (401), declared length within the limit (413);
//! 2. body: read as raw bytes, stopping at the limit (413);
//! 3. signature over `"{timestamp}|{body}"` (401);
//! 4. only then the JSON: a Telnyx event or 400;
//! 5. converted and published; 200 once the bus accepted it (or already had
//!    it), 503 when it cannot take it, so that Telnyx delivers it again; 503
//!    too once the replica is draining for shutdown with an in-process bus,
//!    whose subscribers are already gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::envelope;
use super::error::WebhookError;
use super::signature::{PublicKeys, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier};
use crate::metrics::Metrics;
use events::{BusError, Converter, EventBus, Published};

/// Where Telnyx posts.
pub const WEBHOOK_PATH: &str = "/webhooks/telnyx";

/// The webhook's settings.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub keys: PublicKeys,
    /// How far `telnyx-timestamp` may be from now, either way.
    pub tolerance: Duration,
    /// The largest body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// What the route needs: the verifier, the converter and the bus.
#[derive(Debug, Clone)]
pub struct WebhookState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    verifier: Verifier,
    max_body_bytes: usize,
    converter: &'static Converter,
    bus: Arc<dyn EventBus>,
    metrics: Arc<Metrics>,
    /// Set when shutdown begins.
    draining: AtomicBool,
}

impl WebhookState {
    pub fn new(
        settings: WebhookSettings,
        converter: &'static Converter,
        bus: Arc<dyn EventBus>,
        metrics: Arc<Metrics>,
    ) -> Self {
        WebhookState {
            inner: Arc::new(Inner {
                verifier: Verifier::new(settings.keys, settings.tolerance),
                max_body_bytes: settings.max_body_bytes,
                converter,
                bus,
                metrics,
                draining: AtomicBool::new(false),
            }),
        }
    }

    /// Shutdown has begun: from now on an in-process bus refuses events (503),
    /// since its streams are closing and its history dies with the process.
    /// A shared bus keeps accepting: what it accepts outlives the replica.
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    /// The route, to merge into the HTTP router.
    pub fn routes(self) -> Router {
        Router::new()
            .route(WEBHOOK_PATH, post(receive))
            .with_state(self)
    }

    async fn accept(&self, headers: &HeaderMap, body: Body) -> Result<Published, WebhookError> {
        let inner = &*self.inner;
        let header = |name: &str| headers.get(name).map(|value| value.as_bytes());
        let signed = inner.verifier.check_headers(
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            SystemTime::now(),
        )?;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > inner.max_body_bytes as u64) {
            return Err(WebhookError::TooLarge {
                limit: inner.max_body_bytes,
            });
        }
        let body = read_limited(body, inner.max_body_bytes).await?;
        inner.verifier.verify(&signed, &body)?;
        let envelope = envelope::parse(&body)?;
        let prepared = inner.converter.prepare(envelope);
        let span = tracing::Span::current();
        span.record("event.id", prepared.id.as_str());
        span.record("event.type", prepared.event_type.as_str());
        if inner.draining.load(Ordering::Acquire) && !inner.bus.is_shared() {
            return Err(WebhookError::ShuttingDown);
        }
        Ok(inner.bus.publish(prepared).await?)
    }
}

/// Reads the body, refusing it as soon as it grows past `limit`.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, WebhookError> {
    let mut chunks = body.into_data_stream();
    let mut body = BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| WebhookError::Unreadable(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(WebhookError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// One span per delivery, naming the event it published (id, type, cursor),
/// so a trace leads from a webhook to the event subscribers received.
#[tracing::instrument(
    name = "webhook",
    skip_all,
    fields(otel.kind = "server", event.id, event.type, event.cursor)
)]
async fn receive(State(state): State<WebhookState>, headers: HeaderMap, body: Body) -> Response {
    let metrics = &state.inner.metrics;
    match state.accept(&headers, body).await {
        Ok(Published::Accepted(cursor)) => {
            tracing::Span::current().record("event.cursor", tracing::field::display(&cursor));
            tracing::debug!(%cursor, "webhook event accepted");
            metrics.record_webhook("accepted");
            metrics.events_published.inc();
            (StatusCode::OK, "accepted\n").into_response()
        }
        Ok(Published::Duplicate) => {
            tracing::debug!("webhook event already accepted");
            metrics.record_webhook("duplicate");
            (StatusCode::OK, "duplicate of an accepted event\n").into_response()
        }
        Err(error) => {
            tracing::warn!(status = error.status().as_u16(), %error, "webhook refused");
            metrics.record_webhook(error.reason());
            if let WebhookError::Bus(bus) = &error {
                metrics.record_bus_error(match bus {
                    BusError::Full(_) => "full",
                    BusError::Unavailable(_) => "unavailable",
                });
            }
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[&'static [u8]]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Body::from_stream(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_without_a_length_is_cut_at_the_limit() {
        let body = read_limited(chunked(&[b"abcd", b"efgh"]), 8).await.unwrap();
        assert_eq!(&body[..], b"abcdefgh");
        let error = read_limited(chunked(&[b"abcd", b"efgh", b"i"]), 8)
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
