//! Mechanical conformance to Telnyx's published contract: every request the
//! gateway sends is checked against `openapi-subset.yaml` (vendored in
//! `spec/telnyx-openapi.yaml`) with a JSON Schema validator.
//!
//! The check is stricter than the spec on one point, on purpose: objects that
//! declare `properties` are closed (`unevaluatedProperties: false`), so a field
//! the gateway sends under a wrong name fails instead of passing unnoticed.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::Validator;
use serde_json::{Map, Value};

const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../spec/telnyx-openapi.yaml"
);

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let text = std::fs::read_to_string(SPEC_PATH).expect("the vendored Telnyx spec is readable");
    let mut doc: Value = serde_norway::from_str(&text).expect("the Telnyx spec is valid YAML");
    close_objects(&mut doc);
    doc
});

/// The vendored spec (objects closed, as the checks use it).
pub fn document() -> &'static Value {
    &SPEC
}

/// One request as Telnyx received it.
pub struct Sent<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// Checks one request against the operation the spec declares for its method
/// and path; the error lists every violation.
pub fn check(sent: &Sent<'_>) -> Result<(), String> {
    let doc = &*SPEC;
    let path = sent.path.strip_prefix("/v2").unwrap_or(sent.path);
    let (template, method, operation) = find_operation(sent.method, path)?;
    let pointer = format!("/paths/{}/{method}", escape(template));
    let mut problems = Vec::new();

    // Query parameters, deepObject ones rebuilt into objects.
    let params: Vec<Value> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p).clone())
        .filter(|p| p["in"] == "query")
        .collect();
    let mut grouped: Map<String, Value> = Map::new();
    for (key, value) in &sent.query {
        // A parameter may be declared under its full bracketed name
        // (`page[number]`) or as a deepObject (`filter` with `[name]` keys).
        let (name, keys) = if params.iter().any(|p| p["name"] == key.as_str()) {
            (key.clone(), Vec::new())
        } else {
            split_deep_key(key)
        };
        let Some(param) = params.iter().find(|p| p["name"] == name.as_str()) else {
            problems.push(format!("query parameter {key} is not declared"));
            continue;
        };
        let mut schema = resolve(doc, &param["schema"]);
        let slot = grouped.entry(name.clone()).or_insert(Value::Null);
        let mut slot = slot;
        for k in &keys {
            schema = resolve(doc, &schema["properties"][k]);
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot = slot
                .as_object_mut()
                .unwrap()
                .entry(k.clone())
                .or_insert(Value::Null);
        }
        *slot = coerce(schema, value);
    }
    for param in &params {
        let name = param["name"].as_str().unwrap_or_default();
        if let Some(value) = grouped.get(name) {
            let schema = with_root(doc, &param["schema"]);
            validate(&schema, value, &format!("query {name}"), &mut problems);
        } else if param["required"] == true {
            problems.push(format!("required query parameter {name} is missing"));
        }
    }

    // Body.
    let body_pointer = format!("{pointer}/requestBody/content/application~1json/schema");
    match (&sent.body, doc.pointer(&body_pointer)) {
        (Some(body), Some(_)) => {
            validate_at(&body_pointer, body, "body", &mut problems);
        }
        (Some(body), None) if !body.is_null() => {
            problems.push("a body was sent to an operation that takes none".into())
        }
        (None, Some(_)) if operation["requestBody"]["required"] == true => {
            problems.push("the operation requires a body".into())
        }
        _ => {}
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {path} ({template}): {}",
            sent.method,
            problems.join("; ")
        ))
    }
}

/// The spec's path template, lower-case method and operation for a request.
fn find_operation(
    method: &str,
    path: &str,
) -> Result<(&'static String, String, &'static Value), String> {
    let doc = &*SPEC;
    let (template, item) = doc["paths"]
        .as_object()
        .expect("spec has paths")
        .iter()
        .find(|(template, _)| template_matches(template, path))
        .ok_or_else(|| format!("{method} {path}: no such path in Telnyx's spec"))?;
    let lower = method.to_ascii_lowercase();
    let operation = item
        .get(&lower)
        .ok_or_else(|| format!("{method} {template}: no such operation in Telnyx's spec"))?;
    Ok((template, lower, operation))
}

/// Checks an answer against the response the spec declares for its
/// operation and status; the error lists every violation.
pub fn check_response(method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    let doc = &*SPEC;
    let path = path.strip_prefix("/v2").unwrap_or(path);
    let (template, lower, operation) = find_operation(method, path)?;
    if operation["responses"].get(status.to_string()).is_none() {
        return Err(format!(
            "{method} {template}: the spec declares no {status} answer"
        ));
    }
    let response = deref(
        doc,
        format!("/paths/{}/{lower}/responses/{status}", escape(template)),
    );
    let schema = format!("{response}/content/application~1json/schema");
    let mut problems = Vec::new();
    match doc.pointer(&schema) {
        Some(_) => validate_at(&schema, body, "response", &mut problems),
        // Telnyx sends its error body even where the spec shows none.
        None if !body.is_null() && status < 400 => {
            problems.push("a body was sent where none is declared".into())
        }
        None => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{method} {path} {status}: {}", problems.join("; ")))
    }
}

