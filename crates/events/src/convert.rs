//! Telnyx's `data` object to the protobuf `Event`, typed payload included.
//!
//! Which payload message stands for which event type is declared in the protos
//! (`option (message) = {event_type: "..."}` on each member of `Event.payload`),
//! so the lookup is built once from the descriptors, like the control path's
//! catalog, and the payload itself is read by the same lenient JSON codec: a
//! field Telnyx adds or a value of an unexpected type is skipped, never an
//! error, and `Event.json` keeps the original either way.

use std::collections::HashMap;
use std::sync::LazyLock;

use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor, Value};
use serde_json::Value as Json;

use super::model::{CURSOR_FIELD, Envelope, Keys, Prepared};
use mapping::Catalog;

const EVENT_MESSAGE: &str = "conference_gateway.v1.Event";
const PAYLOAD_ONEOF: &str = "payload";
const TIMESTAMP_MESSAGE: &str = "google.protobuf.Timestamp";

/// The protos do not describe events the way this module expects. They are
/// compiled into the binary, so this is a build defect a test catches.
#[derive(Debug, thiserror::Error)]
#[error("events.proto: {0}")]
pub struct SchemaError(String);

/// Builds the encoded `Event` for a received `data` object.
#[derive(Debug)]
pub struct Converter {
    catalog: &'static Catalog,
    event: MessageDescriptor,
    id: FieldDescriptor,
    event_type: FieldDescriptor,
    occurred_at: FieldDescriptor,
    json: FieldDescriptor,
    recovered: FieldDescriptor,
    timestamp: MessageDescriptor,
    /// Event type -> the `Event.payload` member that types it.
    payloads: HashMap<String, FieldDescriptor>,
}

static CONVERTER: LazyLock<Converter> = LazyLock::new(|| {
    Converter::new(mapping::catalog()).expect("events.proto declares the event types")
});

/// The converter of the gateway's own protos, built on first use.
pub fn converter() -> &'static Converter {
    &CONVERTER
}

impl Converter {
    /// Reads `Event` and the event type of each of its payload members.
    pub fn new(catalog: &'static Catalog) -> Result<Self, SchemaError> {
        let pool = catalog.pool();
        let event = pool
            .get_message_by_name(EVENT_MESSAGE)
            .ok_or_else(|| SchemaError(format!("{EVENT_MESSAGE} is not declared")))?;
        let field = |name: &str| {
            event
                .get_field_by_name(name)
                .ok_or_else(|| SchemaError(format!("Event has no field {name}")))
        };
        let cursor = field("cursor")?;
        if cursor.number() != CURSOR_FIELD {
            return Err(SchemaError(format!(
                "Event.cursor is field {}, the converter appends field {CURSOR_FIELD}",
                cursor.number()
            )));
        }
        let oneof = event
            .oneofs()
            .find(|oneof| oneof.name() == PAYLOAD_ONEOF)
            .ok_or_else(|| SchemaError("Event has no payload oneof".into()))?;
        let mut payloads = HashMap::new();
        for member in oneof.fields() {
            let Some(message) = member.kind().as_message().cloned() else {
                return Err(SchemaError(format!("{} is not a message", member.name())));
            };
            let event_type = &catalog.message(&message).event_type;
            if event_type.is_empty() {
                return Err(SchemaError(format!(
                    "{} declares no event_type",
                    message.name()
                )));
            }
            if payloads
                .insert(event_type.clone(), member.clone())
                .is_some()
            {
                return Err(SchemaError(format!("{event_type} is typed twice")));
            }
        }
        let timestamp = pool
            .get_message_by_name(TIMESTAMP_MESSAGE)
            .ok_or_else(|| SchemaError(format!("{TIMESTAMP_MESSAGE} is not imported")))?;
        Ok(Converter {
            catalog,
            id: field("id")?,
            event_type: field("event_type")?,
            occurred_at: field("occurred_at")?,
            json: field("json")?,
            recovered: field("recovered")?,
            event,
            timestamp,
            payloads,
        })
    }

