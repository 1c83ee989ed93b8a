//! Telnyx's error answers: status, numeric code, title, detail and where the
//! problem is, in the `{"errors": [...]}` body the real API sends.
//!
//! Codes, titles and details are the ones Telnyx documents (the spec's
//! examples), so a client's error handling meets the same text here as in
//! production.

use std::fmt::Display;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Where in the request an error points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JSON pointer into the body (or the path parameter of the same name).
    Pointer(String),
    /// A query parameter.
    Parameter(String),
}

/// One error answer. Handlers return it; it renders as Telnyx's body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code} {title}: {detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub location: Option<Source>,
    /// Sent as `Retry-After` (whole seconds) and `retry-after-ms`.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Display,
    ) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.to_string(),
            location: None,
            retry_after: None,
        }
    }

    fn unprocessable(code: &'static str, title: &'static str, detail: impl Display) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, title, detail)
    }

    /// Points the error at a body field or path parameter.
    pub fn at(mut self, field: &str) -> Self {
        self.location = Some(Source::Pointer(format!("/{field}")));
        self
    }

    /// Points the error at a query parameter.
    pub fn at_parameter(mut self, name: &str) -> Self {
        self.location = Some(Source::Parameter(name.to_owned()));
        self
    }

    pub fn missing(field: &str) -> Self {
        Self::unprocessable(
            "10004",
            "Missing required parameter",
            format_args!("The '{field}' parameter is required and cannot be blank."),
        )
        .at(field)
    }

    pub fn wrong_type(field: &str, expected: &str) -> Self {
        Self::unprocessable(
            "10015",
            "Invalid value",
            format_args!("The '{field}' parameter must be {expected}."),
        )
        .at(field)
    }

    pub fn not_one_of(field: &str, allowed: &[&str]) -> Self {
        Self::unprocessable(
            "10032",
            "Invalid enumerated value",
            format_args!("The value must be one of: {}.", allowed.join(", ")),
        )
        .at(field)
    }

    pub fn out_of_range(min: i64, max: i64) -> Self {
        Self::unprocessable(
            "10033",
            "Value outside of range",
            format_args!("The value is outside of allowed range {min} to {max}"),
        )
    }

    pub fn invalid_phone_number(field: &str) -> Self {
        Self::unprocessable(
            "10016",
            "Phone number must be in +E164 format",
            format_args!("The '{field}' parameter must be in E164 format."),
        )
        .at(field)
    }

    /// A value that is well-formed but names something that cannot be used.
    pub fn invalid_value(field: &str, detail: impl Display) -> Self {
        Self::unprocessable("10015", "Invalid value", detail).at(field)
    }

    pub fn invalid_connection() -> Self {
        Self::unprocessable(
            "10015",
            "Invalid value for connection_id (Call Control App ID)",
            "The requested connection_id (Call Control App ID) is either invalid or does not exist. Only Call Control Apps with valid webhook URL are accepted.",
        )
        .at("connection_id")
    }

    pub fn invalid_call(field: &str) -> Self {
        Self::unprocessable(
            "90015",
            "Invalid Call Control ID",
            "The call_control_id provided was not valid.",
        )
        .at(field)
    }

    pub fn call_ended() -> Self {
        Self::unprocessable(
            "90018",
            "Call has already ended",
            "This call is no longer active and can't receive commands.",
        )
    }

    pub fn conference_ended() -> Self {
        Self::unprocessable(
            "90019",
            "Conference has already ended",
            "This conference is no longer active and can't receive commands.",
        )
    }

    pub fn conference_full(max: u32) -> Self {
        Self::unprocessable(
            "90032",
            "Maximum number of participants reached",
            format_args!(
                "The maximum allowed value of `max_participants` has been reached at {max}."
            ),
        )
    }

    pub fn conference_name_taken() -> Self {
        Self::unprocessable(
            "90033",
            "Unable to execute command",
            "Conference with given name already exists and it's active.",
        )
        .at("name")
    }

    pub fn not_answered() -> Self {
        Self::unprocessable(
            "90034",
            "Call not answered yet",
            "This call can't receive this command because it has not been answered yet.",
        )
    }

    pub fn queue_full(queue: &str) -> Self {
        Self::unprocessable(
            "90036",
            "Queue full",
            format_args!("The '{queue}' queue is full and can't accept more calls."),
        )
    }

    pub fn already_queued() -> Self {
        Self::unprocessable(
            "90038",
            "Call already in queue",
            "Call can't be added to a queue it's already in.",
        )
    }

    pub fn queue_not_empty() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "90050",
            "Unable to delete queue",
            "Only empty queues can be deleted.",
        )
    }

    pub fn conference_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "90058",
            "Invalid conference_id",
            "The conference does not exist.",
        )
    }

    pub fn recording_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "10005",
            "Recording not found",
            "The recording could not be found. Please check the recording_id and try again.",
        )
        .at("recording_id")
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "10007",
            "Resource not found",
            "Resource not found",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "10015",
            "Method not allowed",
            "The resource does not accept this HTTP method.",
        )
    }

    pub fn malformed_body(reason: impl Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "10015",
            "Bad Request",
            format_args!("The request body is not a JSON object: {reason}"),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "10009",
            "Authentication failed",
            "The required authentication headers were either invalid or not included in the request.",
        )
    }

    pub fn rate_limited(retry_after: Duration) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "10011",
                "Too many requests",
                "You have exceeded the rate limit. Please wait and try again.",
            )
        }
    }

    /// The simulator's caller side refuses more calls in progress at once.
    pub fn too_many_calls(max: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "10011",
            "Too many requests",
            format_args!(
                "At most {max} calls placed through /_sim/calls can be in progress at once."
            ),
        )
    }

    pub fn server_error(status: StatusCode) -> Self {
        let detail = status.canonical_reason().unwrap_or("Internal server error");
        Self::new(status, "10007", "Unexpected error", detail)
    }

    /// The `{"errors": [...]}` body.
    pub fn body(&self) -> Value {
        let mut error = json!({"code": self.code, "title": self.title, "detail": self.detail});
        match &self.location {
            Some(Source::Pointer(pointer)) => error["source"] = json!({"pointer": pointer}),
            Some(Source::Parameter(name)) => error["source"] = json!({"parameter": name}),
            None => {}
        }
        json!({"errors": [error]})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(wait) = self.retry_after {
            let headers = response.headers_mut();
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            headers.insert("retry-after-ms", HeaderValue::from(wait.as_millis() as u64));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_matches_telnyx_examples() {
        assert_eq!(
            ApiError::missing("to").body(),
            json!({"errors": [{
                "code": "10004",
                "title": "Missing required parameter",
                "detail": "The 'to' parameter is required and cannot be blank.",
                "source": {"pointer": "/to"}
            }]})
        );
        let query = ApiError::out_of_range(1, 250).at_parameter("page[size]");
        assert_eq!(
            query.body()["errors"][0]["source"],
            json!({"parameter": "page[size]"})
        );
    }

    #[test]
    fn rate_limit_carries_retry_after_in_seconds_and_millis() {
        let response = ApiError::rate_limited(Duration::from_millis(1500)).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(response.headers()["retry-after-ms"], "1500");
    }
}
