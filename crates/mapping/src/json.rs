//! Messages to and from Telnyx's JSON, driven by the catalog.
//!
//! Writing is exact: only fields the caller set are sent, under their Telnyx
//! names, enums as Telnyx's strings. Reading is lenient on purpose: Telnyx adds
//! fields and enum values without notice, so an unknown key is skipped, an
//! unknown enum string reads as UNSPECIFIED, a value of an unexpected type is
//! left unset, and none of it ever fails a call.
//!
//! Telnyx's unions are untagged on the wire. A member is told apart by its
//! JSON type and, for objects, by the discriminator constants it declares
//! (`"role": "user"`, `"type": "elevenlabs"`): reading picks the first member
//! that fits that way, and only when none does, the first that reads at all.

use std::collections::HashMap;

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

use super::catalog::{Catalog, FieldPlan};

const TIMESTAMP: &str = "google.protobuf.Timestamp";
const STRUCT: &str = "google.protobuf.Struct";
const VALUE: &str = "google.protobuf.Value";
const LIST_VALUE: &str = "google.protobuf.ListValue";

impl Catalog {
    /// The JSON form of a message: an object, or for untagged unions and
    /// well-known types the value they stand for.
    pub fn encode_message(&self, message: &DynamicMessage) -> Json {
        let desc = message.descriptor();
        match desc.full_name() {
            TIMESTAMP => return encode_timestamp(message),
            STRUCT => return encode_struct(message),
            VALUE => return encode_value(message),
            LIST_VALUE => return encode_list_value(message),
            _ => {}
        }
        let plan = self.message(&desc);
        if plan.untagged_union {
            return plan
                .fields
                .iter()
                .find(|field| message.has_field(&field.desc))
                .map(|field| self.encode_field(field, &message.get_field(&field.desc)))
                .unwrap_or(Json::Null);
        }
        let mut object = Map::new();
        for (key, value) in &plan.constants {
            object.insert(key.clone(), Json::String(value.clone()));
        }
        self.encode_fields_into(message, &plan.fields, &mut object);
        self.encode_additional_properties(message, &mut object);
        Json::Object(object)
    }

    /// Writes the keys of the message's additional-properties Struct into
    /// `object`, under the keys no field or constant already wrote.
    pub(super) fn encode_additional_properties(
        &self,
        message: &DynamicMessage,
        object: &mut Map<String, Json>,
    ) {
        let plan = self.message(&message.descriptor());
        let Some(field) = &plan.additional_properties else {
            return;
        };
        if !message.has_field(field) {
            return;
        }
        if let Value::Message(extra) = &*message.get_field(field)
            && let Json::Object(extra) = encode_struct(extra)
        {
            for (key, value) in extra {
                object.entry(key).or_insert(value);
            }
        }
    }

    /// Writes the set fields among `fields` into `object`.
    pub fn encode_fields_into(
        &self,
        message: &DynamicMessage,
        fields: &[FieldPlan],
        object: &mut Map<String, Json>,
    ) {
        for field in fields {
            if message.has_field(&field.desc) {
                let value = self.encode_field(field, &message.get_field(&field.desc));
                if !value.is_null() {
                    object.insert(field.wire.clone(), value);
                }
            }
        }
    }

    pub(super) fn encode_field(&self, field: &FieldPlan, value: &Value) -> Json {
        let desc = &field.desc;
        match value {
            Value::Map(entries) => {
                let value_kind = match desc.kind() {
                    Kind::Message(entry) => entry.map_entry_value_field().kind(),
                    other => other,
                };
                let object = entries
                    .iter()
                    .map(|(key, value)| {
                        (map_key_string(key), self.encode_single(&value_kind, value))
                    })
                    .filter(|(_, value)| !value.is_null())
                    .collect();
                Json::Object(object)
            }
            Value::List(items) => {
                let kind = desc.kind();
                let mut items: Vec<Json> = items
                    .iter()
                    .map(|item| self.encode_single(&kind, item))
                    .filter(|item| !item.is_null())
                    .collect();
                if field.single_as_scalar && items.len() == 1 {
                    items.pop().unwrap_or(Json::Null)
                } else {
                    Json::Array(items)
                }
            }
            single => self.encode_single(&desc.kind(), single),
        }
    }

