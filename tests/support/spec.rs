//! Mechanical conformance to Telnyx's published contract: every request the
//! gateway sends is checked against `openapi-subset.yaml` (vendored in
//! `tests/fixtures/telnyx-openapi.yaml`) with a JSON Schema validator.
//!
//! The check is stricter than the spec on one point, on purpose: objects that
//! declare `properties` are closed (`unevaluatedProperties: false`), so a field
//! the gateway sends under a wrong name fails instead of passing unnoticed.

use std::sync::LazyLock;

use serde_json::{Map, Value};

const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/telnyx-openapi.yaml"
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
    let (template, item) = doc["paths"]
        .as_object()
        .expect("spec has paths")
        .iter()
        .find(|(template, _)| template_matches(template, path))
        .ok_or_else(|| format!("{} {path}: no such path in Telnyx's spec", sent.method))?;
    let method = sent.method.to_ascii_lowercase();
    let operation = item.get(&method).ok_or_else(|| {
        format!(
            "{} {template}: no such operation in Telnyx's spec",
            sent.method
        )
    })?;
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
        let (name, keys) = split_deep_key(key);
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
            let schema = root_ref(doc, &body_pointer);
            validate(&schema, body, "body", &mut problems);
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

fn validate(schema: &Value, instance: &Value, what: &str, problems: &mut Vec<String>) {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .unwrap_or_else(|e| panic!("spec schema for {what} does not compile: {e}"));
    for error in validator.iter_errors(instance) {
        problems.push(format!("{what} at {}: {error}", error.instance_path()));
    }
}

/// The whole spec as the root resource with a `$ref` to `pointer`, so every
/// `#/components/...` reference resolves.
fn root_ref(doc: &Value, pointer: &str) -> Value {
    let mut schema = doc.clone();
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
