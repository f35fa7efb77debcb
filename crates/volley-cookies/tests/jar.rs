//! The jar's rules and the layer's plumbing, around a `tower::service_fn` fake (these hosts
//! are never contacted).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use tower::{Layer, ServiceExt};
use url::Url;
use volley_cookies::{CookieLayer, CookieProvider, Jar};

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn sent(jar: &Jar, to: &str) -> Option<String> {
    jar.cookies(&url(to)).map(|v| v.to_str().unwrap().to_owned())
}

/// A fake server that answers every request with `set_cookies` and records the `Cookie`
/// header it got (and whether it was marked sensitive).
#[allow(clippy::type_complexity)]
fn fake(
    set_cookies: &'static [&'static str],
) -> (
    impl tower::Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send> + Clone,
    Arc<Mutex<Vec<Option<(String, bool)>>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let svc = tower::service_fn(move |req: Request<()>| {
        let log = log.clone();
        async move {
            let cookie = req
                .headers()
                .get(COOKIE)
                .map(|v| (v.to_str().unwrap().to_owned(), v.is_sensitive()));
            log.lock().unwrap().push(cookie);
            let mut res = Response::builder();
            for line in set_cookies {
                res = res.header(SET_COOKIE, *line);
            }
            Ok::<_, Infallible>(res.body(()).unwrap())
        }
    });
    (svc, seen)
}

#[test]
fn a_domain_attribute_naming_a_public_suffix_is_refused() {
    let jar = Jar::new();
    let from = url("https://a.example.com/");
    assert!(!jar.add_cookie_str("tld=1; Domain=com", &from));
    assert!(!jar.add_cookie_str("tld=1; Domain=.com", &from));
    assert!(!jar.add_cookie_str("psl=1; Domain=co.uk", &url("https://shop.example.co.uk/")));
    assert!(!jar.add_cookie_str("io=1; Domain=github.io", &url("https://me.github.io/")));
    assert!(!jar.add_cookie_str("label=1; Domain=corp", &url("http://wiki.corp/")));
    assert!(!jar.add_cookie_str("other=1; Domain=example.org", &from)); // not a parent domain
    assert!(jar.add_cookie_str("site=1; Domain=example.com", &from));
    assert_eq!(jar.len(), 1);
    assert_eq!(sent(&jar, "https://b.example.com/").as_deref(), Some("site=1"));
    assert_eq!(sent(&jar, "https://example.net/"), None);

    // Domain equal to a single-label request host: kept, host-only.
    assert!(jar.add_cookie_str("dev=1; Domain=localhost", &url("http://localhost/")));
    let dev = jar.snapshot().into_iter().find(|c| c.name() == "dev").unwrap();
    assert_eq!((dev.domain(), dev.host_only()), ("localhost", true));
}

#[test]
fn secure_cookies_come_from_and_go_to_secure_origins_only() {
    let jar = Jar::new();
    assert!(!jar.add_cookie_str("s=1; Secure", &url("http://api.example.com/")));
    assert!(!jar.add_cookie_str("__Secure-t=1", &url("https://api.example.com/")));
    assert!(!jar.add_cookie_str("__Host-h=1; Secure; Path=/api", &url("https://api.example.com/")));
    assert_eq!(jar.len(), 0);
    assert!(jar.add_cookie_str("s=1; Secure", &url("https://api.example.com/")));
    assert!(jar.add_cookie_str("__Host-h=2; Secure; Path=/", &url("https://api.example.com/")));
    assert_eq!(sent(&jar, "https://api.example.com/x").as_deref(), Some("s=1; __Host-h=2"));
    assert_eq!(sent(&jar, "http://api.example.com/x"), None);
}

#[test]
fn max_age_zero_and_past_expires_delete_and_max_age_sets_the_expiry() {
    let jar = Jar::new();
    let at = url("https://example.com/");
    assert!(jar.add_cookie_str("a=1", &at));
    assert!(jar.add_cookie_str("b=2", &at));
    assert!(jar.add_cookie_str("a=; Max-Age=0", &at));
    assert!(jar.add_cookie_str("b=; Expires=Wed, 21 Oct 2015 07:28:00 GMT", &at));
    assert_eq!(jar.len(), 0);
    assert_eq!(sent(&jar, "https://example.com/"), None);
    // An already expired cookie that deletes nothing is refused.
    assert!(!jar.add_cookie_str("c=3; Max-Age=-5", &at));

    let before = SystemTime::now();
    assert!(jar.add_cookie_str("d=4; Max-Age=3600; Expires=Wed, 21 Oct 2015 07:28:00 GMT", &at));
    let expires = jar.snapshot()[0].expires().unwrap();
    let ttl = expires.duration_since(before).unwrap();
    assert!((Duration::from_secs(3598)..=Duration::from_secs(3601)).contains(&ttl), "{ttl:?}");
}

