//! Whole call flows through the gateway, written as a team's service writes
//! them: gRPC calls to the gateway's RPCs, the typed events of one
//! `EventService.Subscribe` stream, and the simulated Telnyx playing Telnyx
//! behind the gateway and, through its caller side (`/_sim/`), the person on
//! the phone. An IVR that routes a caller through a queue to an agent, a
//! voicemail, a transfer, and a refer that completes or is refused.

use std::time::Duration;

use api::v1::{
    AnswerRequest, BridgeRequest, CallServiceStartRecordingRequest, DialRequest,
    EnqueueCallRequest, Event, GatherUsingSpeakRequest, GetCallRequest, ReferRequest,
    StartPlaybackRequest, SubscribeRequest, TransferRequest, call_gather_ended_payload,
    call_hangup_payload, call_initiated_payload, call_left_queue_payload,
    call_playback_ended_payload, call_recording_saved_payload,
    call_service_client::CallServiceClient, call_service_start_recording_request, event::Payload,
    queue_service_client::QueueServiceClient,
};
use serde_json::Value;
use telnyx_sim::{RunningSimulator, Simulator};
use tokio::net::TcpListener;
use tonic::Streaming;

use crate::support::{AuthedChannel, TEST_API_KEY, TestGateway, webhook};
use testkit::sim::{CALLER, Caller, fast};

/// The number the company's customers call.
const SUPPORT_LINE: &str = "+15551230100";
/// An agent's phone: any number the simulator does not reserve answers.
const AGENT: &str = "+15551230042";

/// The typed payload of `event`, as the variant `$variant` of `Event.payload`;
/// fails the test when the gateway typed it otherwise or not at all.
macro_rules! typed {
    ($event:expr, $variant:ident) => {
        match &$event.payload {
            Some(Payload::$variant(payload)) => payload,
            other => panic!(
                "{} is not typed as {}: {other:?}",
                $event.event_type,
                stringify!($variant)
            ),
        }
    };
}

/// One leg of a call: the id commands take, and the id every event of the
/// leg carries (`call.recording.saved` carries only this one).
#[derive(Debug, Clone)]
struct Leg {
    id: String,
    leg_id: String,
    session_id: String,
}

/// A company's call center in a test: the gateway (its Telnyx is the
/// simulator, whose signed webhooks it verifies), the RPC clients a service
/// holds, the caller side of the phone network, and a subscription to every
/// event, opened before anything happens.
struct CallCenter {
    gateway: TestGateway,
    sim: RunningSimulator,
    caller: Caller,
    calls: CallServiceClient<AuthedChannel>,
    queues: QueueServiceClient<AuthedChannel>,
    events: Events,
}

impl CallCenter {
    async fn open() -> Self {
        // The simulator's address is the gateway's TELNYX_BASE_URL and the
        // gateway's is the simulator's webhook URL: bind first, serve after.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_addr = listener.local_addr().unwrap();
        let base_url = format!("http://{sim_addr}/v2");
        let gateway = TestGateway::spawn_with(&["--telnyx-base-url", &base_url]).await;
        let sim = Simulator::builder()
            .webhook_url(format!("http://{}/webhooks/telnyx", gateway.http_addr))
            .signer(webhook::test_key())
            .api_key(TEST_API_KEY)
            .timing(fast())
            .serve(listener)
            .expect("the simulator serves");
        let events = Events {
            stream: gateway.subscribe(SubscribeRequest::default()).await,
            seen: Vec::new(),
        };
        CallCenter {
            calls: gateway.calls(),
            queues: gateway.queues(),
            caller: Caller::at(sim_addr),
            gateway,
            sim,
            events,
        }
    }

