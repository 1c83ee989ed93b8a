//! How an event is stored in the Redis stream and carried on the channel.
//!
//! A stream entry holds one field, `e`: the prepared event framed as five
//! length-prefixed strings (id, type, conference, call, queue) followed by the
//! encoded body. One opaque field keeps each entry small (Redis stores field
//! names per entry unless they repeat exactly) and lets the subscriber rebuild
//! the event without parsing Telnyx's JSON again.
//!
//! A channel message is `{epoch:x}\n{stream id}\n{record}`: the script adds
//! the epoch and the id it just got from XADD, so a replica can stamp the
//! cursor without asking Redis.

use bytes::Bytes;

use crate::cursor::Position;
use crate::model::{Keys, Prepared};

/// The stream entry's one field.
pub const FIELD: &str = "e";

/// Bytes that are not a record this gateway wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed event record in Redis: {0}")]
pub struct MalformedRecord(pub &'static str);

/// Frames a prepared event for the stream.
pub fn encode(event: &Prepared) -> Vec<u8> {
    let texts = [
        event.id.as_str(),
        event.event_type.as_str(),
        event.keys.conference_id.as_str(),
        event.keys.call_control_id.as_str(),
        event.keys.queue.as_str(),
    ];
    let size = texts.iter().map(|t| t.len() + 4).sum::<usize>() + event.body.len();
    let mut out = Vec::with_capacity(size);
    for text in texts {
        let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&text.as_bytes()[..len as usize]);
    }
    out.extend_from_slice(&event.body);
    out
}

/// Rebuilds the prepared event a record holds.
pub fn decode(record: &[u8]) -> Result<Prepared, MalformedRecord> {
    let mut rest = record;
    let mut text = || -> Result<String, MalformedRecord> {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(MalformedRecord("truncated length"))?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return Err(MalformedRecord("truncated field"));
        }
        let (field, tail) = tail.split_at(len);
        rest = tail;
        String::from_utf8(field.to_vec()).map_err(|_| MalformedRecord("field is not UTF-8"))
    };
    let id = text()?;
    let event_type = text()?;
    let keys = Keys {
        conference_id: text()?,
        call_control_id: text()?,
        queue: text()?,
    };
    Ok(Prepared {
        id,
        event_type,
        keys,
        body: Bytes::copy_from_slice(rest),
    })
}

/// A channel message: the epoch, the stream id and the record.
pub fn split_message(message: &[u8]) -> Result<(u64, Position, &[u8]), MalformedRecord> {
    let mut parts = message.splitn(3, |&b| b == b'\n');
    let epoch = parts.next().ok_or(MalformedRecord("no epoch"))?;
    let id = parts.next().ok_or(MalformedRecord("no stream id"))?;
    let record = parts.next().ok_or(MalformedRecord("no record"))?;
    let epoch = std::str::from_utf8(epoch)
        .ok()
        .and_then(|e| u64::from_str_radix(e, 16).ok())
        .ok_or(MalformedRecord("bad epoch"))?;
    let id = std::str::from_utf8(id)
        .ok()
        .and_then(parse_id)
        .ok_or(MalformedRecord("bad stream id"))?;
    Ok((epoch, id, record))
}

/// A stream id (`ms-seq`) as a position: the cursor carries it as it is.
pub fn parse_id(id: &str) -> Option<Position> {
    let (ms, seq) = id.split_once('-')?;
    Some(Position::new(ms.parse().ok()?, seq.parse().ok()?))
}

/// A position as the stream id it came from.
pub fn format_id(position: Position) -> String {
    format!("{}-{}", position.major, position.minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips() {
        let event = Prepared {
            id: "ev-1".into(),
            event_type: "call.enqueued".into(),
            keys: Keys {
                conference_id: String::new(),
                call_control_id: "v3:abc".into(),
                queue: "support".into(),
            },
            body: Bytes::from_static(b"\x0a\x04ev-1\n\xffbinary"),
        };
        let back = decode(&encode(&event)).unwrap();
        assert_eq!(back.id, event.id);
        assert_eq!(back.event_type, event.event_type);
        assert_eq!(back.keys, event.keys);
        assert_eq!(back.body, event.body);
        assert!(decode(b"\0\0\0\x09abc").is_err());
    }

    #[test]
    fn a_message_splits_into_epoch_id_and_record() {
        let (epoch, id, record) = split_message(b"ff\n1718000000000-3\nrest\nof").unwrap();
        assert_eq!(epoch, 255);
        assert_eq!(id, Position::new(1_718_000_000_000, 3));
        assert_eq!(record, b"rest\nof");
        assert_eq!(format_id(id), "1718000000000-3");
        assert!(split_message(b"zz\n1-0\n").is_err());
    }
}
