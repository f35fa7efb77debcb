//! Endpoints that describe the request back: `/get`, `/anything`, `/post`
//! (and `/put`, `/patch`, `/delete`), `/headers`, plus the fixed `/json`.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{ALLOW, HOST, HeaderValue};
use http::{Method, Response, StatusCode};
use serde_json::{Map, Value};

use super::{Reject, Req, json_bytes, json_response};
use crate::body::ResBody;
use crate::query;

/// The request headers as `{name: value}`; repeated headers are joined with
/// `", "` and non-UTF-8 bytes are replaced.
pub(crate) fn header_map(req: &Req) -> Value {
    let headers = &req.parts.headers;
    let mut map = Map::new();
    for name in headers.keys() {
        let mut joined = String::new();
        for (i, value) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                joined.push_str(", ");
            }
            joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        map.insert(name.as_str().to_owned(), Value::String(joined));
    }
    Value::Object(map)
}

/// The query as `{name: value}`; a repeated name gives an array.
fn args(req: &Req) -> Value {
    let mut map = Map::new();
    for (name, value) in query::pairs(req.parts.uri.query().unwrap_or("")) {
        let value = Value::String(value.into_owned());
        match map.get_mut(name.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                map.insert(name.into_owned(), value);
            }
        }
    }
    Value::Object(map)
}

/// The authority the request was made to: the URI's (HTTP/2, absolute form), else the
/// `Host` header (lossy UTF-8), else empty.
pub(crate) fn authority(req: &Req) -> Cow<'_, str> {
    match req.parts.uri.authority() {
        Some(authority) => Cow::Borrowed(authority.as_str()),
        None => {
            let host = req.parts.headers.get(HOST).map(HeaderValue::as_bytes);
            String::from_utf8_lossy(host.unwrap_or_default())
        }
    }
}

/// The absolute URL the request was made to.
fn url(req: &Req) -> String {
    let path = req.parts.uri.path_and_query().map_or("/", |p| p.as_str());
    format!("http://{}{path}", authority(req))
}

/// The `/get` document: `args`, `headers`, `method`, `url`.
pub(crate) fn info(req: &Req) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("args".into(), args(req));
    map.insert("headers".into(), header_map(req));
    map.insert("method".into(), Value::String(req.parts.method.as_str().to_owned()));
    map.insert("url".into(), Value::String(url(req)));
    map
}

/// The `/get` document as a 200 response.
pub(crate) fn info_response(req: &Req) -> Response<ResBody> {
    json_response(StatusCode::OK, &Value::Object(info(req)))
}

/// The `/get` document plus `data`, `json` and `bytes` from the body.
pub(crate) fn echo(req: &Req) -> Response<ResBody> {
    let mut map = info(req);
    let data = String::from_utf8_lossy(&req.body).into_owned();
    let parsed = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    map.insert("data".into(), Value::String(data));
    map.insert("json".into(), parsed);
    map.insert("bytes".into(), Value::from(req.body.len()));
    json_response(StatusCode::OK, &Value::Object(map))
}

fn allow(req: &Req, methods: &[Method], allow: &'static str) -> Result<(), Reject> {
    if methods.contains(&req.parts.method) {
        return Ok(());
    }
    Err(Reject::method_not_allowed(allow))
}

/// Adds `Allow` to a 405.
fn with_allow(reject: Reject, allow: &'static str) -> Response<ResBody> {
    let mut response = reject.into_response();
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// `GET|HEAD /get`.
pub(crate) fn get(req: &Req) -> Result<Response<ResBody>, Reject> {
    const ALLOWED: &str = "GET, HEAD";
    Ok(match allow(req, &[Method::GET, Method::HEAD], ALLOWED) {
        Ok(()) => info_response(req),
        Err(reject) => with_allow(reject, ALLOWED),
    })
}

/// `/anything[/…]`, any method: the echo document.
pub(crate) fn anything(req: &Req) -> Result<Response<ResBody>, Reject> {
    Ok(echo(req))
}

/// `POST|PUT|PATCH|DELETE` on `/post`, `/put`, `/patch` or `/delete`: the echo document.
pub(crate) fn post(req: &Req) -> Result<Response<ResBody>, Reject> {
    const ALLOWED: &str = "POST, PUT, PATCH, DELETE";
    let methods = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
    Ok(match allow(req, &methods, ALLOWED) {
        Ok(()) => echo(req),
        Err(reject) => with_allow(reject, ALLOWED),
    })
}

/// `/headers`: `{"headers": {...}}`.
pub(crate) fn headers(req: &Req) -> Response<ResBody> {
    let mut map = Map::new();
    map.insert("headers".into(), header_map(req));
    json_response(StatusCode::OK, &Value::Object(map))
}

/// The fixed document of `/json` (httpbin's slideshow).
pub(crate) const SLIDESHOW: &str = r#"{"slideshow":{"author":"Yours Truly","date":"date of publication","slides":[{"title":"Wake up to WonderWidgets!","type":"all"},{"items":["Why <em>WonderWidgets</em> are great","Who <em>buys</em> WonderWidgets"],"title":"Overview","type":"all"}],"title":"Sample Slide Show"}}"#;

/// `/json`.
pub(crate) fn json() -> Response<ResBody> {
    json_bytes(StatusCode::OK, Bytes::from_static(SLIDESHOW.as_bytes()))
}