    /// `from` dials the support line; returns the ringing call once the
    /// service saw it come in.
    async fn incoming_call(&mut self, from: &str) -> Leg {
        let id = self.caller.call_in(from, SUPPORT_LINE).await;
        let initiated = self.events.wait("call.initiated", &id).await;
        let payload = typed!(initiated, CallInitiated);
        assert_eq!(
            (
                payload.direction(),
                payload.from.as_str(),
                payload.to.as_str()
            ),
            (
                call_initiated_payload::Direction::Incoming,
                from,
                SUPPORT_LINE
            )
        );
        assert_eq!(payload.connection_id, self.sim.connection_id());
        Leg {
            id,
            leg_id: payload.call_leg_id.clone(),
            session_id: payload.call_session_id.clone(),
        }
    }

    /// The service answers `call` and waits until Telnyx says it is up.
    async fn answer(&mut self, call: &Leg) {
        self.calls
            .answer(AnswerRequest {
                call_control_id: call.id.clone(),
                ..Default::default()
            })
            .await
            .expect("Answer succeeds");
        self.events.wait("call.answered", &call.id).await;
    }

    /// Someone calls the support line and the service answers.
    async fn answered_call(&mut self, from: &str) -> Leg {
        let call = self.incoming_call(from).await;
        self.answer(&call).await;
        call
    }

    /// The service dials `to` from the support line; returns the leg once
    /// its far end answered.
    async fn dial(&mut self, to: &str) -> Leg {
        let call = self
            .calls
            .dial(DialRequest {
                connection_id: self.sim.connection_id(),
                from: SUPPORT_LINE.into(),
                to: vec![to.into()],
                ..Default::default()
            })
            .await
            .expect("Dial succeeds")
            .into_inner()
            .call
            .expect("Dial returns the call");
        let answered = self
            .events
            .wait("call.answered", &call.call_control_id)
            .await;
        assert_eq!(typed!(answered, CallAnswered).to, to);
        Leg {
            id: call.call_control_id,
            leg_id: call.call_leg_id,
            session_id: call.call_session_id,
        }
    }

    /// Records `call` from now on: mp3, both parties on their own channel.
    async fn record(&mut self, call: &Leg) {
        self.calls
            .start_recording(CallServiceStartRecordingRequest {
                call_control_id: call.id.clone(),
                format: call_service_start_recording_request::Format::Mp3.into(),
                channels: call_service_start_recording_request::Channels::Dual.into(),
                ..Default::default()
            })
            .await
            .expect("StartRecording succeeds");
    }

    /// Whether Telnyx still has `call` up, as GetCall reports it.
    async fn is_alive(&mut self, call: &Leg) -> bool {
        self.calls
            .get_call(GetCallRequest {
                call_control_id: call.id.clone(),
            })
            .await
            .expect("GetCall succeeds")
            .into_inner()
            .call
            .expect("GetCall returns the call")
            .is_alive
            .expect("Telnyx says whether the call is alive")
    }

    /// Every event type the subscription delivered about `call`, in order;
    /// each of them typed.
    fn history(&self, call: &Leg) -> Vec<&str> {
        self.events
            .seen
            .iter()
            .filter(|event| is_about(event, call))
            .inspect(|event| assert!(event.payload.is_some(), "untyped: {event:?}"))
            .map(|event| event.event_type.as_str())
            .collect()
    }

    async fn close(self) {
        self.gateway.stop().await;
        self.sim.shutdown().await;
    }
}

/// The subscription and everything it delivered so far.
struct Events {
    stream: Streaming<Event>,
    seen: Vec<Event>,
}

impl Events {
    /// The first event of `kind` about the call `id` (by its call control
    /// id), reading on until it arrives.
    async fn wait(&mut self, kind: &str, id: &str) -> Event {
        self.wait_until(kind, |payload| payload["call_control_id"] == id)
            .await
    }

    /// The first `call.recording.saved` of `call`'s leg: Telnyx's payload
    /// names no call control id, only the leg.
    async fn recording_of(&mut self, call: &Leg) -> Event {
        self.wait_until("call.recording.saved", |payload| {
            payload["call_leg_id"] == call.leg_id.as_str()
        })
        .await
    }

