//! The audit trail: one record per control RPC, and one per call refused by
//! the access policy or a rate limit, on the `conference_gateway::audit`
//! target, so it can be routed apart from the operational log (see the
//! README's "Audit trail").
//!
//! A record says who did what to which ids and how it ended. It never holds a
//! token, a request or response body, or an error message from Telnyx (which
//! can echo a body): only names, ids and codes.

use prost_reflect::{DynamicMessage, Value};

/// The `tracing` target of audit records.
pub const TARGET: &str = "conference_gateway::audit";

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Telnyx did it.
    Ok,
    /// It reached the gateway's control path and failed there or at Telnyx.
    Failed,
    /// The access policy refused it.
    Denied,
    /// A rate limit refused it.
    Limited,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Denied => "denied",
            Outcome::Limited => "limited",
        }
    }
}

/// The ids a request acted on, read from its top-level fields by name (every
/// RPC of the API names them alike).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActedOn {
    pub call_control_id: String,
    pub conference_id: String,
    pub queue_name: String,
    pub connection_id: String,
    pub application_id: String,
    pub command_id: String,
}

impl ActedOn {
    pub fn of(message: &DynamicMessage) -> Self {
        let field = |name: &str| {
            message
                .get_field_by_name(name)
                .and_then(|v| match v.as_ref() {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        ActedOn {
            call_control_id: field("call_control_id"),
            conference_id: field("conference_id"),
            queue_name: field("queue_name"),
            connection_id: field("connection_id"),
            application_id: field("application_id"),
            command_id: field("command_id"),
        }
    }
}

/// One audit record.
#[derive(Debug)]
pub struct Record<'a> {
    pub caller: &'a str,
    /// `package.Service/Method`.
    pub method: &'a str,
    pub acted_on: &'a ActedOn,
    pub outcome: Outcome,
    pub code: tonic::Code,
    pub trace_id: &'a str,
}

impl Record<'_> {
    /// Writes the record (time comes from the log line itself). Ids the
    /// request did not carry are left out.
    pub fn emit(&self) {
        let given = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let ids = self.acted_on;
        tracing::info!(
            target: TARGET,
            caller = self.caller,
            method = self.method,
            outcome = self.outcome.as_str(),
            code = code_name(self.code),
            trace_id = self.trace_id,
            call_control_id = given(&ids.call_control_id),
            conference_id = given(&ids.conference_id),
            queue_name = given(&ids.queue_name),
            connection_id = given(&ids.connection_id),
            application_id = given(&ids.application_id),
            command_id = given(&ids.command_id),
            "audit"
        );
    }
}

/// The status code as gRPC spells it (`PERMISSION_DENIED`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ids_a_request_names() {
        let request = api::v1::DialRequest {
            connection_id: "conn-1".into(),
            command_id: "cmd-9".into(),
            ..Default::default()
        };
        let descriptor = api::descriptor_pool()
            .get_message_by_name("conference_gateway.v1.DialRequest")
            .unwrap();
        let mut message = DynamicMessage::new(descriptor);
        message.transcode_from(&request).unwrap();
        let ids = ActedOn::of(&message);
        assert_eq!(
            ids,
            ActedOn {
                connection_id: "conn-1".into(),
                command_id: "cmd-9".into(),
                ..ActedOn::default()
            }
        );
        assert_eq!(
            code_name(tonic::Code::PermissionDenied),
            "PERMISSION_DENIED"
        );
    }
}
