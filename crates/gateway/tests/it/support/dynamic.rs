//! Any RPC of the API called by name, with dynamic messages: a table of RPCs
//! needs no client method per row. The bytes on the wire are the same the
//! generated clients send.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::TestGateway;

/// The method of the API whose request message is `request`.
pub fn method_for(request: &MessageDescriptor) -> MethodDescriptor {
    mapping::catalog()
        .pool()
        .services()
        .flat_map(|service| service.methods().collect::<Vec<_>>())
        .find(|method| method.input() == *request)
        .unwrap_or_else(|| panic!("no RPC takes {}", request.full_name()))
}

impl TestGateway {
    /// Calls the unary `method` with the test caller's token.
    pub async fn call(
        &self,
        method: &MethodDescriptor,
        request: DynamicMessage,
    ) -> Result<DynamicMessage, Status> {
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        self.call_path(&path, request, method.output()).await
    }

    /// Calls whatever `path` names, even a method the API does not have.
    pub async fn call_path(
        &self,
        path: &str,
        request: DynamicMessage,
        response: MessageDescriptor,
    ) -> Result<DynamicMessage, Status> {
        let mut grpc = tonic::client::Grpc::new(self.authed());
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let path = path.parse().expect("a method path");
        grpc.unary(tonic::Request::new(request), path, DynamicCodec(response))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// Encodes requests as they are; decodes responses as `0`.
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> DynamicEncoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> DynamicDecoder {
        DynamicDecoder(self.0.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
