//! Spans, events and metrics of a retried, a throttled and a timed-out request, captured
//! by an in-memory tracing subscriber (and, with the `metrics` feature, an in-memory
//! recorder) over loopback.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};
use volley::{Client, Kind};
use volley_testserver::TestServer;

/// A field value, keeping numbers typed.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    U64(u64),
    I64(i64),
    Str(String),
}

#[derive(Clone, Debug, Default)]
struct SpanRec {
    name: &'static str,
    parent: Option<&'static str>,
    fields: BTreeMap<String, Value>,
}

#[derive(Clone, Debug)]
struct EventRec {
    level: tracing::Level,
    span: Option<&'static str>,
    fields: BTreeMap<String, Value>,
}

#[derive(Default)]
struct Captured {
    spans: Vec<SpanRec>,
    ids: BTreeMap<u64, usize>,
    events: Vec<EventRec>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

struct Fields<'a>(&'a mut BTreeMap<String, Value>);

impl Visit for Fields<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::U64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::I64(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::Str(value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), Value::Str(format!("{value:?}")));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut rec = SpanRec { name: attrs.metadata().name(), ..SpanRec::default() };
        rec.parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.name());
        attrs.record(&mut Fields(&mut rec.fields));
        let mut captured = self.0.lock().unwrap();
        let index = captured.spans.len();
        captured.spans.push(rec);
        captured.ids.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut captured = self.0.lock().unwrap();
        let index = captured.ids[&id.into_u64()];
        values.record(&mut Fields(&mut captured.spans[index].fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx.event_span(event).map(|s| s.name());
        let level = *event.metadata().level();
        self.0.lock().unwrap().events.push(EventRec { level, span, fields });
    }
}

impl Capture {
    fn spans(&self, name: &str) -> Vec<SpanRec> {
        self.0.lock().unwrap().spans.iter().filter(|s| s.name == name).cloned().collect()
    }

    fn events(&self, message: &str) -> Vec<EventRec> {
        let message = Value::Str(message.into());
        let captured = self.0.lock().unwrap();
        captured
            .events
            .iter()
            .filter(|e| e.fields.get("message") == Some(&message))
            .cloned()
            .collect()
    }
}

/// Captures every span and event of this thread (the tests run on a current-thread runtime).
fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let guard = tracing::subscriber::set_default(Registry::default().with(capture.clone()));
    (capture, guard)
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

