//! The redirect layer over real loopback sockets, against volley-testserver. Two servers on
//! two ports are two origins.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tower::{ServiceBuilder, ServiceExt};
use volley_core::{BoxError, Deadline};
use volley_redirect::{
    FollowRedirect, NotFollowed, Policy, RedirectError, RedirectErrorKind, RedirectLayer, Redirects,
};
use volley_testserver::TestServer;

type Plain = Client<HttpConnector, Full<Bytes>>;

fn client(layer: RedirectLayer) -> FollowRedirect<Plain> {
    let plain = Client::builder(TokioExecutor::new()).build_http();
    ServiceBuilder::new().layer(layer).service(plain)
}

async fn send(
    svc: &FollowRedirect<Plain>,
    req: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, BoxError> {
    svc.clone().oneshot(req).await
}

async fn json(res: Response<Incoming>) -> Value {
    let body = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

fn get(url: &str) -> http::request::Builder {
    Request::get(url)
}

#[tokio::test]
async fn credentials_stay_on_their_origin() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let svc = client(
        RedirectLayer::new().sensitive_header(http::HeaderName::from_static("x-tenant-secret")),
    );
    let with_secrets = |url: &str| {
        get(url)
            .header("authorization", "Bearer t0ken")
            .header("cookie", "sid=abc")
            .header("x-api-key", "k3y")
            .header("x-tenant-secret", "s3cret")
            .header("accept", "application/json")
            .body(Full::default())
            .unwrap()
    };

    // Same origin: everything arrives.
    let res = send(&svc, with_secrets(&a.redirect_to("/headers", 302))).await.unwrap();
    let seen = json(res).await;
    for (name, value) in [
        ("authorization", "Bearer t0ken"),
        ("cookie", "sid=abc"),
        ("x-api-key", "k3y"),
        ("x-tenant-secret", "s3cret"),
    ] {
        assert_eq!(seen["headers"][name], value, "{name} on a same-origin hop");
    }

    // Another origin (another port): the credentials are gone, the rest stays.
    let res = send(&svc, with_secrets(&a.redirect_to(&b.url("/headers"), 302))).await.unwrap();
    let redirects = res.extensions().get::<Redirects>().unwrap().clone();
    let seen = json(res).await;
    for name in ["authorization", "cookie", "x-api-key", "x-tenant-secret"] {
        assert_eq!(seen["headers"].get(name), None, "{name} crossed to another origin");
    }
    assert_eq!(seen["headers"]["accept"], "application/json");
    assert!(seen["headers"].get("referer").is_none());
    assert_eq!(redirects.final_url().to_string(), b.url("/headers"));
    assert_eq!(redirects.hops().len(), 1);
    assert_eq!(redirects.hops()[0].status(), StatusCode::FOUND);
    assert_eq!(b.hits("/headers"), 1);
}

#[tokio::test]
async fn a_307_replays_the_post_body_and_a_303_turns_it_into_a_get() {
    let server = TestServer::start().await.unwrap();
    let svc = client(RedirectLayer::new());
    let payload: Vec<u8> = (b'a'..=b'z').cycle().take(10_000).collect();
    let post = |url: String| {
        Request::post(url)
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from(payload.clone())))
            .unwrap()
    };

    let res = send(&svc, post(server.redirect_to("/anything", 307))).await.unwrap();
    let seen = json(res).await;
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["bytes"], 10_000);
    assert_eq!(seen["data"].as_str().unwrap().as_bytes(), payload, "byte for byte");
    assert_eq!(server.hits("/anything"), 1);

    let res = send(&svc, post(server.redirect_to("/anything", 303))).await.unwrap();
    let seen = json(res).await;
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["bytes"], 0);
    assert!(seen["headers"].get("content-type").is_none(), "payload headers dropped");

    // 301 and 302 turn a POST into a GET too (as browsers, curl -L and reqwest do).
    for status in [301, 302] {
        let seen =
            json(send(&svc, post(server.redirect_to("/anything", status))).await.unwrap()).await;
        assert_eq!((seen["method"].as_str(), seen["bytes"].as_u64()), (Some("GET"), Some(0)));
    }
    // A 308 keeps a PUT and its body.
    let put = Request::put(server.redirect_to("/anything", 308))
        .body(Full::new(Bytes::from_static(b"same bytes")))
        .unwrap();
    let seen = json(send(&svc, put).await.unwrap()).await;
    assert_eq!((seen["method"].as_str(), seen["data"].as_str()), (Some("PUT"), Some("same bytes")));
}

