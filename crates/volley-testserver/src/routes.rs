//! Path dispatch: name the endpoint, count the hit, read the request body, call
//! the handler.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

use crate::body::ResBody;
use crate::counters::Counters;
use crate::endpoints::{
    Reject, Req, auth, bodies, cookies, echo, encoded, faults, load, redirects, throttle,
};

/// The largest request body an endpoint accepts (larger → 413).
const MAX_REQUEST_BODY: usize = 64 * 1024 * 1024;

/// The endpoints, as counted by [`crate::TestServer::endpoint_hits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Get,
    Anything,
    Post,
    Headers,
    BasicAuth,
    Bearer,
    Status,
    Delay,
    Bytes,
    Stream,
    Drip,
    RetryAfter,
    Flaky,
    Reset,
    Redirect,
    RateLimit,
    Json,
    RelativeRedirect,
    AbsoluteRedirect,
    RedirectTo,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
    Bomb,
    Cookies,
    CookiesSet,
    CookiesDelete,
    CookiesSetWith,
    ResponseHeaders,
    Queue,
    Tail,
    NotFound,
}

impl Endpoint {
    /// Every endpoint, in declaration order (so `ALL[e as usize] == e`).
    pub(crate) const ALL: [Self; 33] = [
        Self::Get,
        Self::Anything,
        Self::Post,
        Self::Headers,
        Self::BasicAuth,
        Self::Bearer,
        Self::Status,
        Self::Delay,
        Self::Bytes,
        Self::Stream,
        Self::Drip,
        Self::RetryAfter,
        Self::Flaky,
        Self::Reset,
        Self::Redirect,
        Self::RateLimit,
        Self::Json,
        Self::RelativeRedirect,
        Self::AbsoluteRedirect,
        Self::RedirectTo,
        Self::Gzip,
        Self::Deflate,
        Self::Brotli,
        Self::Zstd,
        Self::Bomb,
        Self::Cookies,
        Self::CookiesSet,
        Self::CookiesDelete,
        Self::CookiesSetWith,
        Self::ResponseHeaders,
        Self::Queue,
        Self::Tail,
        Self::NotFound,
    ];

    /// The name tests pass to `endpoint_hits`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Anything => "anything",
            Self::Post => "post",
            Self::Headers => "headers",
            Self::BasicAuth => "basic-auth",
            Self::Bearer => "bearer",
            Self::Status => "status",
            Self::Delay => "delay",
            Self::Bytes => "bytes",
            Self::Stream => "stream",
            Self::Drip => "drip",
            Self::RetryAfter => "retry-after",
            Self::Flaky => "flaky",
            Self::Reset => "reset",
            Self::Redirect => "redirect",
            Self::RateLimit => "ratelimit",
            Self::Json => "json",
            Self::RelativeRedirect => "relative-redirect",
            Self::AbsoluteRedirect => "absolute-redirect",
            Self::RedirectTo => "redirect-to",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "brotli",
            Self::Zstd => "zstd",
            Self::Bomb => "bomb",
            Self::Cookies => "cookies",
            Self::CookiesSet => "cookies-set",
            Self::CookiesDelete => "cookies-delete",
            Self::CookiesSetWith => "cookies-set-with",
            Self::ResponseHeaders => "response-headers",
            Self::Queue => "queue",
            Self::Tail => "tail",
            Self::NotFound => "not-found",
        }
    }

    /// The endpoint called `name`, if any.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The endpoint serving `path`; a known name with the wrong number of
    /// segments is not found.
    pub(crate) fn from_path(path: &str) -> Self {
        let rest = path.strip_prefix('/').unwrap_or(path);
        let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let params = if rest.contains('/') { tail.split('/').count() } else { 0 };
        let first = tail.split('/').next().unwrap_or("");
        match (head, params) {
            ("get", 0) => Self::Get,
            ("anything", _) => Self::Anything,
            ("post" | "put" | "patch" | "delete", 0) => Self::Post,
            ("headers", 0) => Self::Headers,
            ("basic-auth", 2) => Self::BasicAuth,
            ("bearer", 0) => Self::Bearer,
            ("status", 1) => Self::Status,
            ("delay", 1) => Self::Delay,
            ("bytes", 1) => Self::Bytes,
            ("stream", 1) => Self::Stream,
            ("drip", 0) => Self::Drip,
            ("retry-after", 1) => Self::RetryAfter,
            ("flaky", 1) => Self::Flaky,
            ("reset", 0) => Self::Reset,
            ("redirect", 1) => Self::Redirect,
            ("ratelimit", 0) => Self::RateLimit,
            ("json", 0) => Self::Json,
            ("relative-redirect", 1) => Self::RelativeRedirect,
            ("absolute-redirect", 1) => Self::AbsoluteRedirect,
            ("redirect-to", 0) => Self::RedirectTo,
            ("gzip", 0) => Self::Gzip,
            ("deflate", 0) => Self::Deflate,
            ("brotli", 0) => Self::Brotli,
            ("zstd", 0) => Self::Zstd,
            ("bomb", 1) => Self::Bomb,
            ("cookies", 0) => Self::Cookies,
            ("cookies", 1 | 3) if first == "set" => Self::CookiesSet,
            ("cookies", 1) if first == "delete" => Self::CookiesDelete,
            ("cookies", 1) if first == "set-with" => Self::CookiesSetWith,
            ("response-headers", 0) => Self::ResponseHeaders,
            ("queue", 0) => Self::Queue,
            ("tail", 0) => Self::Tail,
            _ => Self::NotFound,
        }
    }

    /// Whether the handler looks at the request body (the others drain it).
    fn keeps_body(self) -> bool {
        matches!(self, Self::Anything | Self::Post | Self::Flaky)
    }
}

