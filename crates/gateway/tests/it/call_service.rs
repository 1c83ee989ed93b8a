//! CallService end to end: every RPC against a mock Telnyx, checking the
//! exact request Telnyx receives (method, path, query, body) and the mapping
//! of Telnyx's answer into the response, field by field.

// The full Dial body is one large `json!` literal.

use std::collections::{BTreeMap, HashMap};

use crate::support::{
    TestGateway, assert_invalid_field, assert_query, json_response, ok_result, telnyx,
    telnyx_error, telnyx_with_body,
};
use api::v1::{
    ActiveCall, AnswerRequest, AssistantTool, BridgeRequest, CallAssistantRequest,
    CallControlApplication, CallControlApplicationInbound, CallControlApplicationOutbound,
    CallEvent, CallWithRecordingId, ConversationRelayEmbeddedConfig,
    ConversationRelayInterruptible, CreateCallControlApplicationRequest, CustomSipHeader,
    DeepgramNova3Config, DeepgramNova3TranscriptionLanguage, DeleteCallControlApplicationRequest,
    DialRequest, DialogflowConfig, ElevenLabsVoiceSettings, GetCallControlApplicationRequest,
    GoogleTranscriptionLanguage, HangupRequest, HangupTool, HangupToolParams,
    ListActiveCallsRequest, ListCallControlApplicationsRequest, ListCallEventsRequest, SipHeader,
    SoundModifications, StreamBidirectionalCodec, StreamBidirectionalMode,
    StreamBidirectionalTargetLegs, StreamCodec, TranscriptionEngineConfig,
    TranscriptionEngineDeepgramConfig, TranscriptionEngineGoogleConfig, TranscriptionStartRequest,
    TransferRequest, UpdateCallControlApplicationRequest, VoiceSettings, answer_request,
    assistant_tool, bridge_request, call_control_application, call_control_application_inbound,
    call_event, create_call_control_application_request, dial_request,
    list_call_control_applications_request, list_call_events_request, sip_header,
    transcription_engine_config, transcription_engine_deepgram_config,
    transcription_engine_google_config, transcription_start_request, transfer_request,
    update_call_control_application_request, voice_settings,
};
use prost_types::{Timestamp, value::Kind};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;
use wiremock::matchers::{query_param, query_param_is_missing};

const CALL_CONTROL_ID: &str = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
const OTHER_CALL_CONTROL_ID: &str = "v3:Yd0ohfCBmqiK1QOzWZ0tVxTnj9Qej0yVMnhjrXOr8ew";
const CONNECTION_ID: &str = "1293384261075731461";
const APPLICATION_ID: &str = "1293384261075731499";
const CLIENT_STATE: &str = "aGF2ZSBhIG5pY2UgZGF5ID1d";
const COMMAND_ID: &str = "891510ac-f3e4-11e8-af5b-de00688a4901";
const RECORDING_ID: &str = "d7e9c1d4-8b2a-4b8f-b3a7-9a671c9e9b0a";
const WEBHOOK_URL: &str = "https://www.example.com/server-b/";

fn action_path(action: &str) -> String {
    format!("/calls/{CALL_CONTROL_ID}/actions/{action}")
}

fn application_path() -> String {
    format!("/call_control_applications/{APPLICATION_ID}")
}

// ---------------------------------------------------------------------------
// Pieces shared by several requests, with the JSON Telnyx must receive.
// ---------------------------------------------------------------------------

fn custom_headers() -> Vec<CustomSipHeader> {
    [("head_1", "val_1"), ("head_2", "val_2")]
        .map(|(name, value)| CustomSipHeader {
            name: name.into(),
            value: value.into(),
        })
        .into()
}

fn custom_headers_json() -> Value {
    json!([{"name": "head_1", "value": "val_1"}, {"name": "head_2", "value": "val_2"}])
}

fn user_to_user_header() -> Vec<SipHeader> {
    vec![SipHeader {
        name: sip_header::Name::UserToUser as i32,
        value: "12345".into(),
    }]
}

fn user_to_user_header_json() -> Value {
    json!([{"name": "User-to-User", "value": "12345"}])
}

fn webhook_urls() -> HashMap<String, String> {
    HashMap::from([
        (
            "call.bridged".into(),
            "https://www.example.com/webhooks/bridge".into(),
        ),
        (
            "call.hangup".into(),
            "https://www.example.com/webhooks/hangup".into(),
        ),
    ])
}

fn webhook_urls_json() -> Value {
    json!({
        "call.bridged": "https://www.example.com/webhooks/bridge",
        "call.hangup": "https://www.example.com/webhooks/hangup",
    })
}

/// Values a float carries exactly, so the JSON number is the one written.
fn sound_modifications() -> SoundModifications {
    SoundModifications {
        octaves: Some(-0.5),
        pitch: Some(1.25),
        semitone: Some(-10.0),
        track: "inbound".into(),
    }
}

fn sound_modifications_json() -> Value {
    json!({"octaves": -0.5, "pitch": 1.25, "semitone": -10.0, "track": "inbound"})
}

fn string_value(text: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StringValue(text.into())),
    }
}

fn number_value(n: f64) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::NumberValue(n)),
    }
}

fn bool_value(b: bool) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::BoolValue(b)),
    }
}

