//! Every RPC of `ConferenceService` against a mock Telnyx: the exact method,
//! path, query string and JSON body Telnyx receives for a rich request, the
//! mapping of Telnyx's answer into the typed response, and conformance of
//! every request to Telnyx's published spec. Validation of the service's
//! required fields closes the file.

use std::future::Future;

use crate::support::AuthedChannel;
use crate::support::{
    TestGateway, assert_invalid_field, assert_query, json_response, ok_result, telnyx,
    telnyx_with_body,
};
use api::v1::{
    Conference, ConferenceParticipant, ConferenceRegion, CreateConferenceRequest,
    EndConferenceRequest, GatherUsingAudioRequest, GetConferenceRequest, GetParticipantRequest,
    HoldParticipantsRequest, JoinConferenceRequest, LeaveConferenceRequest, ListConferencesRequest,
    ListParticipantsRequest, Loopcount, MuteParticipantsRequest, Participant,
    PauseRecordingRequest, PlayAudioRequest, ResumeRecordingRequest, SendDtmfRequest, SpeakRequest,
    StartRecordingRequest, StopAudioRequest, StopRecordingRequest, TelnyxVoiceSettings,
    UnholdParticipantsRequest, UnmuteParticipantsRequest, UpdateParticipantRequest,
    UpdateSupervisorRoleRequest, VoiceSettings, conference, conference_participant,
    conference_service_client::ConferenceServiceClient, create_conference_request,
    join_conference_request, leave_conference_request, list_conferences_request,
    list_participants_request, loopcount, participant, speak_request, start_recording_request,
    update_participant_request, update_supervisor_role_request, voice_settings,
};
use prost_types::Timestamp;
use serde_json::{Value, json};
use tonic::Status;
use wiremock::MockBuilder;
use wiremock::matchers::query_param;

// Identifiers from the examples of Telnyx's spec.
const CONFERENCE_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const CALL_CONTROL_ID: &str = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
const OTHER_CALL_CONTROL_ID: &str =
    "v2:T02llQxIyaRkhfRKxgAP8nY511EhFLizdvdUKJiSw8d6A9BborherQczRrZvZakpWxBlpw48KyZQ==";
const WHISPER_TO: [&str; 2] = [
    "v2:Sg1xxxQ_U3ixxxyXT_VDNI3xxxazZdg6Vxxxs4-GNYxxxVaJPOhFMRQ",
    "v2:qqpb0mmvd-ovhhBr0BUQQn0fld5jIboaaX3-De0DkqXHzbf8d75xkw",
];
const PARTICIPANT_ID: &str = "dfadada7-af74-47bc-83a4-554275f55f5c";
const COMMAND_ID: &str = "891510ac-f3e4-11e8-af5b-de00688a4901";
const CLIENT_STATE: &str = "aGF2ZSBhIG5pY2UgZGF5ID1d";
const RECORDING_ID: &str = "6e00ab49-9487-4364-8ad6-23965965afb2";

// The instants of the fixtures, as Telnyx writes them and as protobuf holds them.
const CREATED_AT: &str = "2019-01-23T18:10:02.574Z";
const UPDATED_AT: &str = "2019-01-23T18:12:45.091Z";
const EXPIRES_AT: &str = "2019-01-23T22:10:02.574Z";

fn created_at() -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_548_267_002,
        nanos: 574_000_000,
    })
}

fn updated_at() -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_548_267_165,
        nanos: 91_000_000,
    })
}

fn expires_at() -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_548_281_402,
        nanos: 574_000_000,
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------
// Fixtures: Telnyx's JSON and the proto message the gateway must read from it.
// ---------------------------------------------------------------------------

/// The spec's example conference, ended because everyone left.
fn ended_conference() -> (Value, Conference) {
    let json = json!({
        "connection_id": "3fa85f64-9191-4567-b3fc-2c963f66afa6",
        "created_at": CREATED_AT,
        "end_reason": "all_left",
        "ended_by": {
            "call_control_id": OTHER_CALL_CONTROL_ID,
            "call_session_id": "428c31b6-abf3-3bc1-b7f4-5013ef9657c1",
        },
        "expires_at": EXPIRES_AT,
        "id": CONFERENCE_ID,
        "name": "All hands meeting",
        "record_type": "conference",
        "region": "sv1",
        "status": "completed",
        "updated_at": UPDATED_AT,
    });
    let proto = Conference {
        connection_id: "3fa85f64-9191-4567-b3fc-2c963f66afa6".into(),
        created_at: created_at(),
        end_reason: conference::EndReason::AllLeft.into(),
        ended_by: Some(conference::EndedBy {
            call_control_id: OTHER_CALL_CONTROL_ID.into(),
            call_session_id: "428c31b6-abf3-3bc1-b7f4-5013ef9657c1".into(),
        }),
        expires_at: expires_at(),
        id: CONFERENCE_ID.into(),
        name: "All hands meeting".into(),
        record_type: "conference".into(),
        region: "sv1".into(),
        status: conference::Status::Completed.into(),
        updated_at: updated_at(),
    };
    (json, proto)
}

