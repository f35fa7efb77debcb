//! Hooks — tower layers of your own in the client's stack, and the stack around a service
//! of yours.
//!
//! `connector_layer` sees every new connection, `attempt_layer` every attempt (retries
//! included), `layer` every request (once per redirect hop, however many attempts it
//! takes). `into_layer()` turns the whole standard stack — timeouts, retries, limits,
//! redirects — into a `tower::Layer` that makes a `Client` of any service: here a fake
//! server in the process, with no socket at all.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use tower::{Layer, ServiceBuilder};
use volley::{AttemptBody, Backoff, Body, Client, RetryPolicy};
use volley_testserver::TestServer;

/// A layer that counts the calls passing through it: connects (`R` = `http::Uri`),
/// attempts (`http::Request<AttemptBody>`) or requests (`http::Request<Body>`).
fn counting<S, R>(
    counter: Arc<AtomicUsize>,
) -> impl Layer<S, Service = tower::util::MapRequest<S, impl Fn(R) -> R + Clone>> + Send + Sync + 'static
where
    R: 'static,
{
    tower::layer::layer_fn(move |inner: S| {
        let counter = counter.clone();
        tower::util::MapRequest::new(inner, move |req: R| {
            counter.fetch_add(1, Ordering::SeqCst);
            req
        })
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;

    // 1. `connector_layer`: wraps the connector (DNS, TCP, proxy, TLS), so it sees each new
    // connection and none that the pool hands out again.
    let connects = Arc::new(AtomicUsize::new(0));
    let client =
        Client::builder().connector_layer(counting::<_, http::Uri>(connects.clone())).build()?;
    for _ in 0..3 {
        client.get(server.url("/get")).send().await?.bytes().await?;
    }
    // The layer sees every connect the pool starts: one per new connection, and also a
    // connect started while the request waits for a pooled connection that comes back
    // first (hyper-util races the two). So it saw at least the server's count.
    let connects = connects.load(Ordering::SeqCst);
    let accepted = server.connections();
    println!(
        "connector_layer: the layer saw {connects} connect(s); the server accepted {accepted} connection(s)"
    );
    assert!(accepted >= 1 && connects as u64 >= accepted);

    // 2. `layer` vs `attempt_layer`: `/flaky/2?key=K` answers 503 twice per key, then 200.
    // The request layer sits above the retry layer, the attempt layer below it.
    let requests = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .retry_policy(RetryPolicy::new().backoff(Backoff::constant(Duration::from_millis(1))))
        .layer(counting::<_, http::Request<Body>>(requests.clone()))
        .attempt_layer(counting::<_, http::Request<AttemptBody>>(attempts.clone()))
        .build()?;
    let response = client.get(server.url("/flaky/2?key=example")).send().await?;
    let (requests, attempts) = (requests.load(Ordering::SeqCst), attempts.load(Ordering::SeqCst));
    println!(
        "layer vs attempt_layer: /flaky/2 answered {} after {requests} request(s) and \
         {attempts} attempt(s)",
        response.status().as_u16()
    );
    assert_eq!(response.status(), 200);
    assert_eq!((requests, attempts, response.attempts()), (1, 3, 3));
    assert_eq!(server.hits("/flaky/2"), 3);

    // 3. `into_layer`: the standard stack around a fake server that answers 503 once, then
    // 200. The client retries it like any server — no socket, no port, no test server.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let fake = tower::service_fn(move |req: http::Request<AttemptBody>| {
        let log = log.clone();
        async move {
            let mut log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let status =
                if log.is_empty() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
            log.push(format!("{} {} -> {}", req.method(), req.uri(), status.as_u16()));
            let mut response = http::Response::new(format!("answer {}", log.len()));
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        }
    });
    let client =
        ServiceBuilder::new().layer(Client::builder().retries(2).into_layer()?).service(fake);
    let response = client.get("http://fake.test/items").send().await?;
    let (status, tries) = (response.status().as_u16(), response.attempts());
    let text = response.text().await?;
    println!("into_layer: the fake service answered {status} {text:?} after {tries} attempts:");
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    for (n, attempt) in seen.iter().enumerate() {
        println!("  attempt {}: {attempt}", n + 1);
    }
    assert_eq!((status, tries, text.as_str()), (200, 2, "answer 2"));
    assert_eq!(seen, ["GET http://fake.test/items -> 503", "GET http://fake.test/items -> 200"]);
    Ok(())
}
