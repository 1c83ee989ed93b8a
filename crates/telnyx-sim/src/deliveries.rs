//! Webhook delivery records, as Telnyx keeps them: every delivery (the
//! delivered and the failed), with each attempt's request and response,
//! listed newest first by `GET /webhook_deliveries` and read one at a time
//! by `GET /webhook_deliveries/{id}`.
//!
//! This is how a team sees what Telnyx could not deliver: a delivery whose
//! attempts all failed, or whose retry window closed, is recorded `failed`.
//! Attempt errors carry Telnyx's codes: 75499 when the endpoint answered
//! with a non-2xx status, 75001 when it did not answer (no connection, or
//! no answer in time). Only the latest [`DELIVERIES_KEPT`] records are kept.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::clock::rfc3339;
use super::error::ApiError;
use super::events::Event;
use super::ids;
use super::paging;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

pub const DELIVERIES_KEPT: usize = 10_000;
/// Telnyx keeps at most 10 kB of a response body or of headers.
const KEPT_BYTES: usize = 10_000;

/// What came back from one attempt.
pub enum Outcome {
    /// The endpoint answered.
    Answered {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// No answer: the connection failed or timed out.
    Unanswered,
}

/// A delivery being attempted; becomes a record when it is over.
pub struct DeliveryRecord {
    id: String,
    url: String,
    started_at: SystemTime,
    /// Oldest first while attempting.
    attempts: Vec<Value>,
}

impl DeliveryRecord {
    pub fn new(url: &str) -> Self {
        DeliveryRecord {
            id: ids::uuid(),
            url: url.to_owned(),
            started_at: SystemTime::now(),
            attempts: Vec::new(),
        }
    }

    /// Notes one attempt, sent with `headers` at `started_at`.
    pub fn attempt(
        &mut self,
        started_at: SystemTime,
        headers: &[(&str, String)],
        outcome: Outcome,
    ) {
        let request = json!({"url": self.url, "headers": pairs(headers.iter().map(|(k, v)| (*k, v.as_str())))});
        let mut attempt = json!({
            "started_at": rfc3339(started_at),
            "finished_at": rfc3339(SystemTime::now()),
            "http": {"request": request},
        });
        let delivered = match outcome {
            Outcome::Answered {
                status,
                headers,
                body,
            } => {
                attempt["http"]["response"] = json!({
                    "status": status,
                    "headers": pairs(headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    "body": truncate(&body),
                });
                if (200..300).contains(&status) {
                    true
                } else {
                    attempt["errors"] = json!([75499]);
                    false
                }
            }
            Outcome::Unanswered => {
                attempt["errors"] = json!([75001]);
                false
            }
        };
        attempt["status"] = json!(if delivered { "delivered" } else { "failed" });
        self.attempts.push(attempt);
    }

    /// The record of a delivery that is over, as Telnyx lists it.
    pub fn finish(self, event: &Event, delivered: bool, user_id: &str) -> Value {
        let finished_at = self.attempts.last().map_or_else(
            || json!(rfc3339(SystemTime::now())),
            |a| a["finished_at"].clone(),
        );
        // The delivery started with its first attempt, to the millisecond.
        let started_at = self.attempts.first().map_or_else(
            || json!(rfc3339(self.started_at)),
            |a| a["started_at"].clone(),
        );
        let mut attempts = self.attempts;
        attempts.reverse();
        json!({
            "record_type": "webhook_delivery",
            "id": self.id,
            "user_id": user_id,
            "status": if delivered { "delivered" } else { "failed" },
            "started_at": started_at,
            "finished_at": finished_at,
            "webhook": event.data(),
            "attempts": attempts,
        })
    }
}

/// Headers as Telnyx lists them, `[[name, value], ...]`, within 10 kB.
fn pairs<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut size = 0;
    headers
        .take_while(|(k, v)| {
            size += k.len() + v.len();
            size <= KEPT_BYTES
        })
        .map(|(k, v)| json!([k, v]))
        .collect()
}

fn truncate(body: &str) -> &str {
    let mut end = body.len().min(KEPT_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

/// `GET /webhook_deliveries`, newest first.
pub fn list(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let status = request.query("filter[status][eq]");
    if status.is_some_and(|s| s != "delivered" && s != "failed") {
        return Err(
            ApiError::not_one_of("filter[status][eq]", &["delivered", "failed"])
                .at_parameter("filter[status][eq]"),
        );
    }
    let event_types: Option<Vec<&str>> = request
        .query("filter[event_type]")
        .map(|types| types.split(',').map(str::trim).collect());
    let contains = |field: &str, record: &Value| {
        let wanted = request.query(&format!("filter[{field}][contains]"));
        wanted.is_none_or(|text| record[field].to_string().contains(text))
    };
    let bound = |name: &str| request.query(name).map(normalize);
    let bounds = [
        ("started_at", bound("filter[started_at][gte]"), true),
        ("started_at", bound("filter[started_at][lte]"), false),
        ("finished_at", bound("filter[finished_at][gte]"), true),
        ("finished_at", bound("filter[finished_at][lte]"), false),
    ];
    let rows = world
        .deliveries
        .iter()
        .rev()
        .filter(|record| status.is_none_or(|s| record["status"] == s))
        .filter(|record| {
            event_types.as_ref().is_none_or(|types| {
                let event_type = record["webhook"]["event_type"].as_str().unwrap_or_default();
                types.contains(&event_type)
            })
        })
        .filter(|record| contains("webhook", record) && contains("attempts", record))
        .filter(|record| {
            // RFC 3339 timestamps in UTC compare correctly as strings.
            bounds.iter().all(|(field, bound, lower)| {
                let at = record[*field].as_str().unwrap_or_default();
                bound
                    .as_deref()
                    .is_none_or(|b| if *lower { at >= b } else { at <= b })
            })
        })
        .cloned()
        .collect();
    paging::numbered(request, rows)
}

/// `GET /webhook_deliveries/{id}`
pub fn retrieve(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    world
        .deliveries
        .iter()
        .find(|record| {
            record["id"]
                .as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case(id))
        })
        .map(|record| Reply::data(record.clone()))
        .ok_or_else(ApiError::not_found)
}

/// `2019-03-29T11:10:00Z` as the records write it (`...00.000Z`), so the
/// two compare as strings.
fn normalize(bound: &str) -> String {
    match bound.strip_suffix('Z') {
        Some(rest) if !rest.contains('.') => format!("{rest}.000Z"),
        _ => bound.to_owned(),
    }
}

impl World {
    /// Keeps a finished delivery's record, forgetting the oldest beyond
    /// what is kept.
    pub fn record_delivery(&mut self, record: Value) {
        if self.deliveries.len() >= DELIVERIES_KEPT {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(record);
    }
}
