//! The 35 CallService RPCs of the call commands and the call status, from a
//! table: one row per RPC, its request message and its Telnyx path. The
//! requests and answers are Telnyx's own, from the spec: the body example an
//! operation shows, then a body with every property the operation accepts
//! (each from its example), and the answer assembled from the examples of
//! the response schema. For each RPC the tests check the exact request Telnyx
//! receives (method, path, query, headers, JSON body), the mapping of the
//! answer into the response, the refusal of each required field before
//! anything is sent, and the conformance of every request to the spec.
//!
//! The typed tests after the table show the same RPCs as a caller writes
//! them, where the mapping has rules of its own: AI assistant messages by
//! role, the voice providers a command takes, Conversation Relay's
//! alternatives, the PUT of client_state_update.

use std::collections::{BTreeMap, HashMap};

use crate::support::dynamic::method_for;
use crate::support::{
    TestGateway, assert_invalid_field, examples, json_response, ok_result, telnyx, telnyx_error,
    telnyx_with_body,
};
use api::v1::{
    AddAiAssistantMessagesRequest, AiAssistantMessage, AssistantMessage, Call,
    CallServiceSpeakRequest, CallServiceStartRecordingRequest, ConversationRelayAssistant,
    DeveloperMessage, ElevenLabsVoiceSettings, GatherUsingAiRequest, GetCallRequest,
    MinimaxVoiceSettings, StartAiAssistantRequest, StartConversationRelayRequest, SystemMessage,
    ToolCall, ToolMessage, UpdateClientStateRequest, UserMessage, VoiceSettings,
    ai_assistant_message, call_service_speak_request, tool_call, voice_settings,
};
use mapping::Operation;
use prost::Name;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value as Reflected};
use prost_types::Timestamp;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;

const CALL_CONTROL_ID: &str = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
const COMMAND_ID: &str = "891510ac-f3e4-11e8-af5b-de00688a4901";
const CLIENT_STATE: &str = "aGF2ZSBhIG5pY2UgZGF5ID1d";

/// One RPC: its request message, and its Telnyx method and path template.
struct Command {
    request: MessageDescriptor,
    method: &'static str,
    template: String,
}

impl Command {
    fn new<R: Name>(method: &'static str, template: String) -> Self {
        let request = mapping::catalog()
            .pool()
            .get_message_by_name(&R::full_name())
            .expect("a request message of the API");
        Command {
            request,
            method,
            template,
        }
    }

    /// `POST /calls/{call_control_id}/actions/<action>`.
    fn post<R: Name>(action: &str) -> Self {
        Self::new::<R>(
            "POST",
            format!("/calls/{{call_control_id}}/actions/{action}"),
        )
    }

    fn operation(&self) -> &'static Operation {
        mapping::catalog()
            .operation(self.request.full_name())
            .expect("an RPC's request")
    }

    fn name(&self) -> &str {
        self.operation().short_name()
    }

    /// The path Telnyx receives, below `/v2`.
    fn path(&self) -> String {
        self.template.replace("{call_control_id}", CALL_CONTROL_ID)
    }

    fn has_body(&self) -> bool {
        self.method != "GET"
    }

    /// The spec's example body, if it shows one.
    fn example_body(&self) -> Option<Value> {
        self.has_body()
            .then(|| examples::request_body(self.method, &self.template))
            .flatten()
    }

    /// A body with every property the operation accepts, each from its example.
    fn full_body(&self) -> Option<Value> {
        self.has_body().then(|| {
            let operation = &spec_operation(self.method, &self.template);
            examples::example_of(&operation["requestBody"]["content"]["application/json"]["schema"])
        })
    }

    /// The request that makes the gateway send `body`: the body read as the
    /// request message, and the call's id.
    fn request_for(&self, body: Option<&Value>) -> DynamicMessage {
        let mut request = match body {
            Some(body) => mapping::catalog()
                .decode_message(&self.request, body)
                .unwrap_or_else(|| panic!("{}: the body is an object", self.name())),
            None => DynamicMessage::new(self.request.clone()),
        };
        request.set_field_by_name("call_control_id", Reflected::String(CALL_CONTROL_ID.into()));
        request
    }
}

fn spec_operation(method: &str, template: &str) -> Value {
    crate::support::spec::document()["paths"][template][method.to_ascii_lowercase()].clone()
}

