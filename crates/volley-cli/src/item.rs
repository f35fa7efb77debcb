//! One input line: turned into a request, sent, its body read, and recorded.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use volley::redirect::RedirectError;
use volley::{Body, Client, Kind, StopReason};
use volley_core::redact::RedactedUrl;
use volley_core::{TimedOut, TimeoutKind};

use crate::files;
use crate::input::{self, BadLine, Line, LineBody};
use crate::output::{Record, millis};
use crate::signals::{ItemTrace, ItemWaits, traced};
use crate::stats::Outcome;

/// What applies to every line that does not say otherwise (`-X`, `--data`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    pub(crate) method: Option<Method>,
    pub(crate) body: Option<Bytes>,
}

/// What every item shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) save_dir: Option<PathBuf>,
    /// Records' `start_ms` count from here.
    pub(crate) run_started: Instant,
}

/// A line, made into a request or refused.
#[derive(Debug)]
pub(crate) struct Job {
    line: usize,
    url: Option<String>,
    request: Result<Request<Body>, String>,
}

/// A finished item: its record, and what the summary needs beyond it.
#[derive(Debug)]
pub(crate) struct Done {
    pub(crate) record: Record,
    pub(crate) outcome: Outcome,
    pub(crate) timeout: Option<TimeoutKind>,
    /// Whether the client's rate limiter refused to wait that long.
    pub(crate) rate_limited: bool,
    /// `None` when the request was never sent.
    pub(crate) elapsed: Option<std::time::Duration>,
    /// The method sent; `None` when the request was never sent.
    pub(crate) method: Option<Method>,
    /// The waits between its attempts, as the layers reported them.
    pub(crate) waits: ItemWaits,
}

impl Done {
    /// The item of a line that was never sent.
    pub(crate) fn unsent(record: Record, outcome: Outcome) -> Self {
        let waits = ItemWaits::default();
        Done {
            record,
            outcome,
            timeout: None,
            rate_limited: false,
            elapsed: None,
            method: None,
            waits,
        }
    }
}

impl Job {
    /// A line refused before it was parsed.
    pub(crate) fn refused(bad: BadLine) -> Self {
        Job { line: bad.number, url: None, request: Err(bad.message) }
    }

    /// The 1-based input line.
    pub(crate) fn line(&self) -> usize {
        self.line
    }
}

/// Turns a line into a request with the defaults applied, or says why it cannot be one.
pub(crate) fn prepare(client: &Client, defaults: &Defaults, line: &Line) -> Job {
    let spec = match input::parse(&line.text) {
        Ok(spec) => spec,
        Err(message) => return Job { line: line.number, url: None, request: Err(message) },
    };
    // Records show the URL without its credentials.
    let url = Some(RedactedUrl(&spec.url).to_string());
    let has_body = spec.body.is_some() || defaults.body.is_some();
    let method = match spec.method {
        Some(name) => match Method::from_bytes(name.to_ascii_uppercase().as_bytes()) {
            Ok(method) => method,
            Err(_) => {
                return Job {
                    line: line.number,
                    url,
                    request: Err(format!("{name:?} is not an HTTP method")),
                };
            }
        },
        None => {
            defaults.method.clone().unwrap_or(if has_body { Method::POST } else { Method::GET })
        }
    };
    let mut builder = client.request(method, &spec.url);
    for (name, value) in &spec.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder = match (spec.body, &defaults.body) {
        (Some(LineBody::Text(text)), _) => builder.body(text),
        (Some(LineBody::Json(json)), _) => builder.json(&json),
        (None, Some(body)) => builder.body(body.clone()),
        (None, None) => builder,
    };
    let request = builder.build().map_err(|err| err.to_string()).and_then(|req| {
        match req.uri().scheme_str() {
            Some("http" | "https") => Ok(req),
            _ => Err(format!("URL {:?} is not http or https", RedactedUrl(&spec.url))),
        }
    });
    Job { line: line.number, url, request }
}

/// Why reading a response failed.
enum Failure {
    Http(volley::Error),
    Save(std::io::Error),
}

impl From<volley::Error> for Failure {
    fn from(err: volley::Error) -> Self {
        Failure::Http(err)
    }
}

