//! The real binary as Kubernetes runs it: secrets never reach its logs, and
//! SIGTERM drains it within the grace period with streams ended cleanly.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BearerToken, TEST_API_KEY, TEST_CALLER_TOKEN, ok_result, telnyx};
use api::v1::{
    EndConferenceRequest, SubscribeRequest, conference_service_client::ConferenceServiceClient,
    event_service_client::EventServiceClient,
};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};
use wiremock::MockServer;

/// Two distinct free ports (both held while choosing, so they differ).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// The gateway binary against `telnyx`, logging at debug level to a pipe.
pub(crate) struct Gateway {
    child: Child,
    pub(crate) grpc: u16,
    pub(crate) http: u16,
    /// What the listeners were given and callers connect to: an IP or a host name.
    host: &'static str,
    /// Everything the process logged; read as it comes so a full pipe
    /// never blocks the process.
    logs: std::thread::JoinHandle<String>,
}

impl Gateway {
    pub(crate) async fn start(telnyx: &MockServer, extra_env: &[(&str, &str)]) -> Gateway {
        Gateway::start_on("127.0.0.1", telnyx, extra_env).await
    }

    /// Like [`Gateway::start`], with both listeners given as `host:port`.
    pub(crate) async fn start_on(
        host: &'static str,
        telnyx: &MockServer,
        extra_env: &[(&str, &str)],
    ) -> Gateway {
        let (grpc, http) = free_ports();
        let mut command = Command::new(env!("CARGO_BIN_EXE_conference-gateway"));
        command
            .env_clear()
            .env("RUST_LOG", "debug")
            .env("TELNYX_API_KEY", TEST_API_KEY)
            .env("TELNYX_BASE_URL", format!("{}/v2", telnyx.uri()))
            .env(
                "TELNYX_PUBLIC_KEY",
                crate::support::webhook::public_key(&crate::support::webhook::test_key()),
            )
            .env("GATEWAY_AUTH_TOKENS", format!("tests:{TEST_CALLER_TOKEN}"))
            .env("GATEWAY_GRPC_ADDR", format!("{host}:{grpc}"))
            .env("GATEWAY_HTTP_ADDR", format!("{host}:{http}"))
            .env("GATEWAY_RECOVERY", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let logs = std::thread::spawn(move || {
            let mut logs = String::new();
            let _ = stderr.read_to_string(&mut logs);
            logs
        });
        let gateway = Gateway {
            child,
            grpc,
            http,
            host,
            logs,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while reqwest::get(format!("http://{host}:{http}/readyz"))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the gateway never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        gateway
    }

    pub(crate) async fn channel(&self) -> InterceptedService<Channel, BearerToken> {
        let channel = Channel::from_shared(format!("http://{}:{}", self.host, self.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        InterceptedService::new(channel, BearerToken::new(TEST_CALLER_TOKEN))
    }

    /// The process id, to read its memory from `/proc`.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code and everything it logged.
    pub(crate) fn wait(mut self, within: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the gateway did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.code(), self.logs.join().unwrap_or_default())
    }
}

fn end() -> EndConferenceRequest {
    EndConferenceRequest {
        conference_id: "c1".into(),
        command_id: "cmd-1".into(),
    }
}

#[tokio::test]
async fn secrets_never_reach_the_logs_even_at_debug_level() {
    let telnyx_mock = MockServer::start().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result())
        .mount(&telnyx_mock)
        .await;
    let gateway = Gateway::start(&telnyx_mock, &[]).await;
    ConferenceServiceClient::new(gateway.channel().await)
        .end_conference(end())
        .await
        .unwrap();
    let wrong = InterceptedService::new(
        Channel::from_shared(format!("http://127.0.0.1:{}", gateway.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap(),
        BearerToken::new("a-wrong-token-that-must-not-be-logged"),
    );
    let _ = ConferenceServiceClient::new(wrong)
        .end_conference(end())
        .await;
    gateway.terminate();
    // Waited for off the runtime, so the client connections can still answer
    // the server's goodbye and let it close them.
    let (code, logs) = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    assert!(logs.contains("DEBUG"), "debug logging was on: {logs}");
    for secret in [
        TEST_API_KEY,
        TEST_CALLER_TOKEN,
        "a-wrong-token-that-must-not-be-logged",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs:\n{logs}");
    }
}

#[tokio::test]
async fn sigterm_ends_streams_finishes_calls_and_exits_zero_within_the_grace() {
    let telnyx_mock = MockServer::start().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result().set_delay(Duration::from_millis(1500)))
        .mount(&telnyx_mock)
        .await;
    let gateway = Gateway::start(&telnyx_mock, &[("GATEWAY_SHUTDOWN_GRACE_SECS", "8")]).await;
    let channel = gateway.channel().await;
    let mut stream = EventServiceClient::new(channel.clone())
        .subscribe(SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut client = ConferenceServiceClient::new(channel);
    let in_flight = tokio::spawn(async move { client.end_conference(end()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    gateway.terminate();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream ends promptly");
    let status = ended.expect_err("the stream ends with a status");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    in_flight
        .await
        .unwrap()
        .expect("the in-flight call completes");

    let (code, _) = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(8)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

/// Waits until the mock Telnyx has received `count` requests: a call is then
/// in flight inside the gateway, holding the drain open.
async fn wait_for_requests(telnyx: &MockServer, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while telnyx.received_requests().await.unwrap_or_default().len() < count {
        assert!(Instant::now() < deadline, "the call never reached Telnyx");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Posts one signed webhook for `data` to the gateway's HTTP port.
async fn post_event(http: u16, data: &serde_json::Value) -> (u16, String) {
    use crate::support::webhook;
    let body = webhook::body(data);
    let timestamp = webhook::now().to_string();
    let signature = webhook::sign(&webhook::test_key(), &timestamp, &body);
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{http}/webhooks/telnyx"))
        .header("content-type", "application/json")
        .header("telnyx-timestamp", timestamp)
        .header("telnyx-signature-ed25519", signature)
        .body(body)
        .send()
        .await
        .expect("the gateway answers during the drain");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn during_the_drain_the_in_process_bus_refuses_webhooks_rather_than_lose_them() {
    use crate::support::webhook;
    let telnyx_mock = MockServer::start().await;
    // An in-flight call holds the drain open while webhooks arrive.
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result().set_delay(Duration::from_millis(3000)))
        .mount(&telnyx_mock)
        .await;
    let gateway = Gateway::start(&telnyx_mock, &[("GATEWAY_SHUTDOWN_GRACE_SECS", "8")]).await;
    let channel = gateway.channel().await;
    let mut stream = EventServiceClient::new(channel.clone())
        .subscribe(SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = webhook::event(
        "call.hangup",
        serde_json::json!({"call_control_id": "v3:a"}),
    );
    assert_eq!(post_event(gateway.http, &before).await.0, 200);
    let received = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the event arrives")
        .unwrap()
        .expect("an event");
    assert_eq!(received.id, before["id"].as_str().unwrap());

    let mut client = ConferenceServiceClient::new(channel);
    let in_flight = tokio::spawn(async move { client.end_conference(end()).await });
    wait_for_requests(&telnyx_mock, 1).await;
    gateway.terminate();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream ends promptly");
    assert_eq!(ended.unwrap_err().code(), Code::Unavailable);

    // Every subscriber is gone and the history dies with the process: an
    // event answered 200 now would reach no one, so each must be refused.
    let mut answers = Vec::new();
    for i in 0..20 {
        let data = webhook::event(
            "call.hangup",
            serde_json::json!({"call_control_id": format!("v3:drain-{i}")}),
        );
        answers.push(post_event(gateway.http, &data).await);
    }
    for (status, body) in &answers {
        assert_eq!(*status, 503, "{answers:?}");
        assert!(body.contains("shutting down"), "{body}");
    }
    in_flight
        .await
        .unwrap()
        .expect("the in-flight call completes");
    let (code, _) = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(8)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn during_the_drain_a_replica_with_redis_keeps_accepting_and_loses_nothing() {
    use crate::support::webhook;
    let redis = crate::support::redis::RedisServer::start();
    let url = redis.url();
    let telnyx_mock = MockServer::start().await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result().set_delay(Duration::from_millis(3000)))
        .mount(&telnyx_mock)
        .await;
    let env = [
        ("GATEWAY_SHUTDOWN_GRACE_SECS", "8"),
        ("REDIS_URL", url.as_str()),
    ];
    let draining = Gateway::start(&telnyx_mock, &env).await;
    let channel = draining.channel().await;
    let mut stream = EventServiceClient::new(channel.clone())
        .subscribe(SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = webhook::event(
        "call.hangup",
        serde_json::json!({"call_control_id": "v3:a"}),
    );
    assert_eq!(post_event(draining.http, &before).await.0, 200);
    let cursor = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the event arrives")
        .unwrap()
        .expect("an event")
        .cursor;

    let mut client = ConferenceServiceClient::new(channel);
    let in_flight = tokio::spawn(async move { client.end_conference(end()).await });
    wait_for_requests(&telnyx_mock, 1).await;
    draining.terminate();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream ends promptly");
    assert_eq!(ended.unwrap_err().code(), Code::Unavailable);
    let mut accepted = Vec::new();
    for i in 0..20 {
        let data = webhook::event(
            "call.hangup",
            serde_json::json!({"call_control_id": format!("v3:drain-{i}")}),
        );
        let (status, body) = post_event(draining.http, &data).await;
        match status {
            200 => accepted.push(data["id"].as_str().unwrap().to_owned()),
            503 => {}
            other => panic!("answered {other}: {body}"),
        }
    }
    assert_eq!(
        accepted.len(),
        20,
        "Redis outlives the replica: it keeps accepting"
    );
    in_flight
        .await
        .unwrap()
        .expect("the in-flight call completes");
    let (code, _) = tokio::task::spawn_blocking(move || draining.wait(Duration::from_secs(8)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));

    // Every event answered 200 reaches a subscriber resuming on the next replica.
    let next = Gateway::start(&telnyx_mock, &env).await;
    let mut resumed = EventServiceClient::new(next.channel().await)
        .subscribe(SubscribeRequest {
            resume_after: cursor,
            ..SubscribeRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    for _ in 0..accepted.len() {
        let event = tokio::time::timeout(Duration::from_secs(5), resumed.message())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("an event");
        got.push(event.id);
    }
    assert_eq!(got, accepted);
    next.terminate();
    drop(resumed);
    let (code, _) = tokio::task::spawn_blocking(move || next.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}
