//! Abuse, replayed against the real binary: slow clients, huge filters, huge
//! echoes and huge upstream answers. Each test checks the attack is refused
//! as documented, that the probes and valid webhooks keep answering, and that
//! memory stays within the documented bounds.

use std::time::{Duration, Instant};

use api::v1::{
    EndConferenceRequest, ListConferencesRequest, SubscribeRequest,
    conference_service_client::ConferenceServiceClient, event_service_client::EventServiceClient,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::StatusExt as _;
use wiremock::MockServer;

use crate::process::Gateway;
use crate::support::{
    AuthedChannel, BearerToken, TEST_CALLER_TOKEN, telnyx, telnyx_error, webhook,
};

/// The resident memory of process `pid`, in KiB, from `/proc/PID/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc is readable");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Stops the gateway with SIGTERM and checks it exits cleanly.
async fn stop(gateway: Gateway) {
    gateway.terminate();
    let (code, logs) = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{logs}");
}

/// A client that opens a new connection for every request, as probes do.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// `GET path` on the gateway's HTTP listener: its status.
async fn probe(client: &reqwest::Client, gateway: &Gateway, path: &str) -> u16 {
    client
        .get(format!("http://127.0.0.1:{}{path}", gateway.http))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{path} did not answer: {error}"))
        .status()
        .as_u16()
}

/// Posts a valid, signed webhook: the gateway's answer.
async fn post_webhook(client: &reqwest::Client, gateway: &Gateway) -> u16 {
    let data = webhook::event("call.answered", json!({"call_control_id": "v3:abuse"}));
    let body = webhook::body(&data);
    let timestamp = webhook::now().to_string();
    let signature = webhook::sign(&webhook::test_key(), &timestamp, &body);
    client
        .post(format!("http://127.0.0.1:{}/webhooks/telnyx", gateway.http))
        .header("content-type", "application/json")
        .header("telnyx-timestamp", timestamp)
        .header("telnyx-signature-ed25519", signature)
        .body(body)
        .send()
        .await
        .expect("the webhook is answered")
        .status()
        .as_u16()
}

/// Whether the gateway closed `stream` within `within`: the read ends (EOF
/// or reset) rather than waiting.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // An answer (a 408, say) may come before the close.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off_while_probes_and_webhooks_keep_answering() {
    let telnyx_mock = MockServer::start().await;
    let gateway = Gateway::start(
        &telnyx_mock,
        &[
            ("GATEWAY_HTTP_MAX_CONNECTIONS", "100"),
            ("GATEWAY_HTTP_HEADER_TIMEOUT_MS", "2000"),
        ],
    )
    .await;
    let client = fresh_client();
    // Warm up, so that what the attack costs is what is measured.
    assert_eq!(post_webhook(&client, &gateway).await, 200);
    let rss_before = rss_kib(gateway.pid());

    // Three times the cap of connections that start a request and never
    // finish its headers.
    let address = format!("127.0.0.1:{}", gateway.http);
    let mut attackers = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"POST /webhooks/telnyx HTTP/1.1\r\nhost: gateway\r\ncontent-type: appl")
            .await
            .unwrap();
        attackers.push(stream);
    }
    // The cap is full of them: the probes and Telnyx still get through.
    for _ in 0..5 {
        assert_eq!(probe(&client, &gateway, "/healthz").await, 200);
        assert_eq!(probe(&client, &gateway, "/readyz").await, 200);
        assert_eq!(post_webhook(&client, &gateway).await, 200);
    }
    // Every slow connection is closed: the oldest at once to make room, the
    // rest by the header timeout.
    let mut still_open = 0;
    for stream in &mut attackers {
        if !closed_within(stream, Duration::from_secs(5)).await {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "slow connections outlived the header timeout"
    );
    assert_eq!(probe(&client, &gateway, "/healthz").await, 200);
    assert_eq!(post_webhook(&client, &gateway).await, 200);
    let rss_after = rss_kib(gateway.pid());
    println!("slow headers: RSS {rss_before} KiB before, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 32 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    stop(gateway).await;
}

#[tokio::test]
async fn idle_kept_alive_connections_are_closed() {
    let telnyx_mock = MockServer::start().await;
    let gateway = Gateway::start(
        &telnyx_mock,
        &[
            ("GATEWAY_HTTP_IDLE_TIMEOUT_MS", "500"),
            ("GATEWAY_HTTP_HEADER_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let mut stream = TcpStream::connect(format!("127.0.0.1:{}", gateway.http))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"ok\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(read > 0, "closed before answering");
        answer.extend_from_slice(&buf[..read]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    // Kept alive, then closed once idle for the idle timeout, long before
    // the header timeout.
    assert!(closed_within(&mut stream, Duration::from_secs(5)).await);
    stop(gateway).await;
}

#[tokio::test]
async fn slow_bodies_get_408_and_the_probes_answer_on_the_reserve() {
    let telnyx_mock = MockServer::start().await;
    let gateway = Gateway::start(
        &telnyx_mock,
        &[
            ("GATEWAY_HTTP_MAX_CONNECTIONS", "20"),
            ("GATEWAY_HTTP_BODY_TIMEOUT_MS", "2000"),
        ],
    )
    .await;
    let client = fresh_client();
    // Connections that send a webhook's headers, then its body never.
    let address = format!("127.0.0.1:{}", gateway.http);
    let timestamp = webhook::now().to_string();
    let signature = webhook::sign(&webhook::test_key(), &timestamp, b"{}");
    let head = format!(
        "POST /webhooks/telnyx HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
         content-length: 1000\r\ntelnyx-timestamp: {timestamp}\r\ntelnyx-signature-ed25519: \
         {signature}\r\n\r\n{{"
    );
    let mut attackers = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        attackers.push(stream);
    }
    // Let the gateway take every request in, so all 20 are mid-request.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every place is mid-request: the probes are served on the reserve, and
    // anything else is told to come back.
    for _ in 0..5 {
        assert_eq!(probe(&client, &gateway, "/healthz").await, 200);
        assert_eq!(probe(&client, &gateway, "/readyz").await, 200);
    }
    assert_eq!(post_webhook(&client, &gateway).await, 503);
    // The request timeout ends the slow bodies with 408 ...
    for stream in &mut attackers {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
            .await
            .expect("the slow request is ended");
        let _ = read;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    // ... and webhooks are accepted again.
    assert_eq!(post_webhook(&client, &gateway).await, 200);
    stop(gateway).await;
}

/// A channel of its own to the gateway's gRPC listener, with the test token.
async fn own_channel(gateway: &Gateway) -> AuthedChannel {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", gateway.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    InterceptedService::new(channel, BearerToken::new(TEST_CALLER_TOKEN))
}

fn subscribe_to(types: Vec<String>) -> SubscribeRequest {
    SubscribeRequest {
        event_types: types,
        ..SubscribeRequest::default()
    }
}

#[tokio::test]
async fn huge_filters_are_refused_naming_the_limit() {
    let telnyx_mock = MockServer::start().await;
    let gateway = Gateway::start(&telnyx_mock, &[]).await;
    let mut events = EventServiceClient::new(gateway.channel().await);
    let many: Vec<String> = (0..100_000).map(|i| format!("call.event{i}")).collect();
    let status = events.subscribe(subscribe_to(many)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains(
            "100000 patterns, more than the 64 allowed (GATEWAY_SUBSCRIBE_MAX_EVENT_TYPES)"
        ),
        "{}",
        status.message()
    );
    // A 300 KB pattern of control characters: refused by its size, quoted nowhere.
    let huge = "\u{7}".repeat(300 * 1024);
    let status = events
        .subscribe(subscribe_to(vec![huge]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("GATEWAY_SUBSCRIBE_MAX_PATTERN_BYTES"),
        "{}",
        status.message()
    );
    assert!(status.message().len() < 512, "{}", status.message().len());
    // Twenty at once, each a 4 MB pattern of control characters: all refused
    // by size, none quoted, and the memory they took is given back.
    let rss_before = rss_kib(gateway.pid());
    let refusals = futures::future::join_all((0..20).map(|_| {
        let mut events = events.clone();
        async move {
            let pattern = "\u{1}".repeat(4_000_000);
            events.subscribe(subscribe_to(vec![pattern])).await
        }
    }))
    .await;
    for refusal in refusals {
        let status = refusal.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().len() < 512);
    }
    let rss_after = rss_kib(gateway.pid());
    println!("20 x 4 MB patterns: RSS {rss_before} KiB before, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    // Within the limits, a subscription starts, and webhooks are accepted.
    let within: Vec<String> = (0..64).map(|i| format!("call.event{i}")).collect();
    events.subscribe(subscribe_to(within)).await.unwrap();
    assert_eq!(post_webhook(&reqwest::Client::new(), &gateway).await, 200);
    stop(gateway).await;
}

#[tokio::test]
async fn streams_are_capped_per_connection_and_per_caller_health_watch_included() {
    let telnyx_mock = MockServer::start().await;
    let gateway = Gateway::start(
        &telnyx_mock,
        &[
            ("GATEWAY_MAX_STREAMS_PER_CONNECTION", "3"),
            ("GATEWAY_MAX_STREAMS_PER_CALLER", "5"),
        ],
    )
    .await;
    let first = own_channel(&gateway).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            EventServiceClient::new(first.clone())
                .subscribe(SubscribeRequest::default())
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let status = EventServiceClient::new(first.clone())
        .subscribe(SubscribeRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("GATEWAY_MAX_STREAMS_PER_CONNECTION"),
        "{}",
        status.message()
    );
    // Another connection of the same caller: up to the caller's cap.
    let second = own_channel(&gateway).await;
    for _ in 0..2 {
        held.push(
            EventServiceClient::new(second.clone())
                .subscribe(SubscribeRequest::default())
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let status = EventServiceClient::new(second.clone())
        .subscribe(SubscribeRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("GATEWAY_MAX_STREAMS_PER_CALLER"),
        "{}",
        status.message()
    );
    // Ending a stream frees its place.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match EventServiceClient::new(second.clone())
            .subscribe(SubscribeRequest::default())
            .await
        {
            Ok(stream) => {
                held.push(stream.into_inner());
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                assert!(Instant::now() < deadline, "the place was never freed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // The unauthenticated health Watch counts per connection too, and Check
    // keeps answering.
    let health_channel = Channel::from_shared(format!("http://127.0.0.1:{}", gateway.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(health_channel);
    let mut watches = Vec::new();
    for _ in 0..3 {
        watches.push(
            health
                .watch(HealthCheckRequest::default())
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let status = health
        .watch(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let serving = health
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serving.status, ServingStatus::Serving as i32);
    drop(watches);
    drop(held);
    stop(gateway).await;
}

#[tokio::test]
async fn heavy_filters_do_not_hold_up_webhooks() {
    let telnyx_mock = MockServer::start().await;
    let gateway = Gateway::start(&telnyx_mock, &[]).await;
    // Fifty streams with the largest filters allowed: 63 prefixes that match
    // nothing, and the type that is posted.
    let mut patterns: Vec<String> = (0..63)
        .map(|i| format!("conference.{}{i}.*", "x".repeat(100)))
        .collect();
    patterns.push("call.answered".to_owned());
    let mut streams = Vec::new();
    for _ in 0..5 {
        let channel = own_channel(&gateway).await;
        for _ in 0..10 {
            streams.push(
                EventServiceClient::new(channel.clone())
                    .subscribe(subscribe_to(patterns.clone()))
                    .await
                    .unwrap()
                    .into_inner(),
            );
        }
    }
    // Two hundred webhooks, ten at a time: every one accepted.
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut answers = Vec::new();
    for _ in 0..20 {
        let batch = futures::future::join_all((0..10).map(|_| post_webhook(&client, &gateway)));
        answers.extend(batch.await);
    }
    println!(
        "200 webhooks with 50 heavy subscribers answered in {:?}",
        started.elapsed()
    );
    assert!(answers.iter().all(|status| *status == 200), "{answers:?}");
    // Every subscriber receives every event, in the order accepted.
    let mut first_order: Option<Vec<String>> = None;
    for stream in &mut streams {
        let mut ids = Vec::new();
        for _ in 0..200 {
            let event = tokio::time::timeout(Duration::from_secs(10), stream.message())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream is open");
            ids.push(event.id);
        }
        match &first_order {
            Some(order) => assert_eq!(&ids, order),
            None => first_order = Some(ids),
        }
    }
    stop(gateway).await;
}

#[tokio::test]
async fn a_huge_telnyx_error_detail_becomes_a_short_status() {
    let telnyx_mock = MockServer::start().await;
    let detail = format!("{}\u{1b}[2J", "d".repeat(2 * 1024 * 1024));
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(telnyx_error(422, "10015", "Invalid value", &detail))
        .mount(&telnyx_mock)
        .await;
    let gateway = Gateway::start(&telnyx_mock, &[]).await;
    let status = ConferenceServiceClient::new(gateway.channel().await)
        .end_conference(EndConferenceRequest {
            conference_id: "c1".into(),
            command_id: "cmd-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{:?}", status.code());
    assert!(
        status
            .message()
            .starts_with("Telnyx answered 422: 10015 Invalid value (ddd"),
        "{}",
        &status.message()[..80]
    );
    assert!(status.message().len() < 2048, "{}", status.message().len());
    assert!(status.message().ends_with(" bytes)"));
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert!(info.metadata["detail"].len() < 1024);
    assert!(
        info.metadata["detail"].ends_with(&format!("…({} bytes)", detail.len())),
        "{}",
        info.metadata["detail"]
    );
    stop(gateway).await;
}

/// A stand-in for Telnyx that answers every request 200 with `total` bytes
/// of JSON white space, streamed in chunks without a declared length, so the
/// gateway can only find out how large it is by reading it. Its base URL.
async fn streaming_telnyx(total: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = [b"10000\r\n".as_slice(), &[b' '; 0x10000], b"\r\n"].concat();
                for _ in 0..total / 0x10000 {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                let _ = stream.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    format!("http://{address}/v2")
}

#[tokio::test]
async fn a_50_mb_upstream_answer_is_refused_without_being_held() {
    let telnyx_mock = MockServer::start().await;
    let streaming = streaming_telnyx(50 * 1024 * 1024).await;
    let gateway = Gateway::start(
        &telnyx_mock,
        &[
            ("TELNYX_BASE_URL", &streaming),
            ("TELNYX_MAX_RETRIES", "0"),
            ("TELNYX_MAX_RESPONSE_BYTES", "1048576"),
        ],
    )
    .await;
    let channel = gateway.channel().await;
    let client = reqwest::Client::new();
    assert_eq!(post_webhook(&client, &gateway).await, 200);
    let rss_before = rss_kib(gateway.pid());
    // Ten calls, each answered 50 MB, while Telnyx keeps posting webhooks.
    let calls = async {
        let mut answers = Vec::new();
        for _ in 0..10 {
            answers.push(
                ConferenceServiceClient::new(channel.clone())
                    .list_conferences(ListConferencesRequest::default())
                    .await,
            );
        }
        answers
    };
    let webhooks = async {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(post_webhook(&client, &gateway).await);
        }
        statuses
    };
    let (answers, webhooks) = tokio::join!(calls, webhooks);
    assert!(webhooks.iter().all(|status| *status == 200), "{webhooks:?}");
    for answer in answers {
        let status = answer.unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{status:?}");
        assert_eq!(
            status.message(),
            "Telnyx answered with more than 1048576 bytes (TELNYX_MAX_RESPONSE_BYTES); the \
             answer was dropped"
        );
    }
    let rss_after = rss_kib(gateway.pid());
    println!("50 MB answers: RSS {rss_before} KiB before, {rss_after} KiB after ten");
    // Each answer was cut at the cap (1 MiB here): the process holds little
    // more than the allocator's retention of those buffers, where reading
    // the answers whole took over 100 MB per call.
    assert!(
        rss_after < rss_before + 16 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    stop(gateway).await;
}
