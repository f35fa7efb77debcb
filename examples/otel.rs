//! Traces of volley's requests through OpenTelemetry, printed to stdout — no collector.
//!
//! `tracing-opentelemetry` turns the client's `tracing` spans into OpenTelemetry spans and
//! the stdout exporter prints each one as it ends: an `http.request` span per call of the
//! client (kind client, named by its method, with `url.full`, `server.address`,
//! `server.port`, `http.response.status_code`, `error.type`) and a child span per attempt
//! (`http.request.resend_count` on resends). See docs/observability.md.
//!
//! Two requests against the embedded test server: one that fails twice with 503 and is
//! retried after backoff, one that is throttled with `429 Retry-After: 1` and waited out.
//! Swap the stdout exporter for `opentelemetry-otlp`'s to send the same spans to a
//! collector.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};
use volley::Client;
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each span is printed when it ends (the simple processor; a service would batch).
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("volley-otel-example").build())
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let tracer = provider.tracer("volley-example");
    // INFO: the request and attempt spans; the per-wait DEBUG events stay off, as a
    // service in production would leave them.
    let otel = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(LevelFilter::INFO);
    tracing::subscriber::set_global_default(Registry::default().with(otel))?;

    let server = TestServer::start().await?;
    let client = Client::builder().retries(3).build()?;

    let res = client.get(server.url("/flaky/2?token=secret")).send().await?;
    println!("# /flaky/2: {} after {} attempts", res.status(), server.hits("/flaky/2"));
    let res = client.get(server.url("/retry-after/1?times=1")).send().await?;
    println!("# /retry-after/1: {} after {} attempts", res.status(), server.hits("/retry-after/1"));

    provider.shutdown()?;
    Ok(())
}
