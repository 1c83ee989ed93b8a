//! The event as it moves through the gateway: received, prepared, accepted.
//!
//! Each stage does its work once. The webhook handler parses Telnyx's `data`
//! once ([`Envelope`]); the converter builds the protobuf `Event` once, without
//! its cursor ([`Prepared`]); the bus stamps the cursor and the result is shared
//! by every subscriber as an `Arc<Event>` whose encoded bytes go on the wire as
//! they are. Fan-out to thousands of streams then costs a reference count and a
//! copy into each stream's frame, never a conversion or an encoding.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::cursor::Cursor;

/// Field number of `Event.cursor` in `events.proto`; a test pins it.
pub(crate) const CURSOR_FIELD: u32 = 4;

/// A Telnyx event as received and verified: the `data` object of the webhook.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `data.id`, Telnyx's event id: the deduplication key.
    pub id: String,
    /// `data.event_type`, dotted (`conference.participant.joined`).
    pub event_type: String,
    /// The `data` object exactly as received, as JSON text.
    pub json: String,
    /// The same object, parsed.
    pub data: Value,
}

/// The values subscribers filter on, read once from `data.payload`. Empty when
/// the event does not carry the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    pub conference_id: String,
    pub call_control_id: String,
    /// `payload.queue`: the queue name of `call.enqueued` and `call.dequeued`.
    pub queue: String,
}

impl Keys {
    /// Reads the filter keys of a `data` object; anything missing or not a
    /// string is empty.
    pub fn of(data: &Value) -> Self {
        let field = |name: &str| {
            data.get("payload")
                .and_then(|payload| payload.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Keys {
            conference_id: field("conference_id"),
            call_control_id: field("call_control_id"),
            queue: field("queue"),
        }
    }
}

/// An event converted and encoded, waiting for the bus to give it a cursor.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub id: String,
    pub event_type: String,
    pub keys: Keys,
    /// The encoded `Event` with every field but `cursor`.
    pub body: Bytes,
}

impl Prepared {
    /// The accepted event. Protobuf fields may come in any order, so the cursor
    /// is appended to the encoded body rather than encoding the event again.
    pub fn seal(self, cursor: Cursor) -> Event {
        let text = cursor.to_string();
        let mut encoded = BytesMut::with_capacity(self.body.len() + text.len() + 2);
        encoded.extend_from_slice(&self.body);
        prost::encoding::string::encode(CURSOR_FIELD, &text, &mut encoded);
        Event {
            id: self.id,
            event_type: self.event_type,
            keys: self.keys,
            cursor,
            encoded: encoded.freeze(),
        }
    }
}

/// An event the bus accepted, shared by every subscriber that receives it.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub keys: Keys,
    pub cursor: Cursor,
    /// The `conference_gateway.v1.Event` message, encoded once.
    pub encoded: Bytes,
}
