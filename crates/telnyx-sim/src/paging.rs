//! Telnyx's two paging schemes over an in-memory list.
//!
//! Most lists are numbered: `page[number]` (from 1) and `page[size]` (1 to
//! 250, default 20), answered with `meta.page_number`, `page_size`,
//! `total_pages` and `total_results`. Active calls are paged by cursor:
//! `page[after]` and `page[limit]`, answered with `meta.cursors.after` (only
//! when more follow) and `meta.total_items`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::error::ApiError;
use super::reply::Reply;
use super::request::Request;

const MAX_PAGE_SIZE: i64 = 250;
const DEFAULT_PAGE_SIZE: i64 = 20;

/// One numbered page of `items`.
pub fn numbered(request: &Request, items: Vec<Value>) -> Result<Reply, ApiError> {
    let number = request.query_int("page[number]", 1..=i64::from(u32::MAX), 1)? as usize;
    let size = request.query_int("page[size]", 1..=MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)? as usize;
    let total = items.len();
    let total_pages = total.div_ceil(size).max(1);
    let page = items
        .into_iter()
        .skip((number - 1).saturating_mul(size))
        .take(size)
        .collect();
    Ok(Reply::list(
        page,
        json!({
            "page_number": number,
            "page_size": size,
            "total_pages": total_pages,
            "total_results": total,
        }),
    ))
}

/// One cursor page of `items`. The cursor is opaque to clients; here it
/// encodes the offset of the next item.
pub fn cursor(request: &Request, items: Vec<Value>) -> Result<Reply, ApiError> {
    let limit = request.query_int("page[limit]", 1..=MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)? as usize;
    let start = match request.query("page[after]").filter(|s| !s.is_empty()) {
        None => 0,
        Some(token) => decode_cursor(token).ok_or_else(|| {
            ApiError::invalid_value("page[after]", "The cursor is not one this API issued.")
                .at_parameter("page[after]")
        })?,
    };
    let total = items.len();
    let end = start.saturating_add(limit).min(total);
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut cursors = json!({});
    if end < total {
        cursors["after"] = json!(encode_cursor(end));
    }
    if start > 0 {
        cursors["before"] = json!(encode_cursor(start));
    }
    Ok(Reply::list(
        page,
        json!({"cursors": cursors, "total_items": total}),
    ))
}

fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_cursor(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn get(query: &str) -> Request {
        Request::parse(HashMap::new(), Some(query), b"").unwrap()
    }

    fn body(reply: Reply) -> Value {
        match reply {
            Reply::Json(_, body) => body,
            Reply::NoContent => Value::Null,
        }
    }

    #[test]
    fn numbered_pages_report_totals() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let page = body(numbered(&get("page[number]=2&page[size]=2"), items.clone()).unwrap());
        assert_eq!(page["data"], json!([2, 3]));
        assert_eq!(
            page["meta"],
            json!({"page_number": 2, "page_size": 2, "total_pages": 3, "total_results": 5})
        );
        let empty = body(numbered(&get(""), Vec::new()).unwrap());
        assert_eq!(empty["meta"]["total_pages"], 1);
        let error = numbered(&get("page[size]=251"), items).unwrap_err();
        assert_eq!(error.code, "10033");
    }

    #[test]
    fn cursor_pages_walk_to_the_end() {
        let items: Vec<Value> = (0..3).map(|i| json!(i)).collect();
        let first = body(cursor(&get("page[limit]=2"), items.clone()).unwrap());
        assert_eq!(first["data"], json!([0, 1]));
        assert_eq!(first["meta"]["total_items"], 3);
        let after = first["meta"]["cursors"]["after"]
            .as_str()
            .unwrap()
            .to_owned();
        let second = body(
            cursor(
                &get(&format!("page[limit]=2&page[after]={after}")),
                items.clone(),
            )
            .unwrap(),
        );
        assert_eq!(second["data"], json!([2]));
        assert!(second["meta"]["cursors"].get("after").is_none());
        assert_eq!(
            cursor(&get("page[after]=garbage"), items).unwrap_err().code,
            "10015"
        );
    }
}
