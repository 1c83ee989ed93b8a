//! The declarative mapping between the gateway's RPCs and Telnyx's REST API.
//!
//! There are no hand-written handlers per operation: each RPC declares its
//! Telnyx method and path, and each field its wire name and whether it is
//! required, as options in the proto files. [`Catalog`] reads those options
//! once; from then on one generic path validates a request, builds the REST
//! call (`request`), and reads the answer back (`response`), with one JSON
//! codec for all messages (`json`) and AIP-158 paging (`paging`).

mod catalog;
mod json;
mod paging;
mod request;
mod response;

pub use catalog::{Catalog, CatalogError, FieldPlan, MessagePlan, Operation};
pub use paging::{MAX_PAGE_SIZE, Page};
pub use request::{InvalidField, RestCall};