    /// The first event of `kind` whose Telnyx payload passes `about`.
    async fn wait_until(&mut self, kind: &str, about: impl Fn(&Value) -> bool) -> Event {
        let matches = |event: &Event| event.event_type == kind && about(&payload_of(event));
        if let Some(event) = self.seen.iter().find(|e| matches(e)) {
            return event.clone();
        }
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), self.stream.message())
                .await
                .unwrap_or_else(|_| panic!("no {kind} within 5 s; seen {:?}", self.types()))
                .expect("the stream stays healthy")
                .expect("the stream stays open");
            self.seen.push(next.clone());
            if matches(&next) {
                return next;
            }
        }
    }

    fn types(&self) -> Vec<&str> {
        self.seen.iter().map(|e| e.event_type.as_str()).collect()
    }
}

/// Telnyx's `data.payload` of an event, as received.
fn payload_of(event: &Event) -> Value {
    let data: Value = serde_json::from_str(&event.json).expect("events carry Telnyx's JSON");
    data["payload"].clone()
}

/// Whether `event` is about `call`: by its call control id, or by its leg
/// for the events that name only the leg.
fn is_about(event: &Event, call: &Leg) -> bool {
    let payload = payload_of(event);
    payload["call_control_id"] == call.id.as_str()
        || (payload.get("call_control_id").is_none()
            && payload["call_leg_id"] == call.leg_id.as_str())
}

#[tokio::test]
async fn an_ivr_routes_a_caller_who_presses_2_through_the_queue_to_an_agent() {
    let mut center = CallCenter::open().await;
    let customer = center.answered_call(CALLER).await;

    center
        .calls
        .gather_using_speak(GatherUsingSpeakRequest {
            call_control_id: customer.id.clone(),
            payload: "Press 1 for sales, 2 for support".into(),
            voice: "female".into(),
            valid_digits: "12".into(),
            maximum_digits: Some(1),
            client_state: "bWVudQ==".into(),
            ..Default::default()
        })
        .await
        .expect("GatherUsingSpeak succeeds");
    center.caller.press(&customer.id, "2").await;
    let gathered = center.events.wait("call.gather.ended", &customer.id).await;
    let menu = typed!(gathered, CallGatherEnded);
    assert_eq!(
        (
            menu.digits.as_str(),
            menu.status(),
            menu.client_state.as_str()
        ),
        ("2", call_gather_ended_payload::Status::Valid, "bWVudQ==")
    );

    center
        .queues
        .enqueue_call(EnqueueCallRequest {
            call_control_id: customer.id.clone(),
            queue_name: "support".into(),
            ..Default::default()
        })
        .await
        .expect("EnqueueCall succeeds");
    let enqueued = center.events.wait("call.enqueued", &customer.id).await;
    let waiting = typed!(enqueued, CallEnqueued);
    assert_eq!(
        (waiting.queue.as_str(), waiting.current_position),
        ("support", Some(1))
    );

    let agent = center.dial(AGENT).await;
    center
        .calls
        .bridge(BridgeRequest {
            call_control_id: customer.id.clone(),
            other_call_control_id: agent.id.clone(),
            ..Default::default()
        })
        .await
        .expect("Bridge succeeds");
    let dequeued = center.events.wait("call.dequeued", &customer.id).await;
    let left = typed!(dequeued, CallLeftQueue);
    assert_eq!(
        (left.queue.as_str(), left.reason()),
        ("support", call_left_queue_payload::Reason::Bridged)
    );
    for leg in [&customer, &agent] {
        let bridged = center.events.wait("call.bridged", &leg.id).await;
        assert_eq!(typed!(bridged, CallBridged).call_leg_id, leg.leg_id);
    }

    center.record(&customer).await;
    center.caller.hang_up(&customer.id).await;
    let hangup = center.events.wait("call.hangup", &customer.id).await;
    let ended = typed!(hangup, CallHangup);
    assert_eq!(
        (ended.hangup_cause(), ended.hangup_source()),
        (
            call_hangup_payload::HangupCause::NormalClearing,
            call_hangup_payload::HangupSource::Caller
        )
    );
    // The bridge ends with the customer: Telnyx hangs up the agent too.
    let hangup = center.events.wait("call.hangup", &agent.id).await;
    let ended = typed!(hangup, CallHangup);
    assert_eq!(
        (ended.hangup_cause(), ended.hangup_source()),
        (
            call_hangup_payload::HangupCause::NormalClearing,
            call_hangup_payload::HangupSource::Callee
        )
    );
    let saved = center.events.recording_of(&customer).await;
    let recording = typed!(saved, CallRecordingSaved);
    assert_eq!(
        recording.channels(),
        call_recording_saved_payload::Channels::Dual
    );
    let urls = recording.recording_urls.as_ref().expect("recording URLs");
    assert!(urls.mp3.ends_with(".mp3"), "{urls:?}");
    assert!(recording.recording_started_at.is_some() && recording.recording_ended_at.is_some());

    assert_eq!(
        center.history(&customer),
        [
            "call.initiated",
            "call.answered",
            "call.gather.ended",
            "call.enqueued",
            "call.dequeued",
            "call.bridged",
            "call.hangup",
            "call.recording.saved",
        ]
    );
    assert_eq!(
        center.history(&agent),
        [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.hangup"
        ]
    );
    center.close().await;
}

