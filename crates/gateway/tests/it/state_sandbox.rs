//! The live state against the simulated Telnyx on a bad day: the sandbox
//! with duplicated, reordered and delayed webhooks, 30 callers in two queues
//! (some answered by agents, some abandoned, some taken out), a conference of
//! five with a mute, a hold, a whispering supervisor and two departures.
//! Once the webhooks stop, every watch's last state and every read must say
//! what the simulator's REST API says.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use api::v1::{
    self as pb, BridgeRequest, CreateConferenceRequest, DialRequest, EnqueueCallRequest,
    HangupRequest, HoldParticipantsRequest, JoinConferenceRequest, LeaveConferenceRequest,
    LeaveQueueRequest, ListActiveCallsRequest, ListParticipantsRequest, MuteParticipantsRequest,
    SubscribeRequest, UpdateSupervisorRoleRequest, WatchQueueRequest,
    call_service_client::CallServiceClient, conference_service_client::ConferenceServiceClient,
    event_service_client::EventServiceClient, join_conference_request, participant,
    queue_service_client::QueueServiceClient, state_service_client::StateServiceClient,
    update_supervisor_role_request,
};
use conference_gateway::config::{Command, Config};
use conference_gateway::sandbox::Sandbox;
use tokio::sync::oneshot;
use tonic::Streaming;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::state_service::{
    States, call_at_cursor, call_state, conference_state, line, queue_at_cursor, queue_state,
};
use crate::support::{AuthedChannel, BearerToken, queue_positions};

const CALLER: &str = "+15559870000";
const CALLEE: &str = "+15551230001";

/// A sandbox serving in the background, and clients of it.
struct Running {
    channel: AuthedChannel,
    connection_id: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
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
        let token = sandbox.token().expect("a token is generated").to_owned();
        let connection_id = sandbox.simulator().connection_id();
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
            channel: InterceptedService::new(channel, BearerToken::new(&token)),
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

