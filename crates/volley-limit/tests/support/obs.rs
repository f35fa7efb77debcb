//! In-memory capture of tracing events (a `tracing_subscriber::Layer`) and, with the
//! `metrics` feature, of metrics (a small `metrics::Recorder`), for asserting what a layer
//! reports.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// A field value as recorded, keeping its type: numbers must arrive as numbers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(String),
    Debug(String),
}

/// One event: level, message and typed fields.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) level: Level,
    pub(crate) message: String,
    pub(crate) fields: HashMap<String, Value>,
}

impl Recorded {
    pub(crate) fn u64(&self, name: &str) -> u64 {
        match self.fields.get(name) {
            Some(Value::U64(n)) => *n,
            other => panic!("{name} is not a u64 in {self:?}: {other:?}"),
        }
    }
    pub(crate) fn bool(&self, name: &str) -> bool {
        match self.fields.get(name) {
            Some(Value::Bool(b)) => *b,
            other => panic!("{name} is not a bool in {self:?}: {other:?}"),
        }
    }
    pub(crate) fn str(&self, name: &str) -> String {
        match self.fields.get(name) {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Debug(s)) => s.clone(),
            other => panic!("{name} is not text in {self:?}: {other:?}"),
        }
    }
}

/// The events of targets starting with a prefix, captured while installed.
#[derive(Clone, Default)]
pub(crate) struct Events {
    prefix: &'static str,
    events: Arc<Mutex<Vec<Recorded>>>,
}

struct Fields<'a>(&'a mut HashMap<String, Value>);

impl Visit for Fields<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::U64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::I64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::Str(value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::Debug(format!("{value:?}")));
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with(self.prefix) {
            return;
        }
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let message = match fields.remove("message") {
            Some(Value::Debug(m) | Value::Str(m)) => m,
            _ => String::new(),
        };
        let level = *event.metadata().level();
        self.events.lock().unwrap().push(Recorded { level, message, fields });
    }
}

impl Events {
    /// Captures the events of `prefix` on this thread until the guard drops.
    pub(crate) fn capture(prefix: &'static str) -> (Self, tracing::subscriber::DefaultGuard) {
        let events = Self { prefix, events: Arc::default() };
        let subscriber = tracing_subscriber::registry().with(events.clone());
        (events, tracing::subscriber::set_default(subscriber))
    }

    /// The events whose message starts with `message`.
    pub(crate) fn named(&self, message: &str) -> Vec<Recorded> {
        let events = self.events.lock().unwrap();
        events.iter().filter(|e| e.message.starts_with(message)).cloned().collect()
    }
}

#[cfg(feature = "metrics")]
pub(crate) use recorder::*;

/// Stands for the recorder when the feature is off.
#[cfg(not(feature = "metrics"))]
#[derive(Debug)]
pub(crate) struct Metrics;

/// Runs `test` on a paused current-thread runtime, under an in-memory recorder when the
/// `metrics` feature is on.
pub(crate) fn run<T, F: std::future::Future<Output = T>>(test: impl FnOnce() -> F) -> (T, Metrics) {
    #[cfg(feature = "metrics")]
    {
        let metrics = Metrics::default();
        let out = metrics.run(test);
        (out, metrics)
    }
    #[cfg(not(feature = "metrics"))]
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        (runtime.block_on(test()), Metrics)
    }
}

#[cfg(feature = "metrics")]
mod recorder {
    use std::collections::HashMap;
    use std::future::Future;
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
        Recorder, SharedString, Unit,
    };

    /// A series: the metric name and its labels, sorted.
    pub(crate) type Series = (String, Vec<(String, String)>);

    /// Everything recorded: counters, gauges (value now, highest seen), histogram samples.
    #[derive(Default, Debug)]
    pub(crate) struct Store {
        pub(crate) counters: HashMap<Series, u64>,
        pub(crate) gauges: HashMap<Series, (f64, f64)>,
        pub(crate) histograms: HashMap<Series, Vec<f64>>,
    }

    /// An in-memory recorder, shared by the handles it gives out.
    #[derive(Clone, Default)]
    pub(crate) struct Metrics(Arc<Mutex<Store>>);

    struct Handle(Arc<Mutex<Store>>, Series);

    fn series(key: &Key) -> Series {
        let mut labels: Vec<(String, String)> =
            key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
        labels.sort();
        (key.name().to_owned(), labels)
    }

    impl CounterFn for Handle {
        fn increment(&self, value: u64) {
            *self.0.lock().unwrap().counters.entry(self.1.clone()).or_default() += value;
        }
        fn absolute(&self, value: u64) {
            self.0.lock().unwrap().counters.insert(self.1.clone(), value);
        }
    }

    impl Handle {
        fn gauge(&self, f: impl FnOnce(f64) -> f64) {
            let mut store = self.0.lock().unwrap();
            let (now, max) = store.gauges.entry(self.1.clone()).or_insert((0.0, f64::MIN));
            *now = f(*now);
            *max = max.max(*now);
        }
    }

    impl GaugeFn for Handle {
        fn increment(&self, value: f64) {
            self.gauge(|now| now + value);
        }
        fn decrement(&self, value: f64) {
            self.gauge(|now| now - value);
        }
        fn set(&self, value: f64) {
            self.gauge(|_| value);
        }
    }

    impl HistogramFn for Handle {
        fn record(&self, value: f64) {
            self.0.lock().unwrap().histograms.entry(self.1.clone()).or_default().push(value);
        }
    }

    impl Recorder for Metrics {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(Arc::new(Handle(self.0.clone(), series(key))))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(Arc::new(Handle(self.0.clone(), series(key))))
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(Arc::new(Handle(self.0.clone(), series(key))))
        }
    }

    fn labelled(name: &str, labels: &[(&str, &str)]) -> Series {
        let mut labels: Vec<(String, String)> =
            labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        labels.sort();
        (name.to_owned(), labels)
    }

    impl Metrics {
        /// Runs `test` on a current-thread runtime with paused time, with this recorder
        /// installed on the thread (every task of the runtime, server included, runs there).
        pub(crate) fn run<T, F: Future<Output = T>>(&self, test: impl FnOnce() -> F) -> T {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap();
            metrics::with_local_recorder(self, || runtime.block_on(test()))
        }

        pub(crate) fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
            let store = self.0.lock().unwrap();
            store.counters.get(&labelled(name, labels)).copied().unwrap_or(0)
        }

        /// The gauge's value now and the highest it reached.
        pub(crate) fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<(f64, f64)> {
            self.0.lock().unwrap().gauges.get(&labelled(name, labels)).copied()
        }

        pub(crate) fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
            let store = self.0.lock().unwrap();
            store.histograms.get(&labelled(name, labels)).cloned().unwrap_or_default()
        }

        /// Every series of `name`.
        pub(crate) fn series(&self, name: &str) -> Vec<Series> {
            let store = self.0.lock().unwrap();
            let mut all: Vec<Series> = store
                .counters
                .keys()
                .chain(store.gauges.keys())
                .chain(store.histograms.keys())
                .filter(|(n, _)| n == name)
                .cloned()
                .collect();
            all.sort();
            all.dedup();
            all
        }
    }
}
