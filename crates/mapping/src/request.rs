//! A gRPC request message turned into the REST call Telnyx expects.
//!
//! Validation happens here, before anything leaves the process: a missing
//! required field or an empty id is refused with the field's name, and Telnyx
//! never sees the request.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use prost_reflect::{DynamicMessage, Kind, ReflectMessage, Value};
use reqwest::Method;
use serde_json::{Map, Value as Json};
use telnyx_client::RestCall;

use super::catalog::{COMMAND_ID_FIELD, Catalog, FieldPlan, Operation, PathSegment};
use super::paging::{Page, PagingError, fingerprint};

/// Characters escaped in a path segment: everything that would change the
/// path's structure or is not allowed in a URL.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A request ready for the Telnyx client, and for list operations the page
/// it asks for, from which the next page token is cut.
#[derive(Debug, Clone)]
pub struct PlannedCall {
    pub call: RestCall,
    pub page: Option<Page>,
}

/// A request field that was missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidField {
    /// The field's path in the request, `custom_headers[0].name`.
    pub field: String,
    pub reason: String,
}

impl InvalidField {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Catalog {
    /// Validates `request` and builds the call for `operation`.
    pub fn build_call(
        &self,
        operation: &Operation,
        request: &DynamicMessage,
    ) -> Result<PlannedCall, InvalidField> {
        let mut path = String::new();
        for segment in &operation.path {
            match segment {
                PathSegment::Literal(text) => path.push_str(text),
                PathSegment::Field(field) => {
                    let value = request.get_field(field);
                    let value = value.as_str().unwrap_or_default();
                    if value.trim().is_empty() {
                        return Err(InvalidField::new(field.name(), "is required"));
                    }
                    path.extend(utf8_percent_encode(value, PATH_SEGMENT));
                }
            }
        }
        self.check_required(request, "")?;

        let mut query = Vec::new();
        for field in &operation.query_fields {
            if request.has_field(&field.desc) {
                self.push_query(
                    &field.wire,
                    field,
                    &request.get_field(&field.desc),
                    &mut query,
                );
            }
        }

        let page = match &operation.paging {
            Some(paging) => {
                let size = request.get_field(&paging.page_size).as_i32().unwrap_or(0);
                let token = request.get_field(&paging.page_token);
                let fp = fingerprint(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let token = token.as_str().unwrap_or_default();
                let page = Page::from_request(size, token, fp, paging.cursor).map_err(|e| {
                    let field = match e {
                        PagingError::NegativePageSize => paging.page_size.name(),
                        _ => paging.page_token.name(),
                    };
                    InvalidField::new(field, e.to_string())
                })?;
                query.extend(page.query());
                Some(page)
            }
            None => None,
        };

        let has_body = [Method::POST, Method::PUT, Method::PATCH].contains(&operation.method);
        let body = if has_body {
            let mut object = Map::new();
            self.encode_fields_into(request, &operation.body_fields, &mut object);
            self.encode_additional_properties(request, &mut object);
            if let Some(command_id) = &operation.command_id
                && !request.has_field(command_id)
            {
                // Generated once, before the first attempt, so every retry
                // carries the same id and Telnyx acts at most once.
                let id = uuid::Uuid::new_v4().to_string();
                object.insert(COMMAND_ID_FIELD.to_owned(), Json::String(id));
            }
            Some(Json::Object(object))
        } else {
            None
        };

        Ok(PlannedCall {
            call: RestCall {
                method: operation.method.clone(),
                path,
                query,
                body,
            },
            page,
        })
    }

    /// Every required field of `message`, and of the messages it holds, is
    /// set; and nothing is set that the options say Telnyx would refuse: a
    /// union member the field does not take, none of a `require_any_of`
    /// group, an additional property that a field already names.
    fn check_required(&self, message: &DynamicMessage, prefix: &str) -> Result<(), InvalidField> {
        let plan = self.message(&message.descriptor());
        let path = |field: &str| {
            if prefix.is_empty() {
                field.to_owned()
            } else {
                format!("{prefix}.{field}")
            }
        };
        if let Some((first, others)) = plan.require_any_of.split_first()
            && !plan.require_any_of.iter().any(|f| message.has_field(f))
        {
            let others: Vec<_> = others.iter().map(|f| path(f.name())).collect();
            return Err(InvalidField::new(
                path(first.name()),
                format!("is required unless {} is set", others.join(" or ")),
            ));
        }
        if let Some(additional) = &plan.additional_properties
            && message.has_field(additional)
            && let Value::Message(object) = &*message.get_field(additional)
        {
            let taken = plan
                .fields
                .iter()
                .map(|f| f.wire.as_str())
                .chain(plan.constants.iter().map(|(key, _)| key.as_str()));
            let keys = self.encode_message(object);
            for key in taken {
                if keys.get(key).is_some() {
                    return Err(InvalidField::new(
                        format!("{}[{key}]", path(additional.name())),
                        format!(
                            "is a field of {}: set that field instead",
                            message.descriptor().name()
                        ),
                    ));
                }
            }
        }
        for field in &plan.fields {
            let name = path(field.desc.name());
            let set = message.has_field(&field.desc);
            if field.required && !set {
                return Err(InvalidField::new(name, "is required"));
            }
            if !set || !matches!(field.desc.kind(), Kind::Message(_)) {
                continue;
            }
            match &*message.get_field(&field.desc) {
                Value::Message(inner) => {
                    self.check_member(field, inner, &name)?;
                    self.check_required(inner, &name)?;
                }
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Value::Message(inner) = item {
                            let name = format!("{name}[{i}]");
                            self.check_member(field, inner, &name)?;
                            self.check_required(inner, &name)?;
                        }
                    }
                }
                Value::Map(entries) => {
                    for (key, item) in entries {
                        if let Value::Message(inner) = item {
                            let key = key
                                .as_str()
                                .map_or_else(|| format!("{key:?}"), str::to_owned);
                            self.check_required(inner, &format!("{name}[{key}]"))?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The member set in a union field is one the field takes here.
    fn check_member(
        &self,
        field: &FieldPlan,
        union: &DynamicMessage,
        name: &str,
    ) -> Result<(), InvalidField> {
        if field.members.is_empty() {
            return Ok(());
        }
        let set = union.fields().find_map(|(member, _)| {
            member
                .containing_oneof()
                .is_some()
                .then(|| member.name().to_owned())
        });
        match set {
            Some(member) if !field.members.contains(&member) => Err(InvalidField::new(
                name,
                format!(
                    "does not take `{member}` here: Telnyx accepts only {}",
                    field.members.join(", ")
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Query parameters for one field: scalars as themselves, repeated values
    /// comma-separated, messages in deepObject style (`filter[occurred_at][gte]`).
    fn push_query(
        &self,
        name: &str,
        field: &FieldPlan,
        value: &Value,
        out: &mut Vec<(String, String)>,
    ) {
        match value {
            Value::Message(message) if !self.message(&message.descriptor()).untagged_union => {
                for inner in &self.message(&message.descriptor()).fields {
                    if message.has_field(&inner.desc) {
                        let nested = format!("{name}[{}]", inner.wire);
                        self.push_query(&nested, inner, &message.get_field(&inner.desc), out);
                    }
                }
            }
            other => {
                let text = match self.encode_field(field, other) {
                    Json::String(s) => s,
                    Json::Array(items) => items
                        .iter()
                        .map(|item| match item {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    Json::Null => return,
                    other => other.to_string(),
                };
                out.push((name.to_owned(), text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use api::v1 as pb;
    use prost::Message;
    use serde_json::json;

    use super::*;
    use crate::catalog;

    /// Plans `request` exactly as the gateway does for its RPC.
    fn plan<M: Message + prost::Name>(request: &M) -> Result<PlannedCall, InvalidField> {
        let operation = catalog()
            .operation(&M::full_name())
            .unwrap_or_else(|| panic!("{} is an RPC request", M::full_name()));
        let message =
            DynamicMessage::decode(operation.input.clone(), request.encode_to_vec().as_slice())
                .expect("the typed and the dynamic message agree");
        catalog().build_call(operation, &message)
    }

    fn end(conference_id: &str, command_id: Option<&str>) -> pb::EndConferenceRequest {
        pb::EndConferenceRequest {
            conference_id: conference_id.to_owned(),
            command_id: command_id.unwrap_or_default().to_owned(),
        }
    }

    #[test]
    fn paths_bodies_and_queries_are_built_from_the_options() {
        struct Row {
            what: &'static str,
            planned: PlannedCall,
            method: Method,
            path: &'static str,
            query: Vec<(&'static str, &'static str)>,
            body: Option<Json>,
        }
        let rows = [
            Row {
                what: "an action with its command_id",
                planned: plan(&end("c1", Some("cmd-1"))).unwrap(),
                method: Method::POST,
                path: "/conferences/c1/actions/end",
                query: vec![],
                body: Some(json!({"command_id": "cmd-1"})),
            },
            Row {
                what: "a path id is escaped as one segment",
                planned: plan(&end("a/b c?", Some("cmd-1"))).unwrap(),
                method: Method::POST,
                path: "/conferences/a%2Fb%20c%3F/actions/end",
                query: vec![],
                body: Some(json!({"command_id": "cmd-1"})),
            },
            Row {
                what: "a list pages the Telnyx way",
                planned: plan(&pb::ListQueueCallsRequest {
                    queue_name: "support".to_owned(),
                    page_size: 25,
                    ..Default::default()
                })
                .unwrap(),
                method: Method::GET,
                path: "/queues/support/calls",
                query: vec![("page[number]", "1"), ("page[size]", "25")],
                body: None,
            },
        ];
        for row in rows {
            let call = &row.planned.call;
            assert_eq!(call.method, row.method, "{}", row.what);
            assert_eq!(call.path, row.path, "{}", row.what);
            let query: Vec<(&str, &str)> = call
                .query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(query, row.query, "{}", row.what);
            assert_eq!(call.body, row.body, "{}", row.what);
        }
    }

    #[test]
    fn an_action_without_command_id_gets_one_before_the_first_attempt() {
        let planned = plan(&end("c1", None)).unwrap();
        let body = planned.call.body.expect("a body");
        let id = body["command_id"].as_str().expect("a generated command_id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        let again = plan(&end("c1", None)).unwrap().call.body.unwrap();
        assert_ne!(again["command_id"], body["command_id"], "one per call");
    }

    #[test]
    fn enums_go_out_as_telnyx_strings_and_unions_as_their_member() {
        let planned = plan(&pb::DialRequest {
            connection_id: "conn".to_owned(),
            from: "+15550000001".to_owned(),
            to: vec!["+15550000002".to_owned()],
            answering_machine_detection: pb::dial_request::AnsweringMachineDetection::Premium
                as i32,
            ..Default::default()
        })
        .unwrap();
        let body = planned.call.body.unwrap();
        assert_eq!(body["answering_machine_detection"], "premium");
        // `to` is a string or a list of strings: one number goes out as a string.
        assert_eq!(body["to"], "+15550000002");
        assert_eq!(planned.call.path, "/calls");
    }

    #[test]
    fn missing_required_fields_are_named_and_nothing_is_built() {
        for (what, error) in [
            ("empty path id", plan(&end("", None)).unwrap_err()),
            ("blank path id", plan(&end("  ", None)).unwrap_err()),
        ] {
            assert_eq!(error.field, "conference_id", "{what}");
            assert_eq!(error.reason, "is required", "{what}");
        }
        let error = plan(&pb::DialRequest {
            from: "+15550000001".to_owned(),
            to: vec!["+15550000002".to_owned()],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(error.field, "connection_id");
    }

    #[test]
    fn a_page_token_is_bound_to_its_filters() {
        let named = |name: &str, page_token: String| pb::ListConferencesRequest {
            page_size: 2,
            page_token,
            filter: Some(pb::list_conferences_request::Filter {
                name: name.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let first = plan(&named("standup", String::new())).unwrap();
        let query: Vec<(&str, &str)> = first
            .call
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            query,
            [
                ("filter[name]", "standup"),
                ("page[number]", "1"),
                ("page[size]", "2")
            ]
        );
        let token = first.page.expect("a page").next_numbered(1, 3);

        let next = plan(&named("standup", token.clone())).unwrap();
        assert!(
            next.call
                .query
                .contains(&("page[number]".to_owned(), "2".to_owned())),
            "{:?}",
            next.call.query
        );
        let error = plan(&named("retro", token)).unwrap_err();
        assert_eq!(error.field, "page_token");
    }
}
