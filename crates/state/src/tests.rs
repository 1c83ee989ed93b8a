//! The fold, event type by event type, and what must hold whatever the
//! delivery: duplicates, every pair of events swapped, retention.

use std::time::Duration;

use api::v1 as pb;
use events::cursor::{Cursor, Position};
use serde_json::{Value, json};

use crate::fold::{Fold, Gone, Settings, Subject};
use crate::input::{Input, duration, timestamp};

/// 2024-05-01T12:00:00Z, in milliseconds.
const T0: i64 = 1_714_564_800_000;

/// An event `id` of `event_type` that occurred `at` ms after T0.
fn event(id: &str, event_type: &str, at: i64, payload: Value) -> Input {
    let Value::Object(payload) = payload else {
        panic!("a payload is an object");
    };
    Input {
        id: id.to_owned(),
        event_type: event_type.to_owned(),
        occurred_at: Some(T0 + at),
        payload,
        cursor: Cursor {
            epoch: 1,
            position: Position::new(0, 0),
        },
    }
}

/// Folds the events in order, each with the next cursor.
fn fold(events: &[Input]) -> Fold {
    let mut fold = Fold::new(Settings::default());
    feed(&mut fold, events);
    fold
}

fn feed(fold: &mut Fold, events: &[Input]) -> Vec<Subject> {
    let mut touched = Vec::new();
    for event in events {
        let mut event = event.clone();
        let next = fold.cursor().map_or(1, |c| c.position.major + 1);
        event.cursor.position = Position::new(next, 0);
        touched.extend(fold.apply(&event));
    }
    touched
}

/// A time well after every event of a test, for rendering.
const NOW: i64 = T0 + 60_000;

fn call(fold: &Fold, id: &str) -> pb::CallState {
    fold.call(id, NOW).expect("the call is readable")
}

fn conference(fold: &Fold, id: &str) -> pb::ConferenceState {
    fold.conference(id, NOW)
        .expect("the conference is readable")
}

fn line(fold: &Fold, queue: &str) -> Vec<(String, i32)> {
    fold.queue(queue, NOW)
        .calls
        .into_iter()
        .map(|c| (c.call_control_id, c.position))
        .collect()
}

fn ids(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
    pairs.iter().map(|(id, p)| ((*id).to_owned(), *p)).collect()
}

fn initiated(id: &str, call: &str, at: i64, direction: &str) -> Input {
    event(
        id,
        "call.initiated",
        at,
        json!({"call_control_id": call, "call_leg_id": format!("leg-{call}"),
               "call_session_id": format!("session-{call}"), "direction": direction,
               "from": "+15559870000", "to": "+15551230001", "client_state": "aW5pdA==",
               "state": "parked"}),
    )
}

fn call_event(id: &str, event_type: &str, call: &str, at: i64) -> Input {
    event(id, event_type, at, json!({"call_control_id": call}))
}

fn enqueued(id: &str, call: &str, queue: &str, at: i64, position: i64) -> Input {
    event(
        id,
        "call.enqueued",
        at,
        json!({"call_control_id": call, "queue": queue, "current_position": position,
               "queue_avg_wait_time_secs": 0}),
    )
}

fn dequeued(id: &str, call: &str, queue: &str, at: i64, reason: &str, waited: i64) -> Input {
    event(
        id,
        "call.dequeued",
        at,
        json!({"call_control_id": call, "queue": queue, "queue_position": 1,
               "reason": reason, "wait_time_secs": waited}),
    )
}

fn participant(id: &str, event_type: &str, conference: &str, call: &str, at: i64) -> Input {
    event(
        id,
        event_type,
        at,
        json!({"conference_id": conference, "call_control_id": call}),
    )
}

fn conference_event(id: &str, event_type: &str, conference: &str, at: i64, extra: Value) -> Input {
    let mut payload = json!({"conference_id": conference, "call_control_id": "creator"});
    if let (Some(payload), Value::Object(extra)) = (payload.as_object_mut(), extra) {
        payload.extend(extra);
    }
    event(id, event_type, at, payload)
}

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

