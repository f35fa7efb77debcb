//! Where the caller's own layers go, and the standard stack around a service of the
//! caller's.

use bytes::Bytes;
use http::{Request, Response};
use tower::Layer;
use tower_service::Service;
use volley_core::BoxError;
use volley_retry::ReplayBody;

use super::ClientBuilder;
use crate::client::Settings;
use crate::stack::{self, Inner, Layers, Outer};
use crate::{Body, Client, Error};

/// The request body below the retry layer: the caller's [`Body`], kept so that a retry can
/// send it again. What a service given to [`ClientBuilder::build_with_service`] receives,
/// and what [`attempt_layer`](ClientBuilder::attempt_layer)s see.
pub type AttemptBody = ReplayBody<Body>;

impl ClientBuilder {
    /// Wraps a layer of your own around the retry layer, inside redirects and the total
    /// timeout: it sees each redirect hop once, however many attempts the hop takes (auth
    /// refresh, a per-request trace). Layers added first are outermost.
    #[must_use]
    pub fn layer<L, B>(mut self, layer: L) -> Self
    where
        L: Layer<Outer> + Send + Sync + 'static,
        L::Service: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.user_layers.push(Box::new(move |inner| stack::erase(layer.layer(inner))));
        self
    }

    /// Wraps a layer of your own around each attempt, below the retry layer and above the
    /// rate and concurrency limits: it sees every attempt, retries included (a per-attempt
    /// `TraceLayer`, a metrics counter). Requests carry an [`AttemptBody`]. Layers added
    /// first are outermost.
    #[must_use]
    pub fn attempt_layer<L, B>(mut self, layer: L) -> Self
    where
        L: Layer<Inner> + Send + Sync + 'static,
        L::Service:
            Service<Request<AttemptBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<AttemptBody>>>::Future: Send + 'static,
        <L::Service as Service<Request<AttemptBody>>>::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.attempt_layers.push(Box::new(move |inner| stack::erase(layer.layer(inner))));
        self
    }

    /// A client with this configuration around `service` instead of a connection pool:
    /// an axum `Router`, a tonic channel, a mock in a test. The transport settings
    /// (timeouts to connect, TLS, proxies, DNS) do not apply; everything above does —
    /// timeouts, redirects, cookies, retries, limits, decompression, the helpers.
    pub fn build_with_service<S, B>(self, service: S) -> Result<Client, Error>
    where
        S: Service<Request<AttemptBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError> + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Ok(self.into_layer()?.layer(service))
    }

    /// The standard stack as a `tower::Layer`: each service it wraps becomes a [`Client`],
    /// and every client made from one `StackLayer` shares its limits (concurrency, rate,
    /// retry budget, cookies). See [`build_with_service`](Self::build_with_service).
    pub fn into_layer(self) -> Result<StackLayer, Error> {
        let (layers, settings, _transport) = self.into_parts()?;
        Ok(StackLayer { layers, settings })
    }
}

/// The standard stack as a `tower::Layer`, made by [`ClientBuilder::into_layer`]: it turns
/// any `Service<http::Request<AttemptBody>>` into a [`Client`].
///
/// ```
/// use tower::{Layer, ServiceBuilder};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), volley::Error> {
/// // A fake server: every request gets "hello".
/// let server = tower::service_fn(|_req: http::Request<volley::AttemptBody>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("hello")))
/// });
/// let client = ServiceBuilder::new()
///     .layer(volley::Client::builder().retries(2).into_layer()?)
///     .service(server);
/// let text = client.get("http://fake.test/").send().await?.text().await?;
/// assert_eq!(text, "hello");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StackLayer {
    layers: Layers,
    settings: Settings,
}

impl<S, B> Layer<S> for StackLayer
where
    S: Service<Request<AttemptBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Service = Client;

    fn layer(&self, service: S) -> Client {
        let service = tower::ServiceExt::map_err(service, Into::<BoxError>::into);
        let service = tower::ServiceExt::map_response(service, |res: Response<B>| {
            res.map(|body| http_body_util::BodyExt::map_err(body, Into::<BoxError>::into))
        });
        Client::from_parts(stack::assemble(service, &self.layers), self.settings.clone())
    }
}

impl std::fmt::Debug for StackLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackLayer").finish_non_exhaustive()
    }
}
