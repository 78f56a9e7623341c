//! Logs and traces: the one subscriber every subcommand logs through, to
//! stderr, `pretty` or `json` as the config says (`RUST_LOG` filters,
//! default `info,sqlx=warn`). Built with the `otel` feature and given
//! `log.otlp`, spans are also exported over OTLP/HTTP.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Log, LogFormat};

/// Keeps the exporter running; dropping it flushes what it holds.
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

/// A layer exporting spans, when there is one.
type Export = Option<Box<dyn Layer<Registry> + Send + Sync>>;

/// Installs the process's subscriber. Call once, before anything logs.
pub fn init(log: &Log) -> anyhow::Result<Telemetry> {
    let (export, telemetry) = export(log)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let lines = match log.format {
        // Colours only for a terminal: escape codes in a file or a log
        // collector are noise, and cost a tenth of each access line.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
        // Each line carries the spans it was logged in: the request id.
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(export)
        .with(filter)
        .with(lines)
        .try_init()?;
    Ok(telemetry)
}

#[cfg(not(feature = "otel"))]
fn export(log: &Log) -> anyhow::Result<(Export, Telemetry)> {
    if let Some(endpoint) = &log.otlp {
        anyhow::bail!(
            "log.otlp is {endpoint}, but this contractgate was built without the `otel` feature"
        );
    }
    Ok((None, Telemetry {}))
}

/// The OTLP export layer, when `log.otlp` names a collector.
#[cfg(feature = "otel")]
fn export(log: &Log) -> anyhow::Result<(Export, Telemetry)> {
    use opentelemetry::trace::TracerProvider;
    use opentelemetry_otlp::{SpanExporter, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    let Some(endpoint) = &log.otlp else {
        return Ok((None, Telemetry { provider: None }));
    };
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("contractgate"))
        .boxed();
    Ok((
        Some(layer),
        Telemetry {
            provider: Some(provider),
        },
    ))
}

#[cfg(feature = "otel")]
impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Flushes the spans the batch holds.
            let _ = provider.shutdown();
        }
    }
}

#[cfg(all(test, not(feature = "otel")))]
mod tests {
    use super::*;

    #[test]
    fn an_otlp_endpoint_without_the_feature_is_refused_by_name() {
        let log = Log {
            otlp: Some("http://collector:4318/v1/traces".to_owned()),
            ..Log::default()
        };
        let error = export(&log).err().expect("refused").to_string();
        assert!(error.contains("`otel` feature"), "{error}");
        assert!(export(&Log::default()).is_ok());
    }
}