#[test]
fn a_call_goes_through_its_life() {
    let mut state = fold(&[initiated("e1", "A", 0, "outgoing")]);
    let a = call(&state, "A");
    assert_eq!(a.status(), pb::CallStatus::Initiated);
    assert_eq!(
        (a.from.as_str(), a.to.as_str(), a.direction.as_str()),
        ("+15559870000", "+15551230001", "outgoing")
    );
    assert_eq!(
        (a.call_leg_id.as_str(), a.call_session_id.as_str()),
        ("leg-A", "session-A")
    );
    assert_eq!(a.initiated_at, Some(timestamp(T0)));
    assert_eq!(a.client_state, "aW5pdA==");
    assert!(!a.cursor.is_empty() && a.observed_at == Some(timestamp(NOW)));

    feed(&mut state, &[call_event("e2", "call.answered", "A", 100)]);
    let a = call(&state, "A");
    assert_eq!(a.status(), pb::CallStatus::Answered);
    assert_eq!(a.answered_at, Some(timestamp(T0 + 100)));

    feed(&mut state, &[call_event("e3", "call.bridged", "A", 200)]);
    assert_eq!(call(&state, "A").status(), pb::CallStatus::Bridged);

    feed(&mut state, &[call_event("e4", "call.hold", "A", 300)]);
    assert!(call(&state, "A").on_hold);
    feed(&mut state, &[call_event("e5", "call.unhold", "A", 400)]);
    assert!(!call(&state, "A").on_hold);

    let hangup = event(
        "e6",
        "call.hangup",
        500,
        json!({"call_control_id": "A", "hangup_cause": "normal_clearing",
               "hangup_source": "caller", "sip_hangup_cause": "200", "client_state": "YnllIQ=="}),
    );
    feed(&mut state, &[hangup]);
    let a = call(&state, "A");
    assert_eq!(a.status(), pb::CallStatus::Ended);
    assert_eq!(a.ended_at, Some(timestamp(T0 + 500)));
    assert_eq!(
        a.hangup,
        Some(pb::Hangup {
            cause: "normal_clearing".into(),
            source: "caller".into(),
            sip_cause: "200".into(),
        })
    );
    assert_eq!(a.client_state, "YnllIQ==", "the newest client_state");
}

#[test]
fn an_incoming_call_rings_until_answered() {
    let state = fold(&[initiated("e1", "B", 0, "incoming")]);
    assert_eq!(call(&state, "B").status(), pb::CallStatus::Ringing);
}

#[test]
fn call_media_runs_between_its_start_and_end_events() {
    let cases = [
        (
            "call.playback.started",
            "call.playback.ended",
            pb::MediaKind::Playback,
        ),
        (
            "call.speak.started",
            "call.speak.ended",
            pb::MediaKind::Speak,
        ),
        (
            "streaming.started",
            "streaming.stopped",
            pb::MediaKind::Streaming,
        ),
        (
            "streaming.started",
            "streaming.failed",
            pb::MediaKind::Streaming,
        ),
        (
            "call.fork.started",
            "call.fork.stopped",
            pb::MediaKind::Fork,
        ),
        ("siprec.started", "siprec.stopped", pb::MediaKind::Siprec),
        ("siprec.started", "siprec.failed", pb::MediaKind::Siprec),
    ];
    for (started, ended, kind) in cases {
        let start = event(
            "s",
            started,
            10,
            json!({"call_control_id": "A", "media_url": "https://example.com/a.mp3",
                   "stream_url": "wss://example.com/s"}),
        );
        let mut state = fold(&[call_event("a", "call.answered", "A", 0), start]);
        let media = call(&state, "A").media;
        assert_eq!(media.len(), 1, "{started}");
        assert_eq!(media[0].kind(), kind);
        assert_eq!(media[0].started_at, Some(timestamp(T0 + 10)));
        assert!(!media[0].detail.is_empty());
        feed(&mut state, &[call_event("e", ended, "A", 20)]);
        assert!(call(&state, "A").media.is_empty(), "{ended}");
    }
}

#[test]
fn an_event_without_a_time_moves_the_cursor_only() {
    let mut untimed = call_event("e1", "call.answered", "A", 0);
    untimed.occurred_at = None;
    let state = fold(&[untimed]);
    assert_eq!(call(&state, "A").status(), pb::CallStatus::Unspecified);
    assert!(state.cursor().is_some());
}

// ---------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------

