//! Telnyx's unions carry no tag of their own: a member is told apart by its
//! JSON type and by the discriminator constants it declares (`role`, `type`,
//! `transcription_engine`). Reading must land on the member that was written.

use api::v1::{
    AiAssistantMessage, AssistantMessage, Loopcount, SystemMessage, ToolMessage, UserMessage,
    ai_assistant_message, loopcount,
};
use prost_reflect::{DynamicMessage, Kind, Value};
use serde_json::{Value as Json, json};

use crate::{catalog, descriptor, typed};

/// Every member of every union of objects, written with its constants and
/// read back, is the same member: no union depends on member order.
#[test]
fn every_union_member_reads_back_as_itself() {
    let mut checked = 0;
    for union in catalog().pool().all_messages() {
        if !catalog().message(&union).untagged_union {
            continue;
        }
        for member in union.fields() {
            let Kind::Message(member_desc) = member.kind() else {
                continue;
            };
            for value in member_values(&member_desc) {
                let mut written = DynamicMessage::new(union.clone());
                written.set_field(&member, Value::Message(value));
                let json = catalog().encode_message(&written);
                let read = catalog()
                    .decode_message(&union, &json)
                    .unwrap_or_else(|| panic!("{}: {json} reads as nothing", union.name()));
                let set: Vec<_> = read.fields().map(|(f, _)| f.name().to_owned()).collect();
                assert_eq!(
                    set,
                    [member.name()],
                    "{}.{} written as {json}",
                    union.name(),
                    member.name()
                );
                checked += 1;
            }
        }
    }
    // VoiceSettings (9), AssistantTool (6), AiAssistantMessage (5) and the
    // transcription engines (9, Deepgram's by model) at least.
    assert!(checked >= 30, "{checked} members checked");
}

/// An empty message of a member, or for a nested union one per member.
fn member_values(desc: &prost_reflect::MessageDescriptor) -> Vec<DynamicMessage> {
    match desc.full_name() {
        "google.protobuf.Struct" | "google.protobuf.ListValue" | "google.protobuf.Value" => {
            return vec![];
        }
        _ => {}
    }
    if !catalog().message(desc).untagged_union {
        return vec![DynamicMessage::new(desc.clone())];
    }
    desc.fields()
        .filter_map(|member| {
            let inner = member.kind().as_message()?.clone();
            let mut union = DynamicMessage::new(desc.clone());
            union.set_field(&member, Value::Message(DynamicMessage::new(inner)));
            Some(union)
        })
        .collect()
}

fn read_messages(json: Json) -> Vec<ai_assistant_message::Message> {
    let desc = descriptor("AiAssistantMessage");
    json.as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let read = catalog().decode_message(&desc, item).expect("a message");
            typed::<AiAssistantMessage>(&read)
                .message
                .expect("a member is set")
        })
        .collect()
}

#[test]
fn ai_assistant_messages_are_read_by_their_role() {
    use ai_assistant_message::Message;
    let messages = read_messages(json!([
        {"role": "system", "content": "Get the user's favorite color"},
        {"role": "user", "content": "Blue, I think."},
        {"role": "assistant", "content": "Noted.", "tool_calls": []},
        {"role": "tool", "content": "{\"saved\": true}", "tool_call_id": "call_1"},
    ]));
    assert_eq!(
        messages,
        [
            Message::System(SystemMessage {
                content: "Get the user's favorite color".into(),
                metadata: None,
            }),
            Message::User(UserMessage {
                content: "Blue, I think.".into(),
                metadata: None,
            }),
            Message::Assistant(AssistantMessage {
                content: "Noted.".into(),
                ..Default::default()
            }),
            Message::Tool(ToolMessage {
                content: "{\"saved\": true}".into(),
                tool_call_id: "call_1".into(),
                metadata: None,
            }),
        ]
    );
}

#[test]
fn a_loop_count_is_read_by_its_json_type() {
    let desc = descriptor("Loopcount");
    let read = |json: Json| typed::<Loopcount>(&catalog().decode_message(&desc, &json).unwrap());
    assert_eq!(
        read(json!(3)).value,
        Some(loopcount::Value::Count(3)),
        "a number is the count, not the text \"3\""
    );
    assert_eq!(
        read(json!("infinity")).value,
        Some(loopcount::Value::Text("infinity".into()))
    );
}

#[test]
fn an_object_without_its_discriminator_still_reads_leniently() {
    // Telnyx adds members over time: an unknown `role` does not fail the
    // read, it falls back to the first member that reads at all.
    let desc = descriptor("AiAssistantMessage");
    let read = catalog()
        .decode_message(&desc, &json!({"role": "critic", "content": "hm"}))
        .expect("read leniently");
    assert!(typed::<AiAssistantMessage>(&read).message.is_some());
}