/// Checks a webhook delivery: the `data` envelope, and the payload against
/// the schema of the webhook the spec declares for its `event_type`.
pub fn check_event(delivery: &Value) -> Result<(), String> {
    let doc = &*SPEC;
    let data = &delivery["data"];
    let event_type = data["event_type"].as_str().ok_or("no data.event_type")?;
    let mut problems = Vec::new();
    for field in ["id", "occurred_at"] {
        if !data[field].is_string() {
            problems.push(format!("data.{field} is missing"));
        }
    }
    if data["record_type"] != "event" {
        problems.push("data.record_type is not \"event\"".into());
    }
    let event = doc["webhooks"]
        .as_object()
        .expect("spec has webhooks")
        .keys()
        .map(|name| {
            let schema = deref(
                doc,
                format!("/webhooks/{name}/post/requestBody/content/application~1json/schema"),
            );
            match doc.pointer(&format!("{schema}/properties/data")) {
                Some(_) => deref(doc, format!("{schema}/properties/data")),
                None => schema,
            }
        })
        .find(|event| {
            doc.pointer(&format!("{event}/properties/event_type/enum"))
                .and_then(Value::as_array)
                .is_some_and(|types| types.iter().any(|t| t == event_type))
        })
        .ok_or_else(|| format!("{event_type}: no such webhook in Telnyx's spec"))?;
    let payload = deref(doc, format!("{event}/properties/payload"));
    validate_at(&payload, &data["payload"], event_type, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{event_type}: {}", problems.join("; ")))
    }
}

/// Follows `$ref`s from `pointer` to the schema they land on.
fn deref(doc: &Value, mut pointer: String) -> String {
    while let Some(reference) = doc
        .pointer(&pointer)
        .and_then(|v| v.get("$ref"))
        .and_then(Value::as_str)
    {
        pointer = reference.trim_start_matches('#').to_owned();
    }
    pointer
}

fn validate(schema: &Value, instance: &Value, what: &str, problems: &mut Vec<String>) {
    report(&compile(schema, what), instance, what, problems);
}

/// Validates against the schema at `pointer` in the spec. Compiling a
/// schema means compiling the whole spec it refers into, so each one is
/// compiled once per test binary.
fn validate_at(pointer: &str, instance: &Value, what: &str, problems: &mut Vec<String>) {
    static COMPILED: LazyLock<Mutex<HashMap<String, Arc<Validator>>>> =
        LazyLock::new(Default::default);
    let validator = COMPILED
        .lock()
        .unwrap()
        .entry(pointer.to_owned())
        .or_insert_with(|| Arc::new(compile(&root_ref(&SPEC, pointer), what)))
        .clone();
    report(&validator, instance, what, problems);
}

fn compile(schema: &Value, what: &str) -> Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .unwrap_or_else(|e| panic!("spec schema for {what} does not compile: {e}"))
}

fn report(validator: &Validator, instance: &Value, what: &str, problems: &mut Vec<String>) {
    for error in validator.iter_errors(instance) {
        problems.push(format!("{what} at {}: {error}", error.instance_path()));
    }
}

/// The whole spec as the root resource with a `$ref` to `pointer`, so every
/// `#/components/...` reference resolves.
fn root_ref(doc: &Value, pointer: &str) -> Value {
    let mut schema = doc.clone();
    // `{` and `}` of path templates are not allowed in a URI reference.
    let pointer = pointer.replace('{', "%7B").replace('}', "%7D");
    schema["$ref"] = Value::String(format!("#{pointer}"));
    schema
}

fn with_root(doc: &Value, inline: &Value) -> Value {
    let mut schema = doc.clone();
    if let (Some(target), Some(source)) = (schema.as_object_mut(), inline.as_object()) {
        for (key, value) in source {
            target.insert(key.clone(), value.clone());
        }
    }
    schema
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => value,
    }
}

/// `filter[occurred_at][gte]` -> (`filter`, [`occurred_at`, `gte`]).
fn split_deep_key(key: &str) -> (String, Vec<String>) {
    let mut parts = key.split('[');
    let name = parts.next().unwrap_or_default().to_owned();
    let keys = parts.map(|p| p.trim_end_matches(']').to_owned()).collect();
    (name, keys)
}

/// A query string value read as the type its schema declares.
fn coerce(schema: &Value, value: &str) -> Value {
    match schema["type"].as_str() {
        Some("integer") => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| value.into()),
        Some("number") => value
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| value.into()),
        Some("boolean") => value
            .parse::<bool>()
            .map(Value::from)
            .unwrap_or_else(|_| value.into()),
        _ => Value::String(value.to_owned()),
    }
}

fn template_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Closes every object schema that lists its properties.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !map.contains_key("unevaluatedProperties")
            {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            for child in map.values_mut() {
                close_objects(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}