#[test]
fn calls_wait_in_line_in_the_order_they_entered() {
    let mut state = fold(&[
        initiated("i1", "A", 0, "incoming"),
        enqueued("e1", "A", "support", 100, 1),
        enqueued("e2", "B", "support", 200, 2),
        enqueued("e3", "C", "support", 300, 3),
    ]);
    assert_eq!(
        line(&state, "support"),
        ids(&[("A", 1), ("B", 2), ("C", 3)])
    );
    let queue = state.queue("support", T0 + 1300);
    assert_eq!(queue.queue_name, "support");
    let first = &queue.calls[0];
    assert_eq!(
        (first.from.as_str(), first.to.as_str()),
        ("+15559870000", "+15551230001")
    );
    assert_eq!(first.enqueued_at, Some(timestamp(T0 + 100)));
    assert_eq!(first.wait, Some(duration(1200)));
    let statistics = queue.statistics.unwrap();
    assert_eq!(statistics.waiting, 3);
    assert_eq!(statistics.longest_wait, Some(duration(1200)));
    assert_eq!(statistics.window, Some(duration(900_000)));

    feed(
        &mut state,
        &[dequeued("d1", "A", "support", 400, "bridged", 3)],
    );
    assert_eq!(line(&state, "support"), ids(&[("B", 1), ("C", 2)]));
    assert_eq!(call(&state, "A").queue_name, "");
    assert_eq!(call(&state, "B").queue_name, "support");
}

#[test]
fn queue_statistics_count_departures_by_reason() {
    let state = fold(&[
        enqueued("e1", "A", "sales", 0, 1),
        enqueued("e2", "B", "sales", 10, 2),
        enqueued("e3", "C", "sales", 20, 3),
        enqueued("e4", "D", "sales", 30, 4),
        enqueued("e5", "E", "sales", 40, 5),
        enqueued("e6", "F", "sales", 50, 6),
        dequeued("d1", "A", "sales", 100, "bridged", 10),
        dequeued("d2", "B", "sales", 110, "bridging-in-process", 20),
        dequeued("d3", "C", "sales", 120, "hangup", 30),
        dequeued("d4", "D", "sales", 130, "timeout", 40),
        dequeued("d5", "E", "sales", 140, "leave", 50),
    ]);
    let statistics = state.queue("sales", NOW).statistics.unwrap();
    assert_eq!(
        (
            statistics.waiting,
            statistics.answered,
            statistics.abandoned,
            statistics.timed_out,
            statistics.removed
        ),
        (1, 2, 1, 1, 1)
    );
    assert_eq!(statistics.average_wait, Some(duration(30_000)));
}

#[test]
fn an_unknown_queue_is_empty_not_missing() {
    let state = fold(&[]);
    let queue = state.queue("nobody", NOW);
    assert!(queue.calls.is_empty());
    assert_eq!(queue.statistics.unwrap().waiting, 0);
    assert_eq!(queue.cursor, "");
}

#[test]
fn a_dequeue_before_its_enqueue_leaves_no_ghost() {
    let state = fold(&[
        dequeued("d1", "A", "support", 200, "hangup", 0),
        enqueued("e1", "A", "support", 100, 1),
    ]);
    assert!(line(&state, "support").is_empty());
    assert_eq!(call(&state, "A").queue_name, "");
}

#[test]
fn a_call_enqueued_again_waits_again() {
    let state = fold(&[
        enqueued("e1", "A", "support", 100, 1),
        dequeued("d1", "A", "support", 200, "leave", 0),
        enqueued("e2", "A", "support", 300, 1),
    ]);
    assert_eq!(line(&state, "support"), ids(&[("A", 1)]));
}

#[test]
fn calls_entering_in_the_same_millisecond_keep_telnyx_order() {
    let state = fold(&[
        enqueued("e2", "Z", "support", 100, 2),
        enqueued("e1", "Y", "support", 100, 1),
    ]);
    assert_eq!(line(&state, "support"), ids(&[("Y", 1), ("Z", 2)]));
}