#[tokio::test]
async fn a_voicemail_greets_the_caller_and_saves_the_message() {
    let mut center = CallCenter::open().await;
    let customer = center.answered_call(CALLER).await;
    let greeting = "https://example.com/voicemail-greeting.mp3";

    center
        .calls
        .start_playback(StartPlaybackRequest {
            call_control_id: customer.id.clone(),
            audio_url: greeting.into(),
            ..Default::default()
        })
        .await
        .expect("StartPlayback succeeds");
    let started = center
        .events
        .wait("call.playback.started", &customer.id)
        .await;
    assert_eq!(typed!(started, CallPlaybackStarted).media_url, greeting);
    let finished = center
        .events
        .wait("call.playback.ended", &customer.id)
        .await;
    let played = typed!(finished, CallPlaybackEnded);
    assert_eq!(
        (played.media_url.as_str(), played.status()),
        (greeting, call_playback_ended_payload::Status::Completed)
    );

    center
        .calls
        .start_recording(CallServiceStartRecordingRequest {
            call_control_id: customer.id.clone(),
            format: call_service_start_recording_request::Format::Wav.into(),
            channels: call_service_start_recording_request::Channels::Single.into(),
            play_beep: Some(true),
            client_state: "dm9pY2VtYWls".into(),
            ..Default::default()
        })
        .await
        .expect("StartRecording succeeds");
    center
        .caller
        .say(&customer.id, "Hi, this is Ada, please call me back.")
        .await;
    center.caller.hang_up(&customer.id).await;

    let saved = center.events.recording_of(&customer).await;
    let message = typed!(saved, CallRecordingSaved);
    assert_eq!(
        (message.channels(), message.client_state.as_str()),
        (
            call_recording_saved_payload::Channels::Single,
            "dm9pY2VtYWls"
        )
    );
    let urls = message.recording_urls.as_ref().expect("recording URLs");
    assert!(
        urls.wav.ends_with(".wav") && urls.mp3.is_empty(),
        "{urls:?}"
    );
    assert_eq!(
        center.history(&customer),
        [
            "call.initiated",
            "call.answered",
            "call.playback.started",
            "call.playback.ended",
            "call.hangup",
            "call.recording.saved",
        ]
    );
    center.close().await;
}