/// Sends the job's request and reads (or saves) its body.
pub(crate) async fn run(shared: Arc<Shared>, job: Job) -> Done {
    let started = Instant::now();
    let mut record = Record {
        start_ms: millis(started.saturating_duration_since(shared.run_started)),
        ..Record::new(job.line, job.url)
    };
    let request = match job.request {
        Ok(request) => request,
        Err(message) => {
            record.error("input", message);
            return Done::unsent(record, Outcome::BadInput);
        }
    };
    let method = request.method().clone();
    let trace = Arc::new(ItemTrace::default());
    let result = traced(trace.clone(), fetch(&shared, request, &mut record)).await;
    let elapsed = started.elapsed();
    record.elapsed_ms = millis(elapsed);
    // Every attempt runs in a span of the retry layer; without retries there are none.
    if trace.attempts() > 0 {
        record.attempts = trace.attempts();
    }
    let mut timeout = None;
    let mut rate_limited = false;
    let outcome = match result {
        Ok(stopped) => {
            let status = record.status.unwrap_or_default();
            if status >= 400 {
                let reason =
                    http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
                let mut message =
                    format!("HTTP {status} {}", reason.unwrap_or_default()).trim_end().to_owned();
                if let Some(stop) = stopped {
                    message.push_str(&format!(" (not retried: {stop})"));
                }
                record.error("status", message);
            }
            Outcome::of_status(status)
        }
        Err(Failure::Save(err)) => {
            record.error("save", format!("cannot save the body: {err}"));
            Outcome::Other
        }
        Err(Failure::Http(err)) => {
            // The hops followed before a redirect was refused: the last one in the chain
            // answered with the redirect that was not followed.
            let chain = err.find::<RedirectError>().map_or(&[][..], RedirectError::chain);
            if let [followed @ .., last] = chain {
                record.redirected(followed.len(), last.url());
            }
            if record.attempts == 0 {
                record.attempts = err.attempts().unwrap_or(1) + record.redirects.unwrap_or(0);
            }
            timeout = err.find::<TimedOut>().map(TimedOut::kind);
            rate_limited = err.kind() == Kind::RateLimited;
            record.error(err.kind().as_str(), err.to_string());
            match err.kind() {
                Kind::Timeout => Outcome::Timeout,
                Kind::Connect => Outcome::Connect,
                Kind::RateLimited => Outcome::Throttled,
                Kind::Overloaded => Outcome::Overloaded,
                Kind::Redirect => Outcome::Redirect,
                Kind::BreakerOpen => Outcome::BreakerOpen,
                _ => Outcome::Other,
            }
        }
    };
    let (method, waits) = (Some(method), trace.waits());
    Done { record, outcome, timeout, rate_limited, elapsed: Some(elapsed), method, waits }
}

/// Sends the request and reads its body; says why the retry layer stopped short, if it did.
async fn fetch(
    shared: &Shared,
    request: Request<Body>,
    record: &mut Record,
) -> Result<Option<StopReason>, Failure> {
    let mut response = shared.client.execute(request).await?;
    record.status = Some(response.status().as_u16());
    let stopped = response.retry_stopped();
    if let Some(url) = response.url() {
        record.redirected(response.redirects().len(), url);
    }
    // The attempts of the last hop; every hop before it made at least one. The trace
    // counts them all when the retry layer runs.
    record.attempts = response.attempts() + record.redirects.unwrap_or(0);
    let mut file = match &shared.save_dir {
        Some(dir) => {
            // Named by the line number only: nothing from the input reaches the path.
            let (dir, name) = (dir.clone(), format!("{}.body", record.line));
            let (file, path) = tokio::task::spawn_blocking(move || files::create_body(&dir, &name))
                .await
                .map_err(|err| Failure::Save(std::io::Error::other(err)))?
                .map_err(Failure::Save)?;
            record.saved = Some(path.display().to_string());
            Some(tokio::io::BufWriter::new(tokio::fs::File::from_std(file)))
        }
        None => None,
    };
    while let Some(chunk) = response.chunk().await? {
        record.bytes += chunk.len() as u64;
        if let Some(file) = &mut file {
            file.write_all(&chunk).await.map_err(Failure::Save)?;
        }
    }
    if let Some(file) = &mut file {
        file.flush().await.map_err(Failure::Save)?;
    }
    Ok(stopped)
}