#[tokio::test(start_paused = true)]
async fn a_retried_request_has_one_request_span_and_an_attempt_span_per_try() {
    let (capture, _guard) = capture();
    #[cfg(feature = "metrics")]
    let (recorder, _metrics) = metrics_support::install();
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().retries(3).build().unwrap();
    let res = client.get(server.url("/flaky/2?page=1&token=hunter2")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(server.hits("/flaky/2"), 3);

    let requests = capture.spans("http.request");
    assert_eq!(requests.len(), 1);
    let request = &requests[0].fields;
    assert_eq!(request["http.request.method"], s("GET"));
    assert_eq!(request["otel.name"], s("GET"));
    assert_eq!(request["otel.kind"], s("client"));
    let url = format!("http://{}/flaky/2?page=1&token=[redacted]", server.addr());
    assert_eq!(request["url.full"], Value::Str(url));
    assert_eq!(request["server.address"], s("127.0.0.1"));
    assert_eq!(request["server.port"], Value::I64(i64::from(server.addr().port())));
    assert_eq!(request["http.response.status_code"], Value::I64(200));
    assert!(!request.contains_key("error.type"), "a success has no error.type");

    let attempts = capture.spans("retry_attempt");
    assert_eq!(attempts.len(), 3);
    let resend: Vec<_> =
        attempts.iter().map(|a| a.fields.get("http.request.resend_count")).collect();
    assert_eq!(resend, [None, Some(&Value::I64(1)), Some(&Value::I64(2))]);
    let status: Vec<_> =
        attempts.iter().map(|a| a.fields["http.response.status_code"].clone()).collect();
    assert_eq!(status, [Value::I64(503), Value::I64(503), Value::I64(200)]);
    let outcome: Vec<_> = attempts.iter().map(|a| a.fields["outcome"].clone()).collect();
    assert_eq!(outcome, [s("retryable"), s("retryable"), s("success")]);
    assert!(attempts.iter().all(|a| a.parent == Some("http.request")));

    let waits = capture.events("waiting before a retry");
    assert_eq!(waits.len(), 2);
    for wait in &waits {
        assert_eq!(wait.level, tracing::Level::DEBUG);
        assert_eq!(wait.span, Some("retry_attempt"));
        assert_eq!(wait.fields["delay_cause"], s("backoff"));
        assert!(matches!(wait.fields["delay_ms"], Value::U64(_)), "{:?}", wait.fields);
    }

    #[cfg(feature = "metrics")]
    {
        let key = format!("http://{}", server.addr());
        assert_eq!(
            recorder.counter("volley.attempts", &[("outcome", "retryable"), ("key", &key)]),
            2
        );
        assert_eq!(
            recorder.counter("volley.attempts", &[("outcome", "success"), ("key", &key)]),
            1
        );
        assert_eq!(recorder.counter("volley.retries", &[("cause", "backoff"), ("key", &key)]), 2);
        assert_eq!(recorder.histogram("volley.retry.wait", &[("cause", "backoff")]).len(), 2);
        let durations = recorder.histogram(
            "http.client.request.duration",
            &[("http.request.method", "GET"), ("key", &key), ("http.response.status_code", "200")],
        );
        assert_eq!(durations.len(), 1);
        // The request lasted the two backoff sleeps.
        let slept: f64 =
            recorder.histogram("volley.retry.wait", &[("cause", "backoff")]).iter().sum();
        assert!(durations[0] >= slept, "{durations:?} < {slept}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_throttled_request_waits_the_hint_and_says_so() {
    let (capture, _guard) = capture();
    #[cfg(feature = "metrics")]
    let (recorder, _metrics) = metrics_support::install();
    let server = TestServer::start().await.unwrap();
    let client = Client::builder().retries(2).build().unwrap();
    let start = Instant::now();
    let res = client.get(server.url("/retry-after/2?times=1&key=throttled")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(start.elapsed() >= Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(server.hits("/retry-after/2"), 2);

    let attempts = capture.spans("retry_attempt");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].fields["outcome"], s("throttled"));
    assert_eq!(attempts[0].fields["http.response.status_code"], Value::I64(429));
    assert_eq!(attempts[0].fields["delay_cause"], s("server hint"));
    let waits = capture.events("waiting before a retry");
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0].fields["delay_cause"], s("server hint"));
    let Value::U64(delay_ms) = waits[0].fields["delay_ms"] else { panic!("{:?}", waits[0]) };
    // The hint plus at most 10 % of jitter, never less.
    assert!((2000..=2200).contains(&delay_ms), "{delay_ms}");

    // A hint above the 60 s cap is not waited: the 429 comes back, and the refusal says why.
    let res = client.get(server.url("/status/429?retry_after=120")).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let refusals = capture.events("not retrying");
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].fields["stop_reason"], s("hint_above_cap"));
    assert_eq!(refusals[0].fields["delay_ms"], Value::U64(120_000));
    assert_eq!(refusals[0].fields["cap_ms"], Value::U64(60_000));
    let requests = capture.spans("http.request");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].fields["error.type"], s("429"), "a 4xx is an error.type");
    assert_eq!(requests[1].fields["http.response.status_code"], Value::I64(429));

    #[cfg(feature = "metrics")]
    {
        let key = format!("http://{}", server.addr());
        assert_eq!(
            recorder.counter("volley.attempts", &[("outcome", "throttled"), ("key", &key)]),
            2
        );
        assert_eq!(
            recorder.counter("volley.retries", &[("cause", "server_hint"), ("key", &key)]),
            1
        );
        let waits = recorder.histogram("volley.retry.wait", &[("cause", "server_hint")]);
        assert_eq!(waits.len(), 1);
        // The event rounds down to the millisecond; the histogram keeps the nanoseconds.
        assert!((waits[0] - delay_ms as f64 / 1000.0).abs() < 0.001, "{waits:?} vs {delay_ms}");
        assert_eq!(
            recorder
                .counter("volley.retry.refusals", &[("reason", "hint_above_cap"), ("key", &key)]),
            1
        );
        let labels = [
            ("http.request.method", "GET"),
            ("key", key.as_str()),
            ("http.response.status_code", "429"),
            ("error.type", "429"),
        ];
        assert_eq!(recorder.histogram("http.client.request.duration", &labels).len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_request_reports_its_error_type_and_timeout_kind() {
    let (capture, _guard) = capture();
    #[cfg(feature = "metrics")]
    let (recorder, _metrics) = metrics_support::install();
    let server = TestServer::start().await.unwrap();
    let client =
        Client::builder().retries(2).timeout(Some(Duration::from_secs(1))).build().unwrap();
    let start = Instant::now();
    let err = client.get(server.url("/delay/5000")).send().await.unwrap_err();
    assert_eq!(err.kind(), Kind::Timeout, "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(server.hits("/delay/5000"), 1);

    let requests = capture.spans("http.request");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].fields["error.type"], s("timeout"));
    assert_eq!(requests[0].fields["otel.status_code"], s("ERROR"));
    assert!(!requests[0].fields.contains_key("http.response.status_code"));
    let timeouts = capture.events("timed out");
    assert_eq!(timeouts.len(), 1, "one timer fired, reported once");
    assert_eq!(timeouts[0].fields["timeout_kind"], s("total"));
    assert_eq!(timeouts[0].fields["timeout_ms"], Value::U64(1000));

    #[cfg(feature = "metrics")]
    {
        let key = format!("http://{}", server.addr());
        assert_eq!(recorder.counter("volley.timeouts", &[("kind", "total")]), 1);
        let labels =
            [("http.request.method", "GET"), ("key", key.as_str()), ("error.type", "timeout")];
        assert_eq!(recorder.histogram("http.client.request.duration", &labels), [1.0]);
    }
}

#[cfg(feature = "metrics")]
mod metrics_support {
    //! An in-memory `metrics` recorder: counters and histogram samples by name and labels.

    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
        SharedString, Unit,
    };

    type Labels = Vec<(String, String)>;

    #[derive(Default)]
    struct Store {
        counters: BTreeMap<(String, Labels), Arc<AtomicU64>>,
        histograms: BTreeMap<(String, Labels), Arc<Samples>>,
    }

    #[derive(Default)]
    struct Samples(Mutex<Vec<f64>>);

    impl HistogramFn for Samples {
        fn record(&self, value: f64) {
            self.0.lock().unwrap().push(value);
        }
    }

    struct Count(Arc<AtomicU64>);

    impl CounterFn for Count {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::Relaxed);
        }
        fn absolute(&self, value: u64) {
            self.0.store(value, Ordering::Relaxed);
        }
    }

    #[derive(Clone, Default)]
    pub(crate) struct MemoryRecorder(Arc<Mutex<Store>>);

    fn id(key: &Key) -> (String, Labels) {
        let mut labels: Labels =
            key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
        labels.sort();
        (key.name().to_owned(), labels)
    }

    fn wanted(name: &str, labels: &[(&str, &str)]) -> (String, Labels) {
        let mut labels: Labels =
            labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        labels.sort();
        (name.to_owned(), labels)
    }

    impl MemoryRecorder {
        /// The counter with exactly these labels, 0 if never incremented.
        pub(crate) fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
            let store = self.0.lock().unwrap();
            store.counters.get(&wanted(name, labels)).map_or(0, |c| c.load(Ordering::Relaxed))
        }

        /// The samples of the histogram with exactly these labels.
        pub(crate) fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
            let store = self.0.lock().unwrap();
            store
                .histograms
                .get(&wanted(name, labels))
                .map_or_else(Vec::new, |h| h.0.lock().unwrap().clone())
        }
    }

    impl Recorder for MemoryRecorder {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let mut store = self.0.lock().unwrap();
            Counter::from_arc(Arc::new(Count(store.counters.entry(id(key)).or_default().clone())))
        }

        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }

        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            let mut store = self.0.lock().unwrap();
            Histogram::from_arc(store.histograms.entry(id(key)).or_default().clone())
        }
    }

    /// Installs a fresh recorder for this thread; the recorder leaks (a few KB per test) so
    /// the guard may borrow it for the whole test.
    pub(crate) fn install() -> (MemoryRecorder, metrics::LocalRecorderGuard<'static>) {
        let recorder: &'static MemoryRecorder = Box::leak(Box::default());
        (recorder.clone(), metrics::set_default_local_recorder(recorder))
    }
}
