//! `StateService` through a real gRPC client: the state folded from signed
//! webhooks posted to the gateway, watches, the snapshot-then-stream seam,
//! retention, slow watchers, and two replicas on one Redis.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::v1::{
    self as pb, GetCallStateRequest, GetConferenceStateRequest, GetQueueStateRequest,
    SubscribeRequest, WatchConferenceRequest, WatchQueueRequest,
    state_service_client::StateServiceClient,
};
use serde_json::{Value, json};
use tonic::transport::Endpoint;
use tonic::{Code, Streaming};

use crate::support::redis::RedisServer;
use crate::support::{AuthedChannel, BearerToken, TEST_CALLER_TOKEN, TestGateway, next_event};

pub type States = StateServiceClient<AuthedChannel>;

pub fn states(gateway: &TestGateway) -> States {
    StateServiceClient::new(gateway.authed())
}

/// Now by the local clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// RFC 3339 in UTC with milliseconds, as Telnyx writes `occurred_at`.
pub fn rfc3339(millis: i64) -> String {
    let (secs, ms) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A `data` object of `event_type` that occurred at `at` (ms).
fn event(event_type: &str, at: i64, payload: Value) -> Value {
    json!({
        "record_type": "event",
        "id": uuid::Uuid::new_v4().to_string(),
        "event_type": event_type,
        "occurred_at": rfc3339(at),
        "payload": payload,
    })
}

fn enqueued(call: &str, queue: &str, at: i64, position: i64) -> Value {
    event(
        "call.enqueued",
        at,
        json!({"call_control_id": call, "queue": queue, "current_position": position,
               "queue_avg_wait_time_secs": 0}),
    )
}

fn dequeued(call: &str, queue: &str, at: i64, reason: &str) -> Value {
    event(
        "call.dequeued",
        at,
        json!({"call_control_id": call, "queue": queue, "queue_position": 1,
               "reason": reason, "wait_time_secs": 1}),
    )
}

fn participant(event_type: &str, conference: &str, call: &str, at: i64) -> Value {
    event(
        event_type,
        at,
        json!({"conference_id": conference, "call_control_id": call}),
    )
}

/// The state without the fields measured by the local clock when it was
/// built: everything else is a function of the cursor.
pub fn queue_at_cursor(mut state: pb::QueueState) -> pb::QueueState {
    state.observed_at = None;
    for call in &mut state.calls {
        call.wait = None;
    }
    if let Some(statistics) = &mut state.statistics {
        statistics.longest_wait = None;
    }
    state
}

pub fn conference_at_cursor(mut state: pb::ConferenceState) -> pb::ConferenceState {
    state.observed_at = None;
    state
}

pub fn call_at_cursor(mut state: pb::CallState) -> pb::CallState {
    state.observed_at = None;
    state
}

pub async fn queue_state(states: &mut States, queue: &str) -> pb::QueueState {
    states
        .get_queue_state(GetQueueStateRequest {
            queue_name: queue.into(),
        })
        .await
        .expect("GetQueueState answers")
        .into_inner()
        .state
        .expect("a state")
}

pub async fn conference_state(states: &mut States, conference: &str) -> pb::ConferenceState {
    states
        .get_conference_state(GetConferenceStateRequest {
            conference_id: conference.into(),
        })
        .await
        .expect("GetConferenceState answers")
        .into_inner()
        .state
        .expect("a state")
}

pub async fn call_state(states: &mut States, call: &str) -> Result<pb::CallState, tonic::Status> {
    states
        .get_call_state(GetCallStateRequest {
            call_control_id: call.into(),
        })
        .await
        .map(|r| r.into_inner().state.expect("a state"))
}

pub fn line(state: &pb::QueueState) -> Vec<(String, i32)> {
    state
        .calls
        .iter()
        .map(|c| (c.call_control_id.clone(), c.position))
        .collect()
}

pub fn pairs(expected: &[(&str, i32)]) -> Vec<(String, i32)> {
    expected
        .iter()
        .map(|(c, p)| ((*c).to_owned(), *p))
        .collect()
}

/// The next message of a watch; fails after five seconds.
pub async fn next<T>(stream: &mut Streaming<T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("a message within 5 s")
        .expect("the watch goes on")
        .expect("the watch is open")
}

async fn watch_queue(states: &mut States, queue: &str) -> Streaming<pb::WatchQueueResponse> {
    states
        .watch_queue(WatchQueueRequest {
            queue_name: queue.into(),
        })
        .await
        .expect("the watch starts")
        .into_inner()
}

/// Reads a queue watch until its state satisfies `done`; returns every
/// message read.
async fn watch_until(
    stream: &mut Streaming<pb::WatchQueueResponse>,
    done: impl Fn(&pb::QueueState) -> bool,
) -> Vec<pb::WatchQueueResponse> {
    let mut seen = Vec::new();
    loop {
        let message = next(stream).await;
        let finished = done(message.state.as_ref().unwrap());
        seen.push(message);
        if finished {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_queue_is_watched_from_empty_through_entries_and_departures() {
    let gateway = TestGateway::spawn().await;
    let mut states = states(&gateway);
    let empty = queue_state(&mut states, "support").await;
    assert!(empty.calls.is_empty());
    assert_eq!(empty.cursor, "", "nothing folded yet");
    assert!(empty.observed_at.is_some());

    let mut watch = watch_queue(&mut states, "support").await;
    let first = next(&mut watch).await;
    assert_eq!(first.skipped, 0);
    assert!(first.state.unwrap().calls.is_empty());
    assert_eq!(first.changes, Some(pb::QueueChanges::default()));

    let t = now_ms() - 5_000;
    let caller = event(
        "call.initiated",
        t,
        json!({"call_control_id": "v3:A", "direction": "incoming", "from": "+15559870000",
               "to": "+15551230001", "state": "parked"}),
    );
    gateway.post_event(&caller).await.ok();
    for (i, call) in ["v3:A", "v3:B", "v3:C"].iter().enumerate() {
        let i = i as i64;
        gateway
            .post_event(&enqueued(call, "support", t + 100 * (i + 1), i + 1))
            .await
            .ok();
    }
    let seen = watch_until(&mut watch, |s| s.calls.len() == 3).await;
    let last = seen.last().unwrap().state.clone().unwrap();
    assert_eq!(line(&last), pairs(&[("v3:A", 1), ("v3:B", 2), ("v3:C", 3)]));
    let a = &last.calls[0];
    assert_eq!(
        (a.from.as_str(), a.to.as_str()),
        ("+15559870000", "+15551230001")
    );
    assert!(a.wait.as_ref().unwrap().seconds >= 4, "{:?}", a.wait);
    let entered: usize = seen
        .iter()
        .map(|m| m.changes.as_ref().unwrap().entered.len())
        .sum();
    assert_eq!(entered, 3, "each call entered once across the messages");

    // A read says the same at the same cursor.
    let read = queue_state(&mut states, "support").await;
    assert_eq!(queue_at_cursor(read.clone()), queue_at_cursor(last));
    assert_eq!(read.statistics.unwrap().waiting, 3);

    // Snapshot, then stream: the events after the state's cursor, exactly.
    let hangup = dequeued("v3:B", "support", t + 1000, "hangup");
    gateway.post_event(&hangup).await.ok();
    let mut after = gateway
        .subscribe(SubscribeRequest {
            resume_after: read.cursor.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        next_event(&mut after).await.id,
        hangup["id"].as_str().unwrap()
    );

    let moved = next(&mut watch).await;
    let changes = moved.changes.unwrap();
    assert_eq!(
        changes.left,
        [pb::QueueExit {
            call_control_id: "v3:B".into(),
            reason: "hangup".into(),
            last_position: 2
        }]
    );
    assert_eq!(
        changes.moved,
        [pb::QueueMove {
            call_control_id: "v3:C".into(),
            previous_position: 3,
            position: 2
        }]
    );
    let statistics = moved.state.unwrap().statistics.unwrap();
    assert_eq!((statistics.waiting, statistics.abandoned), (2, 1));
}

#[tokio::test]
async fn requests_name_their_subject_and_callers_need_a_token() {
    let gateway = TestGateway::spawn().await;
    let mut states = states(&gateway);
    let status = states
        .get_queue_state(GetQueueStateRequest::default())
        .await
        .unwrap_err();
    crate::support::assert_invalid_field(&status, "queue_name");
    let status = states
        .watch_conference(WatchConferenceRequest::default())
        .await
        .unwrap_err();
    crate::support::assert_invalid_field(&status, "conference_id");
    let status = call_state(&mut states, &"x".repeat(600)).await.unwrap_err();
    crate::support::assert_invalid_field(&status, "call_control_id");

    let mut anonymous = StateServiceClient::new(gateway.channel());
    let status = anonymous
        .get_queue_state(GetQueueStateRequest {
            queue_name: "support".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn calls_and_conferences_stay_readable_for_the_retention_only() {
    let gateway = TestGateway::spawn().await;
    let mut states = states(&gateway);
    let unknown = call_state(&mut states, "v3:never").await.unwrap();
    assert_eq!(unknown.status(), pb::CallStatus::Unspecified);

    let t = now_ms() - 1_000;
    let mut watch = states
        .watch_conference(WatchConferenceRequest {
            conference_id: "conf-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next(&mut watch).await.state.unwrap().status(),
        pb::ConferenceStatus::Unspecified
    );
    for data in [
        participant("conference.participant.joined", "conf-1", "v3:host", t),
        participant(
            "conference.participant.joined",
            "conf-1",
            "v3:guest",
            t + 10,
        ),
        participant("conference.participant.left", "conf-1", "v3:guest", t + 20),
        event(
            "call.hangup",
            t + 30,
            json!({"call_control_id": "v3:guest", "hangup_cause": "normal_clearing",
                   "hangup_source": "caller", "sip_hangup_cause": "200"}),
        ),
    ] {
        gateway.post_event(&data).await.ok();
    }
    let mut state = next(&mut watch).await.state.unwrap();
    while state.participants.len() < 2
        || state.participants[1].status() != pb::ParticipantStatus::Left
    {
        state = next(&mut watch).await.state.unwrap();
    }
    assert_eq!(state.status(), pb::ConferenceStatus::Active);
    assert_eq!(
        state.participants[0].status(),
        pb::ParticipantStatus::Joined
    );
    assert_eq!(
        conference_at_cursor(conference_state(&mut states, "conf-1").await).participants,
        state.participants
    );

    let guest = call_state(&mut states, "v3:guest").await.unwrap();
    assert_eq!(guest.status(), pb::CallStatus::Ended);
    assert_eq!(guest.hangup.unwrap().source, "caller");
    assert_eq!(guest.conference_id, "");

    // A call that ended longer ago than the retention answers NOT_FOUND.
    let long_ago = now_ms() - 20 * 60_000;
    gateway
        .post_event(&event(
            "call.hangup",
            long_ago,
            json!({"call_control_id": "v3:old", "hangup_cause": "normal_clearing"}),
        ))
        .await
        .ok();
    let mut status = None;
    for _ in 0..100 {
        match call_state(&mut states, "v3:old").await {
            Err(gone) => {
                status = Some(gone);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let status = status.expect("the old call is gone");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn a_slow_watcher_gets_the_latest_state_and_counts_what_it_skipped() {
    let gateway = TestGateway::spawn().await;
    // A connection with HTTP/2's smallest windows: an unread watch stalls
    // after about 64 KiB.
    let channel = Endpoint::from_shared(format!("http://{}", gateway.grpc_addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let mut slow = StateServiceClient::new(tonic::service::interceptor::InterceptedService::new(
        channel,
        BearerToken::new(TEST_CALLER_TOKEN),
    ));
    let mut watch = watch_queue(&mut slow, "busy").await;
    assert!(next(&mut watch).await.state.unwrap().calls.is_empty());

    const CALLS: usize = 150;
    let t = now_ms() - 60_000;
    for i in 0..CALLS {
        let call = format!("v3:{i:03}-{}", "x".repeat(200));
        gateway
            .post_event(&enqueued(&call, "busy", t + i as i64, i as i64 + 1))
            .await
            .ok();
    }
    let seen = watch_until(&mut watch, |s| s.calls.len() == CALLS).await;
    let states_accounted: u64 = seen.iter().map(|m| 1 + m.skipped).sum();
    assert_eq!(
        states_accounted, CALLS as u64,
        "every change is either sent or counted as skipped"
    );
    assert!(
        seen.len() < CALLS,
        "a reader that does not keep up is sent fewer states ({} messages)",
        seen.len()
    );
    let sizes: Vec<usize> = seen
        .iter()
        .map(|m| m.state.as_ref().unwrap().calls.len())
        .collect();
    assert!(
        sizes.windows(2).all(|w| w[0] < w[1]),
        "never an older state after a newer one: {sizes:?}"
    );
}

/// Polls a replica until its queue state is at `cursor`.
async fn queue_at(states: &mut States, queue: &str, cursor: &str) -> pb::QueueState {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match states
            .get_queue_state(GetQueueStateRequest {
                queue_name: queue.into(),
            })
            .await
        {
            Ok(reply) => {
                let state = reply.into_inner().state.unwrap();
                if state.cursor == cursor {
                    return state;
                }
            }
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica did not reach {cursor}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_one_redis_serve_one_state_and_a_restarted_one_rebuilds_it() {
    let redis = RedisServer::start();
    let a = TestGateway::spawn_killable(&["--redis-url", &redis.url()]).await;
    let b = TestGateway::spawn_with(&["--redis-url", &redis.url()]).await;
    let mut everything = b.subscribe(SubscribeRequest::default()).await;

    let t = now_ms() - 10_000;
    let mut posted = Vec::new();
    for i in 0..12i64 {
        posted.push(enqueued(&format!("v3:{i}"), "support", t + i * 10, i + 1));
    }
    posted.push(dequeued("v3:3", "support", t + 500, "bridged"));
    posted.push(dequeued("v3:7", "support", t + 510, "hangup"));
    // Out of order: the dequeue of a call arrives before its enqueue.
    posted.push(dequeued("v3:late", "support", t + 600, "leave"));
    posted.push(enqueued("v3:late", "support", t + 550, 11));
    posted.push(participant(
        "conference.participant.joined",
        "conf-r",
        "v3:3",
        t + 700,
    ));
    posted.push(participant(
        "conference.participant.joined",
        "conf-r",
        "v3:agent",
        t + 710,
    ));
    for (i, data) in posted.iter().enumerate() {
        let to = if i % 2 == 0 { &a } else { &b };
        to.post_event(data).await.ok();
    }
    let mut cursor = String::new();
    for _ in 0..posted.len() {
        cursor = next_event(&mut everything).await.cursor;
    }

    let on_a = queue_at(&mut states(&a), "support", &cursor).await;
    let on_b = queue_at(&mut states(&b), "support", &cursor).await;
    assert_eq!(queue_at_cursor(on_a.clone()), queue_at_cursor(on_b.clone()));
    let expected: Vec<String> = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11]
        .iter()
        .map(|i| format!("v3:{i}"))
        .collect();
    assert_eq!(
        on_b.calls
            .iter()
            .map(|c| c.call_control_id.clone())
            .collect::<Vec<_>>(),
        expected,
        "no ghost of the call dequeued before its enqueue"
    );
    let conference_a = conference_state(&mut states(&a), "conf-r").await;
    let conference_b = conference_state(&mut states(&b), "conf-r").await;
    assert_eq!(conference_a, {
        let mut same = conference_b.clone();
        same.observed_at = conference_a.observed_at;
        same
    });
    assert_eq!(conference_b.participants.len(), 2);
    let agent_b = call_at_cursor(call_state(&mut states(&b), "v3:3").await.unwrap());
    assert_eq!(
        call_at_cursor(call_state(&mut states(&a), "v3:3").await.unwrap()),
        agent_b
    );
    assert_eq!(agent_b.conference_id, "conf-r");

    // Killed and started again: the new replica folds the history and
    // serves the same state at the same cursor before it answers.
    a.kill();
    let restarted = TestGateway::spawn_with(&["--redis-url", &redis.url()]).await;
    let again = queue_at(&mut states(&restarted), "support", &cursor).await;
    assert_eq!(queue_at_cursor(again), queue_at_cursor(on_b));
    let conference_again = conference_state(&mut states(&restarted), "conf-r").await;
    assert_eq!(
        conference_at_cursor(conference_again),
        conference_at_cursor(conference_b)
    );
    assert_eq!(
        call_at_cursor(call_state(&mut states(&restarted), "v3:3").await.unwrap()),
        agent_b
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_lost_redis_answers_only_once_it_rebuilt_from_the_history() {
    let mut redis = RedisServer::start();
    let gateway = TestGateway::spawn_with(&["--redis-url", &redis.url()]).await;
    let mut states = states(&gateway);
    let t = now_ms() - 1_000;
    gateway
        .post_event(&enqueued("v3:before", "support", t, 1))
        .await
        .ok();
    let mut everything = gateway
        .subscribe(SubscribeRequest {
            queue_name: "support".into(),
            ..Default::default()
        })
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while line(&queue_state(&mut states, "support").await).is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Redis goes away with its data: no answer from a state that may be
    // behind the history.
    redis.stop();
    gateway.ready_becomes(503, Duration::from_secs(10)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let answer = states
            .get_queue_state(GetQueueStateRequest {
                queue_name: "support".into(),
            })
            .await;
        if let Err(status) = answer {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "still answering");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    // An empty Redis: the history starts again, and so does the state.
    redis.restart();
    gateway.ready_becomes(200, Duration::from_secs(10)).await;
    let after = enqueued("v3:after", "support", t + 100, 1);
    gateway.post_event(&after).await.ok();
    let event = loop {
        let event = next_event(&mut everything).await;
        if event.id == after["id"].as_str().unwrap() {
            break event;
        }
    };
    let state = queue_at(&mut states, "support", &event.cursor).await;
    assert_eq!(line(&state), pairs(&[("v3:after", 1)]));
}