#[test]
fn a_full_jar_evicts_its_oldest_cookie_and_updates_keep_their_place() {
    let jar = Jar::new().max_cookies(3);
    for host in ["a", "b", "c"] {
        assert!(jar.add_cookie_str("k=1", &url(&format!("https://{host}.example/"))));
    }
    // Updating the oldest keeps its creation time (RFC 6265 §5.3): it is still the oldest.
    assert!(jar.add_cookie_str("k=2", &url("https://a.example/")));
    assert!(jar.add_cookie_str("k=1", &url("https://d.example/")));
    let domains: Vec<String> = jar.snapshot().iter().map(|c| c.domain().to_owned()).collect();
    assert_eq!(domains, ["b.example", "c.example", "d.example"]);
    jar.clear();
    assert!(jar.is_empty());
}

#[test]
fn subdomains_share_their_registrable_domain_limit() {
    let jar = Jar::new().max_cookies_per_domain(2);
    assert!(jar.add_cookie_str("a=1", &url("https://one.example.co.uk/")));
    assert!(jar.add_cookie_str("b=1", &url("https://two.example.co.uk/")));
    assert!(jar.add_cookie_str("c=1", &url("https://three.example.co.uk/")));
    assert!(jar.add_cookie_str("d=1", &url("https://other.co.uk/")));
    let names: Vec<String> = jar.snapshot().iter().map(|c| c.name().to_owned()).collect();
    assert_eq!(names, ["b", "c", "d"]);
}

#[test]
fn debug_output_never_shows_a_value() {
    let jar = Jar::new();
    assert!(jar.add_cookie_str("session=hunter2; Path=/", &url("https://example.com/")));
    let shown =
        format!("{jar:?} {:?} {:?}", jar.snapshot(), jar.cookies(&url("https://example.com/")));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("session"), "{shown}");
    assert!(shown.contains("cookies: 1"), "{shown}");
    let layer = CookieLayer::new(Arc::new(jar));
    let svc = layer.layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(()))
    }));
    let shown = format!("{layer:?} {svc:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("max_set_cookie_headers: 50"), "{shown}");
}

#[tokio::test]
async fn the_layer_sends_sensitive_cookies_and_stores_per_request_url() {
    let (server, seen) = fake(&["id=7; Path=/"]);
    let jar = Arc::new(Jar::new());
    let svc = CookieLayer::new(jar.clone()).layer(server);
    let get = |u: &str| Request::get(u).body(()).unwrap();

    svc.clone().oneshot(get("https://api.example.com/login")).await.unwrap();
    svc.clone().oneshot(get("https://api.example.com/me")).await.unwrap();
    svc.clone().oneshot(get("https://cdn.example.com/")).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, [None, Some(("id=7".to_owned(), true)), None]);
    // Each host got its own host-only cookie.
    let domains: Vec<String> = jar.snapshot().iter().map(|c| c.domain().to_owned()).collect();
    assert_eq!(domains, ["api.example.com", "cdn.example.com"]);
}

#[tokio::test]
async fn a_request_without_an_absolute_uri_passes_through() {
    let (server, seen) = fake(&["x=1"]);
    let jar = Arc::new(Jar::new());
    assert!(jar.add_cookie_str("y=2", &url("http://localhost/")));
    let svc = CookieLayer::new(jar.clone()).layer(server);
    svc.oneshot(Request::get("/relative").body(()).unwrap()).await.unwrap();
    assert_eq!(seen.lock().unwrap().clone(), [None]);
    assert_eq!(jar.len(), 1);
}

/// A provider of one's own: counts what the layer hands it.
#[derive(Debug, Default)]
struct Counting {
    offered: AtomicUsize,
    asked: AtomicUsize,
}

impl CookieProvider for Counting {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, _url: &Url) {
        self.offered.fetch_add(headers.count(), Ordering::SeqCst);
    }

    fn cookies(&self, _url: &Url) -> Option<HeaderValue> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Some(HeaderValue::from_static("custom=1"))
    }
}

#[tokio::test]
async fn a_custom_provider_gets_at_most_the_cap_of_set_cookie_headers() {
    let (server, seen) = fake(&["a=1", "b=2", "c=3", "d=4"]);
    let provider = Arc::new(Counting::default());
    let svc = CookieLayer::new(provider.clone()).max_set_cookie_headers(3).layer(server);
    svc.oneshot(Request::get("https://example.com/").body(()).unwrap()).await.unwrap();
    assert_eq!(provider.offered.load(Ordering::SeqCst), 3);
    assert_eq!(provider.asked.load(Ordering::SeqCst), 1);
    // Marked sensitive by the layer even though the provider did not.
    assert_eq!(seen.lock().unwrap().clone(), [Some(("custom=1".to_owned(), true))]);
}