/// A conference that is still running: no end reason, nobody ended it.
fn running_conference(name: &str) -> (Value, Conference) {
    let (mut json, proto) = ended_conference();
    let object = json.as_object_mut().expect("an object");
    object.remove("end_reason");
    object.remove("ended_by");
    object.insert("name".into(), json!(name));
    object.insert("status".into(), json!("in_progress"));
    let proto = Conference {
        end_reason: conference::EndReason::Unspecified.into(),
        ended_by: None,
        name: name.into(),
        status: conference::Status::InProgress.into(),
        ..proto
    };
    (json, proto)
}

/// The spec's example participant, as ListParticipants lists it.
fn listed_participant() -> (Value, Participant) {
    let json = json!({
        "call_control_id": CALL_CONTROL_ID,
        "call_leg_id": "3a15df2d-c801-4729-adf5-b56dd42e2abb",
        "conference": {"id": CONFERENCE_ID, "name": "All hands meeting"},
        "created_at": CREATED_AT,
        "end_conference_on_exit": true,
        "id": PARTICIPANT_ID,
        "muted": false,
        "on_hold": true,
        "record_type": "participant",
        "soft_end_conference_on_exit": true,
        "status": "joining",
        "updated_at": UPDATED_AT,
        "whisper_call_control_ids": WHISPER_TO,
    });
    let proto = Participant {
        call_control_id: CALL_CONTROL_ID.into(),
        call_leg_id: "3a15df2d-c801-4729-adf5-b56dd42e2abb".into(),
        conference: Some(participant::Conference {
            id: CONFERENCE_ID.into(),
            name: "All hands meeting".into(),
        }),
        created_at: created_at(),
        end_conference_on_exit: Some(true),
        id: PARTICIPANT_ID.into(),
        muted: Some(false),
        on_hold: Some(true),
        record_type: "participant".into(),
        soft_end_conference_on_exit: Some(true),
        status: participant::Status::Joining.into(),
        updated_at: updated_at(),
        whisper_call_control_ids: strings(&WHISPER_TO),
    };
    (json, proto)
}

/// A participant as GetParticipant and UpdateParticipant return it.
fn conference_participant() -> (Value, ConferenceParticipant) {
    let json = json!({
        "call_control_id": CALL_CONTROL_ID,
        "call_leg_id": "3a15df2d-c801-4729-adf5-b56dd42e2abb",
        "conference_id": CONFERENCE_ID,
        "created_at": CREATED_AT,
        "end_conference_on_exit": true,
        "id": PARTICIPANT_ID,
        "label": "supervisor-1",
        "muted": false,
        "on_hold": false,
        "soft_end_conference_on_exit": false,
        "status": "joined",
        "updated_at": UPDATED_AT,
        "whisper_call_control_ids": WHISPER_TO,
    });
    let proto = ConferenceParticipant {
        call_control_id: CALL_CONTROL_ID.into(),
        call_leg_id: "3a15df2d-c801-4729-adf5-b56dd42e2abb".into(),
        conference_id: CONFERENCE_ID.into(),
        created_at: created_at(),
        end_conference_on_exit: Some(true),
        id: PARTICIPANT_ID.into(),
        label: "supervisor-1".into(),
        muted: Some(false),
        on_hold: Some(false),
        soft_end_conference_on_exit: Some(false),
        status: conference_participant::Status::Joined.into(),
        updated_at: updated_at(),
        whisper_call_control_ids: strings(&WHISPER_TO),
    };
    (json, proto)
}

// ---------------------------------------------------------------------------
// Harness.
// ---------------------------------------------------------------------------

