//! Every failure of the control path becomes a gRPC status here, and only here.
//!
//! | Telnyx answer (after retries) | gRPC status |
//! | --- | --- |
//! | 400, 422 | INVALID_ARGUMENT; FAILED_PRECONDITION for 422s that describe state |
//! | 401 | INTERNAL: the gateway's own key was refused, not the caller's |
//! | 403 / 404 / 409 | PERMISSION_DENIED / NOT_FOUND / ABORTED |
//! | 408 | DEADLINE_EXCEEDED |
//! | 429 | RESOURCE_EXHAUSTED |
//! | 5xx, connection refused or reset | UNAVAILABLE |
//! | timeout, or the caller's deadline ran out | DEADLINE_EXCEEDED |
//! | an answer larger than TELNYX_MAX_RESPONSE_BYTES | INTERNAL |
//!
//! The status keeps what Telnyx said: code, title and detail in the message
//! and as `google.rpc.ErrorInfo` (reason `TELNYX_<code>`, domain `telnyx.com`),
//! so a caller can tell 90018 "call already ended" from a typo. What is
//! quoted (Telnyx's title and detail, a field's name and value) is bounded by
//! [`super::echo`]: at most 1024 characters of message and 256 of each
//! detail, control characters escaped.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::echo;
use mapping::InvalidField;
use telnyx_client::TelnyxError;

/// The domain of `ErrorInfo` details that relay a Telnyx error.
pub const ERROR_DOMAIN: &str = "telnyx.com";

/// Telnyx 422 codes that say the call or conference is in the wrong state for
/// the action, rather than that the request was malformed.
const STATE_CODES: [&str; 7] = [
    "90018", "90019", "90032", "90033", "90034", "90036", "90038",
];

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),
    #[error(transparent)]
    Telnyx(#[from] TelnyxError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Status {
        match error {
            GatewayError::InvalidArgument(invalid) => Status::with_error_details(
                Code::InvalidArgument,
                echo::message(&invalid.to_string()),
                ErrorDetails::with_bad_request_violation(
                    echo::quote(&invalid.field),
                    echo::quote(&invalid.reason),
                ),
            ),
            GatewayError::Telnyx(error) => telnyx_status(error),
            GatewayError::Internal(message) => Status::internal(echo::message(&message)),
        }
    }
}

