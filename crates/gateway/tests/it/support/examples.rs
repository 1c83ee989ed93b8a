//! Telnyx's own examples, read from the vendored spec: the request body an
//! operation shows, and an answer assembled from the examples of its response
//! schema. Tests that take them send and receive what Telnyx documents, not
//! values made up to fit the gateway.

use serde_json::{Map, Value, json};

use super::spec;

/// The operation of the spec at `method` and `template`
/// (`/calls/{call_control_id}/actions/speak`).
fn operation(method: &str, template: &str) -> &'static Value {
    let operation = &spec::document()["paths"][template][method.to_ascii_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {template}: no such operation in the spec"
    );
    operation
}

/// The request body example of an operation, if the spec shows one.
pub fn request_body(method: &str, template: &str) -> Option<Value> {
    let content = &operation(method, template)["requestBody"]["content"]["application/json"];
    content
        .get("example")
        .or_else(|| resolve(&content["schema"]).get("example"))
        .cloned()
}

/// The whole success answer of an operation (`{"data": ..., "meta": ...}`),
/// each value from the spec's examples; where a property shows none, its
/// first enum value or its schema's shape.
pub fn response(method: &str, template: &str) -> Value {
    let responses = operation(method, template)["responses"]
        .as_object()
        .expect("an operation has responses");
    let (_, success) = responses
        .iter()
        .find(|(status, _)| status.starts_with('2'))
        .expect("a success answer");
    example_of(&resolve(success)["content"]["application/json"]["schema"])
}

/// An example value for `schema`.
pub fn example_of(schema: &Value) -> Value {
    let schema = resolve(schema);
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut object = Map::new();
        for part in parts {
            if let Value::Object(part) = example_of(part) {
                object.extend(part);
            }
        }
        return Value::Object(object);
    }
    if let Some(first) = ["oneOf", "anyOf"]
        .iter()
        .find_map(|key| schema[*key].as_array().and_then(|alts| alts.first()))
    {
        return example_of(first);
    }
    if let Some(properties) = schema["properties"].as_object() {
        return properties
            .iter()
            .map(|(key, property)| (key.clone(), example_of(property)))
            .collect::<Map<_, _>>()
            .into();
    }
    match schema["type"].as_str() {
        Some("array") => json!([example_of(&schema["items"])]),
        Some("object") => json!({}),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        _ => json!("example"),
    }
}

/// The schema a `$ref` points to, or `schema` itself.
pub fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(
            spec::document()
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling {reference}")),
        ),
        None => schema,
    }
}
