//! Redirects: `/redirect/{n}`, `/relative-redirect/{n}`, `/absolute-redirect/{n}` and
//! `/redirect-to?url=U&status_code=C`.

use http::header::{HeaderValue, LOCATION};
use http::{Response, StatusCode};

use super::echo::{authority, info_response};
use super::{Reject, Req, empty};
use crate::body::ResBody;

/// The longest redirect chain.
const MAX_REDIRECTS: u64 = 100;

/// An empty `status` response with `Location: location`.
fn redirect_response(status: StatusCode, location: &[u8]) -> Result<Response<ResBody>, Reject> {
    let location = HeaderValue::from_bytes(location).map_err(|_| {
        Reject::bad_request(format!(
            "location {:?} is not a header value",
            String::from_utf8_lossy(location)
        ))
    })?;
    let mut response = empty(status);
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

/// A 302 one hop down a chain: `{base}/{name}/{n-1}`, the last hop to `{base}/get`;
/// a chain of 0 is the `/get` document itself.
fn chain(req: &Req, name: &str, base: &str) -> Result<Response<ResBody>, Reject> {
    let hops: u64 = req.segment_as(0, "redirect count")?;
    let location = match hops {
        0 => return Ok(info_response(req)),
        n if n > MAX_REDIRECTS => {
            return Err(Reject::bad_request(format!("redirect count {n} is over {MAX_REDIRECTS}")));
        }
        1 => format!("{base}/get"),
        n => format!("{base}/{name}/{}", n - 1),
    };
    redirect_response(StatusCode::FOUND, location.as_bytes())
}

/// `/redirect/{n}`: `Location: /redirect/{n-1}`, then `/get`.
pub(crate) fn plain(req: &Req) -> Result<Response<ResBody>, Reject> {
    chain(req, "redirect", "")
}

/// `/relative-redirect/{n}`: `Location: /relative-redirect/{n-1}`, then `/get`.
pub(crate) fn relative(req: &Req) -> Result<Response<ResBody>, Reject> {
    chain(req, "relative-redirect", "")
}

/// `/absolute-redirect/{n}`: `Location: http://{authority}/absolute-redirect/{n-1}`,
/// then `http://{authority}/get`, with the authority the request was made to.
pub(crate) fn absolute(req: &Req) -> Result<Response<ResBody>, Reject> {
    let base = format!("http://{}", authority(req));
    chain(req, "absolute-redirect", &base)
}

/// `/redirect-to?url=U&status_code=C` (or `status=C`), any method: `C` (300–399,
/// default 302) with `Location: U` as decoded from the query, byte for byte.
pub(crate) fn redirect_to(req: &Req) -> Result<Response<ResBody>, Reject> {
    let url = req.query("url").ok_or_else(|| Reject::bad_request("missing url parameter"))?;
    let raw = req.query("status_code").or_else(|| req.query("status"));
    let status = match raw {
        None => StatusCode::FOUND,
        Some(raw) => raw
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|code| (300..=399).contains(code))
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| {
                Reject::bad_request(format!("status {raw:?} is not a code in 300-399"))
            })?,
    };
    redirect_response(status, url.as_bytes())
}
