//! Successful answers in Telnyx's envelopes: `{"data": {...}}` for a
//! resource, `{"data": {"result": "ok"}}` for an action, 204 for deletes that
//! return nothing, and lists with their paging `meta`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What a handler answers. Cloned when a repeated `command_id` replays it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(StatusCode, Value),
    NoContent,
}

impl Reply {
    /// `{"data": data}` with 200.
    pub fn data(data: Value) -> Self {
        Reply::Json(StatusCode::OK, json!({ "data": data }))
    }

    /// `{"data": data}` with 201, as creating a Call Control application answers.
    pub fn created(data: Value) -> Self {
        Reply::Json(StatusCode::CREATED, json!({ "data": data }))
    }

    /// An action's answer.
    pub fn ok() -> Self {
        Self::data(json!({"result": "ok"}))
    }

    /// A list page: `{"data": [...], "meta": {...}}`.
    pub fn list(data: Vec<Value>, meta: Value) -> Self {
        Reply::Json(StatusCode::OK, json!({ "data": data, "meta": meta }))
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(status, body) => (status, axum::Json(body)).into_response(),
            Reply::NoContent => StatusCode::NO_CONTENT.into_response(),
        }
    }
}