#[test]
fn queue_changes_say_who_entered_left_and_moved() {
    let mut state = fold(&[
        enqueued("e1", "A", "support", 100, 1),
        enqueued("e2", "B", "support", 200, 2),
    ]);
    let before = state.queue("support", NOW);
    feed(
        &mut state,
        &[
            dequeued("d1", "A", "support", 300, "hangup", 0),
            enqueued("e3", "C", "support", 400, 2),
        ],
    );
    let after = state.queue("support", NOW);
    let changes = state.queue_changes("support", &before, &after);
    assert_eq!(
        changes.entered,
        [pb::QueueEntry {
            call_control_id: "C".into(),
            position: 2
        }]
    );
    assert_eq!(
        changes.left,
        [pb::QueueExit {
            call_control_id: "A".into(),
            reason: "hangup".into(),
            last_position: 1
        }]
    );
    assert_eq!(
        changes.moved,
        [pb::QueueMove {
            call_control_id: "B".into(),
            previous_position: 2,
            position: 1
        }]
    );
}

// ---------------------------------------------------------------------------
// Conferences
// ---------------------------------------------------------------------------

#[test]
fn a_conference_seats_and_unseats_its_participants() {
    let mut state = fold(&[
        conference_event("c1", "conference.created", "K", 0, json!({})),
        participant("j1", "conference.participant.joined", "K", "A", 100),
        participant("j2", "conference.participant.joined", "K", "B", 200),
    ]);
    let k = conference(&state, "K");
    assert_eq!(k.status(), pb::ConferenceStatus::Active);
    assert_eq!(k.created_at, Some(timestamp(T0)));
    let seated: Vec<_> = k
        .participants
        .iter()
        .map(|p| (p.call_control_id.as_str(), p.status()))
        .collect();
    assert_eq!(
        seated,
        [
            ("A", pb::ParticipantStatus::Joined),
            ("B", pb::ParticipantStatus::Joined)
        ]
    );
    assert_eq!(k.participants[0].joined_at, Some(timestamp(T0 + 100)));
    assert_eq!(call(&state, "A").conference_id, "K");
    assert_eq!(k.participants[0].muted, None, "no event tells mutes");
    assert_eq!(k.participants[0].on_hold, None);

    feed(
        &mut state,
        &[participant(
            "l1",
            "conference.participant.left",
            "K",
            "A",
            300,
        )],
    );
    let k = conference(&state, "K");
    assert_eq!(k.participants[0].status(), pb::ParticipantStatus::Left);
    assert_eq!(k.participants[0].left_at, Some(timestamp(T0 + 300)));
    assert_eq!(call(&state, "A").conference_id, "");

    feed(
        &mut state,
        &[conference_event(
            "x1",
            "conference.ended",
            "K",
            400,
            json!({"reason": "all_left"}),
        )],
    );
    let k = conference(&state, "K");
    assert_eq!(k.status(), pb::ConferenceStatus::Ended);
    assert_eq!(k.ended_at, Some(timestamp(T0 + 400)));
    assert_eq!(k.end_reason, "all_left");
    assert_eq!(
        k.participants[1].status(),
        pb::ParticipantStatus::Left,
        "an ended conference has nobody in it"
    );
    assert_eq!(k.participants[1].left_at, Some(timestamp(T0 + 400)));
}

#[test]
fn a_late_joined_does_not_bring_a_participant_back() {
    let state = fold(&[
        participant("l1", "conference.participant.left", "K", "A", 300),
        participant("j1", "conference.participant.joined", "K", "A", 100),
    ]);
    let k = conference(&state, "K");
    assert_eq!(k.participants[0].status(), pb::ParticipantStatus::Left);
    assert_eq!(k.participants[0].joined_at, Some(timestamp(T0 + 100)));
    assert_eq!(call(&state, "A").conference_id, "");
    let rejoined = fold(&[
        participant("j1", "conference.participant.joined", "K", "A", 100),
        participant("l1", "conference.participant.left", "K", "A", 300),
        participant("j2", "conference.participant.joined", "K", "A", 500),
    ]);
    let k = conference(&rejoined, "K");
    assert_eq!(k.participants[0].status(), pb::ParticipantStatus::Joined);
}

