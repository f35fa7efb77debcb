//! The default classification table, errors from real sockets, and custom classifiers.

use std::error::Error;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;
use volley_classify::{Classify, HintSource, HttpClassifier, Outcome};

fn client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn response(status: u16, headers: &[(&str, &str)]) -> Response<()> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

fn classify_status(status: u16, headers: &[(&str, &str)]) -> Outcome {
    HttpClassifier::new().classify(&Method::GET, Ok(&response(status, headers)))
}

const RETRYABLE: Outcome = Outcome::Retryable { hint: None };
const THROTTLED: Outcome = Outcome::Throttled { hint: None };

#[test]
fn every_default_status() {
    let table: &[(u16, Outcome)] = &[
        (100, Outcome::Success),
        (200, Outcome::Success),
        (201, Outcome::Success),
        (204, Outcome::Success),
        (301, Outcome::Success),
        (304, Outcome::Success),
        (400, Outcome::Fatal),
        (401, Outcome::Fatal),
        (403, Outcome::Fatal),
        (404, Outcome::Fatal),
        (408, RETRYABLE),
        (409, Outcome::Fatal),
        (413, Outcome::Fatal),
        (422, Outcome::Fatal),
        (429, THROTTLED),
        (500, RETRYABLE),
        (501, Outcome::Fatal),
        (502, RETRYABLE),
        (503, RETRYABLE),
        (504, RETRYABLE),
        (505, Outcome::Fatal),
        (599, Outcome::Fatal),
    ];
    for &(status, want) in table {
        assert_eq!(classify_status(status, &[]), want, "status {status}");
    }
}

#[test]
fn hints_ride_on_the_outcome() {
    let throttled = classify_status(429, &[("retry-after", "7")]);
    let hint = throttled.hint().unwrap();
    assert_eq!((hint.delay(), hint.source()), (Duration::from_secs(7), HintSource::RetryAfter));

    // A 503 that says when to come back is throttling; without a hint it is a plain fault.
    let shed = classify_status(503, &[("retry-after-ms", "1500")]);
    assert!(shed.is_throttled());
    assert_eq!(shed.hint().unwrap().delay(), Duration::from_millis(1500));
    assert_eq!(classify_status(503, &[("retry-after", "soon")]), RETRYABLE);

    // Other retryable statuses keep the hint as a floor but are not throttling.
    let bad_gateway = classify_status(502, &[("retry-after", "1")]);
    assert!(!bad_gateway.is_throttled());
    assert_eq!(bad_gateway.hint().unwrap().delay(), Duration::from_secs(1));

    // Success never carries a hint, even when a header is present.
    assert_eq!(classify_status(200, &[("retry-after", "5")]), Outcome::Success);
}

