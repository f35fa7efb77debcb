//! Helpers shared by the tests.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use volley_core::{BoxError, find_cause};
use volley_testserver::TestServer;
use volley_timeout::TimedOut;

pub(crate) type HttpClient = Client<HttpConnector, Empty<Bytes>>;

pub(crate) fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub(crate) fn get(server: &TestServer, path: &str) -> Request<Empty<Bytes>> {
    Request::get(server.url(path)).body(Empty::new()).unwrap()
}

pub(crate) fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Reads frames until the end or the first error: the data bytes received, and the error.
pub(crate) async fn read_to_end<B>(body: B) -> (usize, Option<BoxError>)
where
    B: Body<Data = Bytes, Error = BoxError>,
{
    let mut body = std::pin::pin!(body);
    let mut received = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => received += frame.into_data().map_or(0, |data| data.len()),
            Err(err) => return (received, Some(err)),
        }
    }
    (received, None)
}

/// The `TimedOut` in an error's chain.
pub(crate) fn timed_out(err: &BoxError) -> TimedOut {
    *find_cause::<TimedOut>(&**err).unwrap_or_else(|| panic!("not a timeout: {err}"))
}

/// Virtual time since `start`, rounded down to whole milliseconds (tokio's timer fires on
/// millisecond ticks, so a timer set for 1 s after an unaligned start fires up to 1 ms late).
pub(crate) fn elapsed_ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

/// A body that yields one `*` at each of `at_ms` (measured from its creation), then ends.
pub(crate) fn frames_at(
    at_ms: &'static [u64],
) -> impl Body<Data = Bytes, Error = std::io::Error> + Send + Unpin + 'static {
    let start = Instant::now();
    let frames = futures_util::stream::unfold(at_ms.iter(), move |mut times| async move {
        let at = *times.next()?;
        tokio::time::sleep_until(start + ms(at)).await;
        Some((Ok(Frame::data(Bytes::from_static(b"*"))), times))
    });
    StreamBody::new(Box::pin(frames))
}
