//! Compressed bodies: `/gzip`, `/deflate`, `/brotli`, `/zstd` and `/bomb/{encoding}`.

use std::io::{self, Write as _};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde_json::Value;

use super::echo::info;
use super::{Reject, Req};
use crate::body::ResBody;
use crate::bomb;

/// The largest `/bomb` (decoded).
const MAX_BOMB: u64 = 1 << 30;
/// The default `/bomb` size (decoded).
const DEFAULT_BOMB: u64 = 10 << 20;

/// A content coding the server can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Coding {
    Gzip,
    /// HTTP's "deflate": the zlib format (RFC 1950), not raw deflate.
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    /// The coding called `name` in a path: `gzip`, `deflate`, `br` or `brotli`, `zstd`.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "gzip" => Some(Self::Gzip),
            "deflate" => Some(Self::Deflate),
            "br" | "brotli" => Some(Self::Brotli),
            "zstd" => Some(Self::Zstd),
            _ => None,
        }
    }

    /// The `Content-Encoding` token.
    fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }

    /// The field set to `true` in the compressed `/get` document (httpbin's names).
    fn flag(self) -> &'static str {
        match self {
            Self::Gzip => "gzipped",
            Self::Deflate => "deflated",
            Self::Brotli => "brotli",
            Self::Zstd => "zstd",
        }
    }

    /// `data` compressed in one piece.
    fn encode(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Self::Gzip => {
                let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
                encoder.write_all(data)?;
                encoder.finish()
            }
            Self::Deflate => {
                let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
                encoder.write_all(data)?;
                encoder.finish()
            }
            Self::Brotli => {
                let mut encoder = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
                encoder.write_all(data)?;
                Ok(encoder.into_inner())
            }
            Self::Zstd => zstd::bulk::compress(data, 3),
        }
    }
}

/// A 200 carrying `body` already encoded with `coding`.
fn encoded(coding: Coding, content_type: &'static str, body: Bytes) -> Response<ResBody> {
    let len = body.len();
    let mut response = Response::new(ResBody::full(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn compress_failed(err: &io::Error) -> Reject {
    Reject::new(StatusCode::INTERNAL_SERVER_ERROR, format!("compressing: {err}"))
}

/// `/gzip`, `/deflate`, `/brotli`, `/zstd`: the `/get` document plus `{flag: true}`,
/// compressed with `coding`.
fn document(req: &Req, coding: Coding) -> Result<Response<ResBody>, Reject> {
    let mut map = info(req);
    map.insert(coding.flag().into(), Value::Bool(true));
    let json = serde_json::to_vec(&Value::Object(map)).unwrap_or_default();
    let body = coding.encode(&json).map_err(|err| compress_failed(&err))?;
    Ok(encoded(coding, "application/json", Bytes::from(body)))
}

/// `/gzip`.
pub(crate) fn gzip(req: &Req) -> Result<Response<ResBody>, Reject> {
    document(req, Coding::Gzip)
}

/// `/deflate` (zlib format).
pub(crate) fn deflate(req: &Req) -> Result<Response<ResBody>, Reject> {
    document(req, Coding::Deflate)
}

/// `/brotli`.
pub(crate) fn brotli(req: &Req) -> Result<Response<ResBody>, Reject> {
    document(req, Coding::Brotli)
}

/// `/zstd`.
pub(crate) fn zstd(req: &Req) -> Result<Response<ResBody>, Reject> {
    document(req, Coding::Zstd)
}

/// `/bomb/{encoding}?size=N`: `N` (≤ 1 GiB, default 10 MiB) zeros compressed with
/// `gzip`, `deflate`, `br` (or `brotli`) or `zstd`, with the compressed length. A size
/// is built once (off the runtime's worker threads) and then served from a cache.
pub(crate) async fn bomb(req: &Req) -> Result<Response<ResBody>, Reject> {
    let name = req.segment(0);
    let coding = Coding::from_name(&name)
        .ok_or_else(|| Reject::bad_request(format!("unknown encoding {name:?}")))?;
    let size: u64 = req.query_or("size", DEFAULT_BOMB)?;
    if size > MAX_BOMB {
        return Err(Reject::bad_request(format!("size={size} is over {MAX_BOMB}")));
    }
    let body = tokio::task::spawn_blocking(move || bomb::zeros(coding, size))
        .await
        .map_err(|err| Reject::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?
        .map_err(|err| compress_failed(&err))?;
    Ok(encoded(coding, "application/octet-stream", body))
}
