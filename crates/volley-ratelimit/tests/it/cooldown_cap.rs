//! What one response can pause is bounded: in time (`max_cooldown`), in keys (the cooldown
//! map's size), and in scope (the key of the request that got it).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};
use volley_core::{Key, RequestHead};
use volley_ratelimit::{Backend, GovernorBackend, RateLimitLayer};

const CAP: Duration = Duration::from_secs(60);
const MS: Duration = Duration::from_millis(1);

/// A status and the headers to answer it with.
type Answer = (u16, Vec<(&'static str, String)>);
/// An event's level and fields, as `Debug` text.
type Recorded = (Level, HashMap<String, String>);

/// A fake server answering from a script of `(status, headers)` (then 200), recording
/// `(origin + path, tenant, arrival)` of every request.
#[derive(Clone, Default)]
struct Server {
    script: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Server {
    fn scripted(answers: Vec<Answer>) -> Self {
        let server = Server::default();
        server.script.lock().unwrap().extend(answers);
        server
    }

    fn throttling(header: &'static str, value: &str) -> Self {
        Self::scripted(vec![(429, vec![(header, value.to_owned())])])
    }

    /// Arrival offsets from `start` of the requests whose label starts with `prefix`.
    fn arrivals(&self, prefix: &str, start: Instant) -> Vec<Duration> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(label, _)| label.starts_with(prefix))
            .map(|(_, at)| *at - start)
            .collect()
    }

    fn service(
        &self,
    ) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static {
        let server = self.clone();
        tower::service_fn(move |req: Request<()>| {
            let tenant = req.headers().get("x-tenant").map_or("", |v| v.to_str().unwrap());
            let label = format!("{}{} {tenant}", Key::from_uri(req.uri()), req.uri().path());
            server.seen.lock().unwrap().push((label, Instant::now()));
            let (status, headers) =
                server.script.lock().unwrap().pop_front().unwrap_or((200, vec![]));
            let mut res = Response::builder().status(status);
            for (name, value) in headers {
                res = res.header(name, value);
            }
            std::future::ready(Ok::<_, Infallible>(res.body(()).unwrap()))
        })
    }
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

/// The `tracing` events emitted while it is the default subscriber: level and fields.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Recorded>>>);

impl Events {
    fn cooldowns(&self) -> Vec<Recorded> {
        let events = self.0.lock().unwrap();
        events.iter().filter(|(_, fields)| fields.contains_key("cooldown")).cloned().collect()
    }
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push((*event.metadata().level(), fields));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Sends a request that gets `server`'s scripted answer, then another to the same host, and
/// returns when the second reached the server, from the first response.
async fn pause_after<S>(svc: &S, server: &Server) -> Duration
where
    S: Service<Request<()>, Response = Response<()>, Error = volley_core::BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    svc.clone().oneshot(get("http://api.example/first")).await.unwrap();
    let answered = Instant::now();
    svc.clone().oneshot(get("http://api.example/next")).await.unwrap();
    server.arrivals("http://api.example/next", answered)[0]
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_of_centuries_pauses_the_key_for_the_cap_exactly() {
    let key = Key::new("http://api.example");
    for retry_after in ["99999999999", "Fri, 31 Dec 9999 23:59:59 GMT"] {
        let events = Events::default();
        let _guard = tracing::subscriber::set_default(events.clone());
        let server = Server::throttling("retry-after", retry_after);
        let layer = RateLimitLayer::per_second(100);
        let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());

        svc.clone().oneshot(get("http://api.example/first")).await.unwrap();
        let answered = Instant::now();
        assert_eq!(layer.cooldown_remaining(&key), Some(CAP), "{retry_after}");
        let next = tokio::spawn(svc.clone().oneshot(get("http://api.example/next")));
        // Not admitted a millisecond before the cap…
        tokio::time::sleep_until(answered + CAP - MS).await;
        assert!(server.arrivals("http://api.example/next", answered).is_empty());
        // …but at the cap exactly, not at the server's 365 days (or 8,000 years).
        assert_eq!(next.await.unwrap().unwrap().status(), 200);
        assert_eq!(server.arrivals("http://api.example/next", answered), [CAP]);
        assert_eq!(layer.cooldown_remaining(&key), None);

        // Reported: one info event with what was set and what was asked (the hint parser's
        // clamp of 365 days).
        let cooldowns = events.cooldowns();
        assert_eq!(cooldowns.len(), 1, "{cooldowns:?}");
        let (level, fields) = &cooldowns[0];
        assert_eq!(*level, Level::INFO);
        assert_eq!(fields["key"], "http://api.example");
        assert_eq!(fields["cooldown"], "60s");
        assert_eq!(fields["requested"], "31536000s");
        assert_eq!(fields["capped"], "true");
    }
}

#[tokio::test(start_paused = true)]
async fn max_cooldown_sets_the_cap_and_shorter_hints_are_kept() {
    let events = Events::default();
    let _guard = tracing::subscriber::set_default(events.clone());
    let layer = RateLimitLayer::per_second(100).max_cooldown(Duration::from_secs(5));

    let server = Server::throttling("retry-after", "10");
    let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());
    assert_eq!(pause_after(&svc, &server).await, Duration::from_secs(5));

    let server = Server::throttling("retry-after", "3");
    let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());
    assert_eq!(pause_after(&svc, &server).await, Duration::from_secs(3));

    let cooldowns = events.cooldowns();
    let summary: Vec<_> = cooldowns
        .iter()
        .map(|(level, f)| (*level, f["cooldown"].as_str(), f["capped"].as_str()))
        .collect();
    assert_eq!(summary, [(Level::INFO, "5s", "true"), (Level::DEBUG, "3s", "false")]);
    assert_eq!(cooldowns[0].1["requested"], "10s");
    assert!(!cooldowns[1].1.contains_key("requested"));
}

