//! Reading the input: one URL per line, or one JSON object per line.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::Stream;
use serde::Deserialize;

/// One non-empty, non-comment input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// 1-based line number in the input.
    pub(crate) number: usize,
    pub(crate) text: String,
}

/// What one line asks for, before the defaults from the flags are applied.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Spec {
    pub(crate) url: String,
    pub(crate) method: Option<String>,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Option<LineBody>,
}

/// A body given on a JSON line.
#[derive(Debug, PartialEq)]
pub(crate) enum LineBody {
    /// A JSON string: sent as it is.
    Text(String),
    /// Any other JSON value: sent as JSON.
    Json(serde_json::Value),
}

/// The JSON form of a line; unknown fields are refused so a typo is not silently dropped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
}

/// The longest input line taken, in bytes: a longer one is reported as bad input and
/// skipped, so one line without a newline cannot fill the memory. Bodies larger than this
/// go in a file (`--data @FILE`).
pub(crate) const MAX_LINE: usize = 1024 * 1024;

/// Lines read ahead of the requests that use them.
const READ_AHEAD: usize = 64;

/// A line that cannot be a request whatever it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    pub(crate) number: usize,
    pub(crate) message: String,
}

/// What the input yields: a line to send, or one refused unread.
pub(crate) type Input = Result<Line, BadLine>;

/// The input, read one line at a time: never more than [`MAX_LINE`] bytes of it in memory.
pub(crate) struct Reader {
    inner: Box<dyn BufRead + Send>,
    /// What to call the input in messages.
    name: String,
    number: usize,
    buf: Vec<u8>,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("name", &self.name).field("line", &self.number).finish()
    }
}

/// An input, open and ready to read.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) reader: Reader,
    /// The file behind the input, when it is one (a named file, or stdin redirected from
    /// a file): `-o` refuses to overwrite it.
    pub(crate) file: Option<std::fs::Metadata>,
}

/// Opens `path` (`None` or `-`: stdin), or says why it cannot be read.
pub(crate) fn open(path: Option<&Path>) -> Result<Opened, String> {
    match path {
        Some(path) if path != Path::new("-") => {
            let cannot = |err: &dyn fmt::Display| format!("cannot read {}: {err}", path.display());
            let file = File::open(path).map_err(|err| cannot(&err))?;
            let meta = file.metadata().map_err(|err| cannot(&err))?;
            if meta.is_dir() {
                return Err(cannot(&"it is a directory"));
            }
            let reader = Reader::new(BufReader::new(file), path.display().to_string());
            Ok(Opened { reader, file: meta.is_file().then_some(meta) })
        }
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err("no input: give a FILE of URLs, or pipe them into stdin".to_owned());
            }
            let file = stdin_file();
            Ok(Opened { reader: Reader::new(BufReader::new(stdin), "stdin".to_owned()), file })
        }
    }
}

/// Stdin's metadata when it is a regular file (`volley fetch < urls.txt`).
#[cfg(unix)]
fn stdin_file() -> Option<std::fs::Metadata> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    File::from(fd).metadata().ok().filter(std::fs::Metadata::is_file)
}

#[cfg(not(unix))]
fn stdin_file() -> Option<std::fs::Metadata> {
    None
}

impl Reader {
    pub(crate) fn new(inner: impl BufRead + Send + 'static, name: String) -> Self {
        Self { inner: Box::new(inner), name, number: 0, buf: Vec::new() }
    }

    /// Reads the next line into `buf`: `Ok(None)` at the end, `Ok(Some(false))` when the
    /// line was longer than [`MAX_LINE`] (the rest of it is skipped).
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let limit = MAX_LINE as u64 + 1;
        if (&mut self.inner).take(limit).read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        if self.buf.len() <= MAX_LINE || self.buf.last() == Some(&b'\n') {
            return Ok(Some(true));
        }
        self.buf.clear();
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                return Ok(Some(false));
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.inner.consume(i + 1);
                    return Ok(Some(false));
                }
                None => {
                    let len = available.len();
                    self.inner.consume(len);
                }
            }
        }
    }

    /// Sends every line to a channel from a thread of its own, at most [`READ_AHEAD`]
    /// lines ahead of the requests: slow stdin never holds back the records of lines
    /// already read. The stream ends at the end of the input, or at a read error, which
    /// is then in the returned slot.
    pub(crate) fn spawn(self) -> (impl Stream<Item = Input> + Send + 'static, ReadError) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        let error = ReadError::default();
        let slot = error.clone();
        let name = self.name.clone();
        let spawned =
            std::thread::Builder::new().name("volley-input".to_owned()).spawn(move || {
                for input in self {
                    match input {
                        Ok(input) => {
                            // The receiver is gone: the run stopped early.
                            if tx.blocking_send(input).is_err() {
                                return;
                            }
                        }
                        Err(err) => {
                            slot.set(err);
                            return;
                        }
                    }
                }
            });
        if let Err(err) = spawned {
            error.set(format!("cannot start a thread to read {name}: {err}"));
        }
        (futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)), error)
    }
}