#[test]
fn the_floor_media_and_recordings_of_a_conference() {
    let mut state = fold(&[
        participant("j1", "conference.participant.joined", "K", "A", 0),
        participant("f1", "conference.floor.changed", "K", "A", 10),
        conference_event(
            "p1",
            "conference.playback.started",
            "K",
            20,
            json!({"media_url": "https://example.com/hold.mp3"}),
        ),
        conference_event("s1", "conference.speak.started", "K", 30, json!({})),
        event(
            "ps1",
            "conference.participant.speak.started",
            40,
            json!({"conference_id": "K", "call_control_id": "A"}),
        ),
        conference_event(
            "r1",
            "conference.recording.saved",
            "K",
            50,
            json!({"recording_id": "rec-1", "recording_started_at": "2024-05-01T12:00:00Z",
                   "recording_ended_at": "2024-05-01T12:00:00.040Z"}),
        ),
    ]);
    let k = conference(&state, "K");
    assert_eq!(k.floor_call_control_id, "A");
    let kinds: Vec<_> = k
        .media
        .iter()
        .map(|m| (m.kind(), m.detail.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (pb::MediaKind::Playback, "https://example.com/hold.mp3"),
            (pb::MediaKind::Speak, "")
        ]
    );
    assert_eq!(k.participants[0].media[0].kind(), pb::MediaKind::Speak);
    let recording = k.recording.unwrap();
    assert_eq!(recording.recording_id, "rec-1");
    assert_eq!(recording.ended_at, Some(timestamp(T0 + 40)));
    assert_eq!(
        call(&state, "A").media,
        [],
        "the participant's media is the conference's"
    );

    feed(
        &mut state,
        &[
            conference_event("p2", "conference.playback.ended", "K", 60, json!({})),
            conference_event("s2", "conference.speak.ended", "K", 70, json!({})),
            event(
                "ps2",
                "conference.participant.speak.ended",
                80,
                json!({"conference_id": "K", "call_control_id": "A"}),
            ),
        ],
    );
    let k = conference(&state, "K");
    assert!(k.media.is_empty() && k.participants[0].media.is_empty());
}

#[test]
fn participant_fields_telnyx_names_are_honoured_when_an_event_carries_them() {
    let joined = event(
        "j1",
        "conference.participant.joined",
        0,
        json!({"conference_id": "K", "call_control_id": "S", "muted": true, "on_hold": false,
               "supervisor_role": "whisper", "whisper_call_control_ids": ["A", "B"]}),
    );
    let state = fold(&[joined]);
    let s = &conference(&state, "K").participants[0];
    assert_eq!((s.muted, s.on_hold), (Some(true), Some(false)));
    assert_eq!(s.supervisor_role(), pb::SupervisorRole::Whisper);
    assert_eq!(s.whisper_call_control_ids, ["A", "B"]);
}

#[test]
fn a_participant_on_hold_by_its_call_events() {
    let state = fold(&[
        participant("j1", "conference.participant.joined", "K", "A", 0),
        call_event("h1", "call.hold", "A", 10),
    ]);
    assert_eq!(conference(&state, "K").participants[0].on_hold, Some(true));
}

#[test]
fn an_unknown_conference_or_call_is_empty() {
    let state = fold(&[]);
    let k = conference(&state, "nobody");
    assert_eq!(k.status(), pb::ConferenceStatus::Unspecified);
    assert!(k.participants.is_empty());
    let c = call(&state, "nobody");
    assert_eq!(c.status(), pb::CallStatus::Unspecified);
    assert_eq!(c.call_control_id, "nobody");
}

// ---------------------------------------------------------------------------
// Whatever the delivery
// ---------------------------------------------------------------------------

/// A day at the contact center in 22 events, in the order they occurred.
fn scenario() -> Vec<Input> {
    vec![
        initiated("1", "A", 0, "incoming"),
        call_event("2", "call.answered", "A", 100),
        initiated("3", "B", 200, "incoming"),
        call_event("4", "call.answered", "B", 300),
        enqueued("5", "A", "support", 400, 1),
        enqueued("6", "B", "support", 500, 2),
        dequeued("7", "A", "support", 600, "bridged", 0),
        call_event("8", "call.bridged", "A", 700),
        conference_event("9", "conference.created", "K", 800, json!({})),
        participant("10", "conference.participant.joined", "K", "C", 900),
        participant("11", "conference.participant.joined", "K", "D", 1000),
        participant("12", "conference.floor.changed", "K", "C", 1100),
        conference_event("13", "conference.playback.started", "K", 1200, json!({})),
        participant("14", "conference.participant.speak.started", "K", "D", 1300),
        call_event("15", "call.hold", "D", 1400),
        conference_event("16", "conference.playback.ended", "K", 1500, json!({})),
        participant("17", "conference.participant.left", "K", "D", 1600),
        call_event("18", "call.hangup", "B", 1700),
        dequeued("19", "B", "support", 1800, "hangup", 1),
        conference_event(
            "20",
            "conference.ended",
            "K",
            1900,
            json!({"reason": "all_left"}),
        ),
        call_event("21", "call.speak.started", "A", 2000),
        call_event("22", "call.speak.ended", "A", 2100),
    ]
}