fn struct_of(fields: &[(&str, prost_types::Value)]) -> prost_types::Struct {
    prost_types::Struct {
        fields: fields
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Mounts an action at `path` that expects exactly `body` and answers `ok`.
async fn expect_action(gateway: &TestGateway, path: &str, body: Value) {
    gateway
        .expect_once(telnyx_with_body("POST", path, body), ok_result())
        .await;
}

// ---------------------------------------------------------------------------
// Dial
// ---------------------------------------------------------------------------

fn conference_config() -> dial_request::ConferenceConfig {
    dial_request::ConferenceConfig {
        conference_name: "telnyx-conference".into(),
        beep_enabled: dial_request::conference_config::BeepEnabled::OnExit as i32,
        early_media: Some(false),
        end_conference_on_exit: Some(true),
        hold: Some(false),
        hold_audio_url: "http://example.com/message.wav".into(),
        mute: Some(false),
        soft_end_conference_on_exit: Some(true),
        start_conference_on_create: Some(false),
        start_conference_on_enter: Some(true),
        supervisor_role: dial_request::conference_config::SupervisorRole::Whisper as i32,
        whisper_call_control_ids: vec![
            "v2:Sg1xxxQ_U3ixxxyXT_VDNI3xxxazZdg6Vxxxs4-GNYxxxVaJPOhFMRQ".into(),
            "v2:qqpb0mmvd-ovhhBr0BUQQn0fld5jIboaaX3-De0DkqXHzbf8d75xkw".into(),
        ],
        ..Default::default()
    }
}

fn conference_config_json() -> Value {
    json!({
        "conference_name": "telnyx-conference",
        "beep_enabled": "on_exit",
        "early_media": false,
        "end_conference_on_exit": true,
        "hold": false,
        "hold_audio_url": "http://example.com/message.wav",
        "mute": false,
        "soft_end_conference_on_exit": true,
        "start_conference_on_create": false,
        "start_conference_on_enter": true,
        "supervisor_role": "whisper",
        "whisper_call_control_ids": [
            "v2:Sg1xxxQ_U3ixxxyXT_VDNI3xxxazZdg6Vxxxs4-GNYxxxVaJPOhFMRQ",
            "v2:qqpb0mmvd-ovhhBr0BUQQn0fld5jIboaaX3-De0DkqXHzbf8d75xkw",
        ],
    })
}

/// A Conversation Relay session whose voice settings are an untagged union
/// member: the gateway writes its `type` discriminator.
fn relay_config() -> ConversationRelayEmbeddedConfig {
    ConversationRelayEmbeddedConfig {
        url: "wss://example.com/conversation-relay".into(),
        greeting: "Hi! Ask me anything!".into(),
        dtmf_detection: Some(false),
        interruptible: ConversationRelayInterruptible::Speech as i32,
        interruptible_greeting: ConversationRelayInterruptible::Dtmf as i32,
        language: "en-US".into(),
        tts_provider: "elevenlabs".into(),
        voice: "ElevenLabs.eleven_multilingual_v2.21m00Tcm4TlvDq8ikWAM".into(),
        voice_settings: Some(VoiceSettings {
            provider: Some(voice_settings::Provider::Elevenlabs(
                ElevenLabsVoiceSettings {
                    api_key_ref: "my_elevenlabs_api_key".into(),
                },
            )),
        }),
        custom_parameters: Some(struct_of(&[("customer_id", string_value("12345"))])),
        ..Default::default()
    }
}

fn relay_config_json() -> Value {
    json!({
        "url": "wss://example.com/conversation-relay",
        "greeting": "Hi! Ask me anything!",
        "dtmf_detection": false,
        "interruptible": "speech",
        "interruptible_greeting": "dtmf",
        "language": "en-US",
        "tts_provider": "elevenlabs",
        "voice": "ElevenLabs.eleven_multilingual_v2.21m00Tcm4TlvDq8ikWAM",
        "voice_settings": {"type": "elevenlabs", "api_key_ref": "my_elevenlabs_api_key"},
        "custom_parameters": {"customer_id": "12345"},
    })
}

/// Google transcription: the engine config member carries its
/// `transcription_engine` discriminator on the wire.
fn google_transcription() -> TranscriptionStartRequest {
    TranscriptionStartRequest {
        transcription_engine: transcription_start_request::TranscriptionEngine::Google as i32,
        transcription_engine_config: Some(TranscriptionEngineConfig {
            engine: Some(transcription_engine_config::Engine::Google(
                TranscriptionEngineGoogleConfig {
                    language: GoogleTranscriptionLanguage::En as i32,
                    model: transcription_engine_google_config::Model::PhoneCall as i32,
                    use_enhanced: Some(true),
                    interim_results: Some(false),
                    enable_speaker_diarization: Some(true),
                    min_speaker_count: Some(2),
                    max_speaker_count: Some(4),
                    profanity_filter: Some(false),
                    hints: vec!["Telnyx".into(), "queue".into()],
                    speech_context: vec![transcription_engine_google_config::SpeechContext {
                        boost: Some(1.5),
                        phrases: vec!["call control".into()],
                    }],
                },
            )),
        }),
        transcription_tracks: "both".into(),
        ..Default::default()
    }
}

fn google_transcription_json() -> Value {
    json!({
        "transcription_engine": "Google",
        "transcription_engine_config": {
            "transcription_engine": "Google",
            "language": "en",
            "model": "phone_call",
            "use_enhanced": true,
            "interim_results": false,
            "enable_speaker_diarization": true,
            "min_speaker_count": 2,
            "max_speaker_count": 4,
            "profanity_filter": false,
            "hints": ["Telnyx", "queue"],
            "speech_context": [{"boost": 1.5, "phrases": ["call control"]}],
        },
        "transcription_tracks": "both",
    })
}

/// A Dial using most of what Telnyx offers: machine detection, a conference
/// to join, streaming, recording, transcription and a Conversation Relay
/// session with provider voice settings.
fn full_dial() -> DialRequest {
    DialRequest {
        connection_id: "7267xxxxxxxxxxxxxx".into(),
        to: vec!["+18005550100".into()],
        from: "+18005550101".into(),
        from_display_name: "Company Name".into(),
        command_id: COMMAND_ID.into(),
        client_state: CLIENT_STATE.into(),
        answering_machine_detection: dial_request::AnsweringMachineDetection::DetectWords as i32,
        answering_machine_detection_config: Some(dial_request::AnsweringMachineDetectionConfig {
            after_greeting_silence_millis: Some(1000),
            between_words_silence_millis: Some(100),
            greeting_duration_millis: Some(1500),
            greeting_silence_duration_millis: Some(2000),
            greeting_total_analysis_time_millis: Some(7500),
            initial_silence_millis: Some(1800),
            maximum_number_of_words: Some(3),
            maximum_word_length_millis: Some(2000),
            silence_threshold: Some(512),
            total_analysis_time_millis: Some(5000),
        }),
        audio_url: "http://www.example.com/sounds/greeting.wav".into(),
        billing_group_id: "f5586561-8ff0-4291-a0ac-84fe544797bd".into(),
        bridge_intent: Some(false),
        bridge_on_answer: Some(false),
        link_to: "ilditnZK_eVysupV21KzmzN_sM29ygfauQojpm4BgFtfX5hXAcjotg==".into(),
        park_after_unbridge: "self".into(),
        prevent_double_bridge: Some(false),
        conference_config: Some(conference_config()),
        conversation_relay_config: Some(relay_config()),
        custom_headers: custom_headers(),
        sip_headers: user_to_user_header(),
        deepfake_detection: Some(dial_request::DeepfakeDetection {
            enabled: Some(true),
            rtp_timeout: Some(30),
            timeout: Some(15),
        }),
        dialogflow_config: Some(DialogflowConfig {
            analyze_sentiment: Some(false),
            partial_automated_agent_reply: Some(true),
        }),
        enable_dialogflow: Some(false),
        media_encryption: dial_request::MediaEncryption::Srtp as i32,
        preferred_codecs: "G722,PCMU,PCMA,G729,OPUS,VP8,H264".into(),
        privacy: dial_request::Privacy::Id as i32,
        record: dial_request::Record::RecordFromAnswer as i32,
        record_channels: dial_request::RecordChannels::Single as i32,
        record_custom_file_name: "my_recording_file_name".into(),
        record_format: dial_request::RecordFormat::Wav as i32,
        record_max_length: Some(1000),
        record_timeout_secs: Some(100),
        record_track: dial_request::RecordTrack::Outbound as i32,
        record_trim: dial_request::RecordTrim::TrimSilence as i32,
        retry_on_timeout: Some(false),
        send_digits_on_answer: "wwww200".into(),
        send_silence_when_idle: Some(true),
        sip_auth_username: "username".into(),
        sip_auth_password: "password".into(),
        sip_region: dial_request::SipRegion::MiddleEast as i32,
        sip_transport_protocol: dial_request::SipTransportProtocol::Tls as i32,
        sound_modifications: Some(sound_modifications()),
        stream_url: "wss://www.example.com/websocket".into(),
        stream_auth_token: "your-auth-token".into(),
        stream_track: dial_request::StreamTrack::BothTracks as i32,
        stream_codec: StreamCodec::Pcma as i32,
        stream_bidirectional_codec: StreamBidirectionalCodec::AmrWb as i32,
        stream_bidirectional_mode: StreamBidirectionalMode::Rtp as i32,
        stream_bidirectional_sampling_rate: Some(16000),
        stream_bidirectional_target_legs: StreamBidirectionalTargetLegs::Both as i32,
        stream_establish_before_call_originate: Some(false),
        supervise_call_control_id: OTHER_CALL_CONTROL_ID.into(),
        supervisor_role: dial_request::SupervisorRole::Monitor as i32,
        time_limit_secs: Some(600),
        timeout_secs: Some(60),
        transcription: Some(true),
        transcription_config: Some(google_transcription()),
        webhook_retries_policies: HashMap::from([(
            "call.hangup".into(),
            dial_request::WebhookRetriesPolicy {
                retries_ms: vec![1000, 2000, 5000],
            },
        )]),
        webhook_url: WEBHOOK_URL.into(),
        webhook_url_method: dial_request::WebhookUrlMethod::Post as i32,
        webhook_urls: webhook_urls(),
        webhook_urls_method: dial_request::WebhookUrlsMethod::Get as i32,
        ..Default::default()
    }
}

fn full_dial_json() -> Value {
    json!({
        "connection_id": "7267xxxxxxxxxxxxxx",
        "to": "+18005550100",
        "from": "+18005550101",
        "from_display_name": "Company Name",
        "command_id": COMMAND_ID,
        "client_state": CLIENT_STATE,
        "answering_machine_detection": "detect_words",
        "answering_machine_detection_config": {
            "after_greeting_silence_millis": 1000,
            "between_words_silence_millis": 100,
            "greeting_duration_millis": 1500,
            "greeting_silence_duration_millis": 2000,
            "greeting_total_analysis_time_millis": 7500,
            "initial_silence_millis": 1800,
            "maximum_number_of_words": 3,
            "maximum_word_length_millis": 2000,
            "silence_threshold": 512,
            "total_analysis_time_millis": 5000,
        },
        "audio_url": "http://www.example.com/sounds/greeting.wav",
        "billing_group_id": "f5586561-8ff0-4291-a0ac-84fe544797bd",
        "bridge_intent": false,
        "bridge_on_answer": false,
        "link_to": "ilditnZK_eVysupV21KzmzN_sM29ygfauQojpm4BgFtfX5hXAcjotg==",
        "park_after_unbridge": "self",
        "prevent_double_bridge": false,
        "conference_config": conference_config_json(),
        "conversation_relay_config": relay_config_json(),
        "custom_headers": custom_headers_json(),
        "sip_headers": user_to_user_header_json(),
        "deepfake_detection": {"enabled": true, "rtp_timeout": 30, "timeout": 15},
        "dialogflow_config": {"analyze_sentiment": false, "partial_automated_agent_reply": true},
        "enable_dialogflow": false,
        "media_encryption": "SRTP",
        "preferred_codecs": "G722,PCMU,PCMA,G729,OPUS,VP8,H264",
        "privacy": "id",
        "record": "record-from-answer",
        "record_channels": "single",
        "record_custom_file_name": "my_recording_file_name",
        "record_format": "wav",
        "record_max_length": 1000,
        "record_timeout_secs": 100,
        "record_track": "outbound",
        "record_trim": "trim-silence",
        "retry_on_timeout": false,
        "send_digits_on_answer": "wwww200",
        "send_silence_when_idle": true,
        "sip_auth_username": "username",
        "sip_auth_password": "password",
        "sip_region": "Middle East",
        "sip_transport_protocol": "TLS",
        "sound_modifications": sound_modifications_json(),
        "stream_url": "wss://www.example.com/websocket",
        "stream_auth_token": "your-auth-token",
        "stream_track": "both_tracks",
        "stream_codec": "PCMA",
        "stream_bidirectional_codec": "AMR-WB",
        "stream_bidirectional_mode": "rtp",
        "stream_bidirectional_sampling_rate": 16000,
        "stream_bidirectional_target_legs": "both",
        "stream_establish_before_call_originate": false,
        "supervise_call_control_id": OTHER_CALL_CONTROL_ID,
        "supervisor_role": "monitor",
        "time_limit_secs": 600,
        "timeout_secs": 60,
        "transcription": true,
        "transcription_config": google_transcription_json(),
        "webhook_retries_policies": {"call.hangup": {"retries_ms": [1000, 2000, 5000]}},
        "webhook_url": WEBHOOK_URL,
        "webhook_url_method": "POST",
        "webhook_urls": webhook_urls_json(),
        "webhook_urls_method": "GET",
    })
}

/// Telnyx's answer to a Dial: the new leg, with a recording id.
fn dialed_call_json() -> Value {
    json!({
        "record_type": "call",
        "call_control_id": CALL_CONTROL_ID,
        "call_leg_id": "2dc6fc34-f9e0-11ea-b68e-02420a0f7768",
        "call_session_id": "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768",
        "client_state": CLIENT_STATE,
        "call_duration": 50,
        "is_alive": false,
        "recording_id": RECORDING_ID,
        "start_time": "2019-01-23T18:10:02.574Z",
        "end_time": "2019-01-23T18:11:52.574Z",
    })
}

/// The proto form of [`dialed_call_json`].
fn dialed_call() -> CallWithRecordingId {
    CallWithRecordingId {
        record_type: "call".into(),
        call_control_id: CALL_CONTROL_ID.into(),
        call_leg_id: "2dc6fc34-f9e0-11ea-b68e-02420a0f7768".into(),
        call_session_id: "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768".into(),
        client_state: CLIENT_STATE.into(),
        call_duration: Some(50),
        is_alive: Some(false),
        recording_id: RECORDING_ID.into(),
        start_time: Some(Timestamp {
            seconds: 1_548_267_002,
            nanos: 574_000_000,
        }),
        end_time: Some(Timestamp {
            seconds: 1_548_267_112,
            nanos: 574_000_000,
        }),
    }
}

#[tokio::test]
async fn dial_sends_every_field_under_telnyx_names_and_maps_the_call() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body("POST", "/calls", full_dial_json()),
            json_response(200, json!({"data": dialed_call_json()})),
        )
        .await;

    let response = gateway
        .calls()
        .dial(full_dial())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.call, Some(dialed_call()));
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn dial_to_several_destinations_sends_an_array() {
    let gateway = TestGateway::spawn().await;
    let to = ["+18005550100", "sip:username@sip.telnyx.com;secure=srtp"];
    let body = json!({
        "connection_id": "7267xxxxxxxxxxxxxx",
        "to": to,
        "from": "+18005550101",
        "command_id": COMMAND_ID,
    });
    let mut call = dialed_call_json();
    for absent in ["recording_id", "start_time", "end_time", "call_duration"] {
        call.as_object_mut().unwrap().remove(absent);
    }
    gateway
        .expect_once(
            telnyx_with_body("POST", "/calls", body),
            json_response(200, json!({"data": call})),
        )
        .await;

    let call = gateway
        .calls()
        .dial(DialRequest {
            connection_id: "7267xxxxxxxxxxxxxx".into(),
            to: to.map(String::from).into(),
            from: "+18005550101".into(),
            command_id: COMMAND_ID.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .call;
    let expected = CallWithRecordingId {
        recording_id: String::new(),
        start_time: None,
        end_time: None,
        call_duration: None,
        ..dialed_call()
    };
    assert_eq!(call, Some(expected));
    gateway.assert_requests_conform().await;
}

// ---------------------------------------------------------------------------
// Answer, Hangup, Bridge, Transfer
// ---------------------------------------------------------------------------

/// An AI assistant for the answered call, with a tool (an untagged union
/// member whose `type` the gateway writes) and typed dynamic variables.
fn assistant() -> CallAssistantRequest {
    CallAssistantRequest {
        id: "asst_123".into(),
        greeting: "Hi, I'm your assistant. How can I help?".into(),
        instructions: "You are a friendly voice assistant.".into(),
        dynamic_variables: HashMap::from([
            ("customer_name".into(), string_value("John")),
            ("account_id".into(), string_value("ACC-12345")),
            ("vip".into(), bool_value(true)),
            ("balance".into(), number_value(42.5)),
        ]),
        tools: vec![AssistantTool {
            tool: Some(assistant_tool::Tool::Hangup(HangupTool {
                hangup: Some(HangupToolParams {
                    description: "Hang up when the caller says goodbye.".into(),
                }),
            })),
        }],
        ..Default::default()
    }
}

fn assistant_json() -> Value {
    json!({
        "id": "asst_123",
        "greeting": "Hi, I'm your assistant. How can I help?",
        "instructions": "You are a friendly voice assistant.",
        "dynamic_variables": {
            "customer_name": "John",
            "account_id": "ACC-12345",
            "vip": true,
            "balance": 42.5,
        },
        "tools": [{
            "type": "hangup",
            "hangup": {"description": "Hang up when the caller says goodbye."},
        }],
    })
}

/// Deepgram nova-3 transcription: a union within a union, whose member
/// carries both `transcription_engine` and `transcription_model` on the wire.
fn deepgram_transcription() -> TranscriptionStartRequest {
    let nova3 = DeepgramNova3Config {
        language: DeepgramNova3TranscriptionLanguage::EnUs as i32,
        keyterms: vec!["Telnyx".into(), "LiveKit".into(), "VoIP".into()],
        keywords_boosting: HashMap::from([("snuffleupagus".into(), 5.0)]),
        smart_format: Some(false),
        interim_results: Some(true),
        utterance_end_ms: Some(800),
    };
    TranscriptionStartRequest {
        transcription_engine: transcription_start_request::TranscriptionEngine::Deepgram as i32,
        transcription_engine_config: Some(TranscriptionEngineConfig {
            engine: Some(transcription_engine_config::Engine::Deepgram(
                TranscriptionEngineDeepgramConfig {
                    model: Some(transcription_engine_deepgram_config::Model::Nova3(nova3)),
                },
            )),
        }),
        transcription_tracks: "inbound".into(),
        ..Default::default()
    }
}

fn deepgram_transcription_json() -> Value {
    json!({
        "transcription_engine": "Deepgram",
        "transcription_engine_config": {
            "transcription_engine": "Deepgram",
            "transcription_model": "deepgram/nova-3",
            "language": "en-US",
            "keyterms": ["Telnyx", "LiveKit", "VoIP"],
            "keywords_boosting": {"snuffleupagus": 5.0},
            "smart_format": false,
            "interim_results": true,
            "utterance_end_ms": 800,
        },
        "transcription_tracks": "inbound",
    })
}

fn full_answer() -> AnswerRequest {
    use answer_request::{
        DeepfakeDetection, PreferredCodecs, Record, RecordChannels, RecordFormat, RecordTrack,
        RecordTrim, StreamTrack, WebhookUrlMethod, WebhookUrlsMethod,
    };
    AnswerRequest {
        call_control_id: CALL_CONTROL_ID.into(),
        command_id: COMMAND_ID.into(),
        client_state: CLIENT_STATE.into(),
        billing_group_id: "f5586561-8ff0-4291-a0ac-84fe544797bd".into(),
        assistant: Some(assistant()),
        custom_headers: custom_headers(),
        sip_headers: user_to_user_header(),
        deepfake_detection: Some(DeepfakeDetection {
            enabled: Some(false),
            ..Default::default()
        }),
        preferred_codecs: PreferredCodecs::G722PcmuPcmaG729OpusVp8H264 as i32,
        record: Record::RecordFromAnswer as i32,
        record_channels: RecordChannels::Dual as i32,
        record_format: RecordFormat::Mp3 as i32,
        record_max_length: Some(3600),
        record_timeout_secs: Some(30),
        record_track: RecordTrack::Both as i32,
        record_trim: RecordTrim::TrimSilence as i32,
        record_custom_file_name: "support-call".into(),
        send_silence_when_idle: Some(false),
        sound_modifications: Some(sound_modifications()),
        stream_url: "wss://www.example.com/websocket".into(),
        stream_track: StreamTrack::InboundTrack as i32,
        stream_codec: StreamCodec::Default as i32,
        stream_bidirectional_codec: StreamBidirectionalCodec::Pcmu as i32,
        stream_bidirectional_mode: StreamBidirectionalMode::Mp3 as i32,
        stream_bidirectional_target_legs: StreamBidirectionalTargetLegs::Opposite as i32,
        transcription: Some(true),
        transcription_config: Some(deepgram_transcription()),
        webhook_url: WEBHOOK_URL.into(),
        webhook_url_method: WebhookUrlMethod::Get as i32,
        webhook_urls: webhook_urls(),
        webhook_urls_method: WebhookUrlsMethod::Post as i32,
        ..Default::default()
    }
}

fn full_answer_json() -> Value {
    json!({
        "command_id": COMMAND_ID,
        "client_state": CLIENT_STATE,
        "billing_group_id": "f5586561-8ff0-4291-a0ac-84fe544797bd",
        "assistant": assistant_json(),
        "custom_headers": custom_headers_json(),
        "sip_headers": user_to_user_header_json(),
        "deepfake_detection": {"enabled": false},
        "preferred_codecs": "G722,PCMU,PCMA,G729,OPUS,VP8,H264",
        "record": "record-from-answer",
        "record_channels": "dual",
        "record_format": "mp3",
        "record_max_length": 3600,
        "record_timeout_secs": 30,
        "record_track": "both",
        "record_trim": "trim-silence",
        "record_custom_file_name": "support-call",
        "send_silence_when_idle": false,
        "sound_modifications": sound_modifications_json(),
        "stream_url": "wss://www.example.com/websocket",
        "stream_track": "inbound_track",
        "stream_codec": "default",
        "stream_bidirectional_codec": "PCMU",
        "stream_bidirectional_mode": "mp3",
        "stream_bidirectional_target_legs": "opposite",
        "transcription": true,
        "transcription_config": deepgram_transcription_json(),
        "webhook_url": WEBHOOK_URL,
        "webhook_url_method": "GET",
        "webhook_urls": webhook_urls_json(),
        "webhook_urls_method": "POST",
    })
}

#[tokio::test]
async fn answer_sends_assistant_recording_streaming_and_transcription() {
    let gateway = TestGateway::spawn().await;
    let answered = json!({"data": {"result": "ok", "recording_id": RECORDING_ID}});
    gateway
        .expect_once(
            telnyx_with_body("POST", &action_path("answer"), full_answer_json()),
            json_response(200, answered),
        )
        .await;

    let response = gateway
        .calls()
        .answer(full_answer())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, "ok");
    assert_eq!(response.recording_id, RECORDING_ID);
    gateway.assert_requests_conform().await;
}

fn hangup() -> HangupRequest {
    HangupRequest {
        call_control_id: CALL_CONTROL_ID.into(),
        client_state: CLIENT_STATE.into(),
        command_id: COMMAND_ID.into(),
        custom_headers: custom_headers(),
    }
}

#[tokio::test]
async fn hangup_sends_state_command_id_and_bye_headers() {
    let gateway = TestGateway::spawn().await;
    expect_action(
        &gateway,
        &action_path("hangup"),
        json!({
            "client_state": CLIENT_STATE,
            "command_id": COMMAND_ID,
            "custom_headers": custom_headers_json(),
        }),
    )
    .await;

    let response = gateway.calls().hangup(hangup()).await.unwrap().into_inner();
    assert_eq!(response.result, "ok");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn hangup_of_an_ended_call_is_failed_precondition_with_telnyx_reason() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("POST", &action_path("hangup")),
            telnyx_error(
                422,
                "90018",
                "Call has already ended",
                "This call is no longer active and can't receive commands.",
            ),
        )
        .await;

    let status = gateway.calls().hangup(hangup()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("90018 Call has already ended"),
        "{}",
        status.message()
    );
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, "TELNYX_90018");
    assert_eq!(info.domain, "telnyx.com");
    assert_eq!(info.metadata["code"], "90018");
}

