//! Test helpers: a real gateway on port 0, wiremock standing in for Telnyx,
//! real tonic clients, and webhooks signed like Telnyx signs them, so a test is
//! three lines of setup.

#![allow(dead_code, unused_imports)]

pub mod dynamic;
pub mod examples;
pub mod fixtures;

pub use testkit::{TEST_API_KEY, receiver, redis, spec, webhook};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use api::v1::{
    Event, SubscribeRequest, call_service_client::CallServiceClient,
    conference_service_client::ConferenceServiceClient, event_service_client::EventServiceClient,
    queue_service_client::QueueServiceClient,
};
use clap::Parser;
use conference_gateway::app::Application;
use conference_gateway::config::Config;
use events::EventBus;
use serde_json::Value;
use tokio::sync::oneshot;
use tonic::Streaming;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use wiremock::matchers::{header, header_regex, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The caller `tests` and its token, configured on every test gateway.
pub const TEST_CALLER: &str = "tests";
pub const TEST_CALLER_TOKEN: &str = "test-caller-token-0123456789";

/// Adds `authorization: Bearer <token>` to every call, as callers must.
#[derive(Clone)]
pub struct BearerToken(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl BearerToken {
    pub fn new(token: &str) -> Self {
        BearerToken(
            format!("Bearer {token}")
                .parse()
                .expect("a valid header value"),
        )
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A channel to the gateway whose calls carry the test caller's token.
pub type AuthedChannel = InterceptedService<Channel, BearerToken>;

/// The hub subscriptions a gateway holds for itself: the live state's.
pub const STATE_SUBSCRIPTIONS: usize = 1;

/// A running gateway wired to a mock Telnyx.
pub struct TestGateway {
    pub telnyx: MockServer,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The gateway's event bus, to look at its subscribers.
    pub bus: Arc<dyn EventBus>,
    channel: Channel,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// The gateway's own runtime, when it has one: dropping it kills the
    /// gateway at once, as a crashed process would end.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl TestGateway {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts a gateway with extra command-line settings (`--telnyx-max-retries`, ...).
    /// It trusts [`webhook::test_key`] unless `--telnyx-public-key` is among them.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        Self::start(extra, false).await
    }

    async fn start(extra: &[&str], own_runtime: bool) -> Self {
        let telnyx = MockServer::start().await;
        let base_url = format!("{}/v2", telnyx.uri());
        let tokens = format!("{TEST_CALLER}:{TEST_CALLER_TOKEN}");
        let public_key = webhook::public_key(&webhook::test_key());
        let mut args = vec![
            "conference-gateway",
            "--telnyx-api-key",
            TEST_API_KEY,
            "--telnyx-public-key",
            &public_key,
            "--telnyx-base-url",
            &base_url,
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--auth-tokens",
            &tokens,
            // Recovery would add its GET /webhook_deliveries to the requests
            // the tests assert; the tests of recovery turn it on.
            "--recovery",
            "false",
        ];
        args.extend_from_slice(extra);
        let config = Config::try_parse_from(args).expect("test settings parse");
        let runtime = own_runtime.then(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the gateway")
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let run = async move {
            let app = Application::build(&config).await.expect("gateway starts");
            let started = (app.event_bus(), app.grpc_addr(), app.http_addr());
            let server = tokio::spawn(async move {
                app.run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("gateway runs");
            });
            (started, server)
        };
        let ((bus, grpc_addr, http_addr), server) = match &runtime {
            Some(runtime) => runtime.spawn(run).await.expect("the gateway builds"),
            None => run.await,
        };
        // Connected on first use, so a gateway serving TLS can be spawned too
        // (its tests make their own TLS channels).
        let channel = Channel::from_shared(format!("http://{grpc_addr}"))
            .expect("valid URI")
            .connect_lazy();
        TestGateway {
            telnyx,
            grpc_addr,
            http_addr,
            bus,
            channel,
            http: reqwest::Client::new(),
            stop: Some(stop),
            server: Some(server),
            runtime,
        }
    }

    /// Starts a gateway on a runtime of its own, so that [`TestGateway::kill`]
    /// can end it abruptly.
    pub async fn spawn_killable(extra: &[&str]) -> Self {
        Self::start(extra, true).await
    }

    /// Ends the gateway at once, without its shutdown: every task and
    /// connection of its runtime is dropped, as if the process crashed.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// The raw channel: calls on it carry no token.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The channel with the test caller's token on every call.
    pub fn authed(&self) -> AuthedChannel {
        InterceptedService::new(self.channel.clone(), BearerToken::new(TEST_CALLER_TOKEN))
    }

    pub fn conferences(&self) -> ConferenceServiceClient<AuthedChannel> {
        ConferenceServiceClient::new(self.authed())
    }

    pub fn queues(&self) -> QueueServiceClient<AuthedChannel> {
        QueueServiceClient::new(self.authed())
    }

    pub fn calls(&self) -> CallServiceClient<AuthedChannel> {
        CallServiceClient::new(self.authed())
    }

    /// `GET` on the HTTP listener: status and body.
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("http://{}{path}", self.http_addr))
            .await
            .expect("the HTTP listener answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Polls `/readyz` until it answers `status`, returning its body; fails
    /// once `within` has passed.
    pub async fn ready_becomes(&self, status: u16, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (got, body) = self.http_get("/readyz").await;
            if got == status {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/readyz stayed {got} ({body}), expected {status} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn events(&self) -> EventServiceClient<AuthedChannel> {
        EventServiceClient::new(self.authed())
    }

    /// An event client on a connection of its own, with HTTP/2's smallest
    /// windows: a stream it does not read stalls after about 64 KiB.
    pub async fn events_on_own_connection(&self) -> EventServiceClient<AuthedChannel> {
        let channel = Endpoint::from_shared(format!("http://{}", self.grpc_addr))
            .expect("valid URI")
            .initial_stream_window_size(65_535)
            .initial_connection_window_size(65_535)
            .connect()
            .await
            .expect("gateway accepts connections");
        EventServiceClient::new(InterceptedService::new(
            channel,
            BearerToken::new(TEST_CALLER_TOKEN),
        ))
    }

    /// Subscribes; registered with the hub once this returns.
    pub async fn subscribe(&self, request: SubscribeRequest) -> Streaming<Event> {
        self.events()
            .subscribe(request)
            .await
            .expect("subscription starts")
            .into_inner()
    }

    /// How many event streams the hub serves, leaving out the live state's
    /// own subscription.
    pub fn subscribers(&self) -> usize {
        self.bus
            .hub()
            .subscriber_count()
            .saturating_sub(STATE_SUBSCRIPTIONS)
    }

    /// Waits up to five seconds for the hub to serve exactly `count` event streams.
    pub async fn wait_for_subscribers(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.bus.hub().subscriber_count() != count + STATE_SUBSCRIPTIONS {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} subscribers, expected {count}",
                self.subscribers()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Posts a `data` object as Telnyx would: wrapped, signed with the test key.
    pub async fn post_event(&self, data: &Value) -> Posted {
        self.post_signed(&webhook::test_key(), &webhook::body(data))
            .await
    }

    /// Posts `body`, signed now with `key`.
    pub async fn post_signed(&self, key: &webhook::Signer, body: &[u8]) -> Posted {
        let timestamp = webhook::now().to_string();
        let signature = webhook::sign(key, &timestamp, body);
        self.post_webhook(
            body.to_vec(),
            &[
                ("telnyx-timestamp", timestamp),
                ("telnyx-signature-ed25519", signature),
            ],
        )
        .await
    }

    /// Posts `body` with exactly these headers (and a JSON content type).
    pub async fn post_webhook(&self, body: Vec<u8>, headers: &[(&str, String)]) -> Posted {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                value.parse().expect("a header value"),
            );
        }
        self.post_webhook_with(body, map).await
    }

    /// Posts `body` with these headers (and a JSON content type).
    pub async fn post_webhook_with(
        &self,
        body: Vec<u8>,
        headers: reqwest::header::HeaderMap,
    ) -> Posted {
        let response = self
            .http
            .post(format!("http://{}/webhooks/telnyx", self.http_addr))
            .header("content-type", "application/json")
            .headers(headers)
            .body(body)
            .send()
            .await
            .expect("the gateway answers");
        Posted {
            status: response.status().as_u16(),
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// Every request the mock Telnyx received, in order.
    pub async fn received(&self) -> Vec<wiremock::Request> {
        self.telnyx.received_requests().await.unwrap_or_default()
    }

    /// Asserts that every request Telnyx received conforms to Telnyx's spec.
    pub async fn assert_requests_conform(&self) {
        let received = self.received().await;
        assert!(!received.is_empty(), "Telnyx received no request");
        for request in &received {
            let query = request
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let body = (!request.body.is_empty()).then(|| {
                serde_json::from_slice::<Value>(&request.body).expect("the gateway sends JSON")
            });
            let sent = spec::Sent {
                method: request.method.as_str(),
                path: request.url.path(),
                query,
                body,
            };
            if let Err(problems) = spec::check(&sent) {
                panic!("request does not conform to Telnyx's spec: {problems}");
            }
        }
    }

    /// Stops the gateway and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("gateway task ends cleanly");
        }
    }
}

/// The gateway's answer to a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub status: u16,
    pub body: String,
}

impl Posted {
    /// Asserts a 200 and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.status, 200, "webhook refused: {}", self.body);
        self
    }
}

/// The next event of a stream; fails the test after five seconds.
pub async fn next_event(stream: &mut Streaming<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an event within 5 s")
        .expect("the stream carries on")
        .expect("the stream is still open")
}

/// Asserts that nothing arrives on the stream for a while.
pub async fn assert_quiet(stream: &mut Streaming<Event>) {
    if let Ok(next) = tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
        panic!("expected no event, got {next:?}");
    }
}

/// The status a stream ends with, reading past events; fails after five seconds.
pub async fn end_status(stream: &mut Streaming<Event>) -> (Vec<Event>, tonic::Status) {
    let mut events = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("the stream ends within 5 s")
        {
            Ok(Some(event)) => events.push(event),
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => return (events, status),
        }
    }
}

/// A mock expectation for one Telnyx request with the headers every request
/// must carry: the bearer key, JSON, and the gateway's User-Agent.
pub fn telnyx(http_method: &str, telnyx_path: &str) -> MockBuilder {
    Mock::given(method(http_method))
        .and(path(format!("/v2{telnyx_path}")))
        .and(header(
            "authorization",
            format!("Bearer {TEST_API_KEY}").as_str(),
        ))
        .and(header("accept", "application/json"))
        .and(header_regex(
            "user-agent",
            r"^conference-gateway/\d+\.\d+\.\d+",
        ))
}

/// A JSON answer with `status`.
pub fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Telnyx's action answer, `{"data": {"result": "ok"}}`.
pub fn ok_result() -> ResponseTemplate {
    json_response(200, serde_json::json!({"data": {"result": "ok"}}))
}

/// Telnyx's error body.
pub fn telnyx_error(status: u16, code: &str, title: &str, detail: &str) -> ResponseTemplate {
    json_response(
        status,
        serde_json::json!({"errors": [{"code": code, "title": title, "detail": detail}]}),
    )
}

/// A mock expectation for a Telnyx request that carries exactly `body`, as
/// JSON, on top of the headers every request carries.
pub fn telnyx_with_body(http_method: &str, telnyx_path: &str, body: Value) -> MockBuilder {
    telnyx(http_method, telnyx_path)
        .and(header("content-type", "application/json"))
        .and(wiremock::matchers::body_json(body))
}

/// Asserts that `request` carried exactly the `expected` query pairs, in any
/// order, and nothing else.
pub fn assert_query(request: &wiremock::Request, expected: &[(&str, &str)]) {
    let mut sent: Vec<(String, String)> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    sent.sort();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(sent, expected, "query string of {}", request.url);
}

/// Asserts that `status` refuses the request for `field`, the way the
/// gateway's validation does: INVALID_ARGUMENT, the message led by the
/// field's name, and a BadRequest detail naming it.
pub fn assert_invalid_field(status: &tonic::Status, field: &str) {
    use tonic_types::StatusExt;
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "{field}: {status:?}"
    );
    assert!(
        status.message().starts_with(&format!("{field} ")),
        "{field}: message {:?}",
        status.message()
    );
    let violations = status.get_details_bad_request().expect("BadRequest detail");
    assert_eq!(violations.field_violations[0].field, field);
}