/// Every subject of the scenario, rendered at NOW, cursors cleared (they
/// name the last event delivered, which differs between deliveries).
fn everything(fold: &Fold) -> (pb::QueueState, pb::ConferenceState, Vec<pb::CallState>) {
    let mut queue = fold.queue("support", NOW);
    queue.cursor.clear();
    let mut k = conference(fold, "K");
    k.cursor.clear();
    let calls = ["A", "B", "C", "D"]
        .iter()
        .map(|id| {
            let mut state = call(fold, id);
            state.cursor.clear();
            state
        })
        .collect();
    (queue, k, calls)
}

#[test]
fn the_scenario_ends_as_it_should() {
    let (queue, k, calls) = everything(&fold(&scenario()));
    assert!(queue.calls.is_empty());
    let statistics = queue.statistics.unwrap();
    assert_eq!((statistics.answered, statistics.abandoned), (1, 1));
    assert_eq!(k.status(), pb::ConferenceStatus::Ended);
    assert!(
        k.participants
            .iter()
            .all(|p| p.status() == pb::ParticipantStatus::Left)
    );
    let statuses: Vec<_> = calls.iter().map(pb::CallState::status).collect();
    assert_eq!(
        statuses,
        [
            pb::CallStatus::Bridged,
            pb::CallStatus::Ended,
            pb::CallStatus::Unspecified,
            pb::CallStatus::Unspecified
        ]
    );
    assert!(calls[3].on_hold);
}

#[test]
fn duplicates_change_nothing() {
    let events = scenario();
    let once = everything(&fold(&events));
    let twice: Vec<Input> = events.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    assert_eq!(everything(&fold(&twice)), once);
    let mut again = fold(&events);
    let touched = feed(&mut again, &events);
    assert!(
        touched.is_empty(),
        "a replay of the whole day touched {touched:?}"
    );
    assert_eq!(everything(&again), once);
}

#[test]
fn every_pair_of_events_swapped_gives_the_same_state() {
    let events = scenario();
    let expected = everything(&fold(&events));
    for i in 0..events.len() {
        for j in i + 1..events.len() {
            let mut swapped = events.clone();
            swapped.swap(i, j);
            assert_eq!(
                everything(&fold(&swapped)),
                expected,
                "events {} and {} swapped",
                events[i].event_type,
                events[j].event_type
            );
        }
    }
    let mut reversed = events;
    reversed.reverse();
    assert_eq!(everything(&fold(&reversed)), expected, "all reversed");
}

#[test]
fn touched_subjects_are_the_ones_that_changed() {
    let mut state = fold(&[]);
    let touched = feed(&mut state, &[enqueued("e1", "A", "support", 0, 1)]);
    assert_eq!(
        touched,
        [Subject::Call("A".into()), Subject::Queue("support".into())]
    );
    // The numbers of a waiting call show in its queue.
    let touched = feed(&mut state, &[initiated("i1", "A", 10, "incoming")]);
    assert!(
        touched.contains(&Subject::Queue("support".into())),
        "{touched:?}"
    );
    // A hold shows in the conference the call sits in.
    feed(
        &mut state,
        &[participant(
            "j1",
            "conference.participant.joined",
            "K",
            "B",
            20,
        )],
    );
    let touched = feed(&mut state, &[call_event("h1", "call.hold", "B", 30)]);
    assert!(
        touched.contains(&Subject::Conference("K".into())),
        "{touched:?}"
    );
}

// ---------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------

const MINUTE: i64 = 60_000;

