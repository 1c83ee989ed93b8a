//! W3C trace context: a caller's `traceparent` continues into the gateway's
//! span for the call and into the request to Telnyx, so one trace id follows
//! a call from the caller through the gateway to Telnyx's logs.

use tonic::metadata::MetadataMap;

/// The trace a call belongs to, and the gateway's own span id within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The caller's span, if it sent one: 16 lowercase hex digits.
    pub parent_id: Option<String>,
    /// The gateway's span for this call: 16 lowercase hex digits.
    pub span_id: String,
    /// 2 hex digits, `01` when sampled.
    pub flags: String,
}

impl TraceContext {
    /// Continues the caller's trace, or starts one when it sent none (or a
    /// malformed one: a bad header must not fail a call).
    pub fn from_metadata(metadata: &MetadataMap) -> TraceContext {
        metadata
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(parse)
            .unwrap_or_else(|| TraceContext {
                trace_id: random_hex(16),
                parent_id: None,
                span_id: random_hex(8),
                flags: "01".to_owned(),
            })
    }

    /// The `traceparent` header for the request this span makes.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

/// The client span of the request to Telnyx, a child of the current (call)
/// span, and the `traceparent` that names it, so Telnyx's side of the trace
/// hangs under the request that reached it.
pub fn telnyx_request(trace: &TraceContext, operation: &str) -> (tracing::Span, String) {
    let span = tracing::info_span!("telnyx", otel.kind = "client", operation);
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;

        let context = span.context();
        let own = context.span().span_context().clone();
        if own.is_valid() {
            let header = format!(
                "00-{:032x}-{:016x}-{}",
                own.trace_id(),
                own.span_id(),
                trace.flags
            );
            return (span, header);
        }
    }
    (span, trace.header())
}

/// Makes `span` the exported child of the caller's span, and takes the
/// exported span's ids, so the `traceparent` sent to Telnyx names the span
/// the collector receives.
#[cfg(feature = "otlp")]
pub fn link(span: &tracing::Span, trace: &mut TraceContext) {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let parent = trace
        .parent_id
        .as_deref()
        .and_then(|id| SpanId::from_hex(id).ok());
    if let (Ok(trace_id), Some(parent)) = (TraceId::from_hex(&trace.trace_id), parent) {
        let flags = TraceFlags::new(u8::from_str_radix(&trace.flags, 16).unwrap_or(1));
        let remote = SpanContext::new(trace_id, parent, flags, true, TraceState::default());
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    let context = span.context();
    let own = context.span().span_context().clone();
    if own.is_valid() {
        trace.trace_id = format!("{:032x}", own.trace_id());
        trace.span_id = format!("{:016x}", own.span_id());
    }
}

/// Parses `00-<trace id>-<parent id>-<flags>` as W3C Trace Context level 1
/// defines it; all-zero ids are invalid.
fn parse(value: &str) -> Option<TraceContext> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then(|| TraceContext {
        trace_id: trace_id.to_owned(),
        parent_id: Some(parent_id.to_owned()),
        span_id: random_hex(8),
        flags: flags.to_owned(),
    })
}

/// `bytes` random bytes (at most 16) as lower-case hex, never all zeros
/// (W3C Trace Context calls an all-zero id invalid). One formatting of one
/// random number: this runs twice on every call that brings no trace.
fn random_hex(bytes: usize) -> String {
    debug_assert!(bytes <= 16);
    let mask = u128::MAX >> (128 - 8 * bytes);
    loop {
        let value = fastrand::u128(..) & mask;
        if value != 0 {
            return format!("{value:0width$x}", width = bytes * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("traceparent", value.parse().unwrap());
        metadata
    }

    #[test]
    fn continues_the_callers_trace_with_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = TraceContext::from_metadata(&metadata(incoming));
        assert_eq!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(context.span_id, "00f067aa0ba902b7");
        let header = context.header();
        assert!(
            header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{header}"
        );
        assert!(header.ends_with("-01"));
        assert_eq!(parse(&header).unwrap().trace_id, context.trace_id);
    }

    #[test]
    fn starts_a_trace_when_the_header_is_missing_or_malformed() {
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        let fresh = TraceContext::from_metadata(&MetadataMap::new());
        assert_eq!(fresh.trace_id.len(), 32);
        assert_eq!(fresh.span_id.len(), 16);
        assert!(parse(&fresh.header()).is_some(), "{}", fresh.header());
        assert!(fresh.parent_id.is_none());
    }
}
