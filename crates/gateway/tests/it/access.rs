//! The access policy, rate limits and the audit trail, through real gRPC
//! clients: three callers (an operator allowed everything, a reporting
//! service allowed reads and some events, a dialer allowed Dial from one
//! connection), certificate identities under mutual TLS, a caller flooding
//! Dial, the account's dial limit across two replicas sharing a private
//! Redis, and the audit records the real binary writes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::Gateway;
use crate::support::{
    BearerToken, TEST_API_KEY, TestGateway, assert_quiet, json_response, next_event, ok_result,
    redis::RedisServer, telnyx,
};
use crate::tls::{authority, connect, issue, server_pki};
use api::v1::{
    DialRequest, EndConferenceRequest, GetCallStateRequest, GetConferenceRequest,
    GetQueueStateRequest, HangupRequest, ListQueuesRequest, SubscribeRequest, WatchQueueRequest,
    call_service_client::CallServiceClient, conference_service_client::ConferenceServiceClient,
    event_service_client::EventServiceClient, queue_service_client::QueueServiceClient,
    state_service_client::StateServiceClient,
};
use serde_json::{Value, json};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Status};
use tonic_types::StatusExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const OPERATOR: &str = "operator-token-0123456789abcdef";
const REPORTING: &str = "reporting-token-0123456789abcdef";
const DIALER: &str = "dialer-token-0123456789abcdef";
const STRANGER: &str = "stranger-token-0123456789abcdef";

/// The dialer's one connection.
const CONNECTION: &str = "1293384261075731461";

/// The issue's example policy.
const POLICY: &str = r#"
callers:
  reporting:
    allow: ["*/Get*", "*/List*", "conference_gateway.v1.EventService/Subscribe"]
    events: ["call.hangup", "conference.*"]
  dialer:
    allow: ["conference_gateway.v1.CallService/Dial"]
    connections: ["1293384261075731461"]
    rate: {per_second: 5, burst: 10}
  operator:
    allow: ["*"]
"#;

fn tokens() -> String {
    format!("operator:{OPERATOR},reporting:{REPORTING},dialer:{DIALER},stranger:{STRANGER}")
}

/// Replaces the file whole, as a Secret or ConfigMap update does, so the
/// gateway never reads half an edit.
fn write_policy(path: &Path, text: &str) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

fn policy_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("policy.yaml");
    write_policy(&path, text);
    path
}

