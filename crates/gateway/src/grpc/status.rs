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
//!
//! The status keeps what Telnyx said: code, title and detail in the message
//! and as `google.rpc.ErrorInfo` (reason `TELNYX_<code>`, domain `telnyx.com`),
//! so a caller can tell 90018 "call already ended" from a typo.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

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
                invalid.to_string(),
                ErrorDetails::with_bad_request_violation(invalid.field, invalid.reason),
            ),
            GatewayError::Telnyx(error) => telnyx_status(error),
            GatewayError::Internal(message) => Status::internal(message),
        }
    }
}

fn telnyx_status(error: TelnyxError) -> Status {
    let message = error.to_string();
    let TelnyxError::Api { status, errors } = &error else {
        let code = match error {
            TelnyxError::Timeout(_) | TelnyxError::DeadlineExhausted => Code::DeadlineExceeded,
            TelnyxError::Unreachable(_) | TelnyxError::Connection(_) => Code::Unavailable,
            TelnyxError::MalformedBody(_) | TelnyxError::Api { .. } => Code::Internal,
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
                metadata.insert(key.to_owned(), value.clone());
            }
        }
        if let Some(pointer) = first
            .source
            .as_ref()
            .map(|s| &s.pointer)
            .filter(|p| !p.is_empty())
        {
            metadata.insert("pointer".to_owned(), pointer.clone());
        }
    }
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata),
    )
}