#[test]
fn statuses_can_be_added_moved_and_removed() {
    let classifier = HttpClassifier::new()
        .retry_on(StatusCode::CONFLICT)
        .throttle_on(StatusCode::SERVICE_UNAVAILABLE)
        .no_retry_on(StatusCode::BAD_GATEWAY)
        .no_retry_on(StatusCode::TOO_MANY_REQUESTS);
    let outcome = |status| classifier.classify(&Method::GET, Ok(&response(status, &[])));
    assert_eq!(outcome(409), RETRYABLE);
    assert_eq!(outcome(503), THROTTLED);
    assert_eq!(outcome(502), Outcome::Fatal);
    assert_eq!(outcome(429), Outcome::Fatal);
    assert_eq!(outcome(500), RETRYABLE);
    // Moving a status back from throttled to retryable works too.
    let back = classifier.clone().retry_on(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(back.classify(&Method::GET, Ok(&response(503, &[]))), RETRYABLE);
    assert!(format!("{classifier:?}").contains("409"));
}

#[test]
fn custom_rules_run_first_and_fall_back() {
    let classifier = HttpClassifier::new()
        .response_rule(|method, status, _headers| {
            (method == Method::POST && status == StatusCode::CONFLICT)
                .then_some(Outcome::Retryable { hint: None })
        })
        .error_rule(|_method, err| {
            err.to_string().contains("flaky dns").then_some(Outcome::NotSent)
        });
    let conflict = response(409, &[]);
    assert_eq!(classifier.classify(&Method::POST, Ok(&conflict)), RETRYABLE);
    assert_eq!(classifier.classify(&Method::GET, Ok(&conflict)), Outcome::Fatal);
    assert_eq!(classifier.classify(&Method::GET, Ok(&response(500, &[]))), RETRYABLE);

    let dns = io::Error::other("flaky dns");
    assert_eq!(classifier.classify::<()>(&Method::GET, Err(&dns)), Outcome::NotSent);
    let other = io::Error::other("boom");
    assert_eq!(classifier.classify::<()>(&Method::GET, Err(&other)), Outcome::Fatal);
}

/// A classifier of one's own: an API that reports overload in a 200 with a header.
#[derive(Clone)]
struct BusyHeader;

impl Classify for BusyHeader {
    fn classify<B>(
        &self,
        method: &Method,
        attempt: Result<&Response<B>, &(dyn Error + 'static)>,
    ) -> Outcome {
        match attempt {
            Ok(res) if res.headers().contains_key("x-busy") => Outcome::Throttled { hint: None },
            other => HttpClassifier::new().classify(method, other),
        }
    }
}

#[test]
fn a_custom_classifier() {
    assert_eq!(
        BusyHeader.classify(&Method::GET, Ok(&response(200, &[("x-busy", "1")]))),
        THROTTLED
    );
    assert_eq!(BusyHeader.classify(&Method::GET, Ok(&response(200, &[]))), Outcome::Success);
    assert_eq!(BusyHeader.classify(&Method::GET, Ok(&response(504, &[]))), RETRYABLE);
}

#[test]
fn io_error_kinds() {
    let table = [
        (io::ErrorKind::ConnectionRefused, Outcome::NotSent),
        (io::ErrorKind::ConnectionReset, RETRYABLE),
        (io::ErrorKind::ConnectionAborted, RETRYABLE),
        (io::ErrorKind::BrokenPipe, RETRYABLE),
        (io::ErrorKind::UnexpectedEof, RETRYABLE),
        (io::ErrorKind::TimedOut, RETRYABLE),
        (io::ErrorKind::PermissionDenied, Outcome::Fatal),
        (io::ErrorKind::InvalidData, Outcome::Fatal),
    ];
    for (kind, want) in table {
        let err = io::Error::from(kind);
        assert_eq!(HttpClassifier::new().classify::<()>(&Method::GET, Err(&err)), want, "{kind:?}");
    }
}

#[test]
fn volley_timeouts() {
    use volley_core::{TimedOut, TimeoutKind, TimeoutPhase};
    let secs = Duration::from_secs(1);
    let table = [
        (TimedOut::new(TimeoutKind::Attempt, secs, TimeoutPhase::Headers), RETRYABLE),
        (TimedOut::new(TimeoutKind::Total, secs, TimeoutPhase::Headers), Outcome::Fatal),
    ];
    for (err, want) in table {
        let boxed: volley_core::BoxError = Box::new(err);
        assert_eq!(HttpClassifier::new().classify::<()>(&Method::GET, Err(&*boxed)), want, "{err}");
    }
}

#[test]
fn a_status_error_keeps_its_outcome() {
    let throttled = Outcome::Throttled { hint: None };
    let err = volley_classify::StatusError::new(
        StatusCode::TOO_MANY_REQUESTS,
        Default::default(),
        throttled,
    );
    let boxed: volley_core::BoxError = Box::new(err);
    assert_eq!(HttpClassifier::new().classify::<()>(&Method::GET, Err(&*boxed)), throttled);
}

#[test]
fn a_breaker_refusal_is_not_sent_even_wrapped() {
    let open = volley_core::BreakerOpen::new(
        volley_core::Key::new("http://a.example"),
        Duration::from_secs(3),
    );
    let boxed: volley_core::BoxError = Box::new(open.clone());
    // A POST refused by a breaker was never sent: safe to try again for any method.
    assert_eq!(HttpClassifier::new().classify::<()>(&Method::POST, Err(&*boxed)), Outcome::NotSent);
    let wrapped: volley_core::BoxError = Box::new(io::Error::other(open));
    assert_eq!(
        HttpClassifier::new().classify::<()>(&Method::POST, Err(&*wrapped)),
        Outcome::NotSent
    );
}

async fn closed_port() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

#[tokio::test]
async fn connection_refused_on_a_real_closed_port_is_not_sent() {
    let addr = closed_port().await;
    let err = client().get(format!("http://{addr}/get").parse().unwrap()).await.unwrap_err();
    assert!(err.is_connect());
    let outcome = HttpClassifier::new().classify::<()>(&Method::POST, Err(&err));
    assert_eq!(outcome, Outcome::NotSent);
    // The same error boxed, as layers return it, classifies the same way.
    let boxed: volley_core::BoxError = Box::new(err);
    assert_eq!(HttpClassifier::new().classify::<()>(&Method::POST, Err(&*boxed)), Outcome::NotSent);
}

#[tokio::test]
async fn a_connection_closed_before_the_response_is_retryable() {
    // A server that reads the request head and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
        drop(socket);
    });
    let err = client().get(format!("http://{addr}/get").parse().unwrap()).await.unwrap_err();
    assert!(!err.is_connect());
    assert_eq!(HttpClassifier::new().classify::<()>(&Method::GET, Err(&err)), RETRYABLE);
    server.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_tower_timeout_is_retryable() {
    let server = volley_testserver::TestServer::start().await.unwrap();
    let svc = tower::ServiceBuilder::new().timeout(Duration::from_millis(50)).service(client());
    let req = Request::get(server.url("/delay/5000")).body(Empty::new()).unwrap();
    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(HttpClassifier::new().classify::<()>(&Method::GET, Err(&*err)), RETRYABLE);
}

#[tokio::test]
async fn real_responses_from_the_test_server() {
    let server = volley_testserver::TestServer::start().await.unwrap();
    let classifier = HttpClassifier::new();
    for (path, want) in [
        ("/status/200", Outcome::Success),
        ("/status/404", Outcome::Fatal),
        ("/status/500", RETRYABLE),
        ("/status/503", RETRYABLE),
    ] {
        let res = client().get(server.url(path).parse().unwrap()).await.unwrap();
        assert_eq!(classifier.classify(&Method::GET, Ok(&res)), want, "{path}");
    }
    let res = client().get(server.url("/retry-after/2").parse().unwrap()).await.unwrap();
    let outcome = classifier.classify(&Method::GET, Ok(&res));
    assert!(outcome.is_throttled());
    assert_eq!(outcome.hint().unwrap().delay(), Duration::from_secs(2));
    assert_eq!(server.endpoint_hits("status"), 4);
    assert_eq!(server.endpoint_hits("retry-after"), 1);
}
