//! Spans leave the process: the real binary, with OTEL_EXPORTER_OTLP_ENDPOINT
//! set, exports over OTLP/gRPC to a collector running in the test. A control
//! call gives a server span under the caller's `traceparent` and a client span
//! for the Telnyx request, whose `traceparent` header names that client span;
//! a webhook gives a span naming the event it published.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use serde_json::json;
use tonic::transport::server::TcpIncoming;
use wiremock::MockServer;
use wiremock::matchers::header_regex;

use crate::process::Gateway;
use crate::support::{ok_result, telnyx, webhook};
use api::v1::{
    EndConferenceRequest, SubscribeRequest, conference_service_client::ConferenceServiceClient,
    event_service_client::EventServiceClient,
};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/gRPC trace collector that keeps every span it receives, with the
/// `service.name` of the resource that sent it.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| text(&resource.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    /// Serves on a free loopback port; the endpoint URL to export to.
    async fn start() -> (Collector, String) {
        let collector = Collector::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let service = TraceServiceServer::new(collector.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        (collector, endpoint)
    }

    /// Waits up to ten seconds for a span named `name` that `matches`.
    async fn span(&self, name: &str, matches: impl Fn(&Span) -> bool) -> (String, Span) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .find(|(_, span)| span.name == name && matches(span))
            {
                return found.clone();
            }
            if tokio::time::Instant::now() > deadline {
                let names: Vec<String> = self
                    .spans
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(_, span)| span.name.clone())
                    .collect();
                panic!("no `{name}` span arrived; the collector has {names:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A string attribute's value.
fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .and_then(|value| match value {
            any_value::Value::StringValue(text) => Some(text.clone()),
            _ => None,
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The gateway binary exporting to `collector`, flushing every 50 ms (the
/// standard `OTEL_BSP_SCHEDULE_DELAY`) so the test need not wait 5 s.
async fn exporting_gateway(telnyx: &MockServer, endpoint: &str) -> Gateway {
    Gateway::start(
        telnyx,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await
}

#[tokio::test]
async fn a_control_call_exports_a_server_and_a_client_span_in_the_callers_trace() {
    let (collector, endpoint) = Collector::start().await;
    let telnyx_mock = MockServer::start().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .and(header_regex(
            "traceparent",
            &format!("^00-{CALLER_TRACE}-[0-9a-f]{{16}}-01$"),
        ))
        .respond_with(ok_result())
        .expect(1)
        .mount(&telnyx_mock)
        .await;
    let gateway = exporting_gateway(&telnyx_mock, &endpoint).await;

    let mut request = tonic::Request::new(EndConferenceRequest {
        conference_id: "c1".into(),
        command_id: "cmd-1".into(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")
            .parse()
            .unwrap(),
    );
    ConferenceServiceClient::new(gateway.channel().await)
        .end_conference(request)
        .await
        .unwrap();

    let (service, server) = collector
        .span("rpc", |span| hex(&span.trace_id) == CALLER_TRACE)
        .await;
    assert_eq!(service, "conference-gateway");
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(
        hex(&server.parent_span_id),
        CALLER_SPAN,
        "the server span is the caller's child"
    );
    assert_eq!(
        text(&server.attributes, "method").as_deref(),
        Some("EndConference")
    );
    let (_, client) = collector
        .span("telnyx", |span| span.parent_span_id == server.span_id)
        .await;
    assert_eq!(client.kind, SpanKind::Client as i32);
    assert_eq!(hex(&client.trace_id), CALLER_TRACE);

    let sent = telnyx_mock.received_requests().await.unwrap();
    assert_eq!(
        sent[0].headers["traceparent"].to_str().unwrap(),
        format!("00-{CALLER_TRACE}-{}-01", hex(&client.span_id)),
        "Telnyx's request names the exported client span"
    );

    gateway.terminate();
    let (code, logs) = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("exporting spans over OTLP"), "{logs}");
    assert!(
        !logs.contains(&endpoint),
        "the endpoint may carry credentials and is not logged: {logs}"
    );
}

#[tokio::test]
async fn a_webhook_exports_a_span_naming_the_event_it_published() {
    let (collector, endpoint) = Collector::start().await;
    let telnyx_mock = MockServer::start().await;
    let gateway = exporting_gateway(&telnyx_mock, &endpoint).await;
    let mut events = EventServiceClient::new(gateway.channel().await)
        .subscribe(SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();

    let data = webhook::event(
        "conference.created",
        json!({"conference_id": "conf-1", "call_control_id": "v3:abc"}),
    );
    let body = webhook::body(&data);
    let timestamp = webhook::now().to_string();
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/webhooks/telnyx", gateway.http))
        .header("content-type", "application/json")
        .header("telnyx-timestamp", &timestamp)
        .header(
            "telnyx-signature-ed25519",
            webhook::sign(&webhook::test_key(), &timestamp, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let event = tokio::time::timeout(Duration::from_secs(5), events.message())
        .await
        .expect("the event arrives")
        .unwrap()
        .expect("an event");
    let id = data["id"].as_str().unwrap();
    assert_eq!(event.id, id);

    let (service, span) = collector
        .span("webhook", |span| {
            text(&span.attributes, "event.id").as_deref() == Some(id)
        })
        .await;
    assert_eq!(service, "conference-gateway");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(
        text(&span.attributes, "event.type").as_deref(),
        Some("conference.created")
    );
    assert_eq!(
        text(&span.attributes, "event.cursor"),
        Some(event.cursor),
        "the span names the cursor subscribers received"
    );

    gateway.terminate();
    let (code, logs) = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{logs}");
}
