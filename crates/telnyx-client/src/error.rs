//! What can go wrong talking to Telnyx, keeping everything Telnyx said.

use std::time::Duration;

use serde::Deserialize;

/// A failed Telnyx call, after retries.
#[derive(Debug, thiserror::Error)]
pub enum TelnyxError {
    /// Telnyx answered with an error status.
    #[error("Telnyx answered {status}{}", describe(errors))]
    Api { status: u16, errors: Vec<ApiError> },
    /// The per-request timeout or the caller's deadline ran out.
    #[error("Telnyx did not answer within {0:?}")]
    Timeout(Duration),
    /// The caller's deadline had no time left for (another) attempt.
    #[error("the caller's deadline ran out before Telnyx could be called")]
    DeadlineExhausted,
    /// No connection could be made: nothing was sent.
    #[error("Telnyx could not be reached: {0}")]
    Unreachable(String),
    /// The connection broke after the request may have been sent.
    #[error("the connection to Telnyx broke: {0}")]
    Connection(String),
    /// Telnyx's answer was larger than the client reads (`max_response_bytes`).
    #[error(
        "Telnyx answered with more than {limit} bytes (TELNYX_MAX_RESPONSE_BYTES); the answer was dropped"
    )]
    TooLarge { limit: usize },
    /// Telnyx answered 2xx with a body that is not JSON.
    #[error("Telnyx answered with a body that is not JSON: {0}")]
    MalformedBody(String),
}

impl TelnyxError {
    /// A short, fixed name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            TelnyxError::Api { .. } => "http_error",
            TelnyxError::Timeout(_) => "timeout",
            TelnyxError::DeadlineExhausted => "deadline",
            TelnyxError::Unreachable(_) => "unreachable",
            TelnyxError::Connection(_) => "connection",
            TelnyxError::MalformedBody(_) => "malformed_body",
            TelnyxError::TooLarge { .. } => "too_large",
        }
    }
}

/// One entry of Telnyx's `{"errors": [...]}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub source: Option<ErrorSource>,
}

/// Where in the request Telnyx found the problem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorSource {
    #[serde(default)]
    pub pointer: String,
    #[serde(default)]
    pub parameter: String,
}

impl ApiError {
    /// Parses an error body; anything unreadable becomes one entry holding the
    /// raw text, so nothing Telnyx said is dropped.
    pub fn parse_body(body: &[u8]) -> Vec<ApiError> {
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(default)]
            errors: Vec<ApiError>,
        }
        match serde_json::from_slice::<Envelope>(body) {
            Ok(envelope) if !envelope.errors.is_empty() => envelope.errors,
            _ if body.is_empty() => Vec::new(),
            _ => vec![ApiError {
                detail: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
                ..ApiError::default()
            }],
        }
    }
}

fn describe(errors: &[ApiError]) -> String {
    let Some(first) = errors.first() else {
        return String::new();
    };
    let mut text = String::from(":");
    if !first.code.is_empty() {
        text.push_str(&format!(" {}", first.code));
    }
    if !first.title.is_empty() {
        text.push_str(&format!(" {}", first.title));
    }
    if !first.detail.is_empty() && first.detail != first.title {
        text.push_str(&format!(" ({})", first.detail));
    }
    if errors.len() > 1 {
        text.push_str(&format!(" and {} more", errors.len() - 1));
    }
    text
}

/// Telnyx sends error codes as strings, but some endpoints send numbers.
fn lenient_string<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(de)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_envelope_with_numeric_code() {
        let errors = ApiError::parse_body(
            br#"{"errors":[{"code":90018,"title":"Call has already ended","detail":"gone","source":{"pointer":"/call_control_id"}}]}"#,
        );
        assert_eq!(errors[0].code, "90018");
        assert_eq!(
            errors[0].source.as_ref().unwrap().pointer,
            "/call_control_id"
        );
        let err = TelnyxError::Api {
            status: 422,
            errors,
        };
        assert_eq!(
            err.to_string(),
            "Telnyx answered 422: 90018 Call has already ended (gone)"
        );
    }

    #[test]
    fn keeps_unreadable_bodies() {
        let errors = ApiError::parse_body(b"<html>bad gateway</html>");
        assert_eq!(errors[0].detail, "<html>bad gateway</html>");
        assert!(ApiError::parse_body(b"").is_empty());
    }
}
