//! The generated API types and the descriptors they were compiled from.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

use crate::mapping::Catalog;

/// Messages and services of `conference_gateway.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("conference_gateway.v1");
}

/// The encoded `FileDescriptorSet` of every proto file, imports included:
/// the source of the catalog and of server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("the build wrote a valid descriptor set")
});

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::new(POOL.clone()).expect("the proto options are consistent"));

/// The descriptors of the gateway's API.
pub fn descriptor_pool() -> &'static DescriptorPool {
    &POOL
}

/// The RPC-to-Telnyx mapping, read from the proto options on first use. A
/// test builds it, so an inconsistent option fails the build, not a request.
pub fn catalog() -> &'static Catalog {
    &CATALOG
}