/// Every RPC of this file. A new call command is one row.
fn commands() -> Vec<Command> {
    use api::v1::*;
    vec![
        Command::new::<GetCallRequest>("GET", "/calls/{call_control_id}".into()),
        Command::post::<RejectRequest>("reject"),
        Command::post::<ReferRequest>("refer"),
        Command::new::<UpdateClientStateRequest>(
            "PUT",
            "/calls/{call_control_id}/actions/client_state_update".into(),
        ),
        Command::post::<SwitchSupervisorRoleRequest>("switch_supervisor_role"),
        Command::post::<CallServiceSpeakRequest>("speak"),
        Command::post::<StartPlaybackRequest>("playback_start"),
        Command::post::<StopPlaybackRequest>("playback_stop"),
        Command::post::<GatherRequest>("gather"),
        Command::post::<StopGatherRequest>("gather_stop"),
        Command::post::<CallServiceGatherUsingAudioRequest>("gather_using_audio"),
        Command::post::<GatherUsingSpeakRequest>("gather_using_speak"),
        Command::post::<GatherUsingAiRequest>("gather_using_ai"),
        Command::post::<CallServiceSendDtmfRequest>("send_dtmf"),
        Command::post::<SendSipInfoRequest>("send_sip_info"),
        Command::post::<CallServiceStartRecordingRequest>("record_start"),
        Command::post::<CallServiceStopRecordingRequest>("record_stop"),
        Command::post::<CallServicePauseRecordingRequest>("record_pause"),
        Command::post::<CallServiceResumeRecordingRequest>("record_resume"),
        Command::post::<StartForkingRequest>("fork_start"),
        Command::post::<StopForkingRequest>("fork_stop"),
        Command::post::<StartStreamingRequest>("streaming_start"),
        Command::post::<StopStreamingRequest>("streaming_stop"),
        Command::post::<StartTranscriptionRequest>("transcription_start"),
        Command::post::<StopTranscriptionRequest>("transcription_stop"),
        Command::post::<StartNoiseSuppressionRequest>("suppression_start"),
        Command::post::<StopNoiseSuppressionRequest>("suppression_stop"),
        Command::post::<StartSiprecRequest>("siprec_start"),
        Command::post::<StopSiprecRequest>("siprec_stop"),
        Command::post::<StartAiAssistantRequest>("ai_assistant_start"),
        Command::post::<StopAiAssistantRequest>("ai_assistant_stop"),
        Command::post::<JoinAiAssistantRequest>("ai_assistant_join"),
        Command::post::<AddAiAssistantMessagesRequest>("ai_assistant_add_messages"),
        Command::post::<StartConversationRelayRequest>("conversation_relay_start"),
        Command::post::<StopConversationRelayRequest>("conversation_relay_stop"),
    ]
}

#[test]
fn the_table_holds_each_rpc_once_as_declared() {
    let commands = commands();
    assert_eq!(commands.len(), 35);
    let mut names: Vec<&str> = commands.iter().map(Command::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 35, "an RPC is listed twice");
    for command in &commands {
        let operation = command.operation();
        assert_eq!(
            operation.method.as_str(),
            command.method,
            "{}",
            command.name()
        );
        assert_eq!(
            operation.path_template,
            command.template,
            "{}",
            command.name()
        );
    }
}

/// Sends `body` (or, for GET, no body) through the gateway and checks the
/// one request Telnyx receives and the mapping of Telnyx's answer.
async fn assert_round_trip(gateway: &TestGateway, command: &Command, body: Option<Value>) {
    let name = command.name();
    let path = command.path();
    let answer = examples::response(command.method, &command.template);
    let mut mock = telnyx(command.method, &path);
    if command.has_body() {
        mock = mock.and(wiremock::matchers::header(
            "content-type",
            "application/json",
        ));
    }
    let before = gateway.received().await.len();
    gateway
        .expect_once(mock, json_response(200, answer.clone()))
        .await;

    let request = command.request_for(body.as_ref());
    let response = gateway
        .call(&method_for(&command.request), request)
        .await
        .unwrap_or_else(|status| panic!("{name}: {status:?}"));

    let received = gateway.received().await;
    assert_eq!(received.len(), before + 1, "{name}: one request, no retry");
    let sent = &received[before];
    assert_eq!(sent.url.query(), None, "{name}: no query string");
    match body {
        None => assert!(sent.body.is_empty(), "{name}: a GET has no body"),
        Some(mut expected) => {
            let mut sent: Value = serde_json::from_slice(&sent.body).expect("a JSON body");
            let takes_command_id = command.request.get_field_by_name("command_id").is_some();
            if takes_command_id && expected.get("command_id").is_none() {
                let generated = sent
                    .as_object_mut()
                    .and_then(|body| body.remove("command_id"))
                    .unwrap_or_else(|| panic!("{name}: no command_id generated"));
                uuid::Uuid::parse_str(generated.as_str().unwrap_or_default())
                    .unwrap_or_else(|_| panic!("{name}: command_id {generated} is not a UUID"));
            }
            if let Some(object) = expected.as_object_mut() {
                // The caller never writes the id into the body: it is the path's.
                object.remove("call_control_id");
            }
            assert_same_json(
                &sent,
                &expected,
                &format!("{name}: the body Telnyx receives"),
            );
        }
    }

    let operation = command.operation();
    let data = &answer["data"];
    let mapped = match &operation.data_field {
        None => mapping::catalog().encode_message(&response),
        Some(field) => match &*response.get_field(field) {
            Reflected::Message(resource) => mapping::catalog().encode_message(resource),
            other => panic!("{name}: {other:?} in {}", field.name()),
        },
    };
    assert_same_json(
        &mapped,
        data,
        &format!("{name}: the response holds Telnyx's answer"),
    );
}

