//! Calls refused by the access policy or a rate limit become statuses here.
//!
//! | refusal | gRPC status |
//! | --- | --- |
//! | the policy does not allow the RPC, resource or events | PERMISSION_DENIED, naming the permission |
//! | the caller is over its rate | RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` |
//! | the account's dial limit cannot admit the call before its deadline | RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` |
//! | Telnyx said the account has no requests left until after the call's deadline | RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` (the reset) |
//!
//! Each carries a `google.rpc.ErrorInfo` (domain [`ACCESS_ERROR_DOMAIN`]) whose
//! reason a client can branch on.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::Denied;

/// The domain of the `ErrorInfo` of access refusals.
pub const ACCESS_ERROR_DOMAIN: &str = "conference-gateway.access";

/// Why a call was refused before it reached Telnyx.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("caller {caller:?} is over its rate limit (access policy); retry after {} ms", .retry_after.as_millis())]
    CallerLimited {
        caller: String,
        retry_after: Duration,
    },
    #[error(
        "the Telnyx account's dial limit (150 dials in 5 s) has no room before this call's deadline; retry after {} ms",
        .retry_after.as_millis()
    )]
    AccountLimited { retry_after: Duration },
    #[error(
        "the Telnyx account has no requests left (x-ratelimit-remaining: 0 or 429) until after this call's deadline; retry after {} ms",
        .retry_after.as_millis()
    )]
    AccountExhausted { retry_after: Duration },
}

impl AccessError {
    /// The metrics' `reason` (denials) or `limit` (rate limits).
    pub fn reason(&self) -> &'static str {
        match self {
            AccessError::Denied(denied) => denied.reason,
            AccessError::CallerLimited { .. } => "caller_rate",
            AccessError::AccountLimited { .. } => "account_dial",
            AccessError::AccountExhausted { .. } => "account_telnyx",
        }
    }
}

impl From<AccessError> for Status {
    fn from(error: AccessError) -> Status {
        let message = error.to_string();
        let reason = error.reason().to_ascii_uppercase();
        let metadata = HashMap::new();
        match error {
            AccessError::Denied(_) => Status::with_error_details(
                Code::PermissionDenied,
                message,
                ErrorDetails::with_error_info(reason, ACCESS_ERROR_DOMAIN, metadata),
            ),
            AccessError::CallerLimited { retry_after, .. }
            | AccessError::AccountLimited { retry_after }
            | AccessError::AccountExhausted { retry_after } => {
                let mut details = ErrorDetails::with_retry_info(Some(retry_after));
                details.set_error_info(reason, ACCESS_ERROR_DOMAIN, metadata);
                Status::with_error_details(Code::ResourceExhausted, message, details)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_say_when_to_retry() {
        let status = Status::from(AccessError::CallerLimited {
            caller: "dialer".into(),
            retry_after: Duration::from_millis(200),
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().unwrap().retry_delay,
            Some(Duration::from_millis(200))
        );
        assert_eq!(details.error_info().unwrap().reason, "CALLER_RATE");
    }

    #[test]
    fn denials_name_the_permission() {
        let status = Status::from(AccessError::Denied(Denied {
            message: r#"caller "reporting" may not call conference_gateway.v1.CallService/Dial"#
                .into(),
            reason: "method",
        }));
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(
            status.message(),
            r#"caller "reporting" may not call conference_gateway.v1.CallService/Dial"#
        );
    }
}
