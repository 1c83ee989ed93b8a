//! Reading a verified webhook body: `{"data": {"id", "event_type", ...}, "meta": ...}`.
//!
//! Only a body whose signature passed gets here. What the gateway needs of it
//! is the `data` object, both as the exact text Telnyx sent (delivered to
//! subscribers as `Event.json`, so nothing is lost) and parsed, and in it the
//! id (the dedupe key) and the event type. Everything else is Telnyx's to add
//! to; `meta` (delivery attempt, URL) describes the delivery, not the event.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use events::Envelope;

/// Why a correctly signed body is not a Telnyx event. Answered 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("body is not a JSON object with a `data` member: {0}")]
    NotJson(String),
    #[error("`data` is not a JSON object")]
    DataNotObject,
    #[error("`data.id` is missing or not a non-empty string")]
    MissingId,
    #[error("`data.event_type` is missing or not a non-empty string")]
    MissingEventType,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The event a verified body carries.
pub fn parse(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    // serde would also read a struct from an array; Telnyx sends an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(EnvelopeError::NotJson(
            "the body is not a JSON object".into(),
        ));
    }
    let wrapper: Body<'_> =
        serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(one_line(&e)))?;
    let json = wrapper.data.get();
    let data: Value =
        serde_json::from_str(json).map_err(|e| EnvelopeError::NotJson(one_line(&e)))?;
    of_data(json.to_owned(), data)
}

/// The event a `data` object that did not come in a webhook carries: a
/// failed delivery's `webhook`, read from Telnyx's API with the gateway's
/// own key. Its text is the object as serialised again.
pub fn from_data(data: Value) -> Result<Envelope, EnvelopeError> {
    of_data(data.to_string(), data)
}

fn of_data(json: String, data: Value) -> Result<Envelope, EnvelopeError> {
    if !data.is_object() {
        return Err(EnvelopeError::DataNotObject);
    }
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let id = text("id").ok_or(EnvelopeError::MissingId)?;
    let event_type = text("event_type").ok_or(EnvelopeError::MissingEventType)?;
    Ok(Envelope {
        id,
        event_type,
        json,
        data,
    })
}

fn one_line(error: &serde_json::Error) -> String {
    error.to_string().replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_data_exactly_as_sent() {
        let body = br#"{"data": {"id" : "e1", "event_type":"call.hangup", "payload":{"n":1.50}}, "meta":{"attempt":2}}"#;
        let envelope = parse(body).unwrap();
        assert_eq!(envelope.id, "e1");
        assert_eq!(envelope.event_type, "call.hangup");
        assert_eq!(
            envelope.json,
            r#"{"id" : "e1", "event_type":"call.hangup", "payload":{"n":1.50}}"#
        );
    }

    #[test]
    fn says_what_is_missing() {
        for body in [&b"not json"[..], b"{}", b"[1]", b"\xff\xfe"] {
            assert!(matches!(parse(body), Err(EnvelopeError::NotJson(_))));
        }
        let cases: [(&[u8], EnvelopeError); 5] = [
            (br#"{"data": 5}"#, EnvelopeError::DataNotObject),
            (br#"{"data": {}}"#, EnvelopeError::MissingId),
            (br#"{"data": {"id": 5}}"#, EnvelopeError::MissingId),
            (br#"{"data": {"id": "x"}}"#, EnvelopeError::MissingEventType),
            (
                br#"{"data": {"id": "x", "event_type": ""}}"#,
                EnvelopeError::MissingEventType,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(parse(body).unwrap_err(), expected);
        }
    }
}
