//! Every refusal of a webhook becomes an HTTP answer here, and only here.
//!
//! | Condition | Status |
//! | --- | --- |
//! | missing or invalid signature, missing timestamp, timestamp outside the window | 401 |
//! | body over the limit | 413 |
//! | body unreadable, or signed but not a Telnyx event | 400 |
//! | the bus cannot take the event (Telnyx retries) | 503 |
//! | shutting down with an in-process bus (Telnyx retries) | 503 |
//!
//! The body is one line of plain text saying why, for whoever reads Telnyx's
//! delivery log.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::envelope::EnvelopeError;
use super::signature::SignatureError;
use events::BusError;

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("unauthorized: {0}")]
    Signature(#[from] SignatureError),
    #[error("body is larger than the {limit} bytes allowed (GATEWAY_WEBHOOK_MAX_BODY_BYTES)")]
    TooLarge { limit: usize },
    #[error("could not read the body: {0}")]
    Unreadable(String),
    #[error("not a Telnyx event: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("try again later: {0}")]
    Bus(#[from] BusError),
    #[error(
        "try again later: this replica is shutting down and its in-process event bus can no \
         longer deliver events"
    )]
    ShuttingDown,
}

impl WebhookError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookError::Signature(_) => StatusCode::UNAUTHORIZED,
            WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::Unreadable(_) | WebhookError::Envelope(_) => StatusCode::BAD_REQUEST,
            WebhookError::Bus(_) | WebhookError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl WebhookError {
    /// A short, fixed name for the `outcome` label of the webhook metric.
    pub fn reason(&self) -> &'static str {
        match self {
            WebhookError::Signature(error) => match error {
                SignatureError::MissingSignature => "missing_signature",
                SignatureError::MissingTimestamp => "missing_timestamp",
                SignatureError::MalformedTimestamp => "malformed_timestamp",
                SignatureError::Stale { .. } => "stale_timestamp",
                SignatureError::Future { .. } => "future_timestamp",
                SignatureError::MalformedSignature => "malformed_signature",
                SignatureError::Mismatch => "invalid_signature",
            },
            WebhookError::TooLarge { .. } => "too_large",
            WebhookError::Unreadable(_) => "unreadable",
            WebhookError::Envelope(_) => "not_an_event",
            WebhookError::Bus(_) => "bus_unavailable",
            WebhookError::ShuttingDown => "shutting_down",
        }
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let line = self.to_string().replace(['\r', '\n'], " ");
        (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{line}\n"),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status() {
        let cases = [
            (
                WebhookError::Signature(SignatureError::Mismatch),
                StatusCode::UNAUTHORIZED,
            ),
            (
                WebhookError::TooLarge { limit: 1 },
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                WebhookError::Envelope(EnvelopeError::MissingId),
                StatusCode::BAD_REQUEST,
            ),
            (
                WebhookError::Unreadable("reset".into()),
                StatusCode::BAD_REQUEST,
            ),
            (
                WebhookError::Bus(BusError::Full(4096)),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (WebhookError::ShuttingDown, StatusCode::SERVICE_UNAVAILABLE),
        ];
        for (error, status) in cases {
            assert_eq!(error.into_response().status(), status);
        }
    }
}
