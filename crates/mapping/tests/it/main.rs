//! The mapping read from the gateway's own protos: the catalog it builds,
//! the unions it reads back by their discriminators, and the requests it
//! refuses before they would reach Telnyx. Pure: no server, no network.

extern crate conference_gateway_mapping as mapping;

mod catalog;
mod unions;
mod validation;

use prost_reflect::{DynamicMessage, MessageDescriptor};

/// The catalog of the gateway's API.
pub fn catalog() -> &'static mapping::Catalog {
    mapping::catalog()
}

/// The descriptor of a message of `conference_gateway.v1`.
pub fn descriptor(name: &str) -> MessageDescriptor {
    catalog()
        .pool()
        .get_message_by_name(&format!("conference_gateway.v1.{name}"))
        .unwrap_or_else(|| panic!("no message {name}"))
}

/// A generated message as the dynamic message the catalog works on.
pub fn dynamic<M: prost::Message + prost::Name>(message: &M) -> DynamicMessage {
    let desc = catalog()
        .pool()
        .get_message_by_name(&M::full_name())
        .expect("a message of the API");
    let mut dynamic = DynamicMessage::new(desc);
    dynamic.transcode_from(message).expect("same message");
    dynamic
}

/// The dynamic message as the generated type.
pub fn typed<M: prost::Message + Default>(message: &DynamicMessage) -> M {
    message.transcode_to().expect("same message")
}
