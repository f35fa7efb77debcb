//! An httpbin-like HTTP/1.1 and h2c server on a loopback port, with fault injection and hit counters, for tests, examples and benchmarks.
//!
//! [`TestServer::start`] binds `127.0.0.1:0` and serves on the current Tokio
//! runtime until the server is dropped. Counters ([`TestServer::hits`],
//! [`TestServer::endpoint_hits`], [`TestServer::total_hits`]) see every
//! request head as it arrives, so tests can assert how many attempts reached
//! the server. The hot path does no logging, takes no lock across an
//! `.await` and allocates little beyond the response itself.
//!
//! # Example
//!
//! ```
//! use http_body_util::{BodyExt, Empty};
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use volley_testserver::TestServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = TestServer::start().await?;
//! let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
//!
//! let response = client.get(server.url("/get?name=volley").parse()?).await?;
//! assert_eq!(response.status(), 200);
//! let body = response.into_body().collect().await?.to_bytes();
//! let json: serde_json::Value = serde_json::from_slice(&body)?;
//! assert_eq!(json["args"]["name"], "volley");
//!
//! assert_eq!(server.hits("/get"), 1);
//! assert_eq!(server.endpoint_hits("get"), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! JSON bodies carry `content-type: application/json`; errors are
//! `{"error": "..."}` (400 for malformed input, 404 for an unknown path, 405
//! for a wrong method, 413 for a request body over 64 MiB). Every endpoint
//! reads the whole request body first. Header names are reported in lower
//! case. Numbers in square brackets are defaults.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET`/`HEAD /get` | `{"args", "headers", "method", "url"}` (a repeated query name gives an array) |
//! | `/anything[/…]`, any method | the `/get` document plus `"data"` (body as lossy UTF-8), `"json"` (parsed body or `null`), `"bytes"` (body length) |
//! | `POST`/`PUT`/`PATCH`/`DELETE` `/post`, `/put`, `/patch`, `/delete` | same as `/anything` |
//! | `/headers` | `{"headers"}` |
//! | `/json` | a fixed document (httpbin's slideshow) |
//! | `/basic-auth/{user}/{passwd}` | 200 `{"authenticated": true, "user"}` if `Authorization: Basic base64(user:passwd)`, else 401 with `WWW-Authenticate: Basic realm="volley"` |
//! | `/bearer` | 200 `{"authenticated": true, "token"}` with `Authorization: Bearer <token>`, else 401 with `WWW-Authenticate: Bearer` |
//! | `/status/{code}?retry_after=V` | `code` (200–599, else 400), empty body; `V` copied verbatim into `Retry-After` |
//! | `/delay/{ms}` | waits `min(ms, 60000)` ms, then the `/get` document |
//! | `/bytes/{n}` | `n` ≤ 64 MiB bytes of [`pattern_bytes`] with `content-length` |
//! | `/stream/{n}` | `min(n, 10000)` JSON lines, one frame each: `{"id": i}` plus the `/get` document's fields |
//! | `/drip?numbytes=[10]&duration_ms=[2000]&delay_ms=[0]&code=[200]` | waits `delay_ms`, answers `code` with `content-length`, then sends `numbytes` `*` bytes, byte `k` at `k·duration_ms/numbytes` ms |
//! | `/retry-after/{secs}?form=[seconds]&status=[429]&times=K&key=NAME` | `status` with a hint of `secs`: `seconds` → `Retry-After` in whole seconds (rounded up), `date` → `Retry-After` as an HTTP-date, `ms` → `retry-after-ms`, `x-ms` → `x-ms-retry-after-ms`; with `times`, only the first `K` requests per key (default: the path) are throttled, then the `/get` document |
//! | `/flaky/{n}?key=[""]&status=[503]&retry_after=V` | `status` for the first `n` requests per path and key, then the `/get` document; `V` copied into `Retry-After` |
//! | `/reset?after=[100]` | promises `content-length: max(1024, after + 1)`, sends `after` pattern bytes, then aborts the connection (HTTP/1) or resets the stream (HTTP/2) |
//! | `/redirect/{n}` | `n` ≤ 100: 302 to `/redirect/{n-1}`, from `/redirect/1` to `/get`; `/redirect/0` is the `/get` document |
//! | `/relative-redirect/{n}` | the same chain as `/redirect/{n}`: `Location: /relative-redirect/{n-1}`, last `/get` |
//! | `/absolute-redirect/{n}` | the same chain with absolute URLs: `Location: http://{authority}/absolute-redirect/{n-1}`, last `http://{authority}/get` (the authority the request was made to) |
//! | `/redirect-to?url=U&status_code=[302]`, any method | `status_code` (alias `status`; 300–399, else 400), empty body, `Location: U` exactly as percent-decoded from the query (so encode `&` in `U`) |
//! | `/gzip`, `/deflate`, `/brotli`, `/zstd` | the `/get` document plus `"gzipped"` / `"deflated"` / `"brotli"` / `"zstd": true`, compressed with `Content-Encoding: gzip` / `deflate` (zlib format) / `br` / `zstd`, `content-length` of the compressed bytes |
//! | `/bomb/{encoding}?size=[10485760]` | `size` ≤ 1 GiB zero bytes compressed with `gzip`, `deflate`, `br` (or `brotli`) or `zstd`, `content-length` of the compressed bytes (1 GiB is about 1 MB as gzip, 32 KB as zstd); built once per size, then cached |
//! | `/cookies` | `{"cookies": {name: value}}` from every `Cookie` header (first of a repeated name wins) |
//! | `/cookies/set?k=v&…`, `/cookies/set/{name}/{value}` | 302 to `/cookies` with `Set-Cookie: k=v; Path=/` per pair |
//! | `/cookies/delete?k&…` | 302 to `/cookies` with `Set-Cookie: k=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/` per name |
//! | `/cookies/set-with?name=N&value=V&path=P&domain=D&max_age=S&expires=E&samesite=X&secure&httponly` | 200, one `Set-Cookie: N=V` with only the attributes given (no default `Path`), and `{"set-cookie": that header}` |
//! | `/response-headers?Name=Value&…`, any method | 200 with each pair as a response header, verbatim (a repeated name repeats the header), body `{name: value or [values]}`; `content-length`, `transfer-encoding`, `connection` → 400 |
//! | `/ratelimit?limit=[10]&window_ms=[1000]&key=[""]` | a fixed-window quota per key on tokio's clock: the `/get` document, or 429 with `Retry-After` once over; always `RateLimit-Policy: "default";q=N;w=S`, `RateLimit: "default";r=R;t=T`, `RateLimit-Limit/-Remaining/-Reset` and `X-RateLimit-Limit/-Remaining/-Reset` (epoch seconds) |
//! | `/queue?capacity=[10]&service_ms=[10]&key=[""]` | a server of `capacity` workers per key, `service_ms` each on tokio's clock; the rest wait in FIFO order, so latency grows with what is in flight beyond the capacity; the `/get` document with `x-queue-wait-ms` |
//! | `/tail?every=[20]&slow_ms=[1000]&fast_ms=[0]&key=[""]` | request `k` per key takes `slow_ms` when `k % every == 0`, else `fast_ms` (a deterministic 5 % slow tail by default); the `/get` document |
//!
//! Time-based endpoints use `tokio::time`, so tests running the server in a
//! runtime with a paused clock see delays elapse instantly.
//!
//! # Request record
//!
//! [`TestServer::requests`], [`TestServer::requests_to`] and
//! [`TestServer::last_request`] return a [`SeenRequest`] (method, version, path and
//! query, every header, body length) for each request head, kept in arrival order.
//! The record keeps the last 10 000 requests, so a benchmark run does not grow
//! without bound; [`TestServer::set_record_limit`] changes that, and 0 turns it off.
//!
//! # Fault server
//!
//! [`fault::FaultServer`] is a second, raw-socket server for the faults a correct HTTP
//! server cannot produce: a refused port, a connection that is never read, a TLS
//! handshake that stalls, headers that never come, a stalled or dripping body, a reset
//! mid-body, a garbage status line, a 400 KB header block, an endless body, canned
//! answers such as `429` with an absurd `Retry-After`, and, over TLS with the `h2` crate,
//! HTTP/2 `GOAWAY`, `REFUSED_STREAM` and a black-holed connection. It counts
//! connections, request heads and body bytes written. volley's fault matrix
//! (`tests/tests/fault_matrix.rs`, summarised in `docs/reliability.md`) runs the client
//! against each.
//!
//! # Proxy and TLS servers
//!
//! [`ProxyServer`] is a forward proxy on a loopback port that speaks HTTP/1.1
//! (absolute-form requests and `CONNECT` tunnels) and SOCKS5 on one port, optionally
//! with credentials; it counts what it carried ([`ProxyServer::forwarded`],
//! [`ProxyServer::tunnels`], [`ProxyServer::socks`], [`ProxyServer::refused`]) and
//! records what it saw ([`ProxyServer::seen`]). It connects to loopback targets only
//! and refuses every other one without a connection attempt.
//!
//! [`TestCa`] is a throwaway certificate authority (rcgen) that signs server
//! certificates and client identities. [`TlsServer`] serves the endpoints above over
//! TLS with a certificate from such a CA ([`TlsServerConfig`]: names, required client
//! certificates, TLS 1.2 only, ALPN) and counts accepts, handshakes, handshake failures
//! and the SNI names clients sent.

mod body;
mod bomb;
mod counters;
mod endpoints;
pub mod fault;
mod listener;
mod proxy;
mod query;
mod record;
pub mod redis;
mod routes;
mod server;
mod tls_server;

pub use endpoints::bodies::pattern_bytes;
pub use proxy::{ProxyKind, ProxySeen, ProxyServer};
pub use record::SeenRequest;
pub use server::TestServer;
pub use tls_server::{TestCa, TlsServer, TlsServerConfig};
