//! `conference-gateway sandbox` end to end, through gRPC only: the gateway
//! and the simulated Telnyx started by the same function the subcommand uses,
//! calls placed and conferences run with the gateway's RPCs, and the events a
//! subscriber receives checked type by type, as a developer would see them.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command as Process, Stdio};
use std::time::Duration;

use crate::support::{AuthedChannel, BearerToken, enqueue_all, queue_positions};
use api::v1::{
    CreateConferenceRequest, DialRequest, Event, JoinConferenceRequest, LeaveConferenceRequest,
    LeaveQueueRequest, ListConferencesRequest, ListParticipantsRequest,
    ListWebhookDeliveriesRequest, MuteParticipantsRequest, SpeakRequest, StartRecordingRequest,
    StopRecordingRequest, SubscribeRequest, WebhookDelivery,
    call_service_client::CallServiceClient, conference,
    conference_service_client::ConferenceServiceClient, event_service_client::EventServiceClient,
    list_webhook_deliveries_request as deliveries, participant,
    queue_service_client::QueueServiceClient, start_recording_request, webhook_delivery,
};
use conference_gateway::config::{Command, Config};
use conference_gateway::sandbox::Sandbox;
use serde_json::Value;
use tokio::sync::oneshot;
use tonic::Streaming;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const CALLER: &str = "+15559870000";
const CALLEE: &str = "+15551230001";

