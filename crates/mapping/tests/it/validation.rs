//! What the options say Telnyx would refuse is refused before the request is
//! built, with the field's name: union members a command does not take, a
//! body without any of its required alternatives, and additional properties
//! that shadow a field.

use std::collections::{BTreeMap, HashMap};

use api::v1::{
    ConversationRelayAssistant, ConversationRelaySettings, ElevenLabsVoiceSettings,
    GatherUsingAiRequest, InworldVoiceSettings, MinimaxVoiceSettings, StartAiAssistantRequest,
    StartConversationRelayRequest, VoiceSettings, voice_settings,
};
use mapping::{InvalidField, PlannedCall};
use prost_types::{Struct, Value as ProtoValue, value::Kind};
use serde_json::json;

use crate::{catalog, descriptor, dynamic, typed};

fn build<M: prost::Message + prost::Name>(request: &M) -> Result<PlannedCall, InvalidField> {
    let operation = catalog()
        .operation(&M::full_name())
        .expect("an RPC's request");
    catalog().build_call(operation, &dynamic(request))
}

fn minimax() -> VoiceSettings {
    VoiceSettings {
        provider: Some(voice_settings::Provider::Minimax(MinimaxVoiceSettings {
            pitch: Some(2),
            ..Default::default()
        })),
    }
}

fn inworld() -> VoiceSettings {
    VoiceSettings {
        provider: Some(voice_settings::Provider::Inworld(
            InworldVoiceSettings::default(),
        )),
    }
}

fn elevenlabs() -> VoiceSettings {
    VoiceSettings {
        provider: Some(voice_settings::Provider::Elevenlabs(
            ElevenLabsVoiceSettings {
                api_key_ref: "my_elevenlabs_api_key".into(),
            },
        )),
    }
}

fn gather_using_ai(voice_settings: VoiceSettings) -> GatherUsingAiRequest {
    GatherUsingAiRequest {
        call_control_id: "v3:abc".into(),
        parameters: Some(Struct::default()),
        voice_settings: Some(voice_settings),
        ..Default::default()
    }
}

fn start_ai_assistant(voice_settings: VoiceSettings) -> StartAiAssistantRequest {
    StartAiAssistantRequest {
        call_control_id: "v3:abc".into(),
        voice_settings: Some(voice_settings),
        ..Default::default()
    }
}

#[test]
fn voice_settings_of_a_provider_the_command_does_not_take_are_refused() {
    for (rpc, refused) in [
        ("GatherUsingAi minimax", build(&gather_using_ai(minimax()))),
        ("GatherUsingAi inworld", build(&gather_using_ai(inworld()))),
        (
            "StartAiAssistant minimax",
            build(&start_ai_assistant(minimax())),
        ),
        (
            "StartAiAssistant inworld",
            build(&start_ai_assistant(inworld())),
        ),
    ] {
        let invalid = refused.expect_err(rpc);
        assert_eq!(invalid.field, "voice_settings", "{rpc}");
        assert!(
            invalid.reason.starts_with("does not take `minimax` here")
                || invalid.reason.starts_with("does not take `inworld` here"),
            "{rpc}: {}",
            invalid.reason
        );
        assert!(
            invalid
                .reason
                .ends_with("elevenlabs, telnyx, aws, azure, rime, resemble, xai"),
            "{rpc}: names what Telnyx accepts: {}",
            invalid.reason
        );
    }
    for accepted in [
        build(&gather_using_ai(elevenlabs())),
        build(&start_ai_assistant(elevenlabs())),
    ] {
        let body = accepted.expect("elevenlabs is accepted").call.body.unwrap();
        assert_eq!(
            body["voice_settings"],
            json!({"type": "elevenlabs", "api_key_ref": "my_elevenlabs_api_key"})
        );
    }
}

#[test]
fn a_command_that_takes_every_provider_takes_minimax() {
    let relay = StartConversationRelayRequest {
        call_control_id: "v3:abc".into(),
        url: "wss://example.com/relay".into(),
        voice_settings: Some(minimax()),
        ..Default::default()
    };
    let body = build(&relay).unwrap().call.body.unwrap();
    assert_eq!(
        body["voice_settings"],
        json!({"type": "minimax", "pitch": 2})
    );
}

#[test]
fn conversation_relay_needs_one_of_its_urls_or_its_settings() {
    let relay = |edit: fn(&mut StartConversationRelayRequest)| {
        let mut request = StartConversationRelayRequest {
            call_control_id: "v3:abc".into(),
            greeting: "Hi!".into(),
            ..Default::default()
        };
        edit(&mut request);
        build(&request)
    };
    let invalid = relay(|_| {}).expect_err("none of the three");
    assert_eq!(
        invalid,
        InvalidField {
            field: "url".into(),
            reason:
                "is required unless conversation_relay_url or conversation_relay_settings is set"
                    .into(),
        }
    );
    let accepted = [
        relay(|r| r.url = "wss://example.com/relay".into()),
        relay(|r| r.conversation_relay_url = "wss://example.com/relay".into()),
        relay(|r| {
            r.conversation_relay_settings = Some(ConversationRelaySettings {
                url: "wss://example.com/relay".into(),
                ..Default::default()
            })
        }),
    ];
    for planned in accepted {
        let body = planned.expect("one of them is enough").call.body.unwrap();
        assert_eq!(body["greeting"], "Hi!");
    }
}

fn text(value: &str) -> ProtoValue {
    ProtoValue {
        kind: Some(Kind::StringValue(value.into())),
    }
}

fn number(value: f64) -> ProtoValue {
    ProtoValue {
        kind: Some(Kind::NumberValue(value)),
    }
}

fn assistant(extra: &[(&str, ProtoValue)]) -> ConversationRelayAssistant {
    ConversationRelayAssistant {
        dynamic_variables: HashMap::from([("customer_id".into(), "12345".into())]),
        additional_properties: Some(Struct {
            fields: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        }),
    }
}

fn relay_with(assistant: ConversationRelayAssistant) -> StartConversationRelayRequest {
    StartConversationRelayRequest {
        call_control_id: "v3:abc".into(),
        url: "wss://example.com/relay".into(),
        command_id: "cmd-1".into(),
        assistant: Some(assistant),
        ..Default::default()
    }
}

#[test]
fn additional_properties_travel_beside_the_fields_of_their_object() {
    let request = relay_with(assistant(&[
        ("id", text("asst_123")),
        ("temperature", number(0.5)),
    ]));
    let body = build(&request).unwrap().call.body.unwrap();
    assert_eq!(
        body,
        json!({
            "url": "wss://example.com/relay",
            "command_id": "cmd-1",
            "assistant": {
                "dynamic_variables": {"customer_id": "12345"},
                "id": "asst_123",
                "temperature": 0.5,
            },
        })
    );

    // Read back, the keys no field names land in the Struct again.
    let desc = descriptor("ConversationRelayAssistant");
    let read = catalog().decode_message(&desc, &body["assistant"]).unwrap();
    assert_eq!(
        typed::<ConversationRelayAssistant>(&read),
        assistant(&[("id", text("asst_123")), ("temperature", number(0.5))])
    );
}

#[test]
fn an_additional_property_that_names_a_field_is_refused() {
    let request = relay_with(assistant(&[("dynamic_variables", text("x"))]));
    let invalid = build(&request).expect_err("shadows a field");
    assert_eq!(
        invalid.field,
        "assistant.additional_properties[dynamic_variables]"
    );
    assert_eq!(
        invalid.reason,
        "is a field of ConversationRelayAssistant: set that field instead"
    );
}