#[tokio::test]
async fn the_hop_limit_fails_with_the_chain() {
    let server = TestServer::start().await.unwrap();
    let svc = client(RedirectLayer::with_policy(Policy::limited(3)));

    let res = send(&svc, get(&server.url("/redirect/3")).body(Full::default()).unwrap()).await;
    let res = res.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.extensions().get::<Redirects>().unwrap().hops().len(), 3);

    let err = send(&svc, get(&server.url("/redirect/4")).body(Full::default()).unwrap())
        .await
        .unwrap_err();
    let err = err.downcast::<RedirectError>().unwrap();
    assert!(matches!(err.kind(), RedirectErrorKind::TooManyRedirects { limit: 3 }));
    let chain: Vec<String> = err.chain().iter().map(|hop| hop.url().path().to_owned()).collect();
    assert_eq!(chain, ["/redirect/4", "/redirect/3", "/redirect/2", "/redirect/1"]);
    assert_eq!(err.location().path(), "/get");
    assert_eq!(server.total_hits(), 4 + 4, "four requests each time; the fifth never sent");
    assert!(err.to_string().starts_with("too many redirects: stopped after 3 (the limit)"));
}

#[tokio::test]
async fn relative_and_absolute_locations() {
    let server = TestServer::start().await.unwrap();
    let svc = client(RedirectLayer::new());
    for path in ["/relative-redirect/3", "/absolute-redirect/3"] {
        let res = send(&svc, get(&server.url(path)).body(Full::default()).unwrap()).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let redirects = res.extensions().get::<Redirects>().unwrap();
        assert_eq!(redirects.hops().len(), 3, "{path}");
        assert_eq!(redirects.final_url().path(), "/get");
    }
}

#[tokio::test]
async fn policy_none_hands_the_redirect_back_with_its_reason() {
    let server = TestServer::start().await.unwrap();
    let svc = client(RedirectLayer::with_policy(Policy::none()));
    let res = send(&svc, get(&server.url("/redirect/2")).body(Full::default()).unwrap()).await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let redirects = res.extensions().get::<Redirects>().unwrap();
    assert_eq!(redirects.not_followed(), Some(NotFollowed::Policy));
    assert!(redirects.hops().is_empty());
    assert_eq!(server.total_hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_travels_with_every_hop() {
    let server = TestServer::start().await.unwrap();
    let svc = client(RedirectLayer::new());
    // An inner layer that enforces the request's deadline, as volley's limits and timeouts do.
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let svc = svc.clone();
        async move {
            let deadline = Deadline::from_request(&req).expect("the deadline reached this hop");
            tokio::time::timeout(deadline.remaining(), svc.oneshot(req))
                .await
                .map_err(|_| BoxError::from("deadline passed"))?
        }
    });
    let mut req = get(&server.redirect_to("/delay/5000", 302)).body(Full::default()).unwrap();
    Deadline::after(Duration::from_secs(1)).insert_into(&mut req);
    let started = tokio::time::Instant::now();
    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(err.to_string(), "deadline passed");
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(server.hits("/delay/5000"), 1);
}

/// A stand-in for a public server, answering every request with a redirect to `location`;
/// no traffic leaves the process.
fn public_redirector(
    location: &'static str,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = BoxError,
    Future: Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |req: Request<Full<Bytes>>| async move {
        assert_eq!(req.uri().host(), Some("93.184.216.34"), "only the public stand-in is called");
        Ok::<_, BoxError>(
            Response::builder()
                .status(302)
                .header("location", location)
                .body(Full::default())
                .unwrap(),
        )
    })
}