async fn gateway_with_policy(policy: &Path, extra: &[&str]) -> TestGateway {
    let tokens = tokens();
    let mut args = vec![
        "--auth-tokens",
        tokens.as_str(),
        "--auth-policy-file",
        policy.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    TestGateway::spawn_with(&args).await
}

type Authed = InterceptedService<Channel, BearerToken>;

fn as_caller(gateway: &TestGateway, token: &str) -> Authed {
    InterceptedService::new(gateway.channel(), BearerToken::new(token))
}

fn dial(connection_id: &str) -> DialRequest {
    DialRequest {
        connection_id: connection_id.into(),
        to: vec!["+18005550100".into()],
        from: "+18005550101".into(),
        command_id: "dial-cmd".into(),
        ..Default::default()
    }
}

fn dialed() -> ResponseTemplate {
    json_response(
        200,
        json!({"data": {
            "record_type": "call",
            "call_control_id": "v3:dialed",
            "call_leg_id": "leg",
            "call_session_id": "session",
            "is_alive": true,
        }}),
    )
}

/// Answers every Telnyx request the tests make.
async fn mount_telnyx(server: &wiremock::MockServer) {
    telnyx("POST", "/calls")
        .respond_with(dialed())
        .mount(server)
        .await;
    telnyx("POST", "/calls/v3:x/actions/hangup")
        .respond_with(ok_result())
        .mount(server)
        .await;
    telnyx("POST", "/conferences/c1/actions/end")
        .respond_with(ok_result())
        .mount(server)
        .await;
    telnyx("GET", "/conferences/c1")
        .respond_with(json_response(
            200,
            json!({"data": {"id": "c1", "name": "standup", "record_type": "conference"}}),
        ))
        .mount(server)
        .await;
    telnyx("GET", "/queues")
        .respond_with(json_response(
            200,
            json!({"data": [], "meta": {"page_number": 1, "page_size": 20, "total_pages": 0, "total_results": 0}}),
        ))
        .mount(server)
        .await;
}

/// The outcome of one call, as allowed (reached Telnyx or answered) or the
/// refusal's status.
async fn refused<T>(call: impl std::future::Future<Output = Result<T, Status>>) -> Option<Status> {
    match call.await {
        Err(status) if status.code() == Code::PermissionDenied => Some(status),
        _ => None,
    }
}

fn denied_message(status: Option<Status>) -> String {
    status.expect("the call is refused").message().to_owned()
}

#[tokio::test]
async fn each_caller_may_do_exactly_what_the_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(&dir, POLICY);
    let gateway = gateway_with_policy(&policy, &[]).await;
    mount_telnyx(&gateway.telnyx).await;
    let get = || GetConferenceRequest {
        conference_id: "c1".into(),
        ..Default::default()
    };
    let hangup = || HangupRequest {
        call_control_id: "v3:x".into(),
        command_id: "hangup-cmd".into(),
        ..Default::default()
    };
    let list = || ListQueuesRequest::default();

    // The operator may do everything.
    let operator = as_caller(&gateway, OPERATOR);
    CallServiceClient::new(operator.clone())
        .dial(dial("any-connection"))
        .await
        .unwrap();
    CallServiceClient::new(operator.clone())
        .hangup(hangup())
        .await
        .unwrap();
    ConferenceServiceClient::new(operator.clone())
        .get_conference(get())
        .await
        .unwrap();
    QueueServiceClient::new(operator.clone())
        .list_queues(list())
        .await
        .unwrap();
    let reached = gateway.received().await.len();
    assert_eq!(reached, 4, "every call of the operator reaches Telnyx");

    // Reporting reads, and nothing else.
    let reporting = as_caller(&gateway, REPORTING);
    ConferenceServiceClient::new(reporting.clone())
        .get_conference(get())
        .await
        .unwrap();
    QueueServiceClient::new(reporting.clone())
        .list_queues(list())
        .await
        .unwrap();
    let message = denied_message(
        refused(CallServiceClient::new(reporting.clone()).dial(dial(CONNECTION))).await,
    );
    assert_eq!(
        message,
        r#"caller "reporting" may not call conference_gateway.v1.CallService/Dial"#
    );
    let message =
        denied_message(refused(CallServiceClient::new(reporting.clone()).hangup(hangup())).await);
    assert_eq!(
        message,
        r#"caller "reporting" may not call conference_gateway.v1.CallService/Hangup"#
    );
    // `*/Get*` reaches the state service too.
    let state = StateServiceClient::new(reporting.clone())
        .get_call_state(GetCallStateRequest {
            call_control_id: "v3:x".into(),
        })
        .await;
    assert_ne!(
        state.map_err(|s| s.code()).err(),
        Some(Code::PermissionDenied)
    );

    // The dialer dials from its connection, and does nothing else.
    let dialer = as_caller(&gateway, DIALER);
    CallServiceClient::new(dialer.clone())
        .dial(dial(CONNECTION))
        .await
        .unwrap();
    let message =
        denied_message(refused(CallServiceClient::new(dialer.clone()).dial(dial("999"))).await);
    assert_eq!(message, r#"caller "dialer" may not use connection "999""#);
    for status in [
        refused(CallServiceClient::new(dialer.clone()).hangup(hangup())).await,
        refused(ConferenceServiceClient::new(dialer.clone()).get_conference(get())).await,
        refused(
            StateServiceClient::new(dialer.clone()).get_call_state(GetCallStateRequest {
                call_control_id: "v3:x".into(),
            }),
        )
        .await,
    ] {
        assert!(
            denied_message(status)
                .starts_with(r#"caller "dialer" may not call conference_gateway.v1."#)
        );
    }

    // A caller with a token but no rules may do nothing.
    let stranger = as_caller(&gateway, STRANGER);
    let message =
        denied_message(refused(ConferenceServiceClient::new(stranger).get_conference(get())).await);
    assert_eq!(message, r#"caller "stranger" is not in the access policy"#);

    // Reporting's two reads and the dialer's one dial reached Telnyx; no
    // refused call did.
    assert_eq!(gateway.received().await.len(), reached + 3);
    let (_, metrics) = gateway.http_get("/metrics").await;
    for line in [
        r#"gateway_access_denied_total{caller="reporting",reason="method"} 2"#,
        r#"gateway_access_denied_total{caller="dialer",reason="resource"} 1"#,
        r#"gateway_access_denied_total{caller="dialer",reason="method"} 3"#,
        r#"gateway_access_denied_total{caller="stranger",reason="unknown_caller"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

/// A caller limited to some queues reads the state of those queues only,
/// through `StateService` as through `QueueService`; its other reads are
/// governed by `allow` alone.
#[tokio::test]
async fn a_caller_limited_to_some_queues_reads_only_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        &dir,
        r#"
callers:
  reporting:
    allow: ["conference_gateway.v1.StateService/*"]
    queues: ["support"]
"#,
    );
    let gateway = gateway_with_policy(&policy, &[]).await;
    let state = StateServiceClient::new(as_caller(&gateway, REPORTING));

    let own = state
        .clone()
        .get_queue_state(GetQueueStateRequest {
            queue_name: "support".into(),
        })
        .await
        .expect("its own queue's state");
    assert_eq!(own.into_inner().state.unwrap().queue_name, "support");
    let mut watching = state
        .clone()
        .watch_queue(WatchQueueRequest {
            queue_name: "support".into(),
        })
        .await
        .expect("its own queue is watched")
        .into_inner();
    assert!(
        watching.message().await.unwrap().is_some(),
        "the first state"
    );

    let message = denied_message(
        refused(state.clone().get_queue_state(GetQueueStateRequest {
            queue_name: "sales".into(),
        }))
        .await,
    );
    assert_eq!(message, r#"caller "reporting" may not use queue "sales""#);
    let message = denied_message(
        refused(state.clone().watch_queue(WatchQueueRequest {
            queue_name: "sales".into(),
        }))
        .await,
    );
    assert_eq!(message, r#"caller "reporting" may not use queue "sales""#);
    let call = state
        .clone()
        .get_call_state(GetCallStateRequest {
            call_control_id: "v3:x".into(),
        })
        .await;
    assert_ne!(
        call.map_err(|s| s.code()).err(),
        Some(Code::PermissionDenied),
        "calls are not queues"
    );

    let (_, metrics) = gateway.http_get("/metrics").await;
    let line = r#"gateway_access_denied_total{caller="reporting",reason="resource"} 2"#;
    assert!(metrics.contains(line), "{line} missing from\n{metrics}");
}

fn event(event_type: &str) -> Value {
    json!({
        "record_type": "event",
        "id": uuid::Uuid::new_v4().to_string(),
        "event_type": event_type,
        "occurred_at": "2024-06-01T08:00:00Z",
        "payload": {"call_control_id": "v3:x", "conference_id": "c1"},
    })
}

#[tokio::test]
async fn a_subscriber_receives_only_the_event_types_it_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(&dir, POLICY);
    let gateway = gateway_with_policy(&policy, &[]).await;
    let everything = || SubscribeRequest {
        event_types: vec!["*".into()],
        ..Default::default()
    };
    let mut reporting = EventServiceClient::new(as_caller(&gateway, REPORTING))
        .subscribe(everything())
        .await
        .unwrap()
        .into_inner();
    let mut operator = EventServiceClient::new(as_caller(&gateway, OPERATOR))
        .subscribe(everything())
        .await
        .unwrap()
        .into_inner();
    gateway.wait_for_subscribers(2).await;

    let posted = [
        "call.initiated",
        "call.hangup",
        "conference.created",
        "call.answered",
    ];
    for event_type in posted {
        gateway.post_event(&event(event_type)).await.ok();
    }
    for event_type in posted {
        assert_eq!(next_event(&mut operator).await.event_type, event_type);
    }
    assert_eq!(next_event(&mut reporting).await.event_type, "call.hangup");
    assert_eq!(
        next_event(&mut reporting).await.event_type,
        "conference.created"
    );
    assert_quiet(&mut reporting).await;

    // Asking only for what it may not see is refused, naming what it may.
    let status = EventServiceClient::new(as_caller(&gateway, REPORTING))
        .subscribe(SubscribeRequest {
            event_types: vec!["call.answered".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("call.hangup, conference.*"),
        "{status:?}"
    );
    // The dialer may not subscribe at all.
    let status = EventServiceClient::new(as_caller(&gateway, DIALER))
        .subscribe(everything())
        .await
        .unwrap_err();
    assert_eq!(
        status.message(),
        r#"caller "dialer" may not call conference_gateway.v1.EventService/Subscribe"#
    );
}

#[tokio::test]
async fn policy_edits_apply_within_two_seconds_and_broken_ones_keep_the_last_good() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(&dir, POLICY);
    let gateway = gateway_with_policy(&policy, &[]).await;
    mount_telnyx(&gateway.telnyx).await;
    let reporting = CallServiceClient::new(as_caller(&gateway, REPORTING));
    let end = || EndConferenceRequest {
        conference_id: "c1".into(),
        command_id: "end-cmd".into(),
    };
    let ends = ConferenceServiceClient::new(as_caller(&gateway, REPORTING));
    assert!(refused(ends.clone().end_conference(end())).await.is_some());

    let edited = POLICY.replace(
        r#"allow: ["*/Get*", "*/List*","#,
        r#"allow: ["*/Get*", "*/List*", "*/EndConference","#,
    );
    assert_ne!(edited, POLICY);
    write_policy(&policy, &edited);
    let edited_at = Instant::now();
    loop {
        if refused(ends.clone().end_conference(end())).await.is_none() {
            break;
        }
        assert!(
            edited_at.elapsed() < Duration::from_secs(2),
            "the edit did not apply within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A broken edit (here a pattern naming no RPC) is logged and ignored.
    write_policy(
        &policy,
        &edited.replace("*/EndConference", "*/EndConferenc"),
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(refused(ends.clone().end_conference(end())).await.is_none());
    assert!(
        refused(reporting.clone().dial(dial(CONNECTION)))
            .await
            .is_some()
    );
    write_policy(&policy, "callers: [not, a, map");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(refused(ends.clone().end_conference(end())).await.is_none());
}

#[tokio::test]
async fn mutual_tls_callers_are_identified_by_their_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pki) = server_pki();
    let clients = authority();
    let (billing_cert, billing_key) = issue(&clients, "billing");
    let (other_cert, other_key) = issue(&clients, "other");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, ca) = (
        file("cert.pem", &pki.cert),
        file("key.pem", &pki.key),
        file("clients.pem", &clients.pem()),
    );
    let policy = policy_file(
        &dir,
        "callers:\n  billing:\n    allow: [\"conference_gateway.v1.ConferenceService/EndConference\"]\n",
    );
    let gateway = gateway_with_policy(
        &policy,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca,
        ],
    )
    .await;
    mount_telnyx(&gateway.telnyx).await;
    let base = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    let billing = connect(
        &gateway,
        base.clone()
            .identity(Identity::from_pem(&billing_cert, &billing_key)),
    )
    .await
    .unwrap();
    let end = EndConferenceRequest {
        conference_id: "c1".into(),
        command_id: "end-cmd".into(),
    };
    // No token: the certificate says who calls.
    ConferenceServiceClient::new(billing.clone())
        .end_conference(end.clone())
        .await
        .unwrap();
    let status = ConferenceServiceClient::new(billing)
        .get_conference(GetConferenceRequest {
            conference_id: "c1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.message(),
        r#"caller "billing" may not call conference_gateway.v1.ConferenceService/GetConference"#
    );
    let other = connect(
        &gateway,
        base.identity(Identity::from_pem(&other_cert, &other_key)),
    )
    .await
    .unwrap();
    let status = ConferenceServiceClient::new(other)
        .end_conference(end)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("is not in the access policy"),
        "{status:?}"
    );
    assert_eq!(gateway.received().await.len(), 1);
    let (_, metrics) = gateway.http_get("/metrics").await;
    // A stranger's certificate names are not metric labels.
    assert!(
        metrics
            .contains(r#"gateway_access_denied_total{caller="unknown",reason="unknown_caller"} 1"#),
        "{metrics}"
    );
}

/// Telnyx's side of the dial limit: when each dial reached the mock.
#[derive(Clone, Default)]
struct DialClock(Arc<Mutex<Vec<Instant>>>);

impl wiremock::Respond for DialClock {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        dialed()
    }
}

impl DialClock {
    fn arrivals(&self) -> Vec<Instant> {
        let mut arrivals = self.0.lock().unwrap().clone();
        arrivals.sort_unstable();
        arrivals
    }

    /// The most dials that arrived within any `window`.
    fn most_in_any(&self, window: Duration) -> usize {
        let arrivals = self.arrivals();
        let mut most = 0;
        let mut first = 0;
        for (last, at) in arrivals.iter().enumerate() {
            while at.duration_since(arrivals[first]) >= window {
                first += 1;
            }
            most = most.max(last + 1 - first);
        }
        most
    }
}

#[tokio::test]
async fn a_flooding_caller_is_limited_and_the_account_dial_limit_holds_across_replicas() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(&dir, POLICY);
    let url = redis.url();
    let first = gateway_with_policy(&policy, &["--redis-url", &url]).await;
    let shared_telnyx = format!("{}/v2", first.telnyx.uri());
    let second = gateway_with_policy(
        &policy,
        &["--redis-url", &url, "--telnyx-base-url", &shared_telnyx],
    )
    .await;
    let clock = DialClock::default();
    Mock::given(method("POST"))
        .and(path("/v2/calls"))
        .respond_with(clock.clone())
        .mount(&first.telnyx)
        .await;
    let started = Instant::now();

    // The dialer sends 100 dials at once, 10x its burst of 10 (5/s), half to
    // each replica, while the operator dials 20 times in the same second.
    let flood = (0..100).map(|i| {
        let gateway = if i % 2 == 0 { &first } else { &second };
        let mut client = CallServiceClient::new(as_caller(gateway, DIALER));
        async move { client.dial(dial(CONNECTION)).await }
    });
    let others = (0..20).map(|i| {
        let gateway = if i % 2 == 0 { &first } else { &second };
        let mut client = CallServiceClient::new(as_caller(gateway, OPERATOR));
        async move { client.dial(dial("any-connection")).await }
    });
    let (flood, others) = tokio::join!(
        futures::future::join_all(flood),
        futures::future::join_all(others)
    );
    let flooded_for = started.elapsed().as_secs_f64();
    for outcome in &others {
        assert!(outcome.is_ok(), "the operator was limited: {outcome:?}");
    }
    let admitted = flood.iter().filter(|o| o.is_ok()).count();
    // The replicas share one bucket: the burst, and what 5/s refilled while
    // the flood lasted.
    assert!(
        admitted >= 10 && admitted as f64 <= 10.0 + 5.0 * flooded_for + 1.0,
        "{admitted} of the flood admitted in {flooded_for:.2} s"
    );
    for outcome in flood.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(outcome.code(), Code::ResourceExhausted, "{outcome:?}");
        let retry = outcome.get_error_details().retry_info().cloned();
        let delay = retry
            .and_then(|r| r.retry_delay)
            .expect("a RetryInfo delay");
        assert!(
            delay > Duration::ZERO && delay <= Duration::from_millis(200),
            "{delay:?}"
        );
    }

    // The operator has no rate of its own, but the account's dial limit
    // holds: 200 more dials with a 2 s deadline, across both replicas, and
    // Telnyx never sees more than 150 in any 5 s; the rest are refused at
    // once, since the window frees no room before their deadline.
    let burst = (0..200).map(|i| {
        let gateway = if i % 2 == 0 { &first } else { &second };
        let mut client = CallServiceClient::new(as_caller(gateway, OPERATOR));
        async move {
            let mut request = tonic::Request::new(dial("any-connection"));
            request.set_timeout(Duration::from_secs(2));
            client.dial(request).await
        }
    });
    let burst = futures::future::join_all(burst).await;
    let elapsed = started.elapsed();
    let most = clock.most_in_any(Duration::from_secs(5));
    assert!(most <= 150, "Telnyx saw {most} dials within 5 s");
    let reached = clock.arrivals().len();
    if elapsed < Duration::from_secs(5) {
        // All within one window: the limit was used to the full, not more.
        assert_eq!(
            reached, 150,
            "Telnyx saw {reached} dials within {elapsed:?}"
        );
    }
    let refused: Vec<&Status> = burst.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(refused.len() >= 50, "only {} refused", refused.len());
    for status in refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("dial limit"), "{status:?}");
        assert!(status.get_error_details().retry_info().is_some());
    }

    // A dial whose deadline outlasts the window waits for room instead, and
    // reaches Telnyx only once the first dial has left Telnyx's window.
    let mut request = tonic::Request::new(dial("any-connection"));
    request.set_timeout(Duration::from_secs(8));
    CallServiceClient::new(as_caller(&second, OPERATOR))
        .dial(request)
        .await
        .expect("the dial waits for room in the window");
    let arrivals = clock.arrivals();
    assert_eq!(arrivals.len(), reached + 1);
    let spread = arrivals[arrivals.len() - 1].duration_since(arrivals[0]);
    assert!(spread >= Duration::from_secs(5), "{spread:?}");
    assert!(clock.most_in_any(Duration::from_secs(5)) <= 150);

    let (_, metrics) = first.http_get("/metrics").await;
    assert!(
        metrics.contains(r#"gateway_rate_limited_total{caller="dialer",reason="caller_rate"}"#)
    );
    assert!(
        metrics.contains(r#"gateway_rate_limited_total{caller="operator",reason="account_dial"}"#)
    );
}

#[tokio::test]
async fn audit_records_say_who_did_what_and_hold_no_secret() {
    let telnyx_mock = wiremock::MockServer::start().await;
    mount_telnyx(&telnyx_mock).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(&dir, POLICY);
    let tokens = tokens();
    let gateway = Gateway::start(
        &telnyx_mock,
        &[
            ("GATEWAY_AUTH_TOKENS", tokens.as_str()),
            ("GATEWAY_AUTH_POLICY_FILE", policy.to_str().unwrap()),
            ("GATEWAY_LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            ("GATEWAY_SHUTDOWN_GRACE_SECS", "2"),
        ],
    )
    .await;
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", gateway.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let caller = |token: &str| InterceptedService::new(channel.clone(), BearerToken::new(token));

    let mut request = tonic::Request::new(HangupRequest {
        call_control_id: "v3:x".into(),
        command_id: "hangup-cmd".into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap(),
    );
    CallServiceClient::new(caller(OPERATOR))
        .hangup(request)
        .await
        .unwrap();
    let denied = CallServiceClient::new(caller(REPORTING))
        .dial(dial(CONNECTION))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let mut limited = 0;
    for _ in 0..15 {
        if let Err(status) = CallServiceClient::new(caller(DIALER))
            .dial(dial(CONNECTION))
            .await
        {
            assert_eq!(status.code(), Code::ResourceExhausted);
            limited += 1;
        }
    }
    assert!(limited > 0, "the dialer was never limited");

    drop(channel);
    gateway.terminate();
    let (_, logs) = gateway.wait(Duration::from_secs(20));
    let records: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["target"] == "conference_gateway::audit")
        .collect();
    let find = |outcome: &str, caller: &str| {
        records
            .iter()
            .find(|r| r["outcome"] == outcome && r["caller"] == caller)
            .unwrap_or_else(|| panic!("no {outcome} record for {caller} in {records:#?}"))
            .clone()
    };
    let allowed = find("ok", "operator");
    assert_eq!(
        allowed["method"],
        "conference_gateway.v1.CallService/Hangup"
    );
    assert_eq!(allowed["call_control_id"], "v3:x");
    assert_eq!(allowed["command_id"], "hangup-cmd");
    assert_eq!(allowed["code"], "OK");
    assert_eq!(allowed["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert!(allowed["timestamp"].is_string(), "{allowed}");
    let refused = find("denied", "reporting");
    assert_eq!(refused["method"], "conference_gateway.v1.CallService/Dial");
    assert_eq!(refused["code"], "PERMISSION_DENIED");
    let over = find("limited", "dialer");
    assert_eq!(over["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(over["method"], "conference_gateway.v1.CallService/Dial");
    // 1 hangup, 1 denial, 15 dials (admitted or limited): one record each.
    assert_eq!(records.len(), 17, "{records:#?}");
    for secret in [OPERATOR, REPORTING, DIALER, STRANGER, TEST_API_KEY] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    for record in &records {
        let text = record.to_string();
        assert!(
            !text.contains("+18005550100"),
            "a request body reached the audit: {text}"
        );
    }
}
