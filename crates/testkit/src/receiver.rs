//! A webhook endpoint for tests: it verifies every delivery's Ed25519
//! signature and timestamp as Telnyx's SDKs do, checks the event against
//! Telnyx's spec, and keeps what it accepted, in arrival order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;
use tokio::sync::Notify;

use crate::spec;

/// How far a timestamp may be from now, as the SDKs allow.
const TOLERANCE_SECS: u64 = 300;

#[derive(Default)]
struct Inner {
    key: Mutex<Option<VerifyingKey>>,
    accepted: Mutex<Vec<Value>>,
    problems: Mutex<Vec<String>>,
    fail_next: AtomicUsize,
    attempts: AtomicUsize,
    arrived: Notify,
}

/// A running receiver; deliveries go to [`Receiver::url`].
#[derive(Clone)]
pub struct Receiver {
    url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/webhooks", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inner }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The key deliveries must be signed with (base64, as Telnyx shows it).
    pub fn trust(&self, public_key_base64: &str) {
        let bytes: [u8; 32] = STANDARD
            .decode(public_key_base64)
            .expect("base64 key")
            .try_into()
            .expect("32-byte key");
        *self.inner.key.lock().unwrap() =
            Some(VerifyingKey::from_bytes(&bytes).expect("valid key"));
    }

    /// Answers the next `n` deliveries with 500.
    pub fn fail_next(&self, n: usize) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every delivery attempt, accepted or not.
    pub fn attempts(&self) -> usize {
        self.inner.attempts.load(Ordering::SeqCst)
    }

    /// Accepted deliveries, in arrival order.
    pub fn deliveries(&self) -> Vec<Value> {
        self.inner.accepted.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) until `done` holds for the accepted deliveries.
    pub async fn wait_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let notified = self.inner.arrived.notified();
            let deliveries = self.deliveries();
            if done(&deliveries) {
                return deliveries;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "webhooks did not arrive in time; got {:?}",
                    event_types(&self.deliveries())
                );
            }
        }
    }

    /// Waits until at least `n` deliveries arrived; returns all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        self.wait_until(|d| d.len() >= n).await
    }

    /// Waits until an event of `event_type` arrived for `call_control_id`.
    pub async fn wait_for_event(&self, event_type: &str, call_control_id: &str) -> Value {
        let matches = |d: &Value| {
            d["data"]["event_type"] == event_type
                && d["data"]["payload"]["call_control_id"] == call_control_id
        };
        let deliveries = self.wait_until(|all| all.iter().any(matches)).await;
        deliveries.into_iter().find(matches).unwrap()
    }

    /// Panics if any delivery failed verification or the spec.
    pub fn assert_all_valid(&self) {
        let problems = self.inner.problems.lock().unwrap();
        assert!(problems.is_empty(), "rejected webhooks: {problems:#?}");
    }
}

/// `data.event_type` of each delivery.
pub fn event_types(deliveries: &[Value]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| {
            d["data"]["event_type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inner.attempts.fetch_add(1, Ordering::SeqCst);
    if inner
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    match verify(&inner, &headers, &body) {
        Ok(delivery) => {
            inner.accepted.lock().unwrap().push(delivery);
            inner.arrived.notify_waiters();
            StatusCode::OK
        }
        Err(problem) => {
            inner.problems.lock().unwrap().push(problem);
            inner.arrived.notify_waiters();
            StatusCode::BAD_REQUEST
        }
    }
}

fn verify(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Result<Value, String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("no {name} header"))
    };
    let timestamp = header("telnyx-timestamp")?;
    let signature = STANDARD
        .decode(header("telnyx-signature-ed25519")?)
        .map_err(|e| format!("signature is not base64: {e}"))?;
    let signature = Signature::from_slice(&signature).map_err(|e| e.to_string())?;
    let key = inner.key.lock().unwrap().ok_or("no trusted key yet")?;
    let mut signed = format!("{timestamp}|").into_bytes();
    signed.extend_from_slice(body);
    key.verify(&signed, &signature)
        .map_err(|_| "signature does not verify".to_owned())?;
    let sent: u64 = timestamp.parse().map_err(|_| "timestamp is not a number")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(sent) > TOLERANCE_SECS {
        return Err(format!("timestamp {sent} is too far from now ({now})"));
    }
    let delivery: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    spec::check_event(&delivery)?;
    Ok(delivery)
}
