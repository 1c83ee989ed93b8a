//! The gRPC codec of EventService: events go out as the bytes the bus encoded.
//!
//! tonic's protobuf codec encodes every message it sends, which for a stream
//! fanned out to thousands of subscribers would encode the same event
//! thousands of times, from a per-subscriber copy. Every subscriber receives
//! the same bytes for an event (its cursor included), so this codec writes the
//! shared, already-encoded `Event` into the frame as is. Requests are decoded
//! by prost as usual.

use bytes::{BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic_prost::ProstDecoder;

use api::v1 as pb;

/// Encodes pre-encoded `Event`s, decodes `SubscribeRequest`s.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventCodec;

/// Writes an encoded message into the frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Codec for EventCodec {
    type Encode = Bytes;
    type Decode = pb::SubscribeRequest;
    type Encoder = PassThrough;
    type Decoder = ProstDecoder<pb::SubscribeRequest>;

    fn encoder(&mut self) -> PassThrough {
        PassThrough
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::default()
    }
}
