//! The published gRPC API of conference-gateway: the messages and services of
//! `conference_gateway.v1`, generated from the repository's `proto/` directory,
//! and the encoded descriptors they were compiled from.
//!
//! This is the crate outside Rust clients, the benchmark and the gateway's
//! other crates build against. It depends on no other crate of the
//! workspace. The descriptors matter beyond reflection: the custom options in
//! `options.proto` (which Telnyx operation an RPC stands for, which fields are
//! required, what enum values are called on the wire) are read at run time by
//! the mapping crate, so the protos are the one source of the REST mapping.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

/// Messages and services of `conference_gateway.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("conference_gateway.v1");
}

/// The encoded `FileDescriptorSet` of every proto file, imports included:
/// the source of the mapping catalog and of server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("the build wrote a valid descriptor set")
});

/// The descriptors of the gateway's API.
pub fn descriptor_pool() -> &'static DescriptorPool {
    &POOL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_set_holds_every_service() {
        let pool = descriptor_pool();
        for service in [
            "conference_gateway.v1.ConferenceService",
            "conference_gateway.v1.QueueService",
            "conference_gateway.v1.CallService",
            "conference_gateway.v1.EventService",
            "conference_gateway.v1.StateService",
        ] {
            assert!(pool.get_service_by_name(service).is_some(), "{service}");
        }
    }
}
