//! The logical request's span and `http.client.request.duration`.
//!
//! One `http.request` span per call of the client, by the OpenTelemetry HTTP client
//! conventions: kind `client`, named `{method}` for OpenTelemetry (`otel.name`; the
//! conventions name a client span by its method when no URL template is known), with
//! `http.request.method`, `url.full` (redacted), `server.address`, `server.port`, and on
//! completion `http.response.status_code` and `error.type`. The retry layer's attempt spans
//! are its children.

use http::{Request, StatusCode};
use tracing::Span;
use tracing::field::Empty;
use volley_core::redact::RedactedUrl;

use crate::{Body, Error};

/// The logical request's span, at INFO; disabled (and free) without a subscriber that
/// wants it.
pub(crate) fn request_span(req: &Request<Body>) -> Span {
    let span = tracing::info_span!(
        "http.request",
        otel.name = req.method().as_str(),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = req.method().as_str(),
        url.full = Empty,
        server.address = Empty,
        server.port = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
    );
    if !span.is_disabled() {
        let uri = req.uri();
        span.record("url.full", RedactedUrl::uri(uri));
        if let Some(host) = uri.host() {
            span.record("server.address", host);
        }
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        if let Some(port) = port {
            span.record("server.port", i64::from(port));
        }
    }
    span
}

/// `error.type` of a request: the status code for a 4xx or 5xx answer (as the conventions
/// ask), the error's [`Kind`](crate::Kind) otherwise, none for a success.
pub(crate) fn error_type(result: &Result<StatusCode, &Error>) -> Option<ErrorType> {
    match result {
        Ok(status) if status.is_client_error() || status.is_server_error() => {
            Some(ErrorType::Status(*status))
        }
        Ok(_) => None,
        Err(err) => Some(ErrorType::Kind(err.kind().as_str())),
    }
}

/// The value of `error.type`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ErrorType {
    Status(StatusCode),
    Kind(&'static str),
}

impl ErrorType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            // `StatusCode::as_str` borrows from the code itself, not from a static table.
            ErrorType::Status(status) => status_str(status),
            ErrorType::Kind(kind) => kind,
        }
    }
}

fn status_str(status: StatusCode) -> &'static str {
    // Three ASCII digits of a valid code, leaked once per distinct code at most: the
    // table is 900 entries, built on first use.
    static TABLE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (100u16..1000).map(|code| &*Box::leak(code.to_string().into_boxed_str())).collect()
    });
    table.get(usize::from(status.as_u16()).wrapping_sub(100)).copied().unwrap_or("_OTHER")
}

/// Records the outcome on the logical request's span.
pub(crate) fn record_outcome(span: &Span, result: &Result<StatusCode, &Error>) {
    if span.is_disabled() {
        return;
    }
    if let Ok(status) = result {
        span.record("http.response.status_code", i64::from(status.as_u16()));
    }
    if let Some(error_type) = error_type(result) {
        span.record("error.type", error_type.as_str());
        span.record("otel.status_code", "ERROR");
    }
}

/// `http.client.request.duration`, started when the request is sent.
#[cfg(feature = "metrics")]
pub(crate) struct RequestMetrics {
    started: tokio::time::Instant,
    method: &'static str,
    key: metrics::SharedString,
}

#[cfg(feature = "metrics")]
impl RequestMetrics {
    pub(crate) fn start(req: &Request<Body>) -> Self {
        let method = match *req.method() {
            http::Method::GET => "GET",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::DELETE => "DELETE",
            http::Method::HEAD => "HEAD",
            http::Method::PATCH => "PATCH",
            http::Method::OPTIONS => "OPTIONS",
            http::Method::TRACE => "TRACE",
            http::Method::CONNECT => "CONNECT",
            // Bounded label values: an extension method is `_OTHER`, as the conventions say.
            _ => "_OTHER",
        };
        let key = volley_core::telemetry::key_label(&volley_core::Key::from_uri(req.uri()));
        Self { started: tokio::time::Instant::now(), method, key }
    }

    pub(crate) fn finish(self, result: &Result<StatusCode, &Error>) {
        let seconds = self.started.elapsed().as_secs_f64();
        let mut labels = vec![
            metrics::Label::new("http.request.method", self.method),
            metrics::Label::new("key", self.key),
        ];
        if let Ok(status) = result {
            labels.push(metrics::Label::new("http.response.status_code", status_str(*status)));
        }
        if let Some(error_type) = error_type(result) {
            labels.push(metrics::Label::new("error.type", error_type.as_str()));
        }
        metrics::histogram!(volley_core::telemetry::names::REQUEST_DURATION, labels)
            .record(seconds);
    }
}