/// Runs one conference action against a Telnyx that expects exactly `body`
/// at `POST /conferences/{CONFERENCE_ID}/actions/{action}` and answers
/// `{"data": {"result": "ok"}}`; checks that the RPC returns that result and
/// that the one request sent conforms to Telnyx's spec.
async fn assert_action<F, Fut>(action: &str, body: Value, rpc: F)
where
    F: FnOnce(ConferenceServiceClient<AuthedChannel>) -> Fut,
    Fut: Future<Output = Result<String, Status>>,
{
    let gateway = TestGateway::spawn().await;
    telnyx_with_body(
        "POST",
        &format!("/conferences/{CONFERENCE_ID}/actions/{action}"),
        body,
    )
    .respond_with(ok_result())
    .expect(1)
    .mount(&gateway.telnyx)
    .await;
    let result = rpc(gateway.conferences())
        .await
        .expect("the action succeeds");
    assert_eq!(result, "ok");
    assert_eq!(gateway.received().await.len(), 1, "one request, no retry");
    gateway.assert_requests_conform().await;
}

/// `mock` with a matcher for each expected query parameter.
fn with_query(mock: MockBuilder, pairs: &[(&str, &str)]) -> MockBuilder {
    pairs.iter().fold(mock, |mock, (key, value)| {
        mock.and(query_param(*key, *value))
    })
}

/// The one request Telnyx received carried exactly `expected` in its query
/// string: no parameter more, none less.
async fn assert_query_is(gateway: &TestGateway, expected: &[(&str, &str)]) {
    let received = gateway.received().await;
    assert_eq!(received.len(), 1, "one request, no retry");
    assert_query(&received[0], expected);
}

