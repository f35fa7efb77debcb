//! The HTTP/1.1 side of the proxy: absolute-form requests forwarded to their origin,
//! and `CONNECT` tunnels.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::state::{ProxyKind, ProxySeen, State, basic_credentials, bump};
use super::target;

/// The body of every proxy response: the origin's, or a short one of our own.
pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Headers meant for the proxy or for one hop only, never passed on.
const HOP_BY_HOP: [&str; 4] =
    ["proxy-authorization", "proxy-connection", "connection", "keep-alive"];

/// Answers one request that reached the proxy.
pub(crate) async fn handle(
    state: Arc<State>,
    shutdown: watch::Receiver<()>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let connect = req.method() == Method::CONNECT;
    let Some((host, port)) = target_of(req.uri(), connect) else {
        return Ok(plain(
            StatusCode::BAD_REQUEST,
            "not a proxy request: send absolute-form http:// or CONNECT",
        ));
    };
    state.record(ProxySeen {
        kind: if connect { ProxyKind::Connect } else { ProxyKind::Forward },
        method: req.method().clone(),
        target: req.uri().to_string(),
        host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
        port,
        headers: req.headers().clone(),
        user: basic_credentials(req.headers()).map(|(user, _)| user),
    });
    if !state.authorized(req.headers()) {
        bump(&state.auth_failures);
        let mut response =
            plain(StatusCode::PROXY_AUTHENTICATION_REQUIRED, "proxy credentials required");
        response.headers_mut().insert(
            header::PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"volley-proxy\""),
        );
        return Ok(response);
    }
    let Some(addrs) = target::resolve(&host, port) else {
        bump(&state.refused);
        return Ok(plain(StatusCode::FORBIDDEN, "this proxy connects to loopback addresses only"));
    };
    bump(&state.upstream_connects);
    let upstream = match target::connect(&addrs).await {
        Ok(upstream) => upstream,
        Err(err) => {
            bump(&state.upstream_errors);
            return Ok(plain(StatusCode::BAD_GATEWAY, &format!("connect to {host}:{port}: {err}")));
        }
    };
    if connect {
        bump(&state.tunnels);
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(tunnel(upgrade, upstream, shutdown));
        return Ok(plain(StatusCode::OK, ""));
    }
    bump(&state.forwarded);
    Ok(forward(req, upstream, &host, port).await)
}

/// The host and port a proxy request names: the authority of `CONNECT`, or of an
/// `http://` absolute URI (port 80 if none). `None` for anything else.
fn target_of(uri: &Uri, connect: bool) -> Option<(String, u16)> {
    let authority = uri.authority()?;
    let port = match (authority.port_u16(), connect) {
        (Some(port), _) => port,
        (None, false) if uri.scheme_str() == Some("http") => 80,
        _ => return None,
    };
    if !connect && uri.scheme_str() != Some("http") {
        return None;
    }
    Some((authority.host().to_owned(), port))
}

/// Sends `req` to the origin over `upstream` in origin form, without the proxy's
/// headers, and passes the origin's response back.
async fn forward(
    req: Request<Incoming>,
    upstream: TcpStream,
    host: &str,
    port: u16,
) -> Response<ProxyBody> {
    let (mut parts, body) = req.into_parts();
    let path =
        parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = Uri::from(path);
    strip_hop_by_hop(&mut parts.headers);
    if !parts.headers.contains_key(header::HOST) {
        let authority = if port == 80 { host.to_owned() } else { format!("{host}:{port}") };
        if let Ok(value) = HeaderValue::from_str(&authority) {
            parts.headers.insert(header::HOST, value);
        }
    }
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await {
            Ok(pair) => pair,
            Err(err) => return plain(StatusCode::BAD_GATEWAY, &format!("origin handshake: {err}")),
        };
    // The connection ends once the response body is read or dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, body.boxed())
        }
        Err(err) => plain(StatusCode::BAD_GATEWAY, &format!("origin: {err}")),
    }
}

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(HeaderName::from_static(name));
    }
}

/// Copies bytes both ways between the upgraded client connection and `upstream`
/// until either side closes or the proxy is dropped.
async fn tunnel(
    upgrade: hyper::upgrade::OnUpgrade,
    mut upstream: TcpStream,
    mut shutdown: watch::Receiver<()>,
) {
    let copy = async {
        if let Ok(upgraded) = upgrade.await {
            let mut client = TokioIo::new(upgraded);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    };
    tokio::select! {
        () = copy => {}
        _ = shutdown.changed() => {}
    }
}

/// A response of the proxy's own with a short text body.
fn plain(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let body =
        Full::new(Bytes::from(text.to_owned())).map_err(|never: Infallible| match never {}).boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if !text.is_empty() {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    response
}