/// Serves one request.
pub(crate) async fn handle(
    counters: Arc<Counters>,
    req: Request<Incoming>,
) -> Result<Response<ResBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let endpoint = Endpoint::from_path(parts.uri.path());
    counters.hit(endpoint, parts.uri.path());
    let seq = counters.seen.record(&parts);
    let _in_flight = counters.enter();
    let mut read = 0;
    let body = read_body(body, endpoint.keeps_body(), &mut read).await;
    if read > 0 {
        counters.seen.body_len(seq, read);
    }
    let body = match body {
        Ok(body) => body,
        Err(reject) => return Ok(reject.into_response()),
    };
    let req = Req { parts, body };
    let response = match endpoint {
        Endpoint::Get => echo::get(&req),
        Endpoint::Anything => echo::anything(&req),
        Endpoint::Post => echo::post(&req),
        Endpoint::Headers => Ok(echo::headers(&req)),
        Endpoint::Json => Ok(echo::json()),
        Endpoint::BasicAuth => Ok(auth::basic(&req)),
        Endpoint::Bearer => Ok(auth::bearer(&req)),
        Endpoint::Status => faults::status(&req),
        Endpoint::Delay => faults::delay(&req).await,
        Endpoint::Flaky => faults::flaky(&req, &counters),
        Endpoint::Reset => faults::reset(&req),
        Endpoint::Redirect => redirects::plain(&req),
        Endpoint::RelativeRedirect => redirects::relative(&req),
        Endpoint::AbsoluteRedirect => redirects::absolute(&req),
        Endpoint::RedirectTo => redirects::redirect_to(&req),
        Endpoint::Gzip => encoded::gzip(&req),
        Endpoint::Deflate => encoded::deflate(&req),
        Endpoint::Brotli => encoded::brotli(&req),
        Endpoint::Zstd => encoded::zstd(&req),
        Endpoint::Bomb => encoded::bomb(&req).await,
        Endpoint::Cookies => Ok(cookies::cookies(&req)),
        Endpoint::CookiesSet => cookies::set(&req),
        Endpoint::CookiesDelete => cookies::delete(&req),
        Endpoint::CookiesSetWith => cookies::set_with(&req),
        Endpoint::ResponseHeaders => cookies::response_headers(&req),
        Endpoint::Bytes => bodies::bytes(&req),
        Endpoint::Stream => bodies::stream(&req),
        Endpoint::Drip => bodies::drip(&req).await,
        Endpoint::RetryAfter => throttle::retry_after(&req, &counters),
        Endpoint::RateLimit => throttle::ratelimit(&req, &counters),
        Endpoint::Queue => load::queue(&req, &counters).await,
        Endpoint::Tail => load::tail(&req, &counters).await,
        Endpoint::NotFound => Err(Reject::not_found(req.parts.uri.path())),
    };
    Ok(response.unwrap_or_else(Reject::into_response))
}

/// Reads the whole request body, keeping it only when `keep` is set; `read` counts the
/// bytes as they arrive, so it also tells how far a failed body got.
async fn read_body(mut body: Incoming, keep: bool, read: &mut u64) -> Result<Bytes, Reject> {
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|err| Reject::bad_request(format!("reading request body: {err}")))?;
        let Ok(data) = frame.into_data() else { continue };
        *read += data.len() as u64;
        if *read > MAX_REQUEST_BODY as u64 {
            return Err(too_large());
        }
        if keep {
            kept.push(data);
        }
    }
    Ok(match kept.len() {
        0 => Bytes::new(),
        1 => kept.swap_remove(0),
        _ => Bytes::from(kept.concat()),
    })
}

fn too_large() -> Reject {
    Reject::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over {MAX_REQUEST_BODY} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn names_round_trip_and_arity_matters() {
        for (i, e) in Endpoint::ALL.into_iter().enumerate() {
            assert_eq!(e as usize, i);
            assert_eq!(Endpoint::from_name(e.name()), Some(e));
        }
        assert_eq!(Endpoint::from_path("/flaky/2"), Endpoint::Flaky);
        assert_eq!(Endpoint::from_path("/flaky"), Endpoint::NotFound);
        assert_eq!(Endpoint::from_path("/basic-auth/u/p"), Endpoint::BasicAuth);
        assert_eq!(Endpoint::from_path("/anything/x/y"), Endpoint::Anything);
        assert_eq!(Endpoint::from_path("/"), Endpoint::NotFound);
        assert_eq!(Endpoint::from_path("/cookies"), Endpoint::Cookies);
        assert_eq!(Endpoint::from_path("/cookies/"), Endpoint::NotFound);
        assert_eq!(Endpoint::from_path("/cookies/set"), Endpoint::CookiesSet);
        assert_eq!(Endpoint::from_path("/cookies/set/a/b"), Endpoint::CookiesSet);
        assert_eq!(Endpoint::from_path("/cookies/set/a"), Endpoint::NotFound);
        assert_eq!(Endpoint::from_path("/cookies/delete"), Endpoint::CookiesDelete);
        assert_eq!(Endpoint::from_path("/cookies/set-with"), Endpoint::CookiesSetWith);
        assert_eq!(Endpoint::from_path("/cookies/other"), Endpoint::NotFound);
        assert_eq!(Endpoint::from_path("/bomb/gzip"), Endpoint::Bomb);
        assert_eq!(Endpoint::from_path("/redirect-to"), Endpoint::RedirectTo);
    }
}