    fn encode_single(&self, kind: &Kind, value: &Value) -> Json {
        match value {
            Value::Bool(b) => Json::Bool(*b),
            Value::I32(n) => Json::from(*n),
            Value::I64(n) => Json::from(*n),
            Value::U32(n) => Json::from(*n),
            Value::U64(n) => Json::from(*n),
            // Through the shortest decimal that reads back as the same f32,
            // so 1.2 goes out as 1.2, not as the widened 1.2000000476837158.
            Value::F32(n) => n
                .to_string()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map_or(Json::Null, Json::Number),
            Value::F64(n) => Number::from_f64(*n).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(_) => Json::Null,
            Value::EnumNumber(number) => match kind {
                Kind::Enum(desc) => self
                    .enum_to_wire(desc.full_name(), *number)
                    .map_or(Json::Null, |wire| Json::String(wire.to_owned())),
                _ => Json::Null,
            },
            Value::Message(message) => self.encode_message(message),
            Value::List(_) | Value::Map(_) => Json::Null,
        }
    }

    /// A message of type `desc` read from JSON, leniently. `None` when the JSON
    /// cannot stand for such a message at all (a string where an object was due).
    pub fn decode_message(&self, desc: &MessageDescriptor, json: &Json) -> Option<DynamicMessage> {
        match desc.full_name() {
            TIMESTAMP => return decode_timestamp(desc, json),
            STRUCT => return json.as_object().map(|o| decode_struct(desc, o)),
            VALUE => return Some(decode_value(desc, json)),
            LIST_VALUE => return json.as_array().map(|a| decode_list_value(desc, a)),
            _ => {}
        }
        let plan = self.message(desc);
        let mut message = DynamicMessage::new(desc.clone());
        if plan.untagged_union {
            let fitting = plan
                .fields
                .iter()
                .filter(|field| self.fits(&field.desc.kind(), json));
            let member = fitting
                .chain(&plan.fields)
                .find_map(|field| self.decode_field(field, json).map(|value| (field, value)));
            if let Some((field, value)) = member {
                message.set_field(&field.desc, value);
                return Some(message);
            }
            return None;
        }
        let object = json.as_object()?;
        for field in &plan.fields {
            if let Some(value) = object
                .get(&field.wire)
                .and_then(|v| self.decode_field(field, v))
            {
                message.set_field(&field.desc, value);
            }
        }
        if let Some(field) = &plan.additional_properties {
            let declared = |key: &str| {
                plan.fields.iter().any(|f| f.wire == key)
                    || plan.constants.iter().any(|(constant, _)| constant == key)
            };
            let extra: Map<String, Json> = object
                .iter()
                .filter(|(key, _)| !declared(key))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            let struct_desc = field.kind().as_message().cloned();
            if let Some(struct_desc) = struct_desc.filter(|_| !extra.is_empty()) {
                let value = decode_struct(&struct_desc, &extra);
                message.set_field(field, Value::Message(value));
            }
        }
        Some(message)
    }

