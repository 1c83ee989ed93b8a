//! What every scenario shares: webhooks signed like Telnyx signs them, the
//! HTTP client that posts them, the gRPC subscriber, and percentiles.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::v1::SubscribeRequest;
use telnyx_sim::Signer;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use crate::procs::BENCH_TOKEN;

/// A webhook ready to post: body and headers, signed.
#[derive(Clone)]
pub struct Signed {
    pub body: bytes::Bytes,
    pub timestamp: String,
    pub signature: String,
}

/// The `data` of a `conference.participant.joined` webhook as Telnyx sends
/// it (about 700 bytes on the wire), with event id `id`.
pub fn webhook_body(id: &str, conference_id: &str) -> Vec<u8> {
    format!(
        r#"{{"data":{{"record_type":"event","id":"{id}","event_type":"conference.participant.joined","occurred_at":"2024-05-01T12:34:56.789Z","payload":{{"call_control_id":"v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg","call_leg_id":"428c31b6-7af4-4bcb-b7f5-5013ef9657c1","call_session_id":"428c31b6-abf3-4bcb-b7f5-5013ef9657c1","client_state":"aGF2ZSBhIG5pY2UgZGF5ID1d","conference_id":"{conference_id}","connection_id":"7267xxxxxxxxxxxxxx","creator_call_session_id":"428c31b6-abf3-4bcb-b7f5-5013ef9657c1","occurred_at":"2024-05-01T12:34:56.789Z"}}}},"meta":{{"attempt":1,"delivered_to":"https://voice-gateway.example.com/webhooks/telnyx"}}}}"#
    )
    .into_bytes()
}

/// Signs `body` now, as Telnyx does, with the simulator's signer.
pub fn sign(key: &Signer, body: Vec<u8>) -> Signed {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        .to_string();
    let signature = key.sign(&timestamp, &body);
    Signed {
        body: body.into(),
        timestamp,
        signature,
    }
}

/// An HTTP/1.1 keep-alive client for posting webhooks, as a load balancer
/// in front of the gateway would.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client")
}

/// Posts one signed webhook; `true` when answered 200.
pub async fn post(client: &reqwest::Client, url: &str, signed: &Signed) -> bool {
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("telnyx-timestamp", &signed.timestamp)
        .header("telnyx-signature-ed25519", &signed.signature)
        .body(signed.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let ok = response.status() == reqwest::StatusCode::OK;
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

pub fn webhook_url(addr: SocketAddr) -> String {
    format!("http://{addr}/webhooks/telnyx")
}

/// Of a streamed `Event`, only its id: the rest is skipped unread, so the
/// subscriber's cost stays small next to the gateway's.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EventId {
    #[prost(string, tag = "1")]
    pub id: String,
}

/// One HTTP/2 connection to the gateway's gRPC listener.
pub async fn connect(addr: SocketAddr) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .tcp_nodelay(true)
        .initial_connection_window_size(Some(4 * 1024 * 1024))
        .initial_stream_window_size(Some(256 * 1024))
        .connect()
        .await
}

/// Subscribes on `channel`; the stream is registered once this returns.
pub async fn subscribe(
    channel: Channel,
    request: SubscribeRequest,
) -> Result<tonic::Streaming<EventId>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(request);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {BENCH_TOKEN}")
            .parse()
            .expect("a valid header"),
    );
    let path = PathAndQuery::from_static("/conference_gateway.v1.EventService/Subscribe");
    let codec: ProstCodec<SubscribeRequest, EventId> = ProstCodec::default();
    Ok(grpc
        .server_streaming(request, path, codec)
        .await?
        .into_inner())
}

/// The sequence number of an event id `<prefix>-<seq>` the bench made.
pub fn seq_of(id: &str, prefix: &str) -> Option<usize> {
    id.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok()
}

/// p50 and p99 of `samples`, in milliseconds.
pub fn percentiles_ms(samples: &mut [Duration]) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index].as_secs_f64() * 1e3
    };
    (round3(at(0.50)), round3(at(0.99)))
}

/// Three decimals: enough for milliseconds, readable in JSON.
pub fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

/// Signs `count` webhooks on every core, ids `<prefix>-<n>`.
pub fn presign(key: &Signer, prefix: &str, count: usize, conference_id: &str) -> Vec<Signed> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(count);
                scope.spawn(move || {
                    (start..end)
                        .map(|n| sign(key, webhook_body(&format!("{prefix}-{n}"), conference_id)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("signing threads do not panic"))
            .collect()
    })
}