    fn states(&self) -> States {
        StateServiceClient::new(self.channel.clone())
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

/// Every event the gateway accepted, read as it comes.
struct Events {
    stream: Streaming<pb::Event>,
    answered: HashSet<String>,
}

impl Events {
    async fn open(running: &Running) -> Self {
        let stream = EventServiceClient::new(running.channel.clone())
            .subscribe(SubscribeRequest::default())
            .await
            .expect("the subscription starts")
            .into_inner();
        Events {
            stream,
            answered: HashSet::new(),
        }
    }

    /// The next event within `limit`; `None` when none came.
    async fn next(&mut self, limit: Duration) -> Option<pb::Event> {
        let event = tokio::time::timeout(limit, self.stream.message())
            .await
            .ok()?
            .expect("the event stream stays healthy")?;
        if event.event_type == "call.answered" {
            let data: serde_json::Value = serde_json::from_str(&event.json).unwrap();
            if let Some(call) = data["payload"]["call_control_id"].as_str() {
                self.answered.insert(call.to_owned());
            }
        }
        Some(event)
    }

    async fn wait_answered(&mut self, call: &str) {
        while !self.answered.contains(call) {
            self.next(Duration::from_secs(5))
                .await
                .expect("the call is answered within 5 s");
        }
    }

    /// Reads until nothing has come for `quiet`.
    async fn settle(&mut self, quiet: Duration) {
        while self.next(quiet).await.is_some() {}
    }
}

/// Dials out and waits until the call is answered.
async fn answered_call(running: &Running, events: &mut Events) -> String {
    let call = running
        .calls()
        .dial(DialRequest {
            connection_id: running.connection_id.clone(),
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
    events.wait_answered(&call).await;
    call
}

/// Collects every message of a queue watch until the watch is dropped.
fn collect(
    mut watch: Streaming<pb::WatchQueueResponse>,
) -> tokio::task::JoinHandle<Vec<pb::QueueState>> {
    tokio::spawn(async move {
        let mut states = Vec::new();
        while let Ok(Some(message)) = watch.message().await {
            states.push(message.state.expect("every message carries the state"));
            if states.len() > 10_000 {
                break;
            }
        }
        states
    })
}

/// What every state a watch sent must be: a line numbered from 1, no call
/// twice, first come first, and only calls that were put into that queue.
fn assert_consistent(queue: &str, states: &[pb::QueueState], enqueued: &HashSet<String>) {
    for state in states {
        let positions: Vec<i32> = state.calls.iter().map(|c| c.position).collect();
        let expected: Vec<i32> = (1..=state.calls.len() as i32).collect();
        assert_eq!(positions, expected, "{queue}: {state:?}");
        let ids: HashSet<&str> = state
            .calls
            .iter()
            .map(|c| c.call_control_id.as_str())
            .collect();
        assert_eq!(ids.len(), state.calls.len(), "{queue}: a call twice");
        assert!(
            ids.iter().all(|id| enqueued.contains(*id)),
            "{queue}: a call never put there"
        );
        let times: Vec<(i64, i32)> = state
            .calls
            .iter()
            .map(|c| {
                let t = c.enqueued_at.as_ref().unwrap();
                (t.seconds, t.nanos)
            })
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{queue}: out of order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_state_matches_the_simulator_after_a_day_of_chaos() {
    let running = Running::start(&[
        "--duplicate-webhooks",
        "0.3",
        "--reorder-webhooks",
        "0.3",
        "--max-webhook-delay-ms",
        "20",
        "--chaos-seed",
        "13",
    ])
    .await;
    let mut events = Events::open(&running).await;
    let mut states = running.states();
    let (mut calls, mut queues, mut conferences) =
        (running.calls(), running.queues(), running.conferences());

    let mut watches = HashMap::new();
    for queue in ["support", "sales"] {
        let watch = states
            .watch_queue(WatchQueueRequest {
                queue_name: queue.into(),
            })
            .await
            .expect("the watch starts")
            .into_inner();
        watches.insert(queue, collect(watch));
    }

    // 30 callers, alternately into the two queues.
    let mut waiting: HashMap<&str, Vec<String>> = HashMap::new();
    let mut callers = Vec::new();
    for i in 0..30 {
        let call = answered_call(&running, &mut events).await;
        let queue = if i % 2 == 0 { "support" } else { "sales" };
        queues
            .enqueue_call(EnqueueCallRequest {
                call_control_id: call.clone(),
                queue_name: queue.into(),
                ..Default::default()
            })
            .await
            .expect("the call is enqueued");
        waiting.entry(queue).or_default().push(call.clone());
        callers.push(call);
    }
    let enqueued: HashMap<&str, HashSet<String>> = waiting
        .iter()
        .map(|(queue, calls)| (*queue, calls.iter().cloned().collect()))
        .collect();

    // Per queue: three answered by agents, two hang up, one is taken out.
    let mut agents = Vec::new();
    for queue in ["support", "sales"] {
        let line = waiting.get_mut(queue).unwrap();
        for _ in 0..3 {
            let agent = answered_call(&running, &mut events).await;
            let caller = line.remove(0);
            calls
                .bridge(BridgeRequest {
                    call_control_id: agent.clone(),
                    other_call_control_id: caller,
                    ..Default::default()
                })
                .await
                .expect("the agent takes the call");
            agents.push(agent);
        }
        for index in [2, 5] {
            let caller = line.remove(index);
            calls
                .hangup(HangupRequest {
                    call_control_id: caller,
                    ..Default::default()
                })
                .await
                .expect("the caller hangs up");
        }
        let taken_out = line.remove(0);
        queues
            .leave_queue(LeaveQueueRequest {
                call_control_id: taken_out,
                ..Default::default()
            })
            .await
            .expect("the call leaves the queue");
    }

    // A conference of five: a host, a muted guest, a guest on hold, a
    // supervisor whispering to the host, one more; two leave.
    let mut seats = Vec::new();
    for _ in 0..5 {
        seats.push(answered_call(&running, &mut events).await);
    }
    let [host, muted, held, supervisor, last] = <[String; 5]>::try_from(seats.clone()).unwrap();
    let conference = conferences
        .create_conference(CreateConferenceRequest {
            call_control_id: host.clone(),
            name: "state-room".into(),
            ..Default::default()
        })
        .await
        .expect("the conference starts")
        .into_inner()
        .conference
        .unwrap()
        .id;
    for (guest, mute, hold) in [
        (&muted, false, false),
        (&held, false, true),
        (&last, true, false),
    ] {
        conferences
            .join_conference(JoinConferenceRequest {
                conference_id: conference.clone(),
                call_control_id: guest.clone(),
                mute: Some(mute),
                hold: Some(hold),
                ..Default::default()
            })
            .await
            .expect("the guest joins");
    }
    conferences
        .join_conference(JoinConferenceRequest {
            conference_id: conference.clone(),
            call_control_id: supervisor.clone(),
            supervisor_role: join_conference_request::SupervisorRole::Monitor as i32,
            ..Default::default()
        })
        .await
        .expect("the supervisor joins");
    conferences
        .update_supervisor_role(UpdateSupervisorRoleRequest {
            conference_id: conference.clone(),
            call_control_id: supervisor.clone(),
            supervisor_role: update_supervisor_role_request::SupervisorRole::Whisper as i32,
            whisper_call_control_ids: vec![host.clone()],
            ..Default::default()
        })
        .await
        .expect("the supervisor whispers");
    conferences
        .mute_participants(MuteParticipantsRequest {
            conference_id: conference.clone(),
            call_control_ids: vec![muted.clone()],
            ..Default::default()
        })
        .await
        .expect("the guest is muted");
    conferences
        .hold_participants(HoldParticipantsRequest {
            conference_id: conference.clone(),
            call_control_ids: vec![held.clone()],
            ..Default::default()
        })
        .await
        .expect("the guest is held");
    conferences
        .leave_conference(LeaveConferenceRequest {
            conference_id: conference.clone(),
            call_control_id: last.clone(),
            ..Default::default()
        })
        .await
        .expect("a guest leaves");
    calls
        .hangup(HangupRequest {
            call_control_id: muted.clone(),
            ..Default::default()
        })
        .await
        .expect("a guest hangs up");

    // Quiescence: the simulator has nothing left to deliver.
    events.settle(Duration::from_secs(1)).await;

    // Queues: who waits, in which order, as ListQueueCalls says.
    let mut read = HashMap::new();
    for queue in ["support", "sales"] {
        let state = queue_state(&mut states, queue).await;
        read.insert(queue, state.clone());
        let listed: Vec<(String, i32)> = queue_positions(&mut queues, queue)
            .await
            .into_iter()
            .map(|(call, position)| (call, position.expect("Telnyx reports positions")))
            .collect();
        assert_eq!(line(&state), listed, "{queue}");
        assert_eq!(listed.len(), 9, "{queue}: 15 in, 6 out");
        let statistics = state.statistics.unwrap();
        assert_eq!(
            (
                statistics.waiting,
                statistics.answered,
                statistics.abandoned,
                statistics.removed
            ),
            (9, 3, 2, 1),
            "{queue}"
        );
        for call in &state.calls {
            assert_eq!((call.from.as_str(), call.to.as_str()), (CALLER, CALLEE));
        }
    }

    // Conference: everyone who took a seat, in or out, as ListParticipants says.
    let state = conference_state(&mut states, &conference).await;
    let listed = conferences
        .list_participants(ListParticipantsRequest {
            conference_id: conference.clone(),
            ..Default::default()
        })
        .await
        .expect("the participants are listed")
        .into_inner()
        .participants;
    assert_eq!(state.status(), pb::ConferenceStatus::Active);
    assert_eq!(state.participants.len(), listed.len());
    let ours: HashMap<&str, &pb::ParticipantState> = state
        .participants
        .iter()
        .map(|p| (p.call_control_id.as_str(), p))
        .collect();
    for theirs in &listed {
        let mine = ours[theirs.call_control_id.as_str()];
        let joined = theirs.status() == participant::Status::Joined;
        assert_eq!(
            mine.status() == pb::ParticipantStatus::Joined,
            joined,
            "{}",
            theirs.call_control_id
        );
        // Telnyx's webhooks do not carry mutes, holds or roles: the state
        // says nothing rather than something wrong.
        assert!(mine.muted.is_none_or(|m| Some(m) == theirs.muted));
        assert!(mine.on_hold.is_none_or(|h| Some(h) == theirs.on_hold));
        assert_eq!(mine.supervisor_role(), pb::SupervisorRole::Unspecified);
    }
    let seated: HashSet<&str> = listed
        .iter()
        .filter(|p| p.status() == participant::Status::Joined)
        .map(|p| p.call_control_id.as_str())
        .collect();
    assert_eq!(
        seated,
        HashSet::from([host.as_str(), held.as_str(), supervisor.as_str()])
    );

    // Calls: alive exactly when the simulator lists them as active.
    let mut active = HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = calls
            .list_active_calls(ListActiveCallsRequest {
                connection_id: running.connection_id.clone(),
                page_size: 250,
                page_token: page_token.clone(),
            })
            .await
            .expect("active calls are listed")
            .into_inner();
        active.extend(page.active_calls.into_iter().map(|c| c.call_control_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let everyone: Vec<&String> = callers.iter().chain(&agents).chain(&seats).collect();
    for call in &everyone {
        let state = call_state(&mut states, call)
            .await
            .expect("the call is readable");
        assert_eq!(
            state.status() != pb::CallStatus::Ended,
            active.contains(*call),
            "{call}: {state:?}"
        );
        let queued = ["support", "sales"]
            .into_iter()
            .find(|queue| waiting[queue].contains(*call))
            .unwrap_or_default();
        assert_eq!(state.queue_name, queued, "{call}");
        let in_conference = if seated.contains(call.as_str()) {
            conference.as_str()
        } else {
            ""
        };
        assert_eq!(state.conference_id, in_conference, "{call}");
        // A watch of the call starts with the same state.
        let mut watch = states
            .watch_call(pb::WatchCallRequest {
                call_control_id: (*call).clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let first = watch.message().await.unwrap().unwrap().state.unwrap();
        assert_eq!(call_at_cursor(first), call_at_cursor(state));
    }

    // Every watch's last state is the state read, and every state it sent
    // was consistent.
    running.stop().await;
    for (queue, watch) in watches {
        let seen = watch.await.unwrap();
        assert!(seen.len() > 1, "{queue}: the watch followed the changes");
        assert_consistent(queue, &seen, &enqueued[queue]);
        let without_cursor = |state: pb::QueueState| pb::QueueState {
            cursor: String::new(),
            ..queue_at_cursor(state)
        };
        assert_eq!(
            without_cursor(seen.last().unwrap().clone()),
            without_cursor(read[queue].clone()),
            "{queue}"
        );
    }
}