#[tokio::test(start_paused = true)]
async fn quota_headers_on_a_200_are_capped_too() {
    let answers = [
        vec![("ratelimit", "\"d\";r=0;t=99999999".to_owned())],
        vec![
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", "99999999999".into()),
        ],
        vec![("ratelimit-remaining", "0".to_owned()), ("ratelimit-reset", "31536000".into())],
    ];
    for headers in answers {
        let server = Server::scripted(vec![(200, headers.clone())]);
        let layer = RateLimitLayer::per_second(100);
        let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());
        assert_eq!(pause_after(&svc, &server).await, CAP, "{headers:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_zero_max_cooldown_sets_no_cooldown() {
    let server = Server::throttling("retry-after", "30");
    let layer = RateLimitLayer::per_second(100).max_cooldown(Duration::ZERO);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());
    // Paced by the rate only: the next token, 10 ms after the first.
    assert_eq!(pause_after(&svc, &server).await, Duration::from_millis(10));
    assert_eq!(layer.tracked_cooldowns(), 0);
}

/// With a per-tenant key, a 429 from host A for tenant 1 pauses tenant 1 everywhere (host
/// B included), and does not pause tenant 2, even at host A.
#[tokio::test(start_paused = true)]
async fn with_a_custom_key_the_cooldown_is_the_keys_not_the_hosts() {
    let by_tenant = |head: RequestHead<'_>| {
        Key::new(head.headers().get("x-tenant").map_or("none", |v| v.to_str().unwrap()))
    };
    let server = Server::throttling("retry-after", "2");
    let layer = RateLimitLayer::per_second(100).key_fn(by_tenant);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());
    let req =
        |uri: &str, tenant: &str| Request::get(uri).header("x-tenant", tenant).body(()).unwrap();
    let start = Instant::now();
    svc.clone().oneshot(req("http://a.example/", "t1")).await.unwrap();
    assert_eq!(layer.cooldown_remaining(&Key::new("t1")), Some(Duration::from_secs(2)));
    assert_eq!(layer.cooldown_remaining(&Key::new("http://a.example")), None);

    let t1_at_b = tokio::spawn(svc.clone().oneshot(req("http://b.example/", "t1")));
    svc.clone().oneshot(req("http://a.example/", "t2")).await.unwrap();
    t1_at_b.await.unwrap().unwrap();
    assert_eq!(server.arrivals("http://a.example/ t1", start), [Duration::ZERO]);
    assert_eq!(server.arrivals("http://a.example/ t2", start), [Duration::ZERO]);
    assert_eq!(server.arrivals("http://b.example/ t1", start), [Duration::from_secs(2)]);
}