/// Telnyx's example body (where the spec shows none, the full body below).
#[tokio::test]
async fn each_rpc_sends_the_specs_example_and_maps_the_answer() {
    let gateway = TestGateway::spawn().await;
    for command in commands() {
        let body = command.example_body().or_else(|| command.full_body());
        assert_round_trip(&gateway, &command, body).await;
    }
    assert_eq!(gateway.received().await.len(), 35);
    gateway.assert_requests_conform().await;
}

/// Every property of every operation, nested objects and unions included.
#[tokio::test]
async fn each_rpc_sends_every_property_telnyx_accepts_under_its_name() {
    let gateway = TestGateway::spawn().await;
    for command in commands() {
        assert_round_trip(&gateway, &command, command.full_body()).await;
    }
    gateway.assert_requests_conform().await;
}

/// The request's required fields: its path ids and what Telnyx requires.
fn required_fields(command: &Command) -> Vec<String> {
    let mut fields = vec!["call_control_id".to_owned()];
    let plan = mapping::catalog().message(&command.request);
    fields.extend(
        plan.fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.desc.name().to_owned()),
    );
    fields
}

#[tokio::test]
async fn each_required_field_is_refused_by_name_before_anything_is_sent() {
    let gateway = TestGateway::spawn().await;
    let mut refused = 0;
    for command in commands() {
        let full = command.request_for(command.full_body().as_ref());
        for field in required_fields(&command) {
            let mut request = full.clone();
            request.clear_field_by_name(&field);
            let status = gateway
                .call(&method_for(&command.request), request)
                .await
                .expect_err(&format!("{} without {field}", command.name()));
            assert_invalid_field(&status, &field);
            refused += 1;
        }
        // A blank id is no id.
        let mut blank = full.clone();
        blank.set_field_by_name("call_control_id", Reflected::String("  ".into()));
        let status = gateway
            .call(&method_for(&command.request), blank)
            .await
            .unwrap_err();
        assert_invalid_field(&status, "call_control_id");
    }
    // The ids, and every property the spec's request bodies require.
    let spec_required: usize = commands()
        .iter()
        .filter(|command| command.has_body())
        .map(|command| {
            let operation = spec_operation(command.method, &command.template);
            let schema = examples::resolve(
                &operation["requestBody"]["content"]["application/json"]["schema"],
            );
            schema["required"].as_array().map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(refused, 35 + spec_required);
    assert!(
        gateway.received().await.is_empty(),
        "nothing may reach Telnyx"
    );
}

// ---------------------------------------------------------------------------
// Comparing JSON as Telnyx reads it.
// ---------------------------------------------------------------------------

/// `actual` and `expected` say the same: numbers by value (`1` is `1.0`),
/// RFC 3339 instants by instant (`...:00.000Z` is `...:00Z`).
fn assert_same_json(actual: &Value, expected: &Value, what: &str) {
    assert!(
        same(actual, expected),
        "{what}\n  actual:   {actual}\n  expected: {expected}"
    );
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y || same_instant(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn same_instant(a: &str, b: &str) -> bool {
    match (a.parse::<Timestamp>(), b.parse::<Timestamp>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// As a caller writes them.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_call_reads_the_call_status() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx("GET", &format!("/calls/{CALL_CONTROL_ID}")),
            json_response(
                200,
                json!({"data": {
                    "record_type": "call",
                    "call_control_id": CALL_CONTROL_ID,
                    "call_leg_id": "2dc6fc34-f9e0-11ea-b68e-02420a0f7768",
                    "call_session_id": "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768",
                    "client_state": CLIENT_STATE,
                    "call_duration": 50,
                    "is_alive": true,
                    "start_time": "2019-01-23T18:10:02.574Z",
                }}),
            ),
        )
        .await;
    let call = gateway
        .calls()
        .get_call(GetCallRequest {
            call_control_id: CALL_CONTROL_ID.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .call;
    assert_eq!(
        call,
        Some(Call {
            record_type: "call".into(),
            call_control_id: CALL_CONTROL_ID.into(),
            call_leg_id: "2dc6fc34-f9e0-11ea-b68e-02420a0f7768".into(),
            call_session_id: "2dc1b3c8-f9e0-11ea-bc5a-02420a0f7768".into(),
            client_state: CLIENT_STATE.into(),
            call_duration: Some(50),
            is_alive: Some(true),
            start_time: Some(Timestamp {
                seconds: 1_548_267_002,
                nanos: 574_000_000,
            }),
            end_time: None,
        })
    );
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn update_client_state_puts_the_new_state() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body(
                "PUT",
                &format!("/calls/{CALL_CONTROL_ID}/actions/client_state_update"),
                json!({"client_state": CLIENT_STATE}),
            ),
            ok_result(),
        )
        .await;
    let result = gateway
        .calls()
        .update_client_state(UpdateClientStateRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            client_state: CLIENT_STATE.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .result;
    assert_eq!(result, "ok");
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn speak_sends_the_menu_with_typed_voice_settings() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body(
                "POST",
                &format!("/calls/{CALL_CONTROL_ID}/actions/speak"),
                json!({
                    "payload": "For sales press 1, for support press 2.",
                    "voice": "Telnyx.KokoroTTS.af",
                    "payload_type": "text",
                    "voice_settings": {"type": "telnyx", "voice_speed": 1.25},
                    "client_state": CLIENT_STATE,
                    "command_id": COMMAND_ID,
                }),
            ),
            ok_result(),
        )
        .await;
    gateway
        .calls()
        .speak(CallServiceSpeakRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            payload: "For sales press 1, for support press 2.".into(),
            voice: "Telnyx.KokoroTTS.af".into(),
            payload_type: call_service_speak_request::PayloadType::Text as i32,
            voice_settings: Some(VoiceSettings {
                provider: Some(voice_settings::Provider::Telnyx(
                    api::v1::TelnyxVoiceSettings {
                        voice_speed: Some(1.25),
                    },
                )),
            }),
            client_state: CLIENT_STATE.into(),
            command_id: COMMAND_ID.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn a_command_on_an_ended_call_keeps_telnyx_reason() {
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx(
                "POST",
                &format!("/calls/{CALL_CONTROL_ID}/actions/record_start"),
            ),
            telnyx_error(
                422,
                "90018",
                "Call has already ended",
                "This call is no longer active and can't receive commands.",
            ),
        )
        .await;
    let status = gateway
        .calls()
        .start_recording(CallServiceStartRecordingRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            format: api::v1::call_service_start_recording_request::Format::Mp3 as i32,
            channels: api::v1::call_service_start_recording_request::Channels::Dual as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "TELNYX_90018"
    );
}

fn metadata(key: &str, value: &str) -> prost_types::Struct {
    prost_types::Struct {
        fields: BTreeMap::from([(
            key.to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue(value.into())),
            },
        )]),
    }
}

#[tokio::test]
async fn ai_assistant_messages_carry_their_role() {
    use ai_assistant_message::Message;
    let message = |member: Message| AiAssistantMessage {
        message: Some(member),
    };
    let gateway = TestGateway::spawn().await;
    gateway
        .expect_once(
            telnyx_with_body(
                "POST",
                &format!("/calls/{CALL_CONTROL_ID}/actions/ai_assistant_add_messages"),
                json!({
                    "command_id": COMMAND_ID,
                    "messages": [
                        {"role": "system", "content": "Get the user's favorite color"},
                        {"role": "developer", "content": "Answer in one sentence."},
                        {"role": "user", "content": "Blue.", "metadata": {"source": "ivr"}},
                        {"role": "assistant", "tool_calls": [{
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "save_color"},
                        }]},
                        {"role": "tool", "content": "{\"saved\":true}", "tool_call_id": "call_1"},
                    ],
                }),
            ),
            ok_result(),
        )
        .await;
    gateway
        .calls()
        .add_ai_assistant_messages(AddAiAssistantMessagesRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            command_id: COMMAND_ID.into(),
            messages: vec![
                message(Message::System(SystemMessage {
                    content: "Get the user's favorite color".into(),
                    metadata: None,
                })),
                message(Message::Developer(DeveloperMessage {
                    content: "Answer in one sentence.".into(),
                    metadata: None,
                })),
                message(Message::User(UserMessage {
                    content: "Blue.".into(),
                    metadata: Some(metadata("source", "ivr")),
                })),
                message(Message::Assistant(AssistantMessage {
                    content: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        r#type: tool_call::Type::Function as i32,
                        function: Some(tool_call::Function {
                            name: "save_color".into(),
                        }),
                    }],
                    metadata: None,
                })),
                message(Message::Tool(ToolMessage {
                    content: "{\"saved\":true}".into(),
                    tool_call_id: "call_1".into(),
                    metadata: None,
                })),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn an_ai_command_refuses_a_voice_provider_telnyx_does_not_take_there() {
    let gateway = TestGateway::spawn().await;
    let minimax = || VoiceSettings {
        provider: Some(voice_settings::Provider::Minimax(MinimaxVoiceSettings {
            pitch: Some(1),
            ..Default::default()
        })),
    };
    let mut calls = gateway.calls();
    let gather = calls
        .gather_using_ai(GatherUsingAiRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            parameters: Some(metadata("type", "object")),
            voice_settings: Some(minimax()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let start = calls
        .start_ai_assistant(StartAiAssistantRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            voice_settings: Some(minimax()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    for status in [gather, start] {
        assert_invalid_field(&status, "voice_settings");
        assert!(
            status.message().contains("`minimax`"),
            "{}",
            status.message()
        );
    }
    assert!(
        gateway.received().await.is_empty(),
        "nothing reaches Telnyx"
    );

    // The same provider on a command that takes every one goes through.
    gateway
        .expect_once(
            telnyx_with_body(
                "POST",
                &format!("/calls/{CALL_CONTROL_ID}/actions/conversation_relay_start"),
                json!({
                    "url": "wss://example.com/relay",
                    "command_id": COMMAND_ID,
                    "voice_settings": {"type": "minimax", "pitch": 1},
                }),
            ),
            ok_result(),
        )
        .await;
    calls
        .start_conversation_relay(StartConversationRelayRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            url: "wss://example.com/relay".into(),
            command_id: COMMAND_ID.into(),
            voice_settings: Some(minimax()),
            ..Default::default()
        })
        .await
        .unwrap();
    gateway.assert_requests_conform().await;
}

#[tokio::test]
async fn conversation_relay_needs_a_url_or_its_settings_and_takes_extra_assistant_keys() {
    let gateway = TestGateway::spawn().await;
    let mut calls = gateway.calls();
    let status = calls
        .start_conversation_relay(StartConversationRelayRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            greeting: "Hi!".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid_field(&status, "url");
    assert_eq!(
        status.message(),
        "url is required unless conversation_relay_url or conversation_relay_settings is set"
    );
    assert!(
        gateway.received().await.is_empty(),
        "nothing reaches Telnyx"
    );

    gateway
        .expect_once(
            telnyx_with_body(
                "POST",
                &format!("/calls/{CALL_CONTROL_ID}/actions/conversation_relay_start"),
                json!({
                    "conversation_relay_url": "wss://example.com/relay",
                    "command_id": COMMAND_ID,
                    "voice_settings": {"type": "elevenlabs", "api_key_ref": "my_key"},
                    "assistant": {
                        "dynamic_variables": {"customer_id": "12345"},
                        "tier": "premium",
                    },
                }),
            ),
            json_response(
                200,
                json!({"data": {"result": "ok", "conversation_relay_id": "d7e9c1d4-8b2a-4b8f-b3a7-9a671c9e9b0a"}}),
            ),
        )
        .await;
    let response = calls
        .start_conversation_relay(StartConversationRelayRequest {
            call_control_id: CALL_CONTROL_ID.into(),
            conversation_relay_url: "wss://example.com/relay".into(),
            command_id: COMMAND_ID.into(),
            voice_settings: Some(VoiceSettings {
                provider: Some(voice_settings::Provider::Elevenlabs(
                    ElevenLabsVoiceSettings {
                        api_key_ref: "my_key".into(),
                    },
                )),
            }),
            assistant: Some(ConversationRelayAssistant {
                dynamic_variables: HashMap::from([("customer_id".into(), "12345".into())]),
                additional_properties: Some(metadata("tier", "premium")),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, "ok");
    assert_eq!(
        response.conversation_relay_id,
        "d7e9c1d4-8b2a-4b8f-b3a7-9a671c9e9b0a"
    );
    gateway.assert_requests_conform().await;
}