    /// Whether `json` is, by its JSON type alone, a value of `kind`; for a
    /// message, an object carrying every discriminator constant the message
    /// declares (and for a union, one that fits a member).
    fn fits(&self, kind: &Kind, json: &Json) -> bool {
        match kind {
            Kind::Bool => json.is_boolean(),
            Kind::String | Kind::Enum(_) => json.is_string(),
            Kind::Bytes => false,
            Kind::Message(desc) => match desc.full_name() {
                TIMESTAMP => json.is_string(),
                STRUCT => json.is_object(),
                VALUE => true,
                LIST_VALUE => json.is_array(),
                _ => {
                    let plan = self.message(desc);
                    if plan.untagged_union {
                        return plan
                            .fields
                            .iter()
                            .any(|member| self.fits(&member.desc.kind(), json));
                    }
                    json.as_object().is_some_and(|object| {
                        plan.constants.iter().all(|(key, value)| {
                            object
                                .get(key)
                                .and_then(Json::as_str)
                                .is_some_and(|found| found.eq_ignore_ascii_case(value))
                        })
                    })
                }
            },
            _ => json.is_number(),
        }
    }

    pub(super) fn decode_field(&self, field: &FieldPlan, json: &Json) -> Option<Value> {
        let desc = &field.desc;
        if json.is_null() {
            return None;
        }
        if desc.is_map() {
            let entry = desc.kind();
            let entry = entry.as_message()?;
            let key_field = entry.map_entry_key_field();
            let value_kind = entry.map_entry_value_field().kind();
            let map: HashMap<MapKey, Value> = json
                .as_object()?
                .iter()
                .filter_map(|(key, value)| {
                    Some((
                        parse_map_key(&key_field, key)?,
                        self.decode_single(&value_kind, value)?,
                    ))
                })
                .collect();
            return Some(Value::Map(map));
        }
        if desc.is_list() {
            let kind = desc.kind();
            let items = match json {
                Json::Array(items) => items
                    .iter()
                    .filter_map(|item| self.decode_single(&kind, item))
                    .collect(),
                single => vec![self.decode_single(&kind, single)?],
            };
            return Some(Value::List(items));
        }
        self.decode_single(&desc.kind(), json)
    }

