//! The declarative mapping between the gateway's RPCs and Telnyx's REST API.
//!
//! There are no hand-written handlers per operation: each RPC declares its
//! Telnyx method and path, and each field its wire name and whether it is
//! required, as options in the proto files. [`Catalog`] reads those options
//! once; from then on one generic path validates a request, builds the REST
//! call (`request`), and reads the answer back (`response`), with one JSON
//! codec for all messages (`json`) and AIP-158 paging (`paging`).
//!
//! Pure: no I/O, no clock but the paging tokens' own. It depends on the `api`
//! crate (the descriptors the options are read from) and on `telnyx-client`
//! for the call type it builds, nothing else of the workspace, so most of an
//! RPC's behaviour is proven by unit tests here without spawning a gateway.

mod catalog;
mod json;
mod paging;
mod request;
mod response;

pub use catalog::{Catalog, CatalogError, FieldPlan, MessagePlan, Operation};
pub use paging::{MAX_PAGE_SIZE, Page};
pub use request::{InvalidField, PlannedCall};

use std::sync::LazyLock;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::new(api::descriptor_pool().clone()).expect("the proto options are consistent")
});

/// The catalog of the gateway's own API, read from the proto options on first
/// use. A unit test builds it, so an inconsistent option fails the build, not
/// a request.
pub fn catalog() -> &'static Catalog {
    &CATALOG
}
