//! Every way a `StateService` call can fail becomes a gRPC status here, and
//! only here.
//!
//! | Condition | gRPC status | ErrorInfo reason |
//! | --- | --- | --- |
//! | a subject id missing or too long | INVALID_ARGUMENT | (BadRequest field violation) |
//! | a call or conference that ended longer than the retention ago | NOT_FOUND | `STATE_GONE` |
//! | the state is being rebuilt from the event history | UNAVAILABLE | `STATE_REBUILDING` |
//! | a watch ends because the gateway shuts down | UNAVAILABLE | `SHUTTING_DOWN` |
//!
//! A queue, conference or call without events is not an error: it answers
//! an empty state.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo` domain of state statuses.
pub const STATE_ERROR_DOMAIN: &str = "state.conference-gateway";

/// The longest subject id accepted (Telnyx's ids are far shorter; queue
/// names are at most 255 characters).
pub const MAX_SUBJECT_BYTES: usize = 512;

/// Why a state call failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{field} is required")]
    Missing { field: &'static str },
    #[error("{field} is longer than {MAX_SUBJECT_BYTES} bytes")]
    TooLong { field: &'static str },
    #[error("{what} {id} ended more than the state retention ago")]
    Gone { what: &'static str, id: String },
    #[error(transparent)]
    NotReady(#[from] state::NotReady),
    #[error("the gateway is shutting down; watch again")]
    ShuttingDown,
    /// Refused by the access policy (a queue it does not name).
    #[error(transparent)]
    Access(#[from] super::access_status::AccessError),
}

/// Checks a subject id from a request.
pub fn subject<'a>(field: &'static str, value: &'a str) -> Result<&'a str, StateError> {
    if value.is_empty() {
        Err(StateError::Missing { field })
    } else if value.len() > MAX_SUBJECT_BYTES {
        Err(StateError::TooLong { field })
    } else {
        Ok(value)
    }
}

impl From<StateError> for Status {
    fn from(error: StateError) -> Status {
        // A refusal has its own status, as every service answers it.
        let error = match error {
            StateError::Access(refused) => return refused.into(),
            error => error,
        };
        let message = error.to_string();
        let (code, reason) = match &error {
            StateError::Access(_) => unreachable!("answered above"),
            StateError::Missing { field } | StateError::TooLong { field } => {
                let reason = match error {
                    StateError::Missing { .. } => "is required".to_owned(),
                    _ => format!("must be at most {MAX_SUBJECT_BYTES} bytes"),
                };
                return Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request_violation(*field, reason),
                );
            }
            StateError::Gone { .. } => (Code::NotFound, "STATE_GONE"),
            StateError::NotReady(_) => (Code::Unavailable, "STATE_REBUILDING"),
            StateError::ShuttingDown => (Code::Unavailable, "SHUTTING_DOWN"),
        };
        Status::with_error_details(
            code,
            message,
            ErrorDetails::with_error_info(reason, STATE_ERROR_DOMAIN, HashMap::new()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_subjects_name_their_field() {
        let status = Status::from(subject("queue_name", "").unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "queue_name is required");
        let violations = status.get_details_bad_request().unwrap();
        assert_eq!(violations.field_violations[0].field, "queue_name");
        let long = "x".repeat(MAX_SUBJECT_BYTES + 1);
        let status = Status::from(subject("call_control_id", &long).unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with("call_control_id "));
        assert_eq!(subject("conference_id", "c-1").ok(), Some("c-1"));
    }

    #[test]
    fn gone_is_not_found_and_rebuilding_is_unavailable() {
        let gone = Status::from(StateError::Gone {
            what: "call",
            id: "v3:x".into(),
        });
        assert_eq!(gone.code(), Code::NotFound);
        assert_eq!(gone.get_details_error_info().unwrap().reason, "STATE_GONE");
        let rebuilding = Status::from(StateError::from(state::NotReady));
        assert_eq!(rebuilding.code(), Code::Unavailable);
        assert_eq!(
            rebuilding.get_details_error_info().unwrap().reason,
            "STATE_REBUILDING"
        );
    }
}
