//! Every way an event stream can fail or end becomes a gRPC status here, and
//! only here.
//!
//! | Condition | gRPC status | ErrorInfo reason |
//! | --- | --- | --- |
//! | a filter that cannot be read | INVALID_ARGUMENT | (BadRequest field violation) |
//! | `resume_after` malformed, from another history, expired, unknown | OUT_OF_RANGE | `CURSOR_MALFORMED`, `CURSOR_OTHER_HISTORY`, `CURSOR_EXPIRED`, `CURSOR_UNKNOWN` |
//! | the history store is unreachable | UNAVAILABLE | `HISTORY_UNAVAILABLE` |
//! | the subscriber's queue overflowed | RESOURCE_EXHAUSTED | `SUBSCRIBER_TOO_SLOW` |
//! | the bus stopped, the gateway shuts down | UNAVAILABLE | `STREAM_STOPPED`, `SHUTTING_DOWN` |
//!
//! Whenever the stream had a position, the message says
//! `resume with resume_after="<cursor>"` and the ErrorInfo metadata carries it
//! under `cursor`, so a client resumes without parsing text. What a message
//! quotes of the request is bounded by [`super::echo`].

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::echo;
use events::bus::ReplayError;
use events::cursor::Cursor;
use events::filter::InvalidFilter;

/// The `ErrorInfo` domain of event-stream statuses.
pub const EVENTS_ERROR_DOMAIN: &str = "events.conference-gateway";

/// Why an event stream did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    InvalidFilter(#[from] InvalidFilter),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(
        "subscriber too slow: more than {capacity} events were waiting for it{}",
        resume_hint(.last)
    )]
    Overflowed {
        capacity: usize,
        last: Option<Cursor>,
    },
    #[error("the event stream stopped{}", resume_hint(.last))]
    Stopped { last: Option<Cursor> },
    #[error("the gateway is shutting down{}", resume_hint(.last))]
    ShuttingDown { last: Option<Cursor> },
}

fn resume_hint(last: &Option<Cursor>) -> String {
    match last {
        Some(cursor) => format!("; resume with resume_after=\"{cursor}\""),
        None => "; subscribe again".to_owned(),
    }
}

impl From<StreamError> for Status {
    fn from(error: StreamError) -> Status {
        let message = echo::message(&error.to_string());
        let (code, reason, last) = match &error {
            StreamError::InvalidFilter(invalid) => {
                return Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request_violation(
                        invalid.field,
                        echo::quote(&invalid.reason),
                    ),
                );
            }
            StreamError::Replay(replay) => {
                let reason = match replay {
                    ReplayError::Malformed(_) => "CURSOR_MALFORMED",
                    ReplayError::OtherEpoch(_) => "CURSOR_OTHER_HISTORY",
                    ReplayError::Expired(_) => "CURSOR_EXPIRED",
                    ReplayError::Unknown(_) => "CURSOR_UNKNOWN",
                    ReplayError::Unavailable(_) => "HISTORY_UNAVAILABLE",
                };
                let code = match replay {
                    ReplayError::Unavailable(_) => Code::Unavailable,
                    _ => Code::OutOfRange,
                };
                (code, reason, None)
            }
            StreamError::Overflowed { last, .. } => {
                (Code::ResourceExhausted, "SUBSCRIBER_TOO_SLOW", *last)
            }
            StreamError::Stopped { last } => (Code::Unavailable, "STREAM_STOPPED", *last),
            StreamError::ShuttingDown { last } => (Code::Unavailable, "SHUTTING_DOWN", *last),
        };
        let metadata: HashMap<String, String> = last
            .map(|cursor| ("cursor".to_owned(), cursor.to_string()))
            .into_iter()
            .collect();
        Status::with_error_details(
            code,
            message,
            ErrorDetails::with_error_info(reason, EVENTS_ERROR_DOMAIN, metadata),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::cursor::Position;

    #[test]
    fn overflow_carries_the_cursor_in_message_and_details() {
        let cursor = Cursor {
            epoch: 0xab,
            position: Position::new(9, 0),
        };
        let status = Status::from(StreamError::Overflowed {
            capacity: 4,
            last: Some(cursor),
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(
            status.message().contains("resume_after=\"ab.9-0\""),
            "{}",
            status.message()
        );
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "SUBSCRIBER_TOO_SLOW");
        assert_eq!(info.metadata["cursor"], "ab.9-0");
    }

    #[test]
    fn a_huge_bad_filter_is_invalid_argument_quoted_short() {
        let pattern = "\u{7}".repeat(300 * 1024);
        let invalid = events::filter::Filter::new(&[pattern], "", "", "").unwrap_err();
        let status = Status::from(StreamError::from(invalid));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().len() < 8 * 1024,
            "{}",
            status.message().len()
        );
        assert!(status.message().ends_with("bytes)"), "{}", status.message());
        let bad = status.get_details_bad_request().unwrap();
        assert!(bad.field_violations[0].description.len() < 4096);
    }

    #[test]
    fn cursors_that_cannot_be_served_are_out_of_range() {
        for error in [
            ReplayError::Expired("x".into()),
            ReplayError::Unknown("x".into()),
            ReplayError::OtherEpoch("x".into()),
            ReplayError::Malformed(events::cursor::MalformedCursor("x".into())),
        ] {
            assert_eq!(
                Status::from(StreamError::from(error)).code(),
                Code::OutOfRange
            );
        }
    }
}
