//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! One registry for the process, created at start and handed to whatever
//! records into it. Label values are bounded sets (RPC names, status codes,
//! outcome names, configured caller names), never ids, so the number of series
//! stays fixed however much traffic flows.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::{
    counter::Counter, family::Family, gauge::Gauge, histogram::Histogram,
};
use prometheus_client::registry::Registry;

/// Latency buckets from 0.25 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_25, 2.0, 17,
    ))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: String,
    pub code: String,
    pub caller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub operation: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// A caller of the tokens file or the access policy, else `unknown`.
    pub caller: String,
    /// Why: `method`, `resource`, `events`, `unknown_caller` (denials);
    /// `caller_rate`, `account_dial` (rate limits).
    pub reason: String,
}

/// Every metric the gateway records.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub grpc_requests: Family<RpcLabels, Counter>,
    pub grpc_latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    pub upstream_requests: Family<UpstreamLabels, Counter>,
    pub upstream_retries: Family<OperationLabels, Counter>,
    pub upstream_latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pub webhooks: Family<OutcomeLabels, Counter>,
    pub events_published: Counter,
    pub events_recovered: Counter,
    pub events_delivered: Counter,
    pub subscribers: Gauge,
    pub subscribers_cut_off: Counter,
    pub bus_errors: Family<KindLabels, Counter>,
    pub access_denied: Family<RefusalLabels, Counter>,
    pub rate_limited: Family<RefusalLabels, Counter>,
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Arc<Self> {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("gateway"),
            grpc_requests: Family::default(),
            grpc_latency: Family::new_with_constructor(latency_histogram),
            upstream_requests: Family::default(),
            upstream_retries: Family::default(),
            upstream_latency: Family::new_with_constructor(latency_histogram),
            webhooks: Family::default(),
            events_published: Counter::default(),
            events_recovered: Counter::default(),
            events_delivered: Counter::default(),
            subscribers: Gauge::default(),
            subscribers_cut_off: Counter::default(),
            bus_errors: Family::default(),
            access_denied: Family::default(),
            rate_limited: Family::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "grpc_requests",
            "gRPC requests by method, status code and caller",
            metrics.grpc_requests.clone(),
        );
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC request latency by method",
            metrics.grpc_latency.clone(),
        );
        registry.register(
            "telnyx_requests",
            "Requests to Telnyx by RPC and HTTP status (or error kind), after retries",
            metrics.upstream_requests.clone(),
        );
        registry.register(
            "telnyx_retries",
            "Retried attempts of requests to Telnyx, by RPC",
            metrics.upstream_retries.clone(),
        );
        registry.register(
            "telnyx_request_duration_seconds",
            "Latency of requests to Telnyx by RPC, retries included",
            metrics.upstream_latency.clone(),
        );
        registry.register(
            "webhooks",
            "Webhooks received, by outcome (accepted, duplicate, or the rejection reason)",
            metrics.webhooks.clone(),
        );
        registry.register(
            "events_published",
            "Events accepted onto the bus",
            metrics.events_published.clone(),
        );
        registry.register(
            "events_recovered",
            "Events recovered from Telnyx's failed webhook deliveries and accepted onto the bus",
            metrics.events_recovered.clone(),
        );
        registry.register(
            "events_delivered",
            "Events written to subscriber streams",
            metrics.events_delivered.clone(),
        );
        registry.register(
            "subscribers",
            "Live event subscribers",
            metrics.subscribers.clone(),
        );
        registry.register(
            "subscribers_cut_off",
            "Subscribers whose stream was ended because they fell too far behind",
            metrics.subscribers_cut_off.clone(),
        );
        registry.register(
            "bus_errors",
            "Event bus errors by kind",
            metrics.bus_errors.clone(),
        );
        registry.register(
            "access_denied",
            "Calls refused by the access policy, by caller and missing permission",
            metrics.access_denied.clone(),
        );
        registry.register(
            "rate_limited",
            "Calls refused by a rate limit, by caller and limit (caller_rate, account_dial)",
            metrics.rate_limited.clone(),
        );
        Arc::new(metrics)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Counts one gRPC call that ran, with its latency.
    pub fn record_rpc(&self, method: &str, code: tonic::Code, caller: &str, seconds: f64) {
        self.count_rpc(method, code, caller);
        self.grpc_latency
            .get_or_create(&MethodLabels {
                method: method.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts one gRPC call without a latency: a call refused before it ran
    /// (no token, shed), or a stream, whose duration says nothing. `method`
    /// and `caller` must come from bounded sets (see `grpc::guard`).
    pub fn count_rpc(&self, method: &str, code: tonic::Code, caller: &str) {
        self.grpc_requests
            .get_or_create(&RpcLabels {
                method: method.to_owned(),
                code: format!("{code:?}"),
                caller: caller.to_owned(),
            })
            .inc();
    }

    /// Counts one Telnyx request as it finally ended.
    pub fn record_upstream(&self, operation: &str, status: &str, retries: u32, seconds: f64) {
        let labels = OperationLabels {
            operation: operation.to_owned(),
        };
        self.upstream_requests
            .get_or_create(&UpstreamLabels {
                operation: operation.to_owned(),
                status: status.to_owned(),
            })
            .inc();
        if retries > 0 {
            self.upstream_retries
                .get_or_create(&labels)
                .inc_by(u64::from(retries));
        }
        self.upstream_latency
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Counts one webhook by outcome.
    pub fn record_webhook(&self, outcome: &str) {
        self.webhooks
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts one call refused by the policy (`limit` false) or a rate limit.
    /// `caller` must come from a bounded set (see `grpc::guard`).
    pub fn record_refusal(&self, caller: &str, reason: &str, limit: bool) {
        let family = if limit {
            &self.rate_limited
        } else {
            &self.access_denied
        };
        family
            .get_or_create(&RefusalLabels {
                caller: caller.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts one bus error by kind.
    pub fn record_bus_error(&self, kind: &str) {
        self.bus_errors
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }
}

/// The Telnyx client reports each request here.
impl telnyx_client::Observer for Metrics {
    fn request_finished(&self, operation: &str, status: &str, retries: u32, seconds: f64) {
        self.record_upstream(operation, status, retries, seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let metrics = Metrics::new();
        metrics.record_rpc("EndConference", tonic::Code::Ok, "billing", 0.002);
        metrics.record_upstream("EndConference", "200", 1, 0.5);
        metrics.record_webhook("accepted");
        metrics.subscribers.set(3);
        metrics.record_refusal("reporting", "method", false);
        metrics.record_refusal("dialer", "caller_rate", true);
        let text = metrics.render();
        assert!(text.contains(r#"gateway_grpc_requests_total{method="EndConference",code="Ok",caller="billing"} 1"#), "{text}");
        assert!(text.contains(r#"gateway_telnyx_retries_total{operation="EndConference"} 1"#));
        assert!(text.contains(r#"gateway_webhooks_total{outcome="accepted"} 1"#));
        assert!(text.contains("gateway_subscribers 3"));
        assert!(
            text.contains(r#"gateway_access_denied_total{caller="reporting",reason="method"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"gateway_rate_limited_total{caller="dialer",reason="caller_rate"} 1"#)
        );
        assert!(text.contains("gateway_grpc_request_duration_seconds_bucket"));
    }
}