impl Iterator for Reader {
    /// A line, or why the input cannot be read on.
    type Item = Result<Input, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let whole = match self.read_line() {
                Ok(Some(whole)) => whole,
                Ok(None) => return None,
                Err(err) => return Some(Err(format!("cannot read {}: {err}", self.name))),
            };
            self.number += 1;
            if !whole {
                let message = format!("line longer than {} bytes", MAX_LINE);
                return Some(Ok(Err(BadLine { number: self.number, message })));
            }
            let text = String::from_utf8_lossy(&self.buf);
            let text = text.trim();
            if !text.is_empty() && !text.starts_with('#') {
                return Some(Ok(Ok(Line { number: self.number, text: text.to_owned() })));
            }
        }
    }
}

/// How many lines of the file at `path` ask for something (for a progress bar), reading
/// it once more; `None` if it cannot be read.
pub(crate) fn count(path: &Path) -> Option<usize> {
    let file = File::open(path).ok()?;
    let reader = Reader::new(BufReader::new(file), path.display().to_string());
    let mut n = 0;
    for input in reader {
        if input.is_err() {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// Why the input could not be read to its end, once the run is over.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadError(Arc<Mutex<Option<String>>>);

impl ReadError {
    fn set(&self, message: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(message);
        }
    }

    /// The error that ended the input early, if one did.
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The lines of `text` that ask for something.
#[cfg(test)]
pub(crate) fn lines(text: &str) -> Vec<Line> {
    Reader::new(io::Cursor::new(text.as_bytes().to_vec()), "test".to_owned())
        .filter_map(|input| input.ok()?.ok())
        .collect()
}

/// What a line asks for, or why it cannot be understood.
pub(crate) fn parse(text: &str) -> Result<Spec, String> {
    if !text.starts_with('{') {
        return Ok(Spec { url: text.to_owned(), ..Spec::default() });
    }
    let line: JsonLine = serde_json::from_str(text)
        .map_err(|err| format!("invalid JSON line: {}", without_strings(&err.to_string())))?;
    let body = line.body.map(|body| match body {
        serde_json::Value::String(text) => LineBody::Text(text),
        other => LineBody::Json(other),
    });
    Ok(Spec { url: line.url, method: line.method, headers: line.headers, body })
}

/// serde's message without the string it quotes (`invalid type: string "Bearer …",
/// expected a map`): a misplaced value may be a credential.
fn without_strings(message: &str) -> String {
    match message.split_once(": string \"") {
        Some((head, rest)) => match rest.rsplit_once("\", expected") {
            Some((_, tail)) => format!("{head}: a string, expected{tail}"),
            None => format!("{head}: a string"),
        },
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_and_comments_are_skipped_but_numbers_kept() {
        let got = lines("http://a/1\n\n# note\n  http://a/2  \n");
        assert_eq!(
            got,
            vec![
                Line { number: 1, text: "http://a/1".into() },
                Line { number: 4, text: "http://a/2".into() },
            ]
        );
    }

    #[test]
    fn a_line_past_the_limit_is_refused_and_the_next_one_read() {
        let long = "x".repeat(MAX_LINE + 10);
        let exact = "y".repeat(MAX_LINE);
        let mut text = format!("http://a/1\r\n{long}\n{exact}\nhttp://a/").into_bytes();
        text.extend_from_slice(b"\xff/4\n");
        text.extend_from_slice(long.as_bytes());
        let got: Vec<Result<Input, String>> =
            Reader::new(io::Cursor::new(text), "test".to_owned()).collect();
        let too_long =
            |number| Ok(Err(BadLine { number, message: "line longer than 1048576 bytes".into() }));
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], Ok(Ok(Line { number: 1, text: "http://a/1".into() })));
        assert_eq!(got[1], too_long(2));
        assert_eq!(got[2].as_ref().map(|l| l.as_ref().map(|l| l.text.len())), Ok(Ok(MAX_LINE)));
        assert_eq!(got[3], Ok(Ok(Line { number: 4, text: "http://a/\u{fffd}/4".into() })));
        assert_eq!(got[4], too_long(5), "the last line needs no newline");
    }

    #[test]
    fn json_lines() {
        let spec = parse(
            r#"{"url": "http://a/post", "method": "POST", "headers": {"X-A": "1"}, "body": {"k": 2}}"#,
        );
        let spec = spec.unwrap();
        assert_eq!((spec.url.as_str(), spec.method.as_deref()), ("http://a/post", Some("POST")));
        assert_eq!(spec.headers.get("X-A").map(String::as_str), Some("1"));
        assert_eq!(spec.body, Some(LineBody::Json(serde_json::json!({"k": 2}))));
        let text = parse(r#"{"url": "http://a/", "body": "raw"}"#).unwrap();
        assert_eq!(text.body, Some(LineBody::Text("raw".into())));
    }

    #[test]
    fn bad_json_lines_say_why() {
        assert!(parse(r#"{"url": 5}"#).unwrap_err().starts_with("invalid JSON line: invalid type"));
        assert!(
            parse(r#"{"url": "http://a/", "heders": {}}"#)
                .unwrap_err()
                .contains("unknown field `heders`")
        );
        assert!(parse("{not json").is_err());
        // A plain line is taken as a URL; the request builder judges it.
        assert_eq!(parse("not a url").unwrap().url, "not a url");
    }
}