#[tokio::test]
async fn the_guard_keeps_a_public_target_from_redirecting_into_private_networks() {
    for (location, addr) in [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://127.0.0.1:8080/admin", "127.0.0.1"),
        ("http://[::1]/", "::1"),
        ("http://10.0.0.7/", "10.0.0.7"),
        ("http://localhost/", "127.0.0.1"),
    ] {
        let svc = ServiceBuilder::new()
            .layer(RedirectLayer::new().block_private_redirects(true))
            .service(public_redirector(location));
        let req = get("http://93.184.216.34/start").body(Full::default()).unwrap();
        let err = svc.oneshot(req).await.unwrap_err().downcast::<RedirectError>().unwrap();
        match err.kind() {
            RedirectErrorKind::PrivateAddress { addr: seen } => {
                assert_eq!(seen.to_string(), addr, "{location}")
            }
            other => panic!("{location}: {other:?}"),
        }
    }
    // Off by default: the hop to 10.0.0.7 is made (answered here by a stand-in, so nothing
    // leaves the process).
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    let stand_in = tower::service_fn(move |req: Request<Full<Bytes>>| {
        seen.lock().unwrap().push(req.uri().to_string());
        async move {
            let res = match req.uri().host() {
                Some("93.184.216.34") => {
                    Response::builder().status(302).header("location", "http://10.0.0.7/")
                }
                _ => Response::builder().status(200),
            };
            Ok::<_, BoxError>(res.body(Full::<Bytes>::default()).unwrap())
        }
    });
    let svc = ServiceBuilder::new().layer(RedirectLayer::new()).service(stand_in);
    let res = svc.oneshot(get("http://93.184.216.34/").body(Full::default()).unwrap()).await;
    assert_eq!(res.unwrap().status(), 200);
    assert_eq!(*calls.lock().unwrap(), ["http://93.184.216.34/", "http://10.0.0.7/"]);
}

#[tokio::test]
async fn credentials_stay_gone_when_a_later_hop_returns_to_the_first_origin() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    let svc = client(RedirectLayer::new());
    // a → b → a/headers
    let back = b.redirect_to(&a.url("/headers"), 302);
    let req = get(&a.redirect_to(&back, 302))
        .header("authorization", "Bearer t0ken")
        .body(Full::default())
        .unwrap();
    let res = send(&svc, req).await.unwrap();
    assert_eq!(res.extensions().get::<Redirects>().unwrap().hops().len(), 2);
    let seen = json(res).await;
    assert_eq!(seen["headers"].get("authorization"), None);
    assert_eq!(a.hits("/headers"), 1);
}

#[tokio::test]
async fn the_guard_lets_a_private_target_redirect_within_private_networks() {
    let server = TestServer::start().await.unwrap();
    let svc = client(RedirectLayer::new().block_private_redirects(true));
    let res = send(&svc, get(&server.url("/redirect/2")).body(Full::default()).unwrap()).await;
    assert_eq!(res.unwrap().status(), 200);
}

#[tokio::test]
async fn https_to_http_is_refused_unless_allowed() {
    let server = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let res = match req.uri().scheme_str() {
            Some("https") => {
                Response::builder().status(301).header("location", "http://93.184.216.34/plain")
            }
            _ => Response::builder().status(200),
        };
        Ok::<_, BoxError>(res.body(Full::<Bytes>::default()).unwrap())
    });
    let svc = ServiceBuilder::new().layer(RedirectLayer::new()).service(server);
    let allowed =
        ServiceBuilder::new().layer(RedirectLayer::new().allow_https_to_http(true)).service(server);
    let err = svc.oneshot(get("https://93.184.216.34/secure").body(Full::default()).unwrap()).await;
    let err = err.unwrap_err().downcast::<RedirectError>().unwrap();
    assert!(matches!(err.kind(), RedirectErrorKind::InsecureRedirect));
    assert_eq!(err.to_string(), "refused redirect from https to http://93.184.216.34/plain");
    assert_eq!(err.chain().len(), 1);

    let res = allowed.oneshot(get("https://93.184.216.34/secure").body(Full::default()).unwrap());
    let res = res.await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.extensions().get::<Redirects>().unwrap().final_url(),
        "http://93.184.216.34/plain"
    );
}