#[tokio::test]
async fn a_transfer_rings_an_agent_who_answers_and_is_bridged_with_the_caller() {
    let mut center = CallCenter::open().await;
    let customer = center.answered_call(CALLER).await;

    center
        .calls
        .transfer(TransferRequest {
            call_control_id: customer.id.clone(),
            to: AGENT.into(),
            target_leg_client_state: "YWdlbnQ=".into(),
            ..Default::default()
        })
        .await
        .expect("Transfer succeeds");
    // The agent's leg is new: the service learns its id from its first event.
    let initiated = center
        .events
        .wait_until("call.initiated", |payload| payload["to"] == AGENT)
        .await;
    let ringing = typed!(initiated, CallInitiated);
    assert_eq!(
        (
            ringing.direction(),
            ringing.from.as_str(),
            ringing.client_state.as_str()
        ),
        (
            call_initiated_payload::Direction::Outgoing,
            SUPPORT_LINE,
            "YWdlbnQ="
        )
    );
    let agent = Leg {
        id: ringing.call_control_id.clone(),
        leg_id: ringing.call_leg_id.clone(),
        session_id: ringing.call_session_id.clone(),
    };
    assert_eq!(
        agent.session_id, customer.session_id,
        "a transfer's leg belongs to the caller's session"
    );
    center.events.wait("call.answered", &agent.id).await;
    for leg in [&agent, &customer] {
        center.events.wait("call.bridged", &leg.id).await;
    }

    center.caller.hang_up(&customer.id).await;
    let hangup = center.events.wait("call.hangup", &agent.id).await;
    assert_eq!(
        typed!(hangup, CallHangup).client_state,
        "YWdlbnQ=",
        "the agent's leg keeps its client state to the end"
    );
    assert_eq!(
        center.history(&agent),
        [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.hangup"
        ]
    );
    assert_eq!(
        center.history(&customer),
        [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.hangup"
        ]
    );
    center.close().await;
}

#[tokio::test]
async fn a_refer_hands_the_call_over_or_is_refused_and_the_call_stays() {
    let mut center = CallCenter::open().await;
    let handed_over = center.answered_call(CALLER).await;
    let refused = center.answered_call("+15559870001").await;

    center
        .calls
        .refer(ReferRequest {
            call_control_id: handed_over.id.clone(),
            sip_address: "sip:agent@pbx.example.com".into(),
            client_state: "cmVmZXI=".into(),
            ..Default::default()
        })
        .await
        .expect("Refer succeeds");
    let started = center
        .events
        .wait("call.refer.started", &handed_over.id)
        .await;
    assert_eq!(
        typed!(started, CallReferStarted).sip_notify_response,
        Some(100)
    );
    let completed = center
        .events
        .wait("call.refer.completed", &handed_over.id)
        .await;
    let done = typed!(completed, CallReferCompleted);
    assert_eq!(
        (done.sip_notify_response, done.client_state.as_str()),
        (Some(200), "cmVmZXI=")
    );
    // The far end took the call: it leaves the platform.
    let hangup = center.events.wait("call.hangup", &handed_over.id).await;
    assert_eq!(
        typed!(hangup, CallHangup).hangup_cause(),
        call_hangup_payload::HangupCause::NormalClearing
    );
    assert!(!center.is_alive(&handed_over).await);

    // A PBX extension ending in 0486 is busy: the refer fails.
    center
        .calls
        .refer(ReferRequest {
            call_control_id: refused.id.clone(),
            sip_address: "sip:0486@pbx.example.com".into(),
            ..Default::default()
        })
        .await
        .expect("Refer succeeds");
    let failed = center.events.wait("call.refer.failed", &refused.id).await;
    assert_eq!(
        typed!(failed, CallReferFailed).sip_notify_response,
        Some(486)
    );
    assert!(
        center.is_alive(&refused).await,
        "a refused refer keeps the call"
    );

    assert_eq!(
        center.history(&handed_over),
        [
            "call.initiated",
            "call.answered",
            "call.refer.started",
            "call.refer.completed",
            "call.hangup",
        ]
    );
    assert_eq!(
        center.history(&refused),
        [
            "call.initiated",
            "call.answered",
            "call.refer.started",
            "call.refer.failed",
        ]
    );
    center.close().await;
}