// ---------------------------------------------------------------------------
// Conferences.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn list_conferences_sends_region_filters_and_page_and_reads_the_page() {
    let gateway = TestGateway::spawn().await;
    let query = [
        ("region", "Middle East"),
        ("filter[name]", "All hands meeting"),
        ("filter[status]", "completed"),
        ("page[number]", "1"),
        ("page[size]", "2"),
    ];
    let (first_json, first) = ended_conference();
    let mut second_json = first_json.clone();
    second_json["id"] = json!("41b9acd4-f4da-4ff5-a85c-e07e90b53f46");
    second_json["end_reason"] = json!("time_exceeded");
    with_query(telnyx("GET", "/conferences"), &query)
        .respond_with(json_response(
            200,
            json!({
                "data": [first_json, second_json],
                "meta": {"page_number": 1, "page_size": 2, "total_pages": 3, "total_results": 5},
            }),
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;

    let request = ListConferencesRequest {
        page_size: 2,
        page_token: String::new(),
        region: ConferenceRegion::MiddleEast.into(),
        filter: Some(list_conferences_request::Filter {
            name: "All hands meeting".into(),
            status: list_conferences_request::filter::Status::Completed.into(),
        }),
    };
    let response = gateway
        .conferences()
        .list_conferences(request)
        .await
        .unwrap()
        .into_inner();

    let second = Conference {
        id: "41b9acd4-f4da-4ff5-a85c-e07e90b53f46".into(),
        end_reason: conference::EndReason::TimeExceeded.into(),
        ..first.clone()
    };
    assert_eq!(response.conferences, [first, second]);
    assert_eq!(response.total_size, 5);
    assert!(
        !response.next_page_token.is_empty(),
        "page 1 of 3 has a next page"
    );
    assert_query_is(&gateway, &query).await;
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn create_conference_posts_every_setting_and_reads_the_conference() {
    let gateway = TestGateway::spawn().await;
    let (conference_json, expected) = running_conference("Business");
    telnyx_with_body(
        "POST",
        "/conferences",
        json!({
            "beep_enabled": "on_exit",
            "call_control_id": CALL_CONTROL_ID,
            "client_state": CLIENT_STATE,
            "comfort_noise": false,
            "command_id": COMMAND_ID,
            "duration_minutes": 5,
            "hold_audio_url": "http://www.example.com/audio.wav",
            "max_participants": 250,
            "name": "Business",
            "region": "Middle East",
            "start_conference_on_create": false,
        }),
    )
    .respond_with(json_response(200, json!({"data": conference_json})))
    .expect(1)
    .mount(&gateway.telnyx)
    .await;

    let request = CreateConferenceRequest {
        beep_enabled: create_conference_request::BeepEnabled::OnExit.into(),
        call_control_id: CALL_CONTROL_ID.into(),
        client_state: CLIENT_STATE.into(),
        comfort_noise: Some(false),
        command_id: COMMAND_ID.into(),
        duration_minutes: Some(5),
        hold_audio_url: "http://www.example.com/audio.wav".into(),
        hold_media_name: String::new(),
        max_participants: Some(250),
        name: "Business".into(),
        region: create_conference_request::Region::MiddleEast.into(),
        start_conference_on_create: Some(false),
    };
    let response = gateway
        .conferences()
        .create_conference(request)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(response.conference, Some(expected));
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn get_conference_sends_the_region_and_reads_every_field() {
    let gateway = TestGateway::spawn().await;
    let query = [("region", "Europe")];
    let (conference_json, expected) = ended_conference();
    with_query(
        telnyx("GET", &format!("/conferences/{CONFERENCE_ID}")),
        &query,
    )
    .respond_with(json_response(200, json!({"data": conference_json})))
    .expect(1)
    .mount(&gateway.telnyx)
    .await;

    let request = GetConferenceRequest {
        conference_id: CONFERENCE_ID.into(),
        region: ConferenceRegion::Europe.into(),
    };
    let response = gateway
        .conferences()
        .get_conference(request)
        .await
        .unwrap()
        .into_inner();

    let conference = response.conference.expect("the conference");
    assert_eq!(conference.id, CONFERENCE_ID);
    assert_eq!(conference.created_at, created_at());
    assert_eq!(conference.expires_at, expires_at());
    assert_eq!(conference.updated_at, updated_at());
    assert_eq!(
        conference.end_reason(),
        conference::EndReason::AllLeft,
        "all_left"
    );
    assert_eq!(conference.status(), conference::Status::Completed);
    assert_eq!(conference, expected);
    assert_query_is(&gateway, &query).await;
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn end_conference_posts_the_command_id() {
    let request = EndConferenceRequest {
        conference_id: CONFERENCE_ID.into(),
        command_id: COMMAND_ID.into(),
    };
    assert_action(
        "end",
        json!({"command_id": COMMAND_ID}),
        |mut c| async move { Ok(c.end_conference(request).await?.into_inner().result) },
    )
    .await;
}

#[tokio::test]
async fn join_conference_posts_every_setting() {
    let request = JoinConferenceRequest {
        conference_id: CONFERENCE_ID.into(),
        beep_enabled: join_conference_request::BeepEnabled::Always.into(),
        call_control_id: CALL_CONTROL_ID.into(),
        client_state: CLIENT_STATE.into(),
        command_id: COMMAND_ID.into(),
        end_conference_on_exit: Some(true),
        hold: Some(true),
        hold_audio_url: "http://www.example.com/audio.wav".into(),
        hold_media_name: String::new(),
        mute: Some(false),
        region: ConferenceRegion::Us.into(),
        soft_end_conference_on_exit: Some(false),
        start_conference_on_enter: Some(true),
        supervisor_role: join_conference_request::SupervisorRole::Whisper.into(),
        whisper_call_control_ids: strings(&WHISPER_TO),
    };
    let body = json!({
        "beep_enabled": "always",
        "call_control_id": CALL_CONTROL_ID,
        "client_state": CLIENT_STATE,
        "command_id": COMMAND_ID,
        "end_conference_on_exit": true,
        "hold": true,
        "hold_audio_url": "http://www.example.com/audio.wav",
        "mute": false,
        "region": "US",
        "soft_end_conference_on_exit": false,
        "start_conference_on_enter": true,
        "supervisor_role": "whisper",
        "whisper_call_control_ids": WHISPER_TO,
    });
    assert_action("join", body, |mut c| async move {
        Ok(c.join_conference(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn leave_conference_posts_the_leg_beep_and_region() {
    let request = LeaveConferenceRequest {
        conference_id: CONFERENCE_ID.into(),
        beep_enabled: leave_conference_request::BeepEnabled::Never.into(),
        call_control_id: "c46e06d7-b78f-4b13-96b6-c576af9640ff".into(),
        command_id: COMMAND_ID.into(),
        region: ConferenceRegion::Australia.into(),
    };
    let body = json!({
        "beep_enabled": "never",
        "call_control_id": "c46e06d7-b78f-4b13-96b6-c576af9640ff",
        "command_id": COMMAND_ID,
        "region": "Australia",
    });
    assert_action("leave", body, |mut c| async move {
        Ok(c.leave_conference(request).await?.into_inner().result)
    })
    .await;
}

// ---------------------------------------------------------------------------
// Participants' audio: hold, mute, play, speak, DTMF.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn hold_participants_posts_the_hold_audio_and_legs() {
    let request = HoldParticipantsRequest {
        conference_id: CONFERENCE_ID.into(),
        audio_url: "http://example.com/message.wav".into(),
        call_control_ids: strings(&[CALL_CONTROL_ID]),
        media_name: String::new(),
        region: ConferenceRegion::Europe.into(),
    };
    let body = json!({
        "audio_url": "http://example.com/message.wav",
        "call_control_ids": [CALL_CONTROL_ID],
        "region": "Europe",
    });
    assert_action("hold", body, |mut c| async move {
        Ok(c.hold_participants(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn unhold_participants_posts_the_legs_and_region() {
    let legs = [CALL_CONTROL_ID, OTHER_CALL_CONTROL_ID];
    let request = UnholdParticipantsRequest {
        conference_id: CONFERENCE_ID.into(),
        call_control_ids: strings(&legs),
        region: ConferenceRegion::Us.into(),
    };
    let body = json!({"call_control_ids": legs, "region": "US"});
    assert_action("unhold", body, |mut c| async move {
        Ok(c.unhold_participants(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn mute_participants_posts_the_legs_and_region() {
    let request = MuteParticipantsRequest {
        conference_id: CONFERENCE_ID.into(),
        call_control_ids: strings(&[CALL_CONTROL_ID]),
        region: ConferenceRegion::MiddleEast.into(),
    };
    let body = json!({"call_control_ids": [CALL_CONTROL_ID], "region": "Middle East"});
    assert_action("mute", body, |mut c| async move {
        Ok(c.mute_participants(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn unmute_participants_posts_the_legs_and_region() {
    let request = UnmuteParticipantsRequest {
        conference_id: CONFERENCE_ID.into(),
        call_control_ids: strings(&WHISPER_TO),
        region: ConferenceRegion::Australia.into(),
    };
    let body = json!({"call_control_ids": WHISPER_TO, "region": "Australia"});
    assert_action("unmute", body, |mut c| async move {
        Ok(c.unmute_participants(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn play_audio_posts_media_legs_and_an_endless_loop() {
    let request = PlayAudioRequest {
        conference_id: CONFERENCE_ID.into(),
        audio_url: String::new(),
        call_control_ids: strings(&[CALL_CONTROL_ID]),
        r#loop: Some(Loopcount {
            value: Some(loopcount::Value::Text("infinity".into())),
        }),
        media_name: "my_media_uploaded_to_media_storage_api".into(),
        region: ConferenceRegion::Europe.into(),
    };
    let body = json!({
        "call_control_ids": [CALL_CONTROL_ID],
        "loop": "infinity",
        "media_name": "my_media_uploaded_to_media_storage_api",
        "region": "Europe",
    });
    assert_action("play", body, |mut c| async move {
        Ok(c.play_audio(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn play_audio_writes_a_loop_count_as_a_number() {
    let request = PlayAudioRequest {
        conference_id: CONFERENCE_ID.into(),
        audio_url: "http://www.example.com/sounds/greeting.wav".into(),
        r#loop: Some(Loopcount {
            value: Some(loopcount::Value::Count(3)),
        }),
        ..Default::default()
    };
    let body = json!({"audio_url": "http://www.example.com/sounds/greeting.wav", "loop": 3});
    assert_action("play", body, |mut c| async move {
        Ok(c.play_audio(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn stop_audio_posts_the_legs_and_region() {
    let request = StopAudioRequest {
        conference_id: CONFERENCE_ID.into(),
        call_control_ids: strings(&[CALL_CONTROL_ID, OTHER_CALL_CONTROL_ID]),
        region: ConferenceRegion::Us.into(),
    };
    let body = json!({
        "call_control_ids": [CALL_CONTROL_ID, OTHER_CALL_CONTROL_ID],
        "region": "US",
    });
    assert_action("stop", body, |mut c| async move {
        Ok(c.stop_audio(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn speak_posts_text_voice_and_typed_voice_settings() {
    let request = SpeakRequest {
        conference_id: CONFERENCE_ID.into(),
        call_control_ids: strings(&[CALL_CONTROL_ID]),
        command_id: COMMAND_ID.into(),
        language: speak_request::Language::EnGb.into(),
        payload: "<speak>Say this to participants</speak>".into(),
        payload_type: speak_request::PayloadType::Ssml.into(),
        region: ConferenceRegion::MiddleEast.into(),
        voice: "Telnyx.KokoroTTS.af".into(),
        voice_settings: Some(VoiceSettings {
            provider: Some(voice_settings::Provider::Telnyx(TelnyxVoiceSettings {
                voice_speed: Some(1.0),
            })),
        }),
    };
    let body = json!({
        "call_control_ids": [CALL_CONTROL_ID],
        "command_id": COMMAND_ID,
        "language": "en-GB",
        "payload": "<speak>Say this to participants</speak>",
        "payload_type": "ssml",
        "region": "Middle East",
        "voice": "Telnyx.KokoroTTS.af",
        "voice_settings": {"type": "telnyx", "voice_speed": 1.0},
    });
    assert_action("speak", body, |mut c| async move {
        Ok(c.speak(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn speak_writes_a_float_setting_as_the_decimal_the_caller_set() {
    let request = SpeakRequest {
        conference_id: CONFERENCE_ID.into(),
        command_id: COMMAND_ID.into(),
        payload: "Say this to participants".into(),
        voice: "Telnyx.KokoroTTS.af".into(),
        voice_settings: Some(VoiceSettings {
            provider: Some(voice_settings::Provider::Telnyx(TelnyxVoiceSettings {
                voice_speed: Some(1.2),
            })),
        }),
        ..Default::default()
    };
    let body = json!({
        "command_id": COMMAND_ID,
        "payload": "Say this to participants",
        "voice": "Telnyx.KokoroTTS.af",
        "voice_settings": {"type": "telnyx", "voice_speed": 1.2},
    });
    assert_action("speak", body, |mut c| async move {
        Ok(c.speak(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn send_dtmf_posts_digits_legs_and_duration() {
    let request = SendDtmfRequest {
        conference_id: CONFERENCE_ID.into(),
        call_control_ids: strings(&[CALL_CONTROL_ID]),
        client_state: CLIENT_STATE.into(),
        digits: "1234#".into(),
        duration_millis: Some(250),
    };
    let body = json!({
        "call_control_ids": [CALL_CONTROL_ID],
        "client_state": CLIENT_STATE,
        "digits": "1234#",
        "duration_millis": 250,
    });
    assert_action("send_dtmf", body, |mut c| async move {
        Ok(c.send_dtmf(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn gather_using_audio_posts_every_setting() {
    let request = GatherUsingAudioRequest {
        conference_id: CONFERENCE_ID.into(),
        audio_url: "http://example.com/gather_prompt.wav".into(),
        call_control_id: CALL_CONTROL_ID.into(),
        client_state: CLIENT_STATE.into(),
        gather_id: "pin-entry-1".into(),
        initial_timeout_millis: Some(10_000),
        inter_digit_timeout_millis: Some(3_000),
        invalid_audio_url: String::new(),
        invalid_media_name: "invalid_pin_prompt".into(),
        maximum_digits: Some(4),
        maximum_tries: Some(3),
        media_name: String::new(),
        minimum_digits: Some(1),
        stop_playback_on_dtmf: Some(false),
        terminating_digit: "#".into(),
        timeout_millis: Some(30_000),
        valid_digits: "0123456789".into(),
    };
    let body = json!({
        "audio_url": "http://example.com/gather_prompt.wav",
        "call_control_id": CALL_CONTROL_ID,
        "client_state": CLIENT_STATE,
        "gather_id": "pin-entry-1",
        "initial_timeout_millis": 10_000,
        "inter_digit_timeout_millis": 3_000,
        "invalid_media_name": "invalid_pin_prompt",
        "maximum_digits": 4,
        "maximum_tries": 3,
        "minimum_digits": 1,
        "stop_playback_on_dtmf": false,
        "terminating_digit": "#",
        "timeout_millis": 30_000,
        "valid_digits": "0123456789",
    });
    assert_action("gather_using_audio", body, |mut c| async move {
        Ok(c.gather_using_audio(request).await?.into_inner().result)
    })
    .await;
}

// ---------------------------------------------------------------------------
// Recording.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn start_recording_posts_format_channels_trim_and_beep() {
    let request = StartRecordingRequest {
        conference_id: CONFERENCE_ID.into(),
        channels: start_recording_request::Channels::Dual.into(),
        command_id: COMMAND_ID.into(),
        custom_file_name: "my_recording_file_name".into(),
        format: start_recording_request::Format::Mp3.into(),
        play_beep: Some(false),
        region: ConferenceRegion::Europe.into(),
        trim: start_recording_request::Trim::TrimSilence.into(),
    };
    let body = json!({
        "channels": "dual",
        "command_id": COMMAND_ID,
        "custom_file_name": "my_recording_file_name",
        "format": "mp3",
        "play_beep": false,
        "region": "Europe",
        "trim": "trim-silence",
    });
    assert_action("record_start", body, |mut c| async move {
        Ok(c.start_recording(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn stop_recording_posts_the_recording_and_client_state() {
    let request = StopRecordingRequest {
        conference_id: CONFERENCE_ID.into(),
        client_state: CLIENT_STATE.into(),
        command_id: COMMAND_ID.into(),
        recording_id: RECORDING_ID.into(),
        region: ConferenceRegion::Us.into(),
    };
    let body = json!({
        "client_state": CLIENT_STATE,
        "command_id": COMMAND_ID,
        "recording_id": RECORDING_ID,
        "region": "US",
    });
    assert_action("record_stop", body, |mut c| async move {
        Ok(c.stop_recording(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn pause_recording_posts_the_recording_and_region() {
    let request = PauseRecordingRequest {
        conference_id: CONFERENCE_ID.into(),
        command_id: COMMAND_ID.into(),
        recording_id: RECORDING_ID.into(),
        region: ConferenceRegion::Australia.into(),
    };
    let body = json!({
        "command_id": COMMAND_ID,
        "recording_id": RECORDING_ID,
        "region": "Australia",
    });
    assert_action("record_pause", body, |mut c| async move {
        Ok(c.pause_recording(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn resume_recording_posts_the_recording_and_region() {
    let request = ResumeRecordingRequest {
        conference_id: CONFERENCE_ID.into(),
        command_id: COMMAND_ID.into(),
        recording_id: RECORDING_ID.into(),
        region: ConferenceRegion::MiddleEast.into(),
    };
    let body = json!({
        "command_id": COMMAND_ID,
        "recording_id": RECORDING_ID,
        "region": "Middle East",
    });
    assert_action("record_resume", body, |mut c| async move {
        Ok(c.resume_recording(request).await?.into_inner().result)
    })
    .await;
}

// ---------------------------------------------------------------------------
// Participants.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn update_supervisor_role_posts_role_and_whisper_targets() {
    let request = UpdateSupervisorRoleRequest {
        conference_id: CONFERENCE_ID.into(),
        call_control_id: CALL_CONTROL_ID.into(),
        command_id: COMMAND_ID.into(),
        region: ConferenceRegion::Europe.into(),
        supervisor_role: update_supervisor_role_request::SupervisorRole::Whisper.into(),
        whisper_call_control_ids: strings(&WHISPER_TO),
    };
    let body = json!({
        "call_control_id": CALL_CONTROL_ID,
        "command_id": COMMAND_ID,
        "region": "Europe",
        "supervisor_role": "whisper",
        "whisper_call_control_ids": WHISPER_TO,
    });
    assert_action("update", body, |mut c| async move {
        Ok(c.update_supervisor_role(request).await?.into_inner().result)
    })
    .await;
}

#[tokio::test]
async fn list_participants_sends_boolean_filters_and_reads_the_last_page() {
    let gateway = TestGateway::spawn().await;
    let query = [
        ("region", "Europe"),
        ("filter[muted]", "false"),
        ("filter[on_hold]", "true"),
        ("filter[whispering]", "true"),
        ("page[number]", "1"),
        ("page[size]", "25"),
    ];
    let (participant_json, expected) = listed_participant();
    with_query(
        telnyx("GET", &format!("/conferences/{CONFERENCE_ID}/participants")),
        &query,
    )
    .respond_with(json_response(
        200,
        json!({
            "data": [participant_json],
            "meta": {"page_number": 1, "page_size": 25, "total_pages": 1, "total_results": 1},
        }),
    ))
    .expect(1)
    .mount(&gateway.telnyx)
    .await;

    let request = ListParticipantsRequest {
        conference_id: CONFERENCE_ID.into(),
        page_size: 25,
        page_token: String::new(),
        region: ConferenceRegion::Europe.into(),
        filter: Some(list_participants_request::Filter {
            muted: Some(false),
            on_hold: Some(true),
            whispering: Some(true),
        }),
    };
    let response = gateway
        .conferences()
        .list_participants(request)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(response.participants, [expected]);
    assert_eq!(response.total_size, 1);
    assert_eq!(response.next_page_token, "", "page 1 of 1 is the last");
    assert_query_is(&gateway, &query).await;
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn get_participant_reads_every_field() {
    let gateway = TestGateway::spawn().await;
    let (participant_json, expected) = conference_participant();
    telnyx(
        "GET",
        &format!("/conferences/{CONFERENCE_ID}/participants/{PARTICIPANT_ID}"),
    )
    .respond_with(json_response(200, json!({"data": participant_json})))
    .expect(1)
    .mount(&gateway.telnyx)
    .await;

    let request = GetParticipantRequest {
        conference_id: CONFERENCE_ID.into(),
        participant_id: PARTICIPANT_ID.into(),
    };
    let response = gateway
        .conferences()
        .get_participant(request)
        .await
        .unwrap()
        .into_inner();

    let participant = response.participant.expect("the participant");
    assert_eq!(participant.muted, Some(false), "explicit false is kept");
    assert_eq!(participant.status(), conference_participant::Status::Joined);
    assert_eq!(participant, expected);
    assert_query_is(&gateway, &[]).await;
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn update_participant_patches_the_settings_and_reads_the_participant() {
    let gateway = TestGateway::spawn().await;
    let (mut participant_json, expected) = conference_participant();
    participant_json["end_conference_on_exit"] = json!(false);
    participant_json["soft_end_conference_on_exit"] = json!(true);
    telnyx_with_body(
        "PATCH",
        &format!("/conferences/{CONFERENCE_ID}/participants/{PARTICIPANT_ID}"),
        json!({
            "beep_enabled": "on_enter",
            "end_conference_on_exit": false,
            "soft_end_conference_on_exit": true,
        }),
    )
    .respond_with(json_response(200, json!({"data": participant_json})))
    .expect(1)
    .mount(&gateway.telnyx)
    .await;

    let request = UpdateParticipantRequest {
        conference_id: CONFERENCE_ID.into(),
        participant_id: PARTICIPANT_ID.into(),
        beep_enabled: update_participant_request::BeepEnabled::OnEnter.into(),
        end_conference_on_exit: Some(false),
        soft_end_conference_on_exit: Some(true),
    };
    let response = gateway
        .conferences()
        .update_participant(request)
        .await
        .unwrap()
        .into_inner();

    let expected = ConferenceParticipant {
        end_conference_on_exit: Some(false),
        soft_end_conference_on_exit: Some(true),
        ..expected
    };
    assert_eq!(response.participant, Some(expected));
    gateway.assert_requests_conform().await;
}

// ---------------------------------------------------------------------------
// Validation.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn validation_refuses_each_missing_required_field_and_sends_nothing() {
    let gateway = TestGateway::spawn().await;
    let mut client = gateway.conferences();
    let id = || CONFERENCE_ID.to_owned();
    let leg = || CALL_CONTROL_ID.to_owned();
    // Each request lacks exactly one required field and has every other.
    let outcomes: Vec<(&str, Result<(), Status>)> = vec![
        (
            "call_control_id",
            client
                .create_conference(CreateConferenceRequest {
                    name: "Business".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "name",
            client
                .create_conference(CreateConferenceRequest {
                    call_control_id: leg(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "call_control_ids",
            client
                .unhold_participants(UnholdParticipantsRequest {
                    conference_id: id(),
                    region: ConferenceRegion::Us.into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "payload",
            client
                .speak(SpeakRequest {
                    conference_id: id(),
                    voice: "Telnyx.KokoroTTS.af".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "voice",
            client
                .speak(SpeakRequest {
                    conference_id: id(),
                    payload: "Say this to participants".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "format",
            client
                .start_recording(StartRecordingRequest {
                    conference_id: id(),
                    channels: start_recording_request::Channels::Dual.into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "digits",
            client
                .send_dtmf(SendDtmfRequest {
                    conference_id: id(),
                    call_control_ids: vec![leg()],
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "call_control_id",
            client
                .update_supervisor_role(UpdateSupervisorRoleRequest {
                    conference_id: id(),
                    supervisor_role: update_supervisor_role_request::SupervisorRole::Monitor.into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "supervisor_role",
            client
                .update_supervisor_role(UpdateSupervisorRoleRequest {
                    conference_id: id(),
                    call_control_id: leg(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "call_control_id",
            client
                .join_conference(JoinConferenceRequest {
                    conference_id: id(),
                    mute: Some(true),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "call_control_id",
            client
                .leave_conference(LeaveConferenceRequest {
                    conference_id: id(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "call_control_id",
            client
                .gather_using_audio(GatherUsingAudioRequest {
                    conference_id: id(),
                    audio_url: "http://example.com/gather_prompt.wav".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "participant_id",
            client
                .get_participant(GetParticipantRequest {
                    conference_id: id(),
                    participant_id: String::new(),
                })
                .await
                .map(drop),
        ),
    ];

    for (field, outcome) in outcomes {
        assert_invalid_field(&outcome.expect_err(field), field);
    }
    assert!(
        gateway.received().await.is_empty(),
        "nothing may reach Telnyx"
    );
}
