//! A fake inner service that records what reached it, a loopback client, and a driver.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tower::{Service, ServiceExt};
use volley_core::{BoxError, Deadline, Key, find_cause};
use volley_ratelimit::RateLimited;

/// What the fake answers: status, optional `Retry-After`, and a delay before answering.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
    pub(crate) delay: Duration,
}

impl Answer {
    pub(crate) const OK: Answer = Answer { status: 200, retry_after: None, delay: Duration::ZERO };
}

/// A fake HTTP service that records the arrival time of every request per origin and answers
/// from a script (the `n`th request overall gets `script[n]`, later ones `Answer::OK`).
#[derive(Clone, Default)]
pub(crate) struct Fake {
    seen: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
    script: Arc<Mutex<Vec<Answer>>>,
}

impl Fake {
    pub(crate) fn scripted(answers: &[Answer]) -> Self {
        let fake = Fake::default();
        fake.script.lock().unwrap().extend(answers.iter().rev());
        fake
    }

    pub(crate) fn hits(&self, origin: &str) -> usize {
        self.seen.lock().unwrap().get(origin).map_or(0, Vec::len)
    }

    pub(crate) fn total(&self) -> usize {
        self.seen.lock().unwrap().values().map(Vec::len).sum()
    }

    pub(crate) fn arrivals(&self, origin: &str) -> Vec<Instant> {
        self.seen.lock().unwrap().get(origin).cloned().unwrap_or_default()
    }

    pub(crate) fn service(
        &self,
    ) -> impl Service<Request<()>, Response = Response<String>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static {
        let fake = self.clone();
        tower::service_fn(move |req: Request<()>| {
            let origin = Key::from_uri(req.uri()).as_str().to_owned();
            fake.seen.lock().unwrap().entry(origin).or_default().push(Instant::now());
            let answer = fake.script.lock().unwrap().pop().unwrap_or(Answer::OK);
            async move {
                tokio::time::sleep(answer.delay).await;
                let mut res =
                    Response::builder().status(StatusCode::from_u16(answer.status).unwrap());
                if let Some(secs) = answer.retry_after {
                    res = res.header("retry-after", secs);
                }
                Ok::<_, Infallible>(res.body(String::new()).unwrap())
            }
        })
    }
}

pub(crate) fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

pub(crate) fn get_before(uri: &str, deadline: Deadline) -> Request<()> {
    let mut req = get(uri);
    deadline.insert_into(&mut req);
    req
}

/// Sends `uri` again and again, each with `deadline`, until the limiter refuses to wait
/// past the deadline. Returns how many were sent and the refusal.
pub(crate) async fn drive<S, B>(mut svc: S, uri: String, deadline: Deadline) -> (usize, RateLimited)
where
    S: Service<Request<()>, Response = Response<B>, Error = BoxError>,
{
    let mut sent = 0;
    loop {
        let req = get_before(&uri, deadline);
        match svc.ready().await.unwrap().call(req).await {
            Ok(_) => sent += 1,
            Err(err) => return (sent, rate_limited(&err)),
        }
    }
}

pub(crate) fn rate_limited(err: &BoxError) -> RateLimited {
    match find_cause::<RateLimited>(&**err) {
        Some(limited) => limited.clone(),
        None => panic!("expected RateLimited, got {err}"),
    }
}

/// The GCRA admits `burst` at once, then one token every `1/rate` (a token conforms at exactly
/// its emission time). A wait that ends exactly at the deadline is refused, so over the
/// half-open window `[0, window)` a sequential client gets `burst + ceil(window·rate) - 1`.
pub(crate) fn gcra_admitted(rate: u32, burst: u32, window: Duration) -> usize {
    let interval = (Duration::from_secs(1) / rate).as_nanos();
    burst as usize + ((window.as_nanos() - 1) / interval) as usize
}

pub(crate) type LoopbackClient = Client<HttpConnector, Empty<Bytes>>;

pub(crate) fn client() -> LoopbackClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A loopback request with an empty body.
pub(crate) fn loopback(uri: &str) -> Request<Empty<Bytes>> {
    Request::get(uri).body(Empty::new()).unwrap()
}

/// Sends one request and reads the whole body.
pub(crate) async fn send<S, B>(svc: &S, req: Request<Empty<Bytes>>) -> StatusCode
where
    S: Service<Request<Empty<Bytes>>, Response = Response<B>, Error = BoxError> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let res = svc.clone().oneshot(req).await.unwrap();
    let status = res.status();
    res.into_body().collect().await.unwrap();
    status
}

pub(crate) fn origin(server: &volley_testserver::TestServer) -> Key {
    Key::new(format!("http://{}", server.addr()))
}
