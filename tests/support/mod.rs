//! Test helpers: a real gateway on port 0, wiremock standing in for Telnyx,
//! and real tonic clients, so a test is three lines of setup.

#![allow(dead_code, unused_imports)]

pub mod receiver;
pub mod spec;

use std::net::SocketAddr;

use clap::Parser;
use conference_gateway::app::Application;
use conference_gateway::config::Config;
use conference_gateway::proto::v1::{
    call_service_client::CallServiceClient, conference_service_client::ConferenceServiceClient,
    queue_service_client::QueueServiceClient,
};
use serde_json::Value;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use wiremock::matchers::{header, header_regex, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The API key the gateway under test presents to the mock Telnyx.
pub const TEST_API_KEY: &str = "KEY0123456789TESTSECRET";

/// A running gateway wired to a mock Telnyx.
pub struct TestGateway {
    pub telnyx: MockServer,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestGateway {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts a gateway with extra command-line settings (`--telnyx-max-retries`, ...).
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let telnyx = MockServer::start().await;
        let base_url = format!("{}/v2", telnyx.uri());
        let mut args = vec![
            "conference-gateway",
            "--telnyx-api-key",
            TEST_API_KEY,
            "--telnyx-base-url",
            &base_url,
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        let config = Config::try_parse_from(args).expect("test settings parse");
        let app = Application::build(&config).await.expect("gateway starts");
        let grpc_addr = app.grpc_addr();
        let http_addr = app.http_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("gateway runs");
        });
        let channel = Channel::from_shared(format!("http://{grpc_addr}"))
            .expect("valid URI")
            .connect()
            .await
            .expect("gateway accepts connections");
        TestGateway {
            telnyx,
            grpc_addr,
            http_addr,
            channel,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn conferences(&self) -> ConferenceServiceClient<Channel> {
        ConferenceServiceClient::new(self.channel.clone())
    }

    pub fn queues(&self) -> QueueServiceClient<Channel> {
        QueueServiceClient::new(self.channel.clone())
    }

    pub fn calls(&self) -> CallServiceClient<Channel> {
        CallServiceClient::new(self.channel.clone())
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
