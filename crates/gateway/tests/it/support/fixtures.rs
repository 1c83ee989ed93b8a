//! One webhook fixture per webhook of Telnyx's spec (55 event types), with a
//! value for every payload field of the event's schema, and a check that the
//! events and fields Telnyx's reference pages document (28 of the events) are
//! among them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::spec;

const DOCS: [&str; 2] = [
    include_str!("../../../../../spec/telnyx-docs/conferencing-and-queues.md"),
    include_str!("../../../../../spec/telnyx-docs/call-control.md"),
];

/// A webhook event of one type.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The spec's webhook name, `conferenceParticipantJoined`.
    pub key: String,
    /// The dotted wire name, `conference.participant.joined`.
    pub event_type: String,
    /// The `data` object (without an id: see [`Fixture::data`]).
    template: Value,
    /// The payload fields the reference table lists (empty when the page has
    /// no table for the event).
    pub documented: Vec<String>,
}

impl Fixture {
    /// The `data` object, with a fresh id.
    pub fn data(&self) -> Value {
        let mut data = self.template.clone();
        data["id"] = Value::String(uuid::Uuid::new_v4().to_string());
        data
    }
}

static FIXTURES: LazyLock<Vec<Fixture>> = LazyLock::new(build);

/// Every webhook of the spec, in its order.
pub fn all() -> &'static [Fixture] {
    &FIXTURES
}

fn build() -> Vec<Fixture> {
    let doc = spec::document();
    let tables = documented_fields();
    let webhooks: Vec<String> = doc["webhooks"]
        .as_object()
        .expect("the spec has webhooks")
        .keys()
        .cloned()
        .collect();
    for listed in listed_events() {
        assert!(
            webhooks.contains(&listed),
            "the reference pages list {listed}, the spec has no such webhook"
        );
    }
    let mut fixtures = Vec::new();
    for key in webhooks {
        let schema = resolve(
            doc,
            &doc["webhooks"][&key]["post"]["requestBody"]["content"]["application/json"]["schema"],
        );
        // Real deliveries are wrapped in `data`; a few schemas show them bare.
        let data_schema = match schema["properties"].get("data") {
            Some(data) => resolve(doc, data),
            None => schema,
        };
        let event_type = data_schema["properties"]["event_type"]["enum"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: no event_type in the spec"))
            .to_owned();
        let mut counter = 0;
        let payload = synthesize(
            doc,
            &data_schema["properties"]["payload"],
            "payload",
            &mut counter,
        );
        let documented = tables.get(&key).cloned().unwrap_or_default();
        for field in &documented {
            assert!(
                payload.get(field).is_some(),
                "{key}: the reference table lists payload.{field}, the spec schema lacks it"
            );
        }
        let template = json!({
            "record_type": "event",
            "event_type": event_type,
            "occurred_at": "2024-05-01T12:34:56.789Z",
            "payload": payload,
        });
        fixtures.push(Fixture {
            key,
            event_type,
            template,
            documented,
        });
    }
    assert_eq!(fixtures.len(), 55, "the spec's voice webhooks");
    fixtures
}

/// The camelCase names of the "| Event | Description |" tables.
fn listed_events() -> Vec<String> {
    let mut events = Vec::new();
    for page in DOCS {
        let mut in_table = false;
        for line in page.lines() {
            if line.starts_with("| Event | Description |") {
                in_table = true;
                continue;
            }
            if in_table {
                match line
                    .strip_prefix("| `")
                    .and_then(|rest| rest.split_once('`'))
                {
                    Some((name, _)) => events.push(name.to_owned()),
                    None if line.starts_with("|--") => {}
                    None => in_table = false,
                }
            }
        }
    }
    events
}

/// The `payload.*` fields of each "Webhook payload fields" table.
fn documented_fields() -> BTreeMap<String, Vec<String>> {
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for page in DOCS {
        let mut current: Option<String> = None;
        for line in page.lines() {
            if let Some(name) = line
                .strip_prefix("**`")
                .and_then(|rest| rest.strip_suffix("`**"))
            {
                current = Some(name.to_owned());
                continue;
            }
            let Some(event) = &current else { continue };
            let Some(field) = line
                .strip_prefix("| `")
                .and_then(|rest| rest.split_once('`'))
                .map(|(field, _)| field.trim_start_matches("data."))
            else {
                continue;
            };
            if let Some(field) = field.strip_prefix("payload.") {
                let top = field.split('.').next().unwrap_or(field).to_owned();
                tables.entry(event.clone()).or_default().push(top);
            }
        }
    }
    tables
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(
            doc,
            doc.pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling {reference}")),
        ),
        None => schema,
    }
}

/// A value for `schema`: distinct strings named after the field, the last
/// enum value (so renamed values are exercised), RFC 3339 for date-times.
fn synthesize(doc: &Value, schema: &Value, name: &str, counter: &mut u32) -> Value {
    let schema = resolve(doc, schema);
    *counter += 1;
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .rev()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null")
            .to_owned(),
        Value::String(kind) => kind.clone(),
        _ if schema.get("properties").is_some() => "object".to_owned(),
        _ => "string".to_owned(),
    };
    match kind.as_str() {
        "object" => {
            let mut object = Map::new();
            if let Some(properties) = schema["properties"].as_object() {
                for (key, property) in properties {
                    object.insert(key.clone(), synthesize(doc, property, key, counter));
                }
            }
            Value::Object(object)
        }
        "array" => json!([synthesize(doc, &schema["items"], name, counter)]),
        "integer" => json!(*counter),
        "number" => json!(f64::from(*counter) + 0.5),
        "boolean" => json!(true),
        _ => match schema["format"].as_str() {
            Some("date-time") => json!(format!("2024-05-01T12:00:{:02}Z", *counter % 60)),
            Some("uuid") => json!(format!("00000000-0000-4000-8000-{:012}", *counter)),
            _ => json!(format!("{name}-{counter}")),
        },
    }
}
