//! The JSON records, one line per input line, in input order or as they finish.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;
use volley_core::redact::RedactedUrl;

/// What became of one input line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Record {
    /// 1-based line number in the input.
    pub(crate) line: usize,
    /// The URL asked for; `null` when the line was not understood well enough to say.
    pub(crate) url: Option<String>,
    /// The URL that answered last, credentials redacted; only when a redirect was followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) final_url: Option<String>,
    /// The final status; `null` when no response came.
    pub(crate) status: Option<u16>,
    /// Attempts made, retries and redirect hops included; 0 when the request was never sent.
    pub(crate) attempts: u32,
    /// Redirects followed; only when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) redirects: Option<u32>,
    /// When the request started, in milliseconds after the run started.
    pub(crate) start_ms: f64,
    /// From the request's start to the end of its response body, in milliseconds.
    pub(crate) elapsed_ms: f64,
    /// Bytes of response body received.
    pub(crate) bytes: u64,
    /// Where the body was saved (`--save-bodies`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) saved: Option<String>,
    /// Why the request failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ErrorRecord>,
}

/// The `error` of a failed request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ErrorRecord {
    /// `input`, `status`, `timeout`, `connect`, `rate_limited`, `overloaded`, `body`,
    /// `save`, `other`…
    pub(crate) kind: String,
    pub(crate) message: String,
}

impl Record {
    /// The record of input line `line` (1-based), before anything was sent.
    pub(crate) fn new(line: usize, url: Option<String>) -> Self {
        Self {
            line,
            url,
            final_url: None,
            status: None,
            attempts: 0,
            redirects: None,
            start_ms: 0.0,
            elapsed_ms: 0.0,
            bytes: 0,
            saved: None,
            error: None,
        }
    }

    /// Notes `hops` redirects followed to `final_url`; nothing when there were none.
    pub(crate) fn redirected(&mut self, hops: usize, final_url: &http::Uri) {
        if hops > 0 {
            self.redirects = Some(u32::try_from(hops).unwrap_or(u32::MAX));
            self.final_url = Some(RedactedUrl(&final_url.to_string()).to_string());
        }
    }

    /// Sets the error; any URL in `message` is shown without its credentials.
    pub(crate) fn error(&mut self, kind: &str, message: impl AsRef<str>) {
        let message = redact_urls(message.as_ref());
        self.error = Some(ErrorRecord { kind: kind.to_owned(), message });
    }
}

/// `text` with every URL in it passed through [`RedactedUrl`]: no userinfo, no secret
/// query value. Error messages from the layers below may quote the URL they were given. A
/// URL runs from its scheme to the next space or quote, or to the closing quote when it
/// is quoted (an invalid URL may hold a space).
pub(crate) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let quote = rest[..start].chars().next_back().filter(|c| matches!(c, '"' | '\'' | '`'));
        let end = match quote {
            Some(quote) => rest[at..].find(quote),
            None => rest[at..].find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`')),
        };
        let end = end.map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        out.push_str(&RedactedUrl(&rest[start..end]).to_string());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Milliseconds with microsecond precision, for the records.
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

/// Writes records as JSON lines, holding back those that finish early when the output
/// is in input order.
pub(crate) struct Writer {
    out: Box<dyn Write>,
    ordered: bool,
    next: usize,
    held: BTreeMap<usize, Record>,
}

impl Writer {
    pub(crate) fn new(out: Box<dyn Write>, ordered: bool) -> Self {
        Self { out, ordered, next: 0, held: BTreeMap::new() }
    }

    /// Takes the record of the input at `index` (0-based, every index exactly once).
    pub(crate) fn push(&mut self, index: usize, record: Record) -> io::Result<()> {
        if !self.ordered {
            return self.write(&record);
        }
        self.held.insert(index, record);
        while let Some(record) = self.held.remove(&self.next) {
            self.write(&record)?;
            self.next += 1;
        }
        Ok(())
    }

    fn write(&mut self, record: &Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        // A reader downstream (jq, tail -f) sees each record as it is decided.
        self.out.flush()
    }

    /// Records finished but held back for an earlier one still running.
    pub(crate) fn backlog(&self) -> usize {
        self.held.len()
    }

    /// Writes whatever is still held (only if an index never came) and flushes.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        for record in std::mem::take(&mut self.held).into_values() {
            self.write(&record)?;
        }
        self.out.flush()
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("ordered", &self.ordered)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn record(line: usize) -> Record {
        Record { status: Some(200), attempts: 1, elapsed_ms: 1.5, ..Record::new(line, None) }
    }

    fn lines_written(ordered: bool, arrivals: &[usize]) -> Vec<usize> {
        let sink = Shared::default();
        let mut writer = Writer::new(Box::new(sink.clone()), ordered);
        for &i in arrivals {
            writer.push(i, record(i + 1)).unwrap();
        }
        writer.finish().unwrap();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].as_u64().unwrap()
                    as usize
            })
            .collect()
    }

    #[test]
    fn ordered_output_holds_early_finishers_back() {
        assert_eq!(lines_written(true, &[2, 0, 3, 1]), vec![1, 2, 3, 4]);
        assert_eq!(lines_written(false, &[2, 0, 3, 1]), vec![3, 1, 4, 2]);
    }

    #[test]
    fn records_serialise_with_null_status_and_optional_error() {
        let mut bad = record(7);
        bad.status = None;
        bad.error("input", "invalid JSON line");
        let json = serde_json::to_value(&bad).unwrap();
        assert_eq!(json["status"], serde_json::Value::Null);
        assert_eq!(json["error"]["kind"], "input");
        let plain = serde_json::to_value(record(1)).unwrap();
        for absent in ["error", "saved", "final_url", "redirects"] {
            assert!(plain.get(absent).is_none(), "{absent}: {plain}");
        }
        assert_eq!(millis(Duration::from_micros(12_345)), 12.345);
    }

    #[test]
    fn urls_in_messages_lose_their_credentials() {
        let message = "invalid URL \"https://bob:hunter2@a.ex ample/x?token=t0k&page=2\": bad, \
                       then http://b.example/?api_key=k3y and ftp://c:pw@d/";
        assert_eq!(
            redact_urls(message),
            "invalid URL \"https://[redacted]@a.ex ample/x?token=[redacted]&page=2\": bad, \
             then http://b.example/?api_key=[redacted] and ftp://[redacted]@d/"
        );
        assert_eq!(redact_urls("no url here: a://"), "no url here: a://");
        let mut record = record(1);
        record.error("connect", "cannot reach http://u:secret@h/");
        assert_eq!(record.error.unwrap().message, "cannot reach http://[redacted]@h/");
    }
}
