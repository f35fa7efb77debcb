//! The whole `volley::Client` around the no-op service: what the facade adds to the
//! layers (the URL parsed from a string, default headers, the request span, redirects,
//! decompression, the boxed stack), measured like the layer cases.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::Service;
use volley::redirect::Policy;
use volley::{Client, ResponseBody};

use crate::{URI, noop};

/// Sends every request as `client.get(URI).send()`, the way a program calls the client,
/// and hands back the response for the driver to read to its end.
#[derive(Clone, Debug)]
pub struct ClientCase {
    client: Client,
}

impl ClientCase {
    /// The client with its defaults (redirects and decompression on) around [`noop`].
    ///
    /// # Panics
    ///
    /// If the client cannot be built (its defaults are valid).
    pub fn defaults() -> Self {
        Self::with(Client::builder())
    }

    /// The same without redirects and decompression.
    ///
    /// # Panics
    ///
    /// If the client cannot be built.
    pub fn plain() -> Self {
        Self::with(Client::builder().redirect(Policy::none()).decompress(false))
    }

    fn with(builder: volley::ClientBuilder) -> Self {
        let client = builder.build_with_service(noop()).expect("a valid client");
        Self { client }
    }
}

type CallFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, volley::Error>> + Send>>;

impl Service<Request<Full<Bytes>>> for ClientCase {
    type Response = Response<ResponseBody>;
    type Error = volley::Error;
    type Future = CallFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<Full<Bytes>>) -> Self::Future {
        let sent = self.client.get(URI).send();
        Box::pin(async move { sent.await.map(volley::Response::into_inner) })
    }
}