fn bridge(other_call_control_id: &str) -> BridgeRequest {
    BridgeRequest {
        call_control_id: CALL_CONTROL_ID.into(),
        other_call_control_id: other_call_control_id.into(),
        client_state: CLIENT_STATE.into(),
        command_id: COMMAND_ID.into(),
        hold_after_unbridge: Some(false),
        mute_dtmf: bridge_request::MuteDtmf::Opposite as i32,
        park_after_unbridge: "self".into(),
        play_ringtone: Some(true),
        ringtone: bridge_request::Ringtone::UsOld as i32,
        prevent_double_bridge: Some(false),
        record: bridge_request::Record::RecordFromAnswer as i32,
        record_channels: bridge_request::RecordChannels::Single as i32,
        record_format: bridge_request::RecordFormat::Wav as i32,
        record_max_length: Some(1000),
        record_timeout_secs: Some(100),
        record_track: bridge_request::RecordTrack::Inbound as i32,
        record_trim: bridge_request::RecordTrim::TrimSilence as i32,
        record_custom_file_name: "my_recording_file_name".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn bridge_sends_the_other_call_as_call_control_id() {
    let gateway = TestGateway::spawn().await;
    expect_action(
        &gateway,
        &action_path("bridge"),
        json!({
            "call_control_id": OTHER_CALL_CONTROL_ID,
            "client_state": CLIENT_STATE,
            "command_id": COMMAND_ID,
            "hold_after_unbridge": false,
            "mute_dtmf": "opposite",
            "park_after_unbridge": "self",
            "play_ringtone": true,
            "ringtone": "us-old",
            "prevent_double_bridge": false,
            "record": "record-from-answer",
            "record_channels": "single",
            "record_format": "wav",
            "record_max_length": 1000,
            "record_timeout_secs": 100,
            "record_track": "inbound",
            "record_trim": "trim-silence",
            "record_custom_file_name": "my_recording_file_name",
        }),
    )
    .await;

    let response = gateway
        .calls()
        .bridge(bridge(OTHER_CALL_CONTROL_ID))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, "ok");
    gateway.assert_requests_conform().await;
}

fn transfer(to: &str) -> TransferRequest {
    TransferRequest {
        call_control_id: CALL_CONTROL_ID.into(),
        to: to.into(),
        from: "+18005550101".into(),
        from_display_name: "Company Name".into(),
        command_id: COMMAND_ID.into(),
        client_state: CLIENT_STATE.into(),
        target_leg_client_state: "dGFyZ2V0IGxlZyBzdGF0ZQ==".into(),
        answering_machine_detection: transfer_request::AnsweringMachineDetection::Premium as i32,
        answering_machine_detection_config: Some(
            transfer_request::AnsweringMachineDetectionConfig {
                total_analysis_time_millis: Some(5000),
                greeting_duration_millis: Some(1500),
                ..Default::default()
            },
        ),
        audio_url: "http://www.example.com/sounds/greeting.wav".into(),
        custom_headers: custom_headers(),
        sip_headers: user_to_user_header(),
        early_media: Some(false),
        media_encryption: transfer_request::MediaEncryption::Dtls as i32,
        mute_dtmf: transfer_request::MuteDtmf::Both as i32,
        park_after_unbridge: "self".into(),
        preferred_codecs: "G722,PCMU,PCMA,G729,OPUS,VP8,H264".into(),
        privacy: transfer_request::Privacy::None as i32,
        record: transfer_request::Record::RecordFromAnswer as i32,
        record_format: transfer_request::RecordFormat::Mp3 as i32,
        send_digits_on_answer: "wwww200".into(),
        sip_auth_username: "username".into(),
        sip_auth_password: "password".into(),
        sip_region: transfer_request::SipRegion::Europe as i32,
        sip_transport_protocol: transfer_request::SipTransportProtocol::Udp as i32,
        sound_modifications: Some(sound_modifications()),
        time_limit_secs: Some(600),
        timeout_secs: Some(45),
        webhook_retries_policies: HashMap::from([(
            "call.answered".into(),
            transfer_request::WebhookRetriesPolicy {
                retries_ms: vec![500, 1500],
            },
        )]),
        webhook_url: WEBHOOK_URL.into(),
        webhook_url_method: transfer_request::WebhookUrlMethod::Post as i32,
        webhook_urls: webhook_urls(),
        webhook_urls_method: transfer_request::WebhookUrlsMethod::Post as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn transfer_sends_destination_detection_and_sip_settings() {
    let gateway = TestGateway::spawn().await;
    expect_action(
        &gateway,
        &action_path("transfer"),
        json!({
            "to": "sip:username@sip.telnyx.com;secure=srtp",
            "from": "+18005550101",
            "from_display_name": "Company Name",
            "command_id": COMMAND_ID,
            "client_state": CLIENT_STATE,
            "target_leg_client_state": "dGFyZ2V0IGxlZyBzdGF0ZQ==",
            "answering_machine_detection": "premium",
            "answering_machine_detection_config": {
                "total_analysis_time_millis": 5000,
                "greeting_duration_millis": 1500,
            },
            "audio_url": "http://www.example.com/sounds/greeting.wav",
            "custom_headers": custom_headers_json(),
            "sip_headers": user_to_user_header_json(),
            "early_media": false,
            "media_encryption": "DTLS",
            "mute_dtmf": "both",
            "park_after_unbridge": "self",
            "preferred_codecs": "G722,PCMU,PCMA,G729,OPUS,VP8,H264",
            "privacy": "none",
            "record": "record-from-answer",
            "record_format": "mp3",
            "send_digits_on_answer": "wwww200",
            "sip_auth_username": "username",
            "sip_auth_password": "password",
            "sip_region": "Europe",
            "sip_transport_protocol": "UDP",
            "sound_modifications": sound_modifications_json(),
            "time_limit_secs": 600,
            "timeout_secs": 45,
            "webhook_retries_policies": {"call.answered": {"retries_ms": [500, 1500]}},
            "webhook_url": WEBHOOK_URL,
            "webhook_url_method": "POST",
            "webhook_urls": webhook_urls_json(),
            "webhook_urls_method": "POST",
        }),
    )
    .await;

    let response = gateway
        .calls()
        .transfer(transfer("sip:username@sip.telnyx.com;secure=srtp"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, "ok");
    gateway.assert_requests_conform().await;
}

/// Sound modifications as a caller writes them (0.8, 0.1): Telnyx should get
/// those numbers, not their single-precision approximations
/// (0.800000011920929, 0.10000000149011612).
#[tokio::test]
async fn sound_modifications_reach_telnyx_as_the_decimals_written() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(telnyx("POST", &action_path("transfer")), ok_result())
        .await;

    let request = TransferRequest {
        call_control_id: CALL_CONTROL_ID.into(),
        to: "+18005550100".into(),
        command_id: COMMAND_ID.into(),
        sound_modifications: Some(SoundModifications {
            octaves: Some(0.1),
            pitch: Some(0.8),
            semitone: Some(-2.0),
            track: "both".into(),
        }),
        ..Default::default()
    };
    gateway.calls().transfer(request).await.unwrap();
    let body: Value = serde_json::from_slice(&gateway.received().await[0].body).unwrap();
    assert_eq!(
        body["sound_modifications"],
        json!({"octaves": 0.1, "pitch": 0.8, "semitone": -2.0, "track": "both"})
    );
    gateway.assert_requests_conform().await;
}

// ---------------------------------------------------------------------------
// Lists: active calls (cursor paging) and call events
// ---------------------------------------------------------------------------

/// Telnyx's opaque cursor, as in its examples.
const CURSOR_AFTER: &str = concat!(
    "v1:g3QAAAADZAAKdGVsbnl4X2lkc2wAAAABbQAAACRlYmRiYzdkNi1kZWRmLTExZWQtYTM3MS0wMjQyMGFl",
    "ZjAwYjRqZAAJdGltZXN0YW1wbggA8Le4pGhpVxdkAAR0eXBlZAAFYWZ0ZXI="
);
const THIRD_CALL_CONTROL_ID: &str = "v3:nWzPlAtV7IbYDu9fLJYCTPRgU3cBQ2TaK3ZSG3rX9Yj";

fn active_call_json(call_control_id: &str, duration: i32) -> Value {
    json!({
        "record_type": "call",
        "call_control_id": call_control_id,
        "call_leg_id": "2dc6fc34-f9e0-11ea-b68e-02420a0f7768",
        "call_session_id": "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768",
        "client_state": CLIENT_STATE,
        "call_duration": duration,
    })
}

/// The proto form of [`active_call_json`].
fn active_call(call_control_id: &str, duration: i32) -> ActiveCall {
    ActiveCall {
        record_type: "call".into(),
        call_control_id: call_control_id.into(),
        call_leg_id: "2dc6fc34-f9e0-11ea-b68e-02420a0f7768".into(),
        call_session_id: "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768".into(),
        client_state: CLIENT_STATE.into(),
        call_duration: Some(duration),
    }
}

#[tokio::test]
async fn list_active_calls_pages_by_cursor() {
    let gateway = TestGateway::spawn().await;
    let path = format!("/connections/{CONNECTION_ID}/active_calls");
    let first_page = json!({
        "data": [
            active_call_json(CALL_CONTROL_ID, 50),
            active_call_json(OTHER_CALL_CONTROL_ID, 12),
        ],
        "meta": {
            "cursors": {"after": CURSOR_AFTER},
            "next": format!("/v2{path}?page[after]={CURSOR_AFTER}"),
            "total_items": 3,
        },
    });
    let last_page = json!({
        "data": [active_call_json(THIRD_CALL_CONTROL_ID, 3)],
        "meta": {"cursors": {}, "total_items": 3},
    });
    gateway
        .expect_once(
            telnyx("GET", &path)
                .and(query_param("page[limit]", "2"))
                .and(query_param_is_missing("page[after]")),
            json_response(200, first_page),
        )
        .await;
    gateway
        .expect_once(
            telnyx("GET", &path).and(query_param("page[after]", CURSOR_AFTER)),
            json_response(200, last_page),
        )
        .await;

    let mut calls = gateway.calls();
    let list = |page_token: String| ListActiveCallsRequest {
        connection_id: CONNECTION_ID.into(),
        page_size: 2,
        page_token,
    };
    let first = calls
        .list_active_calls(list(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.active_calls,
        [
            active_call(CALL_CONTROL_ID, 50),
            active_call(OTHER_CALL_CONTROL_ID, 12)
        ]
    );
    assert_eq!(first.total_size, 3);
    assert!(!first.next_page_token.is_empty(), "a cursor follows");

    let last = calls
        .list_active_calls(list(first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last.active_calls, [active_call(THIRD_CALL_CONTROL_ID, 3)]);
    assert_eq!(last.total_size, 3);
    assert_eq!(last.next_page_token, "", "no cursor, no next page");

    let received = gateway.received().await;
    assert_query(&received[0], &[("page[limit]", "2")]);
    assert_query(
        &received[1],
        &[("page[after]", CURSOR_AFTER), ("page[limit]", "2")],
    );
    gateway.assert_requests_conform().await;
}

const LEG_ID: &str = "308fe500-5213-11e9-ace7-02420a0f0668";

#[tokio::test]
async fn list_call_events_sends_deep_object_filters_and_maps_events() {
    let gateway = TestGateway::spawn().await;
    let events = json!({
        "data": [{
            "record_type": "call_event",
            "call_leg_id": LEG_ID,
            "call_session_id": "308fec30-5213-11e9-9d3f-02420a0f0668",
            "event_timestamp": "2019-03-29T11:10:19.127783Z",
            "name": "call.hangup",
            "type": "webhook",
            "metadata": {
                "delivered_to": "https://example.com/webhooks",
                "attempt": 1,
                "failed": false,
            },
        }],
        "meta": {"page_number": 1, "page_size": 50, "total_pages": 1, "total_results": 1},
    });
    gateway
        .expect_once(
            telnyx("GET", "/call_events")
                .and(query_param(
                    "filter[occurred_at][gte]",
                    "2019-03-29T11:10:00Z",
                ))
                .and(query_param("filter[leg_id]", LEG_ID)),
            json_response(200, events),
        )
        .await;

    use list_call_events_request::{Filter, filter};
    let request = ListCallEventsRequest {
        page_size: 50,
        filter: Some(Filter {
            leg_id: LEG_ID.into(),
            product: filter::Product::CallControl as i32,
            r#type: filter::Type::Webhook as i32,
            name: "call.hangup".into(),
            failed: Some(false),
            from: "+12025550142".into(),
            to: "+12025550143".into(),
            occurred_at: Some(filter::OccurredAt {
                gte: "2019-03-29T11:10:00Z".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let response = gateway
        .calls()
        .list_call_events(request)
        .await
        .unwrap()
        .into_inner();
    let expected = CallEvent {
        record_type: "call_event".into(),
        call_leg_id: LEG_ID.into(),
        call_session_id: "308fec30-5213-11e9-9d3f-02420a0f0668".into(),
        event_timestamp: Some(Timestamp {
            seconds: 1_553_857_819,
            nanos: 127_783_000,
        }),
        name: "call.hangup".into(),
        r#type: call_event::Type::Webhook as i32,
        metadata: Some(struct_of(&[
            ("delivered_to", string_value("https://example.com/webhooks")),
            ("attempt", number_value(1.0)),
            ("failed", bool_value(false)),
        ])),
    };
    assert_eq!(response.call_events, [expected]);
    assert_eq!(response.total_size, 1);
    assert_eq!(response.next_page_token, "");
    assert_query(
        &gateway.received().await[0],
        &[
            ("filter[leg_id]", LEG_ID),
            ("filter[product]", "call_control"),
            ("filter[type]", "webhook"),
            ("filter[name]", "call.hangup"),
            ("filter[failed]", "false"),
            ("filter[from]", "+12025550142"),
            ("filter[to]", "+12025550143"),
            ("filter[occurred_at][gte]", "2019-03-29T11:10:00Z"),
            ("page[number]", "1"),
            ("page[size]", "50"),
        ],
    );
    gateway.assert_requests_conform().await;
}

// ---------------------------------------------------------------------------
// Call Control applications
// ---------------------------------------------------------------------------

/// A Call Control application as Telnyx returns it.
fn application_json(id: &str, name: &str) -> Value {
    json!({
        "record_type": "call_control_application",
        "id": id,
        "application_name": name,
        "active": false,
        "anchorsite_override": "Amsterdam, Netherlands",
        "call_cost_in_webhooks": false,
        "dtmf_type": "SIP INFO",
        "first_command_timeout": true,
        "first_command_timeout_secs": 10,
        "inbound": {
            "channel_limit": 10,
            "shaken_stir_enabled": true,
            "sip_subdomain": "example",
            "sip_subdomain_receive_settings": "only_my_connections",
        },
        "outbound": {"channel_limit": 10, "outbound_voice_profile_id": "1293384261075731499"},
        "redact_dtmf_debug_logging": true,
        "tags": ["tag1", "tag2"],
        "webhook_api_version": "2",
        "webhook_event_url": "https://example.com",
        "webhook_event_failover_url": null,
        "webhook_timeout_secs": 25,
        "created_at": "2018-02-02T22:25:27.521Z",
        "updated_at": "2018-02-02T22:25:27.521Z",
    })
}

/// The proto form of [`application_json`].
fn application(id: &str, name: &str) -> CallControlApplication {
    let at = Timestamp {
        seconds: 1_517_610_327,
        nanos: 521_000_000,
    };
    CallControlApplication {
        record_type: "call_control_application".into(),
        id: id.into(),
        application_name: name.into(),
        active: Some(false),
        anchorsite_override: call_control_application::AnchorsiteOverride::AmsterdamNetherlands
            as i32,
        call_cost_in_webhooks: Some(false),
        dtmf_type: call_control_application::DtmfType::SipInfo as i32,
        first_command_timeout: Some(true),
        first_command_timeout_secs: Some(10),
        inbound: Some(application_inbound()),
        outbound: Some(application_outbound()),
        redact_dtmf_debug_logging: Some(true),
        tags: vec!["tag1".into(), "tag2".into()],
        webhook_api_version: call_control_application::WebhookApiVersion::WebhookApiVersion2 as i32,
        webhook_event_url: "https://example.com".into(),
        webhook_event_failover_url: String::new(),
        webhook_timeout_secs: Some(25),
        created_at: Some(at),
        updated_at: Some(at),
    }
}

fn application_inbound() -> CallControlApplicationInbound {
    CallControlApplicationInbound {
        channel_limit: Some(10),
        shaken_stir_enabled: Some(true),
        sip_subdomain: "example".into(),
        sip_subdomain_receive_settings:
            call_control_application_inbound::SipSubdomainReceiveSettings::OnlyMyConnections as i32,
    }
}

fn application_outbound() -> CallControlApplicationOutbound {
    CallControlApplicationOutbound {
        channel_limit: Some(10),
        outbound_voice_profile_id: "1293384261075731499".into(),
    }
}

/// The body of [`create_application`].
fn create_application_json() -> Value {
    json!({
        "application_name": "call-router",
        "active": false,
        "anchorsite_override": "Amsterdam, Netherlands",
        "call_cost_in_webhooks": false,
        "dtmf_type": "SIP INFO",
        "first_command_timeout": true,
        "first_command_timeout_secs": 10,
        "inbound": {
            "channel_limit": 10,
            "shaken_stir_enabled": true,
            "sip_subdomain": "example",
            "sip_subdomain_receive_settings": "only_my_connections",
        },
        "outbound": {"channel_limit": 10, "outbound_voice_profile_id": "1293384261075731499"},
        "redact_dtmf_debug_logging": true,
        "webhook_api_version": "2",
        "webhook_event_url": "https://example.com",
        "webhook_event_failover_url": "https://failover.example.com",
        "webhook_timeout_secs": 25,
    })
}

fn create_application() -> CreateCallControlApplicationRequest {
    use create_call_control_application_request::{
        AnchorsiteOverride, DtmfType, WebhookApiVersion,
    };
    CreateCallControlApplicationRequest {
        application_name: "call-router".into(),
        active: Some(false),
        anchorsite_override: AnchorsiteOverride::AmsterdamNetherlands as i32,
        call_cost_in_webhooks: Some(false),
        dtmf_type: DtmfType::SipInfo as i32,
        first_command_timeout: Some(true),
        first_command_timeout_secs: Some(10),
        inbound: Some(application_inbound()),
        outbound: Some(application_outbound()),
        redact_dtmf_debug_logging: Some(true),
        webhook_api_version: WebhookApiVersion::WebhookApiVersion2 as i32,
        webhook_event_url: "https://example.com".into(),
        webhook_event_failover_url: "https://failover.example.com".into(),
        webhook_timeout_secs: Some(25),
    }
}

/// An update that renames the application, turns it on, changes its
/// routing and webhook format, and tags it.
fn update_application() -> UpdateCallControlApplicationRequest {
    use update_call_control_application_request::{
        AnchorsiteOverride, DtmfType, WebhookApiVersion,
    };
    UpdateCallControlApplicationRequest {
        application_id: APPLICATION_ID.into(),
        application_name: "call-router-v2".into(),
        webhook_event_url: "https://example.com/v2/webhooks".into(),
        active: Some(true),
        anchorsite_override: AnchorsiteOverride::ChicagoIl as i32,
        dtmf_type: DtmfType::Rfc2833 as i32,
        first_command_timeout: Some(false),
        outbound: Some(CallControlApplicationOutbound {
            channel_limit: Some(50),
            ..application_outbound()
        }),
        tags: vec!["tag1".into(), "tag2".into()],
        webhook_api_version: WebhookApiVersion::WebhookApiVersion1 as i32,
        ..Default::default()
    }
}

fn update_application_json() -> Value {
    json!({
        "application_name": "call-router-v2",
        "webhook_event_url": "https://example.com/v2/webhooks",
        "active": true,
        "anchorsite_override": "Chicago, IL",
        "dtmf_type": "RFC 2833",
        "first_command_timeout": false,
        "outbound": {"channel_limit": 50, "outbound_voice_profile_id": "1293384261075731499"},
        "tags": ["tag1", "tag2"],
        "webhook_api_version": "1",
    })
}

fn application_response(status: u16, name: &str) -> wiremock::ResponseTemplate {
    json_response(
        status,
        json!({"data": application_json(APPLICATION_ID, name)}),
    )
}

#[tokio::test]
async fn list_call_control_applications_sends_filters_and_sort() {
    let gateway = TestGateway::spawn().await;
    telnyx("GET", "/call_control_applications")
        .and(query_param("filter[application_name][contains]", "router"))
        .and(query_param(
            "filter[outbound.outbound_voice_profile_id]",
            "1293384261075731499",
        ))
        .and(query_param("sort", "connection_name"))
        .respond_with(json_response(
            200,
            json!({
                "data": [
                    application_json(APPLICATION_ID, "call-router"),
                    application_json("1293384261075731500", "call-router-eu"),
                ],
                "meta": {"page_number": 1, "page_size": 2, "total_pages": 4, "total_results": 7},
            }),
        ))
        .expect(1)
        .mount(&gateway.telnyx)
        .await;

    let request = ListCallControlApplicationsRequest {
        page_size: 2,
        filter: Some(list_call_control_applications_request::Filter {
            application_name: Some(
                list_call_control_applications_request::filter::ApplicationName {
                    contains: "router".into(),
                },
            ),
            outbound_voice_profile_id: "1293384261075731499".into(),
        }),
        sort: list_call_control_applications_request::Sort::ConnectionName as i32,
        ..Default::default()
    };
    let response = gateway
        .calls()
        .list_call_control_applications(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.call_control_applications,
        [
            application(APPLICATION_ID, "call-router"),
            application("1293384261075731500", "call-router-eu"),
        ]
    );
    assert_eq!(response.total_size, 7);
    assert!(!response.next_page_token.is_empty(), "three pages follow");
    assert_query(
        &gateway.received().await[0],
        &[
            ("filter[application_name][contains]", "router"),
            (
                "filter[outbound.outbound_voice_profile_id]",
                "1293384261075731499",
            ),
            ("sort", "connection_name"),
            ("page[number]", "1"),
            ("page[size]", "2"),
        ],
    );
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn create_call_control_application_posts_settings_and_maps_it() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body(
                "POST",
                "/call_control_applications",
                create_application_json(),
            ),
            application_response(201, "call-router"),
        )
        .await;

    let response = gateway
        .calls()
        .create_call_control_application(create_application())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.call_control_application,
        Some(application(APPLICATION_ID, "call-router"))
    );
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn get_call_control_application_fetches_by_id() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("GET", &application_path()),
            application_response(200, "call-router"),
        )
        .await;

    let response = gateway
        .calls()
        .get_call_control_application(GetCallControlApplicationRequest {
            application_id: APPLICATION_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.call_control_application,
        Some(application(APPLICATION_ID, "call-router"))
    );
    assert_query(&gateway.received().await[0], &[]);
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn update_call_control_application_patches_settings_and_tags() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body("PATCH", &application_path(), update_application_json()),
            application_response(200, "call-router-v2"),
        )
        .await;

    let response = gateway
        .calls()
        .update_call_control_application(update_application())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.call_control_application,
        Some(application(APPLICATION_ID, "call-router-v2"))
    );
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn delete_call_control_application_returns_the_deleted_application() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("DELETE", &application_path()),
            application_response(200, "call-router"),
        )
        .await;

    let response = gateway
        .calls()
        .delete_call_control_application(DeleteCallControlApplicationRequest {
            application_id: APPLICATION_ID.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.call_control_application,
        Some(application(APPLICATION_ID, "call-router"))
    );
    let request = &gateway.received().await[0];
    assert_query(request, &[]);
    assert!(request.body.is_empty(), "a DELETE carries no body");
    gateway.assert_requests_conform().await;
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn validation_refuses_missing_fields_and_empty_ids_before_sending() {
    let gateway = TestGateway::spawn().await;
    let mut calls = gateway.calls();
    let dial = |edit: fn(&mut DialRequest)| {
        let mut request = DialRequest {
            connection_id: "7267xxxxxxxxxxxxxx".into(),
            to: vec!["+18005550100".into()],
            from: "+18005550101".into(),
            ..Default::default()
        };
        edit(&mut request);
        request
    };
    let refused = [
        (
            "connection_id",
            calls
                .dial(dial(|r| r.connection_id.clear()))
                .await
                .unwrap_err(),
        ),
        ("to", calls.dial(dial(|r| r.to.clear())).await.unwrap_err()),
        (
            "from",
            calls.dial(dial(|r| r.from.clear())).await.unwrap_err(),
        ),
        ("to", calls.transfer(transfer("")).await.unwrap_err()),
        (
            "other_call_control_id",
            calls.bridge(bridge("")).await.unwrap_err(),
        ),
        (
            "application_name",
            calls
                .create_call_control_application(CreateCallControlApplicationRequest {
                    application_name: String::new(),
                    ..create_application()
                })
                .await
                .unwrap_err(),
        ),
        (
            "webhook_event_url",
            calls
                .create_call_control_application(CreateCallControlApplicationRequest {
                    webhook_event_url: String::new(),
                    ..create_application()
                })
                .await
                .unwrap_err(),
        ),
        (
            "application_name",
            calls
                .update_call_control_application(UpdateCallControlApplicationRequest {
                    application_name: String::new(),
                    ..update_application()
                })
                .await
                .unwrap_err(),
        ),
        (
            "webhook_event_url",
            calls
                .update_call_control_application(UpdateCallControlApplicationRequest {
                    webhook_event_url: String::new(),
                    ..update_application()
                })
                .await
                .unwrap_err(),
        ),
        // Path ids: empty or blank.
        (
            "call_control_id",
            calls.answer(AnswerRequest::default()).await.unwrap_err(),
        ),
        (
            "call_control_id",
            calls
                .hangup(HangupRequest {
                    call_control_id: " ".into(),
                    ..hangup()
                })
                .await
                .unwrap_err(),
        ),
        (
            "call_control_id",
            calls
                .bridge(BridgeRequest {
                    call_control_id: String::new(),
                    ..bridge(OTHER_CALL_CONTROL_ID)
                })
                .await
                .unwrap_err(),
        ),
        (
            "call_control_id",
            calls
                .transfer(TransferRequest {
                    call_control_id: String::new(),
                    ..transfer("+18005550100")
                })
                .await
                .unwrap_err(),
        ),
        (
            "connection_id",
            calls
                .list_active_calls(ListActiveCallsRequest::default())
                .await
                .unwrap_err(),
        ),
        (
            "application_id",
            calls
                .get_call_control_application(GetCallControlApplicationRequest::default())
                .await
                .unwrap_err(),
        ),
        (
            "application_id",
            calls
                .update_call_control_application(UpdateCallControlApplicationRequest {
                    application_id: "  ".into(),
                    ..update_application()
                })
                .await
                .unwrap_err(),
        ),
        (
            "application_id",
            calls
                .delete_call_control_application(DeleteCallControlApplicationRequest::default())
                .await
                .unwrap_err(),
        ),
    ];
    for (field, status) in &refused {
        assert_invalid_field(status, field);
    }
    assert!(
        gateway.received().await.is_empty(),
        "nothing may reach Telnyx"
    );
}