impl TestGateway {
    /// Mounts `mock`, answering `response`, expected exactly once.
    pub async fn expect_once(&self, mock: MockBuilder, response: ResponseTemplate) {
        mock.respond_with(response)
            .expect(1)
            .mount(&self.telnyx)
            .await;
    }
}

/// Puts each call into `queue`, in order, through the gateway.
pub async fn enqueue_all(
    queues: &mut QueueServiceClient<AuthedChannel>,
    queue: &str,
    calls: &[&String],
) {
    for call in calls {
        queues
            .enqueue_call(api::v1::EnqueueCallRequest {
                call_control_id: (*call).clone(),
                queue_name: queue.into(),
                ..Default::default()
            })
            .await
            .expect("the call is enqueued");
    }
}

/// Who waits in `queue`, and at which position, as ListQueueCalls reports it.
pub async fn queue_positions(
    queues: &mut QueueServiceClient<AuthedChannel>,
    queue: &str,
) -> Vec<(String, Option<i32>)> {
    queues
        .list_queue_calls(api::v1::ListQueueCallsRequest {
            queue_name: queue.into(),
            ..Default::default()
        })
        .await
        .expect("the queue is listed")
        .into_inner()
        .queue_calls
        .into_iter()
        .map(|c| (c.call_control_id, c.queue_position))
        .collect()
}
