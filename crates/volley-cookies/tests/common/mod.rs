//! A tiny cookie server on 127.0.0.1 (httpbin's `/cookies` endpoints plus a few hostile
//! ones) and the real hyper-util client wrapped in the cookie layer.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};
use url::form_urlencoded;
use volley_cookies::{CookieLayer, Cookies};

/// Each request's path and `Cookie` header, in arrival order.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A loopback server that records the `Cookie` header of every request it gets.
pub struct CookieServer {
    pub addr: SocketAddr,
    seen: Seen,
}

impl CookieServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let log = log.clone();
                        async move { Ok::<_, Infallible>(handle(&req, &log)) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Self { addr, seen }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The `Cookie` header the last request for `path` carried.
    pub fn last_cookie(&self, path: &str) -> Option<String> {
        let seen = self.seen.lock().unwrap();
        let (_, cookie) = seen.iter().rev().find(|(p, _)| p == path).expect("path was requested");
        cookie.clone()
    }

    pub fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn handle(
    req: &Request<Incoming>,
    log: &Mutex<Vec<(String, Option<String>)>>,
) -> Response<Full<Bytes>> {
    let cookie = req.headers().get(COOKIE).map(|v| v.to_str().unwrap().to_owned());
    let path = req.uri().path().to_owned();
    log.lock().unwrap().push((path.clone(), cookie.clone()));
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let mut res = Response::builder();
    let headers = res.headers_mut().unwrap();
    let mut status = StatusCode::OK;
    match path.as_str() {
        // httpbin: set (or delete) the query's cookies at path /, then redirect to /cookies.
        "/cookies/set" | "/cookies/delete" => {
            for (name, value) in &query {
                let line = if path == "/cookies/set" {
                    format!("{name}={value}; Path=/")
                } else {
                    format!("{name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
                };
                headers.append(SET_COOKIE, HeaderValue::from_str(&line).unwrap());
            }
            headers.insert(LOCATION, HeaderValue::from_static("/cookies"));
            status = StatusCode::FOUND;
        }
        // Each `c` query value is sent verbatim as one Set-Cookie header.
        "/set" => {
            for (_, line) in query.iter().filter(|(k, _)| k == "c") {
                headers.append(SET_COOKIE, HeaderValue::from_str(line).unwrap());
            }
        }
        _ => {
            // `/many/{n}`: n distinct cookies c0..c{n-1}.
            if let Some(n) = path.strip_prefix("/many/").and_then(|n| n.parse::<usize>().ok()) {
                for i in 0..n {
                    headers.append(
                        SET_COOKIE,
                        HeaderValue::from_str(&format!("c{i}={i}; Path=/")).unwrap(),
                    );
                }
            }
        }
    }
    // Every endpoint answers httpbin's `/cookies` body: what the request carried.
    let cookies: serde_json::Map<String, serde_json::Value> = cookie
        .as_deref()
        .unwrap_or("")
        .split("; ")
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect();
    let body = serde_json::json!({ "cookies": cookies }).to_string();
    res.status(status).body(Full::new(Bytes::from(body))).unwrap()
}

pub type Svc = Cookies<Client<HttpConnector, Empty<Bytes>>>;

/// The real hyper-util client inside `layer`; it reads up to 1000 response headers, so the
/// layer's own cap is what the tests see.
pub fn client(layer: &CookieLayer) -> Svc {
    let client = Client::builder(TokioExecutor::new()).http1_max_headers(1000).build_http();
    layer.layer(client)
}

/// GETs `url`; the status and the JSON body's `cookies` object (null for an empty body).
pub async fn get(svc: &Svc, url: &str) -> (u16, serde_json::Value) {
    let req = Request::get(url).body(Empty::new()).unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    if body.is_empty() {
        return (status, serde_json::Value::Null);
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (status, json["cookies"].clone())
}

/// A `/set` URL that makes the server send each of `lines` as a Set-Cookie header.
pub fn set_url(server: &CookieServer, lines: &[&str]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for line in lines {
        query.append_pair("c", line);
    }
    server.url(&format!("/set?{}", query.finish()))
}
