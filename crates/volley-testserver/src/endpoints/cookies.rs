//! Cookies the httpbin way: `/cookies`, `/cookies/set`, `/cookies/set/{name}/{value}`,
//! `/cookies/delete`, plus `/cookies/set-with` (one cookie with chosen attributes) and
//! `/response-headers` (any header, verbatim: garbage `Set-Cookie` included).

use http::header::{
    CONNECTION, CONTENT_LENGTH, COOKIE, HeaderName, HeaderValue, LOCATION, SET_COOKIE,
    TRANSFER_ENCODING,
};
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::{Reject, Req, empty, json_response};
use crate::body::ResBody;
use crate::query;

/// The request's cookies as `{name: value}`, from every `Cookie` header; the first of
/// a repeated name wins, a pair without `=` is a nameless cookie.
fn jar(req: &Req) -> Map<String, Value> {
    let mut map = Map::new();
    for header in req.parts.headers.get_all(COOKIE) {
        let header = String::from_utf8_lossy(header.as_bytes());
        for pair in header.split(';').map(str::trim).filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or(("", pair));
            map.entry(name.trim()).or_insert_with(|| Value::String(value.trim().to_owned()));
        }
    }
    map
}

/// `/cookies`: `{"cookies": {name: value}}`.
pub(crate) fn cookies(req: &Req) -> Response<ResBody> {
    json_response(StatusCode::OK, &json!({ "cookies": jar(req) }))
}

fn header_value(value: &str) -> Result<HeaderValue, Reject> {
    HeaderValue::from_str(value)
        .map_err(|_| Reject::bad_request(format!("{value:?} is not a header value")))
}

/// A 302 to `/cookies` with one `Set-Cookie` per item of `set_cookies`.
fn back_to_jar(set_cookies: impl IntoIterator<Item = String>) -> Result<Response<ResBody>, Reject> {
    let mut response = empty(StatusCode::FOUND);
    let headers = response.headers_mut();
    headers.insert(LOCATION, HeaderValue::from_static("/cookies"));
    for set_cookie in set_cookies {
        headers.append(SET_COOKIE, header_value(&set_cookie)?);
    }
    Ok(response)
}

fn query_pairs(req: &Req) -> impl Iterator<Item = (String, String)> + '_ {
    let query = req.parts.uri.query().unwrap_or("");
    query::pairs(query).map(|(name, value)| (name.into_owned(), value.into_owned()))
}

/// `/cookies/set?k=v&…` and `/cookies/set/{name}/{value}`: 302 to `/cookies` with
/// `Set-Cookie: k=v; Path=/` per pair.
pub(crate) fn set(req: &Req) -> Result<Response<ResBody>, Reject> {
    let pairs: Vec<(String, String)> = if req.parts.uri.path().split('/').count() == 5 {
        vec![(req.segment(1).into_owned(), req.segment(2).into_owned())]
    } else {
        query_pairs(req).collect()
    };
    back_to_jar(pairs.into_iter().map(|(name, value)| format!("{name}={value}; Path=/")))
}

/// `/cookies/delete?k&…`: 302 to `/cookies`, expiring each named cookie.
pub(crate) fn delete(req: &Req) -> Result<Response<ResBody>, Reject> {
    back_to_jar(query_pairs(req).map(|(name, _)| {
        format!("{name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
    }))
}

/// Whether flag parameter `name` is present and not `0` or `false`.
fn flag(req: &Req, name: &str) -> bool {
    req.query(name).is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// `/cookies/set-with?name=N&value=V&path=P&domain=D&max_age=S&expires=E&secure&httponly&samesite=X`:
/// 200 with one `Set-Cookie` built from the given attributes only (no default `Path`),
/// and `{"set-cookie": header}` as the body.
pub(crate) fn set_with(req: &Req) -> Result<Response<ResBody>, Reject> {
    let name = req.query("name").ok_or_else(|| Reject::bad_request("missing name parameter"))?;
    let mut cookie = format!("{name}={}", req.query("value").unwrap_or_default());
    for (param, attribute) in [
        ("path", "Path"),
        ("domain", "Domain"),
        ("max_age", "Max-Age"),
        ("expires", "Expires"),
        ("samesite", "SameSite"),
    ] {
        if let Some(value) = req.query(param) {
            cookie.push_str(&format!("; {attribute}={value}"));
        }
    }
    for (param, attribute) in [("secure", "Secure"), ("httponly", "HttpOnly")] {
        if flag(req, param) {
            cookie.push_str(&format!("; {attribute}"));
        }
    }
    let value = header_value(&cookie)?;
    let mut response = json_response(StatusCode::OK, &json!({ "set-cookie": cookie }));
    response.headers_mut().insert(SET_COOKIE, value);
    Ok(response)
}

/// `/response-headers?Name=Value&…`, any method: 200 with each pair as a response
/// header (a repeated name gives repeated headers; the first replaces the default
/// `content-type`), and the pairs as `{name: value or [values]}`. Headers that would
/// break the framing (`content-length`, `transfer-encoding`, `connection`) are refused.
pub(crate) fn response_headers(req: &Req) -> Result<Response<ResBody>, Reject> {
    let mut echoed = Map::new();
    let mut headers = Vec::new();
    for (name, value) in query_pairs(req) {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Reject::bad_request(format!("{name:?} is not a header name")))?;
        if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&header) {
            return Err(Reject::bad_request(format!("{header} would break the framing")));
        }
        headers.push((header.clone(), header_value(&value)?));
        let value = Value::String(value);
        match echoed.get_mut(header.as_str()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                echoed.insert(header.as_str().to_owned(), value);
            }
        }
    }
    let mut response = json_response(StatusCode::OK, &Value::Object(echoed));
    let map = response.headers_mut();
    let mut seen = Vec::new();
    for (name, value) in headers {
        if seen.contains(&name) {
            map.append(name, value);
        } else {
            seen.push(name.clone());
            map.insert(name, value);
        }
    }
    Ok(response)
}
