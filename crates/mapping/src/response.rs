//! Telnyx's response envelope turned into the RPC's response message.

use prost_reflect::{DynamicMessage, Kind, Value};
use serde_json::Value as Json;

use super::catalog::{Catalog, Operation};
use super::paging::Page;

impl Catalog {
    /// Reads `{"data": ..., "meta": {...}}` into the operation's response.
    ///
    /// `data` lands in the declared data field, or is the response itself.
    /// For lists, `meta` becomes `next_page_token` and `total_size`. An empty
    /// body (some deletes answer 204) is an empty response.
    pub fn decode_response(
        &self,
        operation: &Operation,
        envelope: &Json,
        page: Option<&Page>,
    ) -> DynamicMessage {
        let mut response = DynamicMessage::new(operation.output.clone());
        let data = envelope.get("data").unwrap_or(&Json::Null);
        match &operation.data_field {
            Some(field) => {
                let plan = self
                    .message(&operation.output)
                    .fields
                    .iter()
                    .find(|plan| plan.desc.number() == field.number());
                if let Some(value) = plan.and_then(|plan| self.decode_field(plan, data)) {
                    response.set_field(field, value);
                }
            }
            None => {
                if let Some(decoded) = self.decode_message(&operation.output, data) {
                    response = decoded;
                }
            }
        }

        if let (Some(paging), Some(page)) = (&operation.paging, page) {
            let meta = envelope.get("meta");
            let number = |key: &str| {
                meta.and_then(|m| m.get(key))
                    .and_then(Json::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0)
            };
            if let Some(next) = &paging.next_page_token {
                let token = if paging.cursor {
                    let after = meta
                        .and_then(|m| m.pointer("/cursors/after"))
                        .and_then(Json::as_str)
                        .unwrap_or_default();
                    page.next_after(after)
                } else {
                    page.next_numbered(number("page_number"), number("total_pages"))
                };
                response.set_field(next, Value::String(token));
            }
            if let Some(total) = &paging.total_size {
                let total_results = number(if paging.cursor {
                    "total_items"
                } else {
                    "total_results"
                });
                let value = match total.kind() {
                    Kind::Int64 => Value::I64(i64::from(total_results)),
                    _ => Value::I32(i32::try_from(total_results).unwrap_or(i32::MAX)),
                };
                response.set_field(total, value);
            }
        }
        response
    }
}