fn telnyx_status(error: TelnyxError) -> Status {
    let message = echo::message(&error.to_string());
    let TelnyxError::Api { status, errors } = &error else {
        let code = match error {
            TelnyxError::Timeout(_) | TelnyxError::DeadlineExhausted => Code::DeadlineExceeded,
            TelnyxError::Unreachable(_) | TelnyxError::Connection(_) => Code::Unavailable,
            TelnyxError::MalformedBody(_)
            | TelnyxError::TooLarge { .. }
            | TelnyxError::Api { .. } => Code::Internal,
        };
        return Status::new(code, message);
    };
    let first = errors.first();
    let telnyx_code = first.map(|e| e.code.as_str()).unwrap_or_default();
    let code = match status {
        400 => Code::InvalidArgument,
        422 if STATE_CODES.contains(&telnyx_code) => Code::FailedPrecondition,
        422 => Code::InvalidArgument,
        401 => {
            tracing::error!(
                %message,
                "Telnyx refused the gateway's API key: check TELNYX_API_KEY; every call will fail until it is fixed"
            );
            Code::Internal
        }
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 => Code::DeadlineExceeded,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        500..=599 => Code::Unavailable,
        _ => Code::Unknown,
    };
    let reason = if telnyx_code.is_empty() {
        format!("TELNYX_HTTP_{status}")
    } else {
        format!("TELNYX_{telnyx_code}")
    };
    let mut metadata = HashMap::from([("http_status".to_owned(), status.to_string())]);
    if let Some(first) = first {
        for (key, value) in [
            ("code", &first.code),
            ("title", &first.title),
            ("detail", &first.detail),
        ] {
            if !value.is_empty() {
                metadata.insert(key.to_owned(), echo::quote(value));
            }
        }
        if let Some(pointer) = first
            .source
            .as_ref()
            .map(|s| &s.pointer)
            .filter(|p| !p.is_empty())
        {
            metadata.insert("pointer".to_owned(), echo::quote(pointer));
        }
    }
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use telnyx_client::{ApiError, ErrorSource};

    use super::*;

    fn api(status: u16, code: &str) -> TelnyxError {
        TelnyxError::Api {
            status,
            errors: vec![ApiError {
                code: code.to_owned(),
                title: "Title".to_owned(),
                detail: "Detail".to_owned(),
                source: Some(ErrorSource {
                    pointer: "/to".to_owned(),
                    ..ErrorSource::default()
                }),
            }],
        }
    }

    #[test]
    fn every_telnyx_answer_maps_to_its_documented_code() {
        let cases: [(TelnyxError, Code); 16] = [
            (api(400, "10015"), Code::InvalidArgument),
            (api(422, "10004"), Code::InvalidArgument),
            (api(422, "90018"), Code::FailedPrecondition),
            (api(422, "90019"), Code::FailedPrecondition),
            (api(422, "90032"), Code::FailedPrecondition),
            (api(422, "90033"), Code::FailedPrecondition),
            (api(422, "90034"), Code::FailedPrecondition),
            (api(422, "90036"), Code::FailedPrecondition),
            (api(422, "90038"), Code::FailedPrecondition),
            (api(401, "10009"), Code::Internal),
            (api(403, "10010"), Code::PermissionDenied),
            (api(404, "10005"), Code::NotFound),
            (api(408, ""), Code::DeadlineExceeded),
            (api(409, ""), Code::Aborted),
            (api(429, "90103"), Code::ResourceExhausted),
            (api(503, ""), Code::Unavailable),
        ];
        for (error, code) in cases {
            let shown = error.to_string();
            assert_eq!(
                Status::from(GatewayError::from(error)).code(),
                code,
                "{shown}"
            );
        }
        for (error, code) in [
            (
                TelnyxError::Timeout(Duration::from_secs(1)),
                Code::DeadlineExceeded,
            ),
            (TelnyxError::DeadlineExhausted, Code::DeadlineExceeded),
            (
                TelnyxError::Unreachable("refused".into()),
                Code::Unavailable,
            ),
            (TelnyxError::Connection("reset".into()), Code::Unavailable),
            (TelnyxError::MalformedBody("<html>".into()), Code::Internal),
            (TelnyxError::TooLarge { limit: 1024 }, Code::Internal),
        ] {
            let shown = error.to_string();
            assert_eq!(
                Status::from(GatewayError::from(error)).code(),
                code,
                "{shown}"
            );
        }
    }

    #[test]
    fn the_status_keeps_what_telnyx_said() {
        let status = Status::from(GatewayError::from(api(422, "90018")));
        let info = status.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(info.reason, "TELNYX_90018");
        assert_eq!(info.domain, ERROR_DOMAIN);
        for (key, value) in [
            ("code", "90018"),
            ("title", "Title"),
            ("detail", "Detail"),
            ("pointer", "/to"),
            ("http_status", "422"),
        ] {
            assert_eq!(
                info.metadata.get(key).map(String::as_str),
                Some(value),
                "{key}"
            );
        }
        let bare = Status::from(GatewayError::from(TelnyxError::Api {
            status: 502,
            errors: Vec::new(),
        }));
        assert_eq!(
            bare.get_details_error_info().unwrap().reason,
            "TELNYX_HTTP_502"
        );
    }

    #[test]
    fn a_huge_telnyx_detail_becomes_a_short_status() {
        let detail = format!("{}\n", "d".repeat(2 * 1024 * 1024));
        let error = TelnyxError::Api {
            status: 422,
            errors: vec![ApiError {
                code: "10015".to_owned(),
                title: "Invalid value".to_owned(),
                detail: detail.clone(),
                source: None,
            }],
        };
        let status = Status::from(GatewayError::from(error));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().len() < 2048, "{}", status.message().len());
        assert!(
            status
                .message()
                .starts_with("Telnyx answered 422: 10015 Invalid value (ddd"),
            "{}",
            &status.message()[..64]
        );
        let total = "Telnyx answered 422: 10015 Invalid value ()".len() + detail.len();
        assert!(
            status.message().ends_with(&format!("…({total} bytes)")),
            "{}",
            &status.message()[1000..]
        );
        let info = status.get_details_error_info().unwrap();
        assert_eq!(
            info.metadata["detail"],
            format!("{}…({} bytes)", "d".repeat(256), detail.len())
        );
        assert_eq!(info.metadata["title"], "Invalid value");
    }

    #[test]
    fn a_huge_invalid_field_is_quoted_short() {
        let invalid = InvalidField {
            field: format!("custom_headers[{}]", "\u{1}".repeat(300 * 1024)),
            reason: "is required".to_owned(),
        };
        let status = Status::from(GatewayError::from(invalid));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().len() < 8 * 1024);
        assert!(!status.message().contains('\u{1}'));
        let bad = status.get_details_bad_request().unwrap();
        assert!(bad.field_violations[0].field.ends_with("bytes)"));
        assert!(bad.field_violations[0].field.len() < 4096);
    }

    #[test]
    fn an_invalid_field_is_a_bad_request_naming_it() {
        let invalid = InvalidField {
            field: "to".to_owned(),
            reason: "is required".to_owned(),
        };
        let status = Status::from(GatewayError::from(invalid));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "to is required");
        let bad = status.get_details_bad_request().expect("a BadRequest");
        assert_eq!(bad.field_violations[0].field, "to");
    }
}