/// In global mode one host's 429 pauses every host, for the cap at most.
#[tokio::test(start_paused = true)]
async fn in_global_mode_one_hosts_429_pauses_every_host_for_the_cap_at_most() {
    let server = Server::throttling("retry-after", "86400");
    let layer = RateLimitLayer::per_second(100).global();
    let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());
    let start = Instant::now();
    svc.clone().oneshot(get("http://a.example/")).await.unwrap();
    svc.clone().oneshot(get("http://b.example/")).await.unwrap();
    assert_eq!(server.arrivals("http://b.example/", start), [CAP]);
}

#[tokio::test(start_paused = true)]
async fn a_million_throttled_keys_keep_at_most_max_cooldowns() {
    const KEYS: usize = 1_000_000;
    let max = GovernorBackend::MAX_COOLDOWNS;
    assert_eq!(max, 65_536);
    let backend = GovernorBackend::keyed(10, Duration::from_secs(1), 1);
    let start = Instant::now();
    let mut peak = 0;
    for i in 0..KEYS {
        // Later keys end later: the ones that make room are the oldest.
        let until = start + CAP + Duration::from_nanos(i as u64);
        backend.cool_down(&Key::new(format!("http://host-{i}.example")), until);
        peak = peak.max(backend.tracked_cooldowns());
    }
    // Never past the bound (16 shards of 4,096 that fill and halve at different times).
    assert!((max * 3 / 4..=max).contains(&peak), "{peak}");
    // Each full shard dropped half its entries: between half and all of the bound remain.
    let left = backend.tracked_cooldowns();
    assert!((max / 2..=max).contains(&left), "{left}");
    // The newest are kept, the oldest went.
    let newest = Key::new(format!("http://host-{}.example", KEYS - 1));
    assert_eq!(
        backend.cooldown_remaining(&newest),
        Some(CAP + Duration::from_nanos(KEYS as u64 - 1))
    );
    assert_eq!(backend.cooldown_remaining(&Key::new("http://host-0.example")), None);

    // Once they have all expired, the old cooldowns make room before any new one goes:
    // 16,384 new keys (about 1,024 a shard) all stay.
    tokio::time::advance(CAP + Duration::from_secs(1)).await;
    let new_key = |i: usize| Key::new(format!("http://new-{i}.example"));
    for i in 0..max / 4 {
        backend.cool_down(&new_key(i), Instant::now() + CAP);
    }
    assert!(backend.tracked_cooldowns() <= max);
    assert!((0..max / 4).all(|i| backend.cooldown_remaining(&new_key(i)) == Some(CAP)));
}

/// Through the layer: more throttled hosts than the bound, each answering `Retry-After: 60`.
#[tokio::test(start_paused = true)]
async fn the_layers_cooldown_map_stays_bounded() {
    let hosts = GovernorBackend::MAX_COOLDOWNS + 10_000;
    let answers = (0..hosts).map(|_| (429, vec![("retry-after", "60".to_owned())])).collect();
    let server = Server::scripted(answers);
    let layer = RateLimitLayer::per_second(10);
    let svc = ServiceBuilder::new().layer(layer.clone()).service(server.service());
    let start = Instant::now();
    for i in 0..hosts {
        if i % 4096 == 0 {
            // Older hosts' cooldowns end sooner, and are the ones to make room.
            tokio::time::advance(MS).await;
        }
        let res = svc.clone().oneshot(get(&format!("http://host-{i}.example/"))).await.unwrap();
        assert_eq!(res.status(), 429);
        assert!(layer.tracked_cooldowns() <= GovernorBackend::MAX_COOLDOWNS);
    }
    assert_eq!(server.arrivals("http://host-", start).len(), hosts);
    let key = |i: usize| Key::new(format!("http://host-{i}.example"));
    assert_eq!(layer.cooldown_remaining(&key(hosts - 1)), Some(CAP));
    assert_eq!(layer.cooldown_remaining(&key(0)), None);
}
