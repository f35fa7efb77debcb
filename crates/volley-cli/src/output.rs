//! The JSON records, one line per input line, in input order or as they finish.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

/// What became of one input line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Record {
    /// 1-based line number in the input.
    pub(crate) line: usize,
    /// The URL asked for; `null` when the line was not understood well enough to say.
    pub(crate) url: Option<String>,
    /// The final status; `null` when no response came.
    pub(crate) status: Option<u16>,
    /// Attempts made, retries included; 0 when the request was never sent.
    pub(crate) attempts: u32,
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
    pub(crate) fn error(&mut self, kind: &str, message: impl Into<String>) {
        self.error = Some(ErrorRecord { kind: kind.to_owned(), message: message.into() });
    }
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
        Record {
            line,
            url: None,
            status: Some(200),
            attempts: 1,
            start_ms: 0.0,
            elapsed_ms: 1.5,
            bytes: 0,
            saved: None,
            error: None,
        }
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
        assert!(serde_json::to_value(record(1)).unwrap().get("error").is_none());
        assert_eq!(millis(Duration::from_micros(12_345)), 12.345);
    }
}
