//! What the fold reads of an accepted event: its id, type, `occurred_at`,
//! Telnyx's `payload` as JSON, and its cursor.
//!
//! The fold works from the JSON Telnyx sent (`Event.json`), never from the
//! typed payloads: those follow the generated protos, which grow event types
//! and fields on their own schedule, while the payload field names are
//! Telnyx's and stay. Only the envelope fields are decoded from the encoded
//! `Event` (the typed payload is skipped unread), and `occurred_at` is the
//! one the converter already read from `data.occurred_at` or
//! `data.payload.occurred_at`.

use serde_json::{Map, Value};

use events::cursor::Cursor;

use crate::stamp::{Stamp, tie};

/// The envelope of `conference_gateway.v1.Event`: its tags 1, 2, 3 and 5.
/// Every other field is skipped when decoding.
#[derive(Clone, PartialEq, prost::Message)]
struct Envelope {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    event_type: String,
    #[prost(message, optional, tag = "3")]
    occurred_at: Option<prost_types::Timestamp>,
    #[prost(string, tag = "5")]
    json: String,
}

/// An event the fold cannot read; it is skipped (and logged by the caller).
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("event {cursor} is not a conference_gateway.v1.Event: {source}")]
    Encoding {
        cursor: Cursor,
        source: prost::DecodeError,
    },
    #[error("event {cursor} carries JSON that is not an object: {source}")]
    Json {
        cursor: Cursor,
        source: serde_json::Error,
    },
}

/// One event as the fold reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// Telnyx's event id.
    pub id: String,
    /// Dotted event type (`call.enqueued`).
    pub event_type: String,
    /// `occurred_at`, in milliseconds since the Unix epoch.
    pub occurred_at: Option<i64>,
    /// `data.payload` as Telnyx sent it; empty when absent.
    pub payload: Map<String, Value>,
    /// Where the bus put it.
    pub cursor: Cursor,
}

impl Input {
    /// Reads an accepted event.
    pub fn decode(event: &events::Event) -> Result<Input, Unreadable> {
        let envelope =
            <Envelope as prost::Message>::decode(event.encoded.as_ref()).map_err(|source| {
                Unreadable::Encoding {
                    cursor: event.cursor,
                    source,
                }
            })?;
        let mut data: Map<String, Value> =
            serde_json::from_str(&envelope.json).map_err(|source| Unreadable::Json {
                cursor: event.cursor,
                source,
            })?;
        let payload = match data.remove("payload") {
            Some(Value::Object(payload)) => payload,
            _ => Map::new(),
        };
        Ok(Input {
            id: envelope.id,
            event_type: envelope.event_type,
            occurred_at: envelope.occurred_at.map(|t| millis(&t)),
            payload,
            cursor: event.cursor,
        })
    }

    /// The stamp of this event's writes, ranked `rank`; `None` without
    /// `occurred_at`, which the fold then cannot order and skips.
    pub fn stamp(&self, rank: u8) -> Option<Stamp> {
        Some(Stamp::new(self.occurred_at?, rank, tie(&self.id)))
    }

    /// A non-empty string member of the payload.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.payload
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A boolean member of the payload.
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.payload.get(key).and_then(Value::as_bool)
    }

    /// A whole-number member of the payload.
    pub fn number(&self, key: &str) -> Option<i64> {
        self.payload.get(key).and_then(Value::as_i64)
    }

    /// An array of strings in the payload.
    pub fn texts(&self, key: &str) -> Option<Vec<String>> {
        let items = self.payload.get(key)?.as_array()?;
        Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        )
    }
}

fn millis(at: &prost_types::Timestamp) -> i64 {
    at.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(at.nanos / 1_000_000))
}

/// Milliseconds since the Unix epoch as a protobuf timestamp.
pub fn timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds as a protobuf duration (never negative).
pub fn duration(millis: i64) -> prost_types::Duration {
    let millis = millis.max(0);
    prost_types::Duration {
        seconds: millis / 1000,
        nanos: ((millis % 1000) * 1_000_000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::Envelope as Received;
    use events::cursor::Position;
    use serde_json::json;

    #[test]
    fn reads_the_envelope_and_payload_of_an_accepted_event() {
        let data = json!({
            "record_type": "event",
            "id": "e-1",
            "event_type": "conference.created",
            "payload": {"conference_id": "c-1", "occurred_at": "2024-05-01T12:00:00.250Z"},
        });
        let prepared = events::converter().prepare(Received {
            id: "e-1".into(),
            event_type: "conference.created".into(),
            json: data.to_string(),
            data,
        });
        let cursor = Cursor {
            epoch: 7,
            position: Position::new(3, 0),
        };
        let input = Input::decode(&prepared.seal(cursor)).unwrap();
        assert_eq!(input.id, "e-1");
        assert_eq!(input.event_type, "conference.created");
        assert_eq!(input.occurred_at, Some(1_714_564_800_250));
        assert_eq!(input.text("conference_id"), Some("c-1"));
        assert_eq!(input.cursor, cursor);
    }

    #[test]
    fn converts_times_both_ways() {
        let t = timestamp(1_714_564_800_250);
        assert_eq!((t.seconds, t.nanos), (1_714_564_800, 250_000_000));
        assert_eq!(millis(&t), 1_714_564_800_250);
        let before_1970 = timestamp(-1);
        assert_eq!((before_1970.seconds, before_1970.nanos), (-1, 999_000_000));
        assert_eq!(duration(-5).seconds, 0);
        assert_eq!(duration(1500).nanos, 500_000_000);
    }
}