/// A sandbox serving in the background, seen as a developer sees it: an
/// address, a token and the simulator's Call Control application.
struct Running {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    token: String,
    connection_id: String,
    channel: AuthedChannel,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Starts `conference-gateway sandbox` with `extra` flags, on free ports.
    async fn start(extra: &[&str]) -> Self {
        let mut args = vec![
            "conference-gateway",
            "sandbox",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        let mut config = Config::try_load_from(args).expect("sandbox flags parse");
        let Some(Command::Sandbox(sandbox_args)) = config.command.take() else {
            panic!("the sandbox subcommand is parsed");
        };
        let sandbox = Sandbox::start(config, sandbox_args)
            .await
            .expect("the sandbox starts");
        let grpc_addr = sandbox.grpc_addr();
        let http_addr = sandbox.http_addr();
        let token = sandbox.token().expect("a token is generated").to_owned();
        let connection_id = sandbox.simulator().connection_id();
        assert!(sandbox.banner().contains(&token));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            sandbox
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the sandbox runs");
        });
        let channel = Channel::from_shared(format!("http://{grpc_addr}"))
            .unwrap()
            .connect()
            .await
            .expect("the gateway accepts connections");
        Running {
            grpc_addr,
            http_addr,
            channel: InterceptedService::new(channel, BearerToken::new(&token)),
            token,
            connection_id,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn calls(&self) -> CallServiceClient<AuthedChannel> {
        CallServiceClient::new(self.channel.clone())
    }

    fn conferences(&self) -> ConferenceServiceClient<AuthedChannel> {
        ConferenceServiceClient::new(self.channel.clone())
    }

    fn queues(&self) -> QueueServiceClient<AuthedChannel> {
        QueueServiceClient::new(self.channel.clone())
    }

    async fn subscribe(&self, request: SubscribeRequest) -> Events {
        let stream = EventServiceClient::new(self.channel.clone())
            .subscribe(request)
            .await
            .expect("the subscription starts")
            .into_inner();
        Events {
            stream,
            seen: Vec::new(),
        }
    }

    /// Dials out and returns the call once the subscriber saw it answered.
    async fn answered_call(&self, answered: &mut Events) -> String {
        let call = self
            .calls()
            .dial(DialRequest {
                connection_id: self.connection_id.clone(),
                from: CALLER.into(),
                to: vec![CALLEE.into()],
                ..Default::default()
            })
            .await
            .expect("Dial succeeds")
            .into_inner()
            .call
            .expect("Dial returns the call")
            .call_control_id;
        answered.wait_for("call.answered", &call).await;
        call
    }

    /// The deliveries of `event_type` the simulator recorded as failed, once
    /// there is one (ListWebhookDeliveries, as a team looks them up).
    async fn failed_deliveries(&self, event_type: &str) -> Vec<WebhookDelivery> {
        let request = ListWebhookDeliveriesRequest {
            filter: Some(deliveries::Filter {
                event_type: event_type.into(),
                status: Some(deliveries::filter::Status {
                    eq: deliveries::filter::status::Eq::Failed.into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let failed = EventServiceClient::new(self.channel.clone())
                .list_webhook_deliveries(request.clone())
                .await
                .expect("ListWebhookDeliveries succeeds")
                .into_inner()
                .webhook_deliveries;
            if !failed.is_empty() {
                return failed;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no failed {event_type} delivery within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The sum of the counters whose series starts with `series`, from the
    /// gateway's `/metrics`; 0 when there are none.
    async fn metric(&self, series: &str) -> u64 {
        let text = reqwest::get(format!("http://{}/metrics", self.http_addr))
            .await
            .expect("metrics answer")
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| line.starts_with(series))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the sandbox stops cleanly");
        }
    }
}

/// A subscription and everything it delivered so far.
struct Events {
    stream: Streaming<Event>,
    seen: Vec<Event>,
}

impl Events {
    /// Reads until an event of `kind` about `call` (any call when empty) arrives.
    async fn wait_for(&mut self, kind: &str, call: &str) {
        let found = |e: &Event| e.event_type == kind && (call.is_empty() || call_of(e) == call);
        if self.seen.iter().any(found) {
            return;
        }
        loop {
            let event = self.next().await.expect("the stream goes on");
            if found(&event) {
                return;
            }
        }
    }

    /// Reads until `count` events arrived in all.
    async fn wait_for_count(&mut self, count: usize) {
        while self.seen.len() < count {
            self.next().await.expect("the stream goes on");
        }
    }

    /// The next event, within five seconds; `None` when none came.
    async fn next(&mut self) -> Option<Event> {
        let next = tokio::time::timeout(Duration::from_secs(5), self.stream.message()).await;
        let event = next.ok()?.expect("the stream stays healthy")?;
        self.seen.push(event.clone());
        Some(event)
    }

    /// What arrived, as (event type, call control id) pairs.
    fn sequence(&self) -> Vec<(String, String)> {
        self.seen
            .iter()
            .map(|e| (e.event_type.clone(), call_of(e)))
            .collect()
    }
}

/// The call an event is about, from Telnyx's payload as received.
fn call_of(event: &Event) -> String {
    let data: Value = serde_json::from_str(&event.json).expect("events carry Telnyx's JSON");
    data["payload"]["call_control_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(kind, call)| ((*kind).to_owned(), (*call).to_owned()))
        .collect()
}

fn answered() -> SubscribeRequest {
    SubscribeRequest {
        event_types: vec!["call.answered".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_conference_run_through_grpc_streams_its_events_in_order() {
    let sandbox = Running::start(&[]).await;
    let mut conference_events = sandbox
        .subscribe(SubscribeRequest {
            event_types: vec!["conference.*".into()],
            ..Default::default()
        })
        .await;
    let mut answers = sandbox.subscribe(answered()).await;
    let host = sandbox.answered_call(&mut answers).await;
    let guest = sandbox.answered_call(&mut answers).await;
    let mut guest_events = sandbox
        .subscribe(SubscribeRequest {
            event_types: vec!["conference.participant.*".into()],
            call_control_id: guest.clone(),
            ..Default::default()
        })
        .await;

    let mut conferences = sandbox.conferences();
    let conference_id = conferences
        .create_conference(CreateConferenceRequest {
            call_control_id: host.clone(),
            name: "standup".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .conference
        .unwrap()
        .id;
    conferences
        .join_conference(JoinConferenceRequest {
            conference_id: conference_id.clone(),
            call_control_id: guest.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    conferences
        .mute_participants(MuteParticipantsRequest {
            conference_id: conference_id.clone(),
            call_control_ids: vec![guest.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let participants = conferences
        .list_participants(ListParticipantsRequest {
            conference_id: conference_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .participants;
    let muted: Vec<(&str, Option<bool>)> = participants
        .iter()
        .map(|p| (p.call_control_id.as_str(), p.muted))
        .collect();
    assert_eq!(
        muted,
        [(host.as_str(), Some(false)), (guest.as_str(), Some(true))]
    );
    let listed = conferences
        .list_conferences(ListConferencesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .conferences;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, conference_id);
    assert_eq!(listed[0].status(), conference::Status::InProgress);

    conferences
        .speak(SpeakRequest {
            conference_id: conference_id.clone(),
            payload: "Welcome to the standup".into(),
            voice: "female".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    conference_events
        .wait_for("conference.speak.ended", "")
        .await;
    conferences
        .start_recording(StartRecordingRequest {
            conference_id: conference_id.clone(),
            format: start_recording_request::Format::Mp3.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    conferences
        .stop_recording(StopRecordingRequest {
            conference_id: conference_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    for call in [&guest, &host] {
        conferences
            .leave_conference(LeaveConferenceRequest {
                conference_id: conference_id.clone(),
                call_control_id: call.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    conference_events.wait_for("conference.ended", &host).await;

    assert_eq!(
        conference_events.sequence(),
        pairs(&[
            ("conference.created", &host),
            ("conference.participant.joined", &host),
            ("conference.participant.joined", &guest),
            ("conference.speak.started", ""),
            ("conference.speak.ended", ""),
            ("conference.recording.saved", &host),
            ("conference.participant.left", &guest),
            ("conference.participant.left", &host),
            ("conference.ended", &host),
        ])
    );
    for event in &conference_events.seen {
        assert!(event.payload.is_some(), "typed: {event:?}");
        let data: Value = serde_json::from_str(&event.json).unwrap();
        assert_eq!(data["payload"]["conference_id"], conference_id.as_str());
    }
    guest_events
        .wait_for("conference.participant.left", &guest)
        .await;
    assert_eq!(
        guest_events.sequence(),
        pairs(&[
            ("conference.participant.joined", &guest),
            ("conference.participant.left", &guest),
        ])
    );

    let listed = conferences
        .list_conferences(ListConferencesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .conferences;
    assert_eq!(listed[0].status(), conference::Status::Completed);
    let statuses: Vec<participant::Status> = conferences
        .list_participants(ListParticipantsRequest {
            conference_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .participants
        .iter()
        .map(|p| p.status())
        .collect();
    assert_eq!(
        statuses,
        [participant::Status::Left, participant::Status::Left]
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn a_queue_reports_positions_and_who_left() {
    let sandbox = Running::start(&[]).await;
    let mut queue_events = sandbox
        .subscribe(SubscribeRequest {
            queue_name: "support".into(),
            ..Default::default()
        })
        .await;
    let mut answers = sandbox.subscribe(answered()).await;
    let first = sandbox.answered_call(&mut answers).await;
    let second = sandbox.answered_call(&mut answers).await;
    let mut queues = sandbox.queues();
    enqueue_all(&mut queues, "support", &[&first, &second]).await;
    assert_eq!(
        queue_positions(&mut queues, "support").await,
        [(first.clone(), Some(1)), (second.clone(), Some(2))]
    );
    queues
        .leave_queue(LeaveQueueRequest {
            call_control_id: first.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    queue_events.wait_for("call.dequeued", &first).await;
    assert_eq!(
        queue_events.sequence(),
        pairs(&[
            ("call.enqueued", &first),
            ("call.enqueued", &second),
            ("call.dequeued", &first),
        ])
    );
    let left: Value = serde_json::from_str(&queue_events.seen[2].json).unwrap();
    assert_eq!(left["payload"]["reason"], "leave");
    assert!(queue_events.seen.iter().all(|e| e.payload.is_some()));
    assert_eq!(
        queue_positions(&mut queues, "support").await,
        [(second.clone(), Some(1))]
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn misbehaving_telnyx_still_delivers_each_event_once() {
    let sandbox = Running::start(&[
        "--duplicate-webhooks",
        "0.5",
        "--reorder-webhooks",
        "0.3",
        "--max-webhook-delay-ms",
        "40",
        "--failed-requests",
        "0.2",
        "--chaos-seed",
        "11",
        "--telnyx-max-retries",
        "6",
    ])
    .await;
    let mut everything = sandbox.subscribe(SubscribeRequest::default()).await;
    let mut answers = sandbox.subscribe(answered()).await;
    let host = sandbox.answered_call(&mut answers).await;
    let guest = sandbox.answered_call(&mut answers).await;
    let mut conferences = sandbox.conferences();
    let conference_id = conferences
        .create_conference(CreateConferenceRequest {
            call_control_id: host.clone(),
            name: "chaos".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .conference
        .unwrap()
        .id;
    conferences
        .join_conference(JoinConferenceRequest {
            conference_id: conference_id.clone(),
            call_control_id: guest.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    for call in [&guest, &host] {
        conferences
            .leave_conference(LeaveConferenceRequest {
                conference_id: conference_id.clone(),
                call_control_id: call.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut expected = pairs(&[
        ("call.initiated", &host),
        ("call.answered", &host),
        ("call.initiated", &guest),
        ("call.answered", &guest),
        ("conference.created", &host),
        ("conference.participant.joined", &host),
        ("conference.participant.joined", &guest),
        ("conference.participant.left", &guest),
        ("conference.participant.left", &host),
        ("conference.ended", &host),
    ]);
    everything.wait_for_count(expected.len()).await;
    // Late duplicates would arrive within the simulator's retry and delay
    // windows; none may get through.
    let late = tokio::time::timeout(Duration::from_secs(1), everything.stream.message()).await;
    assert!(late.is_err(), "an extra event arrived: {late:?}");

    let ids: HashSet<&str> = everything.seen.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), everything.seen.len(), "an event id repeated");
    let mut received = everything.sequence();
    received.sort();
    expected.sort();
    assert_eq!(received, expected);
    // The misbehaviour did happen: refused REST calls were retried.
    let retried = sandbox.metric("gateway_telnyx_retries_total{").await;
    assert!(retried > 0, "no REST call was retried");
    sandbox.stop().await;
}

#[tokio::test]
async fn the_retry_window_sets_how_long_a_refused_webhook_is_retried() {
    // The call's client state rides on every webhook about it, here beyond
    // the gateway's smallest body limit: each delivery is refused with 413.
    let large_state = "c3RhdGU=".repeat(150);
    for (window, retried) in [(Some("0"), false), (None, true)] {
        let mut flags = vec!["--webhook-max-body-bytes", "1024"];
        flags.extend(
            window
                .map(|secs| ["--webhook-retry-window-secs", secs])
                .iter()
                .flatten(),
        );
        let sandbox = Running::start(&flags).await;
        sandbox
            .calls()
            .dial(DialRequest {
                connection_id: sandbox.connection_id.clone(),
                from: CALLER.into(),
                to: vec![CALLEE.into()],
                client_state: large_state.clone(),
                ..Default::default()
            })
            .await
            .expect("Dial succeeds");
        let failed = sandbox.failed_deliveries("call.initiated").await;
        let delivery = &failed[0];
        assert_eq!(delivery.status(), webhook_delivery::Status::Failed);
        let statuses: Vec<Option<i32>> = delivery
            .attempts
            .iter()
            .map(|a| a.http.as_ref()?.response.as_ref()?.status)
            .collect();
        assert!(
            statuses.iter().all(|status| *status == Some(413)),
            "{statuses:?}"
        );
        assert_eq!(
            statuses.len() > 1,
            retried,
            "window {window:?}: {statuses:?}"
        );
        sandbox.stop().await;
    }
}

#[test]
fn the_command_refuses_a_non_loopback_address_without_the_flag() {
    let output = Process::new(env!("CARGO_BIN_EXE_conference-gateway"))
        .args(["sandbox", "--grpc-addr", "0.0.0.0:0"])
        .env_clear()
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("GATEWAY_GRPC_ADDR"), "{stderr}");
    assert!(stderr.contains("--allow-non-loopback"), "{stderr}");
}

#[test]
fn the_command_prints_its_address_and_token() {
    let mut child = Process::new(env!("CARGO_BIN_EXE_conference-gateway"))
        .args([
            "sandbox",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().unwrap();
    let mut banner = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stdout is text");
        let done = line.starts_with("Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let banner = banner.join("\n");
    let grpc = banner
        .lines()
        .find_map(|l| l.strip_prefix("gRPC"))
        .expect("the banner names the gRPC address")
        .split_whitespace()
        .next()
        .unwrap();
    let grpc: SocketAddr = grpc.parse().expect("a socket address");
    assert!(grpc.ip().is_loopback() && grpc.port() != 0, "{banner}");
    let token = banner
        .lines()
        .find_map(|l| l.strip_prefix("token"))
        .expect("the banner shows a token")
        .trim();
    assert!(token.len() >= 16, "{banner}");
    let sim = banner
        .lines()
        .find_map(|l| l.strip_prefix("Telnyx (sim)"))
        .expect("the banner names the simulator")
        .trim()
        .strip_suffix("/v2")
        .expect("the simulator's REST base URL ends in /v2");
    let connection_id = banner
        .lines()
        .find_map(|l| l.strip_prefix("connection_id"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the banner names the application");
    assert!(
        banner.contains(&format!(
            "  export TOKEN={token} CONNECTION_ID={connection_id} SIM={sim}\n"
        )),
        "{banner}"
    );
    assert!(banner.contains(&format!(
        "http://{grpc}/conference_gateway.v1.CallService/Dial"
    )));
}

#[tokio::test]
async fn the_token_is_required() {
    let sandbox = Running::start(&[]).await;
    let channel = Channel::from_shared(format!("http://{}", sandbox.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = ConferenceServiceClient::new(channel)
        .list_conferences(ListConferencesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(sandbox.token.len(), 32);
    sandbox.stop().await;
}