#[test]
fn an_ended_call_is_readable_for_the_retention_then_not_found() {
    let settings = Settings::default();
    assert_eq!(settings.retention, Duration::from_secs(600));
    let mut state = fold(&[
        call_event("a", "call.answered", "A", 0),
        call_event("h", "call.hangup", "A", MINUTE),
    ]);
    // Read by the local clock: within the retention, then gone.
    assert!(state.call("A", T0 + 10 * MINUTE).is_ok());
    assert_eq!(state.call("A", T0 + 12 * MINUTE), Err(Gone));
    // Event time moving on drops it and leaves a tombstone.
    feed(
        &mut state,
        &[call_event("x", "call.answered", "X", 12 * MINUTE)],
    );
    assert_eq!(state.sizes().calls, 1);
    assert_eq!(state.sizes().tombstones, 1);
    assert_eq!(state.call("A", T0), Err(Gone), "gone, whatever the clock");
    // A late event does not bring it back.
    feed(
        &mut state,
        &[call_event("late", "call.speak.started", "A", 30_000)],
    );
    assert_eq!(state.call("A", T0), Err(Gone));
    // After the horizon it is forgotten: an unknown call is empty.
    feed(
        &mut state,
        &[call_event("y", "call.answered", "Y", 25 * 60 * MINUTE)],
    );
    assert_eq!(state.sizes().tombstones, 0);
    assert_eq!(call(&state, "A").status(), pb::CallStatus::Unspecified);
}

#[test]
fn an_ended_conference_is_readable_for_the_retention_then_not_found() {
    let mut state = fold(&[
        participant("j", "conference.participant.joined", "K", "A", 0),
        conference_event(
            "e",
            "conference.ended",
            "K",
            MINUTE,
            json!({"reason": "host_left"}),
        ),
    ]);
    assert!(state.conference("K", T0 + 11 * MINUTE - 1).is_ok());
    assert_eq!(state.conference("K", T0 + 11 * MINUTE + 1), Err(Gone));
    feed(
        &mut state,
        &[call_event("x", "call.answered", "X", 12 * MINUTE)],
    );
    assert_eq!(state.sizes().conferences, 0);
    assert_eq!(state.conference("K", T0), Err(Gone));
    feed(
        &mut state,
        &[participant(
            "late",
            "conference.participant.joined",
            "K",
            "B",
            13 * MINUTE,
        )],
    );
    assert_eq!(state.conference("K", T0), Err(Gone), "not resurrected");
}

#[test]
fn departures_count_for_the_window_then_go() {
    let mut state = fold(&[
        enqueued("e1", "A", "support", 0, 1),
        dequeued("d1", "A", "support", MINUTE, "hangup", 60),
    ]);
    assert_eq!(state.queue("support", NOW).statistics.unwrap().abandoned, 1);
    feed(
        &mut state,
        &[call_event("x", "call.answered", "X", 15 * MINUTE)],
    );
    assert_eq!(state.queue("support", NOW).statistics.unwrap().abandoned, 1);
    let touched = feed(
        &mut state,
        &[call_event("y", "call.answered", "Y", 17 * MINUTE)],
    );
    assert!(touched.contains(&Subject::Queue("support".into())));
    assert_eq!(state.queue("support", NOW).statistics.unwrap().abandoned, 0);
    assert_eq!(state.sizes().queues, 0, "an empty queue takes no room");
}

#[test]
fn silent_subjects_are_dropped_after_the_horizon() {
    let mut state = fold(&[
        call_event("a", "call.answered", "A", 0),
        enqueued("e", "A", "support", 0, 1),
        participant("j", "conference.participant.joined", "K", "B", 0),
    ]);
    feed(
        &mut state,
        &[call_event("x", "call.answered", "X", 23 * 60 * MINUTE)],
    );
    assert_eq!(line(&state, "support"), ids(&[("A", 1)]));
    feed(
        &mut state,
        &[call_event("y", "call.answered", "Y", 25 * 60 * MINUTE)],
    );
    let sizes = state.sizes();
    assert_eq!((sizes.calls, sizes.queues, sizes.conferences), (2, 0, 0));
    assert_eq!(call(&state, "A").status(), pb::CallStatus::Unspecified);
}
