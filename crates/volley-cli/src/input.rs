//! Reading the input: one URL per line, or one JSON object per line.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::Path;

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

/// Reads every line of `path` (`None` or `-`: stdin), skipping blank lines and `#` comments.
pub(crate) fn read(path: Option<&Path>) -> Result<Vec<Line>, String> {
    let mut bytes = Vec::new();
    match path {
        Some(path) if path != Path::new("-") => {
            bytes = std::fs::read(path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        }
        _ => {
            let mut stdin = std::io::stdin().lock();
            if stdin.is_terminal() {
                return Err("no input: give a FILE of URLs, or pipe them into stdin".to_owned());
            }
            stdin.read_to_end(&mut bytes).map_err(|err| format!("cannot read stdin: {err}"))?;
        }
    }
    Ok(lines(&String::from_utf8_lossy(&bytes)))
}

/// The lines of `text` that ask for something.
pub(crate) fn lines(text: &str) -> Vec<Line> {
    text.lines()
        .enumerate()
        .map(|(i, text)| Line { number: i + 1, text: text.trim().to_owned() })
        .filter(|line| !line.text.is_empty() && !line.text.starts_with('#'))
        .collect()
}

/// What a line asks for, or why it cannot be understood.
pub(crate) fn parse(text: &str) -> Result<Spec, String> {
    if !text.starts_with('{') {
        return Ok(Spec { url: text.to_owned(), ..Spec::default() });
    }
    let line: JsonLine =
        serde_json::from_str(text).map_err(|err| format!("invalid JSON line: {err}"))?;
    let body = line.body.map(|body| match body {
        serde_json::Value::String(text) => LineBody::Text(text),
        other => LineBody::Json(other),
    });
    Ok(Spec { url: line.url, method: line.method, headers: line.headers, body })
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
