//! What the on-call engineer relies on: caller authentication, health and
//! readiness, reflection, metrics, load shedding, and a bounded shutdown.

use std::time::{Duration, Instant};

use crate::support::{BearerToken, TEST_CALLER_TOKEN, TestGateway, ok_result, telnyx};
use api::v1::{EndConferenceRequest, conference_service_client::ConferenceServiceClient};
use tonic::{Code, service::interceptor::InterceptedService};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

fn end() -> EndConferenceRequest {
    EndConferenceRequest {
        conference_id: "c1".into(),
        command_id: "cmd-1".into(),
    }
}

async fn mount_end(gateway: &TestGateway) {
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result())
        .mount(&gateway.telnyx)
        .await;
}

#[tokio::test]
async fn calls_without_a_token_or_with_a_wrong_one_are_unauthenticated() {
    let gateway = TestGateway::spawn().await;
    mount_end(&gateway).await;

    let mut anonymous = ConferenceServiceClient::new(gateway.channel());
    let status = anonymous.end_conference(end()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let wrong = InterceptedService::new(
        gateway.channel(),
        BearerToken::new("not-the-right-token-000"),
    );
    let status = ConferenceServiceClient::new(wrong)
        .end_conference(end())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    assert!(
        gateway.received().await.is_empty(),
        "nothing reaches Telnyx unauthenticated"
    );
    gateway
        .conferences()
        .end_conference(end())
        .await
        .expect("the right token passes");
}

#[tokio::test]
async fn tokens_rotate_through_the_file_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "# callers\nbilling:first-token-0123456789\n").unwrap();
    let path = file.to_str().unwrap().to_owned();
    let gateway = TestGateway::spawn_with(&["--auth-tokens-file", &path]).await;
    mount_end(&gateway).await;
    let client = |token: &str| {
        ConferenceServiceClient::new(InterceptedService::new(
            gateway.channel(),
            BearerToken::new(token),
        ))
    };

    client("first-token-0123456789")
        .end_conference(end())
        .await
        .unwrap();
    std::fs::write(&file, "billing:second-token-0123456789\n").unwrap();

    let rotated = Instant::now();
    loop {
        let old = client("first-token-0123456789").end_conference(end()).await;
        if let Err(status) = old {
            assert_eq!(status.code(), Code::Unauthenticated);
            break;
        }
        assert!(
            rotated.elapsed() < Duration::from_secs(10),
            "the file was never re-read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client("second-token-0123456789")
        .end_conference(end())
        .await
        .unwrap();
    // Tokens from GATEWAY_AUTH_TOKENS stay valid beside the file's.
    client(TEST_CALLER_TOKEN)
        .end_conference(end())
        .await
        .unwrap();
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let gateway = TestGateway::spawn().await;
    let mut health = HealthClient::new(gateway.channel());
    for service in [
        "",
        "conference_gateway.v1.ConferenceService",
        "conference_gateway.v1.CallService",
    ] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service:?}");
    }

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(gateway.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses
        .message()
        .await
        .unwrap()
        .expect("a reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "conference_gateway.v1.ConferenceService",
        "conference_gateway.v1.QueueService",
        "conference_gateway.v1.CallService",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn probes_answer_on_the_http_listener() {
    let gateway = TestGateway::spawn().await;
    assert_eq!(gateway.http_get("/healthz").await, (200, "ok\n".to_owned()));
    assert_eq!(
        gateway.http_get("/readyz").await,
        (200, "ready\n".to_owned())
    );
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let gateway = TestGateway::spawn().await;
    mount_end(&gateway).await;
    gateway.conferences().end_conference(end()).await.unwrap();
    let _ = ConferenceServiceClient::new(gateway.channel())
        .end_conference(end())
        .await;

    let (status, text) = gateway.http_get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"gateway_grpc_requests_total{method="EndConference",code="Ok",caller="tests"} 1"#,
        r#"gateway_grpc_requests_total{method="EndConference",code="Unauthenticated",caller="unauthenticated"} 1"#,
        r#"gateway_telnyx_requests_total{operation="EndConference",status="ok"} 1"#,
        // The refused call did not run: it has no latency to observe.
        r#"gateway_grpc_request_duration_seconds_count{method="EndConference"} 1"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}

#[tokio::test]
async fn strangers_cannot_add_metric_series() {
    let gateway = TestGateway::spawn().await;
    let (_, before) = gateway.http_get("/metrics").await;
    let mut grpc = tonic::client::Grpc::new(gateway.channel());
    for n in 0..40 {
        grpc.ready().await.unwrap();
        let path = format!("/random{n}.Service/Method{n}");
        let status = grpc
            .unary::<(), (), _>(
                tonic::Request::new(()),
                path.parse().unwrap(),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{path}");
    }
    let (_, after) = gateway.http_get("/metrics").await;
    assert!(!after.contains("Method"), "a path became a label:\n{after}");
    assert!(
        after.contains(
            r#"gateway_grpc_requests_total{method="unknown",code="Unauthenticated",caller="unauthenticated"} 40"#
        ),
        "{after}"
    );
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        series(&after),
        series(&before) + 1,
        "one counter, no histogram"
    );
}

#[tokio::test]
async fn overload_is_shed_with_resource_exhausted() {
    let gateway = TestGateway::spawn_with(&["--max-concurrent-calls", "1"]).await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result().set_delay(Duration::from_millis(800)))
        .mount(&gateway.telnyx)
        .await;
    let mut first = gateway.conferences();
    let slow = tokio::spawn(async move { first.end_conference(end()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = gateway
        .conferences()
        .end_conference(end())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    slow.await
        .unwrap()
        .expect("the call in flight still completes");
    let (_, text) = gateway.http_get("/metrics").await;
    for line in [
        r#"gateway_grpc_requests_total{method="EndConference",code="ResourceExhausted",caller="tests"} 1"#,
        // Only the call that ran is timed.
        r#"gateway_grpc_request_duration_seconds_count{method="EndConference"} 1"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}

#[tokio::test]
async fn shutdown_goes_unready_finishes_in_flight_calls_and_ends() {
    let gateway = TestGateway::spawn_with(&["--shutdown-grace-secs", "5"]).await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result().set_delay(Duration::from_millis(1500)))
        .mount(&gateway.telnyx)
        .await;
    let mut health = HealthClient::new(gateway.channel())
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = health.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    let mut client = gateway.conferences();
    let in_flight = tokio::spawn(async move { client.end_conference(end()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let http = gateway.http_addr;
    let started = Instant::now();
    let stopped = tokio::spawn(gateway.stop());

    let next = health.message().await.unwrap().unwrap();
    assert_eq!(
        next.status(),
        ServingStatus::NotServing,
        "health goes not-serving at once"
    );
    drop(health);
    let ready = reqwest::get(format!("http://{http}/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 503, "readiness drops at once");
    assert_eq!(ready.text().await.unwrap(), "not ready: shutting down\n");

    in_flight
        .await
        .unwrap()
        .expect("the in-flight call finishes");
    stopped.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn refuses_to_start_without_tokens_unless_allowed() {
    let binary = env!("CARGO_BIN_EXE_conference-gateway");
    let output = std::process::Command::new(binary)
        .env_clear()
        .env("TELNYX_API_KEY", "KEY")
        .env(
            "TELNYX_PUBLIC_KEY",
            crate::support::webhook::public_key(&crate::support::webhook::test_key()),
        )
        .env("GATEWAY_GRPC_ADDR", "127.0.0.1:0")
        .env("GATEWAY_HTTP_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("GATEWAY_AUTH_TOKENS") && stderr.contains("GATEWAY_AUTH_TOKENS_FILE"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[tokio::test]
async fn metrics_count_webhooks_events_and_subscribers() {
    let gateway = TestGateway::spawn().await;
    let mut stream = gateway
        .subscribe(api::v1::SubscribeRequest::default())
        .await;
    let data = crate::support::webhook::event(
        "conference.created",
        serde_json::json!({"conference_id": "c1"}),
    );
    gateway.post_event(&data).await.ok();
    gateway.post_event(&data).await.ok();
    let refused = gateway
        .post_signed(
            &crate::support::webhook::other_key(),
            &crate::support::webhook::body(&data),
        )
        .await;
    assert_eq!(refused.status, 401);
    crate::support::next_event(&mut stream).await;

    let (_, text) = gateway.http_get("/metrics").await;
    for line in [
        r#"gateway_webhooks_total{outcome="accepted"} 1"#,
        r#"gateway_webhooks_total{outcome="duplicate"} 1"#,
        r#"gateway_webhooks_total{outcome="invalid_signature"} 1"#,
        "gateway_events_published_total 1",
        "gateway_events_delivered_total 1",
        "gateway_subscribers 1",
        r#"gateway_grpc_requests_total{method="Subscribe",code="Ok",caller="tests"} 1"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    drop(stream);
    gateway.wait_for_subscribers(0).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gateway
        .http_get("/metrics")
        .await
        .1
        .contains("gateway_subscribers 0")
    {
        assert!(
            Instant::now() < deadline,
            "the subscriber gauge never went back to 0"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