    fn decode_single(&self, kind: &Kind, json: &Json) -> Option<Value> {
        Some(match kind {
            Kind::Bool => Value::Bool(match json {
                Json::Bool(b) => *b,
                Json::String(s) => s.parse().ok()?,
                _ => return None,
            }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                Value::I32(int_of(json)?.try_into().ok()?)
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(int_of(json)?),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(int_of(json)?.try_into().ok()?),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(int_of(json)?.try_into().ok()?),
            Kind::Float => Value::F32(float_of(json)? as f32),
            Kind::Double => Value::F64(float_of(json)?),
            Kind::String => Value::String(match json {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                _ => return None,
            }),
            Kind::Bytes => return None,
            Kind::Enum(desc) => Value::EnumNumber(
                self.enum_from_wire(desc.full_name(), json.as_str()?)
                    .unwrap_or(0),
            ),
            Kind::Message(desc) => Value::Message(self.decode_message(desc, json)?),
        })
    }
}

fn int_of(json: &Json) -> Option<i64> {
    match json {
        Json::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float_of(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn map_key_string(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn parse_map_key(field: &FieldDescriptor, key: &str) -> Option<MapKey> {
    Some(match field.kind() {
        Kind::String => MapKey::String(key.to_owned()),
        Kind::Bool => MapKey::Bool(key.parse().ok()?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(key.parse().ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(key.parse().ok()?),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(key.parse().ok()?),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(key.parse().ok()?),
        _ => return None,
    })
}

fn encode_timestamp(message: &DynamicMessage) -> Json {
    let timestamp = prost_types::Timestamp {
        seconds: message
            .get_field_by_name("seconds")
            .and_then(|v| v.as_i64())
            .unwrap_or(0),
        nanos: message
            .get_field_by_name("nanos")
            .and_then(|v| v.as_i32())
            .unwrap_or(0),
    };
    Json::String(timestamp.to_string())
}

fn decode_timestamp(desc: &MessageDescriptor, json: &Json) -> Option<DynamicMessage> {
    let parsed: prost_types::Timestamp = json.as_str()?.parse().ok()?;
    let mut message = DynamicMessage::new(desc.clone());
    message.set_field_by_name("seconds", Value::I64(parsed.seconds));
    message.set_field_by_name("nanos", Value::I32(parsed.nanos));
    Some(message)
}

fn encode_struct(message: &DynamicMessage) -> Json {
    let Some(fields) = message.get_field_by_name("fields") else {
        return Json::Object(Map::new());
    };
    let object = fields
        .as_map()
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| {
            let key = key.as_str()?.to_owned();
            Some((key, value.as_message().map_or(Json::Null, encode_value)))
        })
        .collect();
    Json::Object(object)
}

fn encode_list_value(message: &DynamicMessage) -> Json {
    let items = message
        .get_field_by_name("values")
        .and_then(|v| v.as_list().map(<[Value]>::to_vec))
        .unwrap_or_default();
    Json::Array(
        items
            .iter()
            .map(|item| item.as_message().map_or(Json::Null, encode_value))
            .collect(),
    )
}

fn encode_value(message: &DynamicMessage) -> Json {
    let Some((field, value)) = message.fields().next() else {
        return Json::Null;
    };
    match (field.name(), value) {
        ("number_value", Value::F64(n)) => Number::from_f64(*n).map_or(Json::Null, Json::Number),
        ("string_value", Value::String(s)) => Json::String(s.clone()),
        ("bool_value", Value::Bool(b)) => Json::Bool(*b),
        ("struct_value", Value::Message(m)) => encode_struct(m),
        ("list_value", Value::Message(m)) => encode_list_value(m),
        _ => Json::Null,
    }
}

fn decode_value(desc: &MessageDescriptor, json: &Json) -> DynamicMessage {
    let mut message = DynamicMessage::new(desc.clone());
    let sub = |name: &str| {
        desc.get_field_by_name(name)
            .and_then(|f| f.kind().as_message().cloned())
    };
    match json {
        Json::Null => message.set_field_by_name("null_value", Value::EnumNumber(0)),
        Json::Bool(b) => message.set_field_by_name("bool_value", Value::Bool(*b)),
        Json::Number(n) => {
            message.set_field_by_name("number_value", Value::F64(n.as_f64().unwrap_or_default()))
        }
        Json::String(s) => message.set_field_by_name("string_value", Value::String(s.clone())),
        Json::Array(items) => {
            if let Some(list_desc) = sub("list_value") {
                let list = decode_list_value(&list_desc, items);
                message.set_field_by_name("list_value", Value::Message(list));
            }
        }
        Json::Object(object) => {
            if let Some(struct_desc) = sub("struct_value") {
                let value = decode_struct(&struct_desc, object);
                message.set_field_by_name("struct_value", Value::Message(value));
            }
        }
    }
    message
}

fn decode_struct(desc: &MessageDescriptor, object: &Map<String, Json>) -> DynamicMessage {
    let mut message = DynamicMessage::new(desc.clone());
    let value_desc = desc
        .get_field_by_name("fields")
        .and_then(|f| f.kind().as_message().cloned())
        .map(|entry| entry.map_entry_value_field().kind())
        .and_then(|kind| kind.as_message().cloned());
    if let Some(value_desc) = value_desc {
        let fields = object
            .iter()
            .map(|(key, value)| {
                (
                    MapKey::String(key.clone()),
                    Value::Message(decode_value(&value_desc, value)),
                )
            })
            .collect();
        message.set_field_by_name("fields", Value::Map(fields));
    }
    message
}

fn decode_list_value(desc: &MessageDescriptor, items: &[Json]) -> DynamicMessage {
    let mut message = DynamicMessage::new(desc.clone());
    let value_desc = desc
        .get_field_by_name("values")
        .and_then(|f| f.kind().as_message().cloned());
    if let Some(value_desc) = value_desc {
        let values = items
            .iter()
            .map(|item| Value::Message(decode_value(&value_desc, item)))
            .collect();
        message.set_field_by_name("values", Value::List(values));
    }
    message
}
