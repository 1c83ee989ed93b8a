//! Logging through `tracing`: readable lines by default, JSON for collectors,
//! and, with the `otlp` feature (on by default), spans exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. A build without the feature says so
//! at start when the variable is set, rather than export nothing silently.

use std::io::IsTerminal as _;

use tracing_subscriber::{
    EnvFilter, Layer, Registry, fmt, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::config::LogFormat;

/// Keeps the span exporter alive; dropping it flushes what is buffered.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: flushing traces failed: {error}");
        }
    }
}

/// Installs the global subscriber; the level comes from `RUST_LOG` (default `info`).
pub fn init(format: LogFormat) -> TelemetryGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match format {
        // Colour only for a person at a terminal: a file or a collector would
        // keep the escape codes as text.
        LogFormat::Text => fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(logs);

    #[cfg(feature = "otlp")]
    {
        let (export, provider) = otlp::layer();
        registry.with(export).with(filter).init();
        if provider.is_some() {
            // The endpoint itself is not logged: it may carry credentials.
            tracing::info!("exporting spans over OTLP to OTEL_EXPORTER_OTLP_ENDPOINT");
        }
        TelemetryGuard { provider }
    }
    #[cfg(not(feature = "otlp"))]
    {
        registry.with(filter).init();
        if let Some(warning) = export_unavailable(std::env::var_os(ENDPOINT_VARIABLE).is_some()) {
            tracing::warn!("{warning}");
        }
        TelemetryGuard {}
    }
}

/// The variable that asks for span export, as the OpenTelemetry SDKs name it.
const ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The start-up warning of a build that cannot export spans, when asked to.
#[cfg_attr(feature = "otlp", allow(dead_code))]
fn export_unavailable(endpoint_set: bool) -> Option<&'static str> {
    endpoint_set.then_some(
        "OTEL_EXPORTER_OTLP_ENDPOINT is set but this build exports no spans: \
         it was built without the `otlp` feature",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_build_without_export_warns_only_when_export_is_asked_for() {
        assert_eq!(super::export_unavailable(false), None);
        let warning = super::export_unavailable(true).expect("a warning");
        assert!(warning.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT is set"));
        assert!(warning.contains("`otlp` feature"));
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
    use tracing_subscriber::Layer;

    type Export = Option<
        Box<
            dyn Layer<
                    tracing_subscriber::layer::Layered<
                        Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>,
                        tracing_subscriber::Registry,
                    >,
                > + Send
                + Sync,
        >,
    >;

    /// The OTLP export layer, when `OTEL_EXPORTER_OTLP_ENDPOINT` asks for one.
    /// The batch's interval, size and timeout follow the standard `OTEL_BSP_*`
    /// variables.
    pub fn layer() -> (Export, Option<SdkTracerProvider>) {
        if std::env::var_os(super::ENDPOINT_VARIABLE).is_none() {
            return (None, None);
        }
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(exporter) => exporter,
            Err(error) => {
                eprintln!("warning: OTLP export disabled: {error}");
                return (None, None);
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name("conference-gateway")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("conference-gateway");
        let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
        (Some(layer), Some(provider))
    }
}
