//! Telnyx's failed webhook deliveries, page by page: the request for a page
//! and what recovery reads from the answer. Pure, so it is tested without a
//! server.
//!
//! `GET /webhook_deliveries` lists newest first, in numbered pages. Recovery
//! reads page 1 (which says how many there are), then the last page back to
//! the second, each from its end, and page 1 last: the events go out oldest
//! first, and at most two pages are held at once. The window's upper bound
//! keeps deliveries that fail meanwhile from shifting the pages.

use reqwest::Method;
use serde_json::Value;
use telnyx_client::RestCall;

use super::window::{Window, rfc3339};

/// Telnyx's largest page.
pub const PAGE_SIZE: u32 = 250;
/// Pages read at most in one run (100,000 deliveries); older ones are left.
pub const MAX_PAGES: u32 = 400;

/// The request for page `number` of the deliveries that failed in `window`.
pub fn request(window: &Window, number: u32) -> RestCall {
    RestCall {
        method: Method::GET,
        path: "/webhook_deliveries".to_owned(),
        query: vec![
            ("filter[status][eq]".to_owned(), "failed".to_owned()),
            ("filter[finished_at][gte]".to_owned(), rfc3339(window.since)),
            ("filter[finished_at][lte]".to_owned(), rfc3339(window.until)),
            ("page[number]".to_owned(), number.to_string()),
            ("page[size]".to_owned(), PAGE_SIZE.to_string()),
        ],
        body: None,
    }
}

/// One page as recovery uses it.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    /// Each delivery's `webhook` (the event's `data` object), as listed:
    /// newest first.
    pub webhooks: Vec<Value>,
    /// Records without a `webhook` object: nothing to recover from them.
    pub without_webhook: usize,
    /// `meta.total_pages`; 1 when Telnyx leaves it out.
    pub total_pages: u32,
}

/// Telnyx answered with something that is not a page of deliveries.
#[derive(Debug, thiserror::Error)]
#[error("GET /webhook_deliveries answered without a `data` array")]
pub struct NotAPage;

/// Reads one page of the answer.
pub fn parse(body: Value) -> Result<Page, NotAPage> {
    let total_pages = body
        .pointer("/meta/total_pages")
        .and_then(Value::as_u64)
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let Value::Object(mut body) = body else {
        return Err(NotAPage);
    };
    let Some(Value::Array(records)) = body.remove("data") else {
        return Err(NotAPage);
    };
    let mut page = Page {
        total_pages,
        ..Page::default()
    };
    for mut record in records {
        match record.get_mut("webhook").map(Value::take) {
            Some(webhook @ Value::Object(_)) => page.webhooks.push(webhook),
            _ => page.without_webhook += 1,
        }
    }
    Ok(page)
}

/// The pages to read after page 1, oldest first: the last one back to 2.
pub fn later_pages(total_pages: u32) -> impl Iterator<Item = u32> {
    (2..=total_pages.min(MAX_PAGES)).rev()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    #[test]
    fn asks_for_failed_deliveries_finished_in_the_window() {
        let window = Window {
            since: UNIX_EPOCH + Duration::from_millis(1_718_000_000_000),
            until: UNIX_EPOCH + Duration::from_millis(1_718_000_300_500),
        };
        let call = request(&window, 3);
        assert_eq!(call.method, Method::GET);
        assert_eq!(call.path, "/webhook_deliveries");
        let query: Vec<(&str, &str)> = call
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            query,
            [
                ("filter[status][eq]", "failed"),
                ("filter[finished_at][gte]", "2024-06-10T06:13:20.000Z"),
                ("filter[finished_at][lte]", "2024-06-10T06:18:20.500Z"),
                ("page[number]", "3"),
                ("page[size]", "250"),
            ]
        );
        assert!(call.body.is_none());
    }

    #[test]
    fn reads_the_webhooks_and_the_page_count() {
        let body = json!({
            "data": [
                {"id": "d2", "status": "failed", "webhook": {"id": "e2", "event_type": "call.hangup"}},
                {"id": "d1", "status": "failed"},
                {"id": "d0", "status": "failed", "webhook": {"id": "e0", "event_type": "call.answered"}},
            ],
            "meta": {"page_number": 1, "page_size": 250, "total_pages": 4, "total_results": 753},
        });
        let page = parse(body).unwrap();
        assert_eq!(page.total_pages, 4);
        assert_eq!(page.without_webhook, 1);
        let ids: Vec<&str> = page
            .webhooks
            .iter()
            .map(|w| w["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["e2", "e0"]);
        assert_eq!(parse(json!({"data": []})).unwrap().total_pages, 1);
        assert!(parse(json!({"errors": []})).is_err());
        assert!(parse(json!([1])).is_err());
    }

    #[test]
    fn reads_the_later_pages_from_the_oldest() {
        assert_eq!(later_pages(4).collect::<Vec<_>>(), [4, 3, 2]);
        assert_eq!(later_pages(1).count(), 0);
        assert_eq!(later_pages(0).count(), 0);
        assert_eq!(later_pages(u32::MAX).next(), Some(MAX_PAGES));
    }
}