    /// The event types with a typed payload.
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.payloads.keys().map(String::as_str)
    }

    /// The `Event.payload` member that types `event_type`, if any.
    pub fn payload_member(&self, event_type: &str) -> Option<&FieldDescriptor> {
        self.payloads.get(event_type)
    }

    /// Converts and encodes the event, all but its cursor.
    pub fn prepare(&self, envelope: Envelope) -> Prepared {
        self.convert(envelope, false)
    }

    /// Like [`Converter::prepare`], for an event recovered from Telnyx's
    /// failed webhook deliveries rather than received: `Event.recovered` is set.
    pub fn prepare_recovered(&self, envelope: Envelope) -> Prepared {
        self.convert(envelope, true)
    }

    fn convert(&self, envelope: Envelope, recovered: bool) -> Prepared {
        let data = &envelope.data;
        let mut message = DynamicMessage::new(self.event.clone());
        message.set_field(&self.id, Value::String(envelope.id.clone()));
        message.set_field(&self.event_type, Value::String(envelope.event_type.clone()));
        // Most events carry `occurred_at` beside `payload`; conference events
        // carry it inside.
        let occurred_at = [
            data.get("occurred_at"),
            data.pointer("/payload/occurred_at"),
        ]
        .into_iter()
        .flatten()
        .find_map(|value| self.catalog.decode_message(&self.timestamp, value));
        if let Some(occurred_at) = occurred_at {
            message.set_field(&self.occurred_at, Value::Message(occurred_at));
        }
        if let Some(member) = self.payloads.get(&envelope.event_type) {
            let payload = data.get("payload").unwrap_or(&Json::Null);
            let kind = member.kind();
            let decoded = kind
                .as_message()
                .and_then(|desc| self.catalog.decode_message(desc, payload));
            if let Some(decoded) = decoded {
                message.set_field(member, Value::Message(decoded));
            }
        }
        let keys = Keys::of(data);
        message.set_field(&self.json, Value::String(envelope.json));
        if recovered {
            message.set_field(&self.recovered, Value::Bool(true));
        }
        Prepared {
            id: envelope.id,
            event_type: envelope.event_type,
            keys,
            body: message.encode_to_vec().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::{Cursor, Position};
    use api::v1 as pb;

    fn envelope(data: Json) -> Envelope {
        Envelope {
            id: data["id"].as_str().unwrap().to_owned(),
            event_type: data["event_type"].as_str().unwrap().to_owned(),
            json: data.to_string(),
            data,
        }
    }

    #[test]
    fn every_payload_member_declares_its_event_type() {
        let converter = converter();
        assert_eq!(converter.event_types().count(), 55);
        let member = converter.payload_member("call.dequeued").unwrap();
        assert_eq!(member.name(), "call_left_queue");
    }

    #[test]
    fn sealed_bytes_decode_as_the_typed_event() {
        let data = serde_json::json!({
            "record_type": "event",
            "id": "e-1",
            "event_type": "conference.created",
            "payload": {
                "conference_id": "conf-1",
                "call_control_id": "v3:abc",
                "occurred_at": "2024-05-01T12:00:00.5Z",
                "added_later_by_telnyx": {"x": 1}
            }
        });
        let prepared = converter().prepare(envelope(data.clone()));
        assert_eq!(prepared.keys.conference_id, "conf-1");
        assert_eq!(prepared.keys.call_control_id, "v3:abc");
        let cursor = Cursor {
            epoch: 7,
            position: Position::new(3, 0),
        };
        let event = prepared.seal(cursor);
        let decoded = pb::Event::decode(event.encoded.clone()).unwrap();
        assert_eq!(decoded.id, "e-1");
        assert_eq!(decoded.cursor, cursor.to_string());
        assert_eq!(decoded.occurred_at.unwrap().nanos, 500_000_000);
        assert_eq!(decoded.json, data.to_string());
        assert!(!decoded.recovered, "received, not recovered");
        let Some(pb::event::Payload::ConferenceCreated(payload)) = decoded.payload else {
            panic!("not typed: {:?}", decoded.payload);
        };
        assert_eq!(payload.conference_id, "conf-1");
    }

    #[test]
    fn a_recovered_event_says_so() {
        let data = serde_json::json!({"id": "e-3", "event_type": "call.hangup", "payload": {"call_control_id": "v3:x"}});
        let event = converter().prepare_recovered(envelope(data)).seal(Cursor {
            epoch: 1,
            position: Position::new(1, 0),
        });
        let decoded = pb::Event::decode(event.encoded.clone()).unwrap();
        assert!(decoded.recovered);
        assert_eq!(decoded.id, "e-3");
        assert!(decoded.payload.is_some(), "typed like a received event");
    }

    #[test]
    fn an_unknown_type_keeps_only_the_json() {
        let data = serde_json::json!({"id": "e-2", "event_type": "call.future.thing", "payload": {"a": 1}});
        let event = converter().prepare(envelope(data)).seal(Cursor {
            epoch: 1,
            position: Position::new(1, 0),
        });
        let decoded = pb::Event::decode(event.encoded.clone()).unwrap();
        assert_eq!(decoded.event_type, "call.future.thing");
        assert!(decoded.payload.is_none());
        assert!(decoded.occurred_at.is_none());
    }
}
