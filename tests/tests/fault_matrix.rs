//! The fault matrix: volley's client against every fault of `volley_testserver::fault`,
//! for GET, POST, and POST with an `Idempotency-Key`.
//!
//! Each case must end in a response or the documented error kind, within its deadline
//! plus a margin, without a panic, after the documented number of attempts at the server;
//! afterwards every concurrency permit must be free, and the endless body must have cost
//! no more than the body limit. The observed table is written to
//! `$CARGO_TARGET_TMPDIR/fault_matrix.md`, and must match the one in
//! `docs/reliability.md` (time excepted); `VOLLEY_WRITE_RELIABILITY=1` rewrites it there.
//!
//! The cases run at once on a multi-thread runtime with the real clock: hyper's I/O does
//! not follow a paused clock. Times are therefore bounds on hangs, not measurements.

#![allow(clippy::print_stderr)]

use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;
use volley::{Backoff, Client, RequestBuilder, RetryPolicy};
use volley_testserver::TestServer;
use volley_testserver::fault::{self, Fault, FaultServer};

/// The client's budgets: small, so that the whole matrix takes seconds.
const TOTAL: Duration = Duration::from_millis(2500);
const ATTEMPT: Duration = Duration::from_secs(1);
const CONNECT: Duration = Duration::from_millis(500);
/// Added to every upper time bound: loaded CI machines are slow, but not this slow.
const MARGIN: Duration = Duration::from_secs(1);
/// The client's response body limit, which the endless body must hit: the default is
/// 64 MiB, which a debug build on a loaded machine does not read within the 1 s attempt
/// timeout, so the matrix sets 1 MiB (as it shrinks the timeouts).
const BODY_LIMIT: u64 = 1024 * 1024;
/// What the endless body may cost beyond the limit: socket buffers on both sides.
const BODY_SLACK: u64 = 16 * 1024 * 1024;
/// The name of the error kind for a body over the limit (`volley::Kind::as_str`).
const BODY_TOO_LARGE: &str = "body_too_large";
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/reliability.md");
const START: &str = "<!-- fault-matrix:start -->";
const END: &str = "<!-- fault-matrix:end -->";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    PostWithKey,
}

const METHODS: [Method; 3] = [Method::Get, Method::Post, Method::PostWithKey];

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::PostWithKey => "POST + key",
        }
    }
}

/// What a case's "attempts" counts: whatever the fault lets the server (or client) see.
#[derive(Clone, Copy, Debug)]
enum Unit {
    /// Attempts the client reports (nothing reaches a refusing server).
    Client,
    /// TCP connections accepted (the fault reads no request).
    Connections,
    /// Request heads (HTTP/2: streams) received.
    Requests,
}

/// When a case should end, from the start of the request to the end of its body.
#[derive(Clone, Copy, Debug)]
enum Time {
    /// At once: no timer is involved.
    Now,
    /// When one attempt's timeout fires.
    Attempt,
    /// Before one attempt's timeout fires.
    WithinAttempt,
    /// When four connect timeouts (and three short backoffs) have passed.
    Connects,
    /// When the total deadline fires.
    Deadline,
}

impl Time {
    fn bounds(self) -> (Duration, Duration) {
        let (lo, hi) = match self {
            Time::Now => (Duration::ZERO, Duration::from_millis(500)),
            Time::Attempt => (ATTEMPT, ATTEMPT),
            Time::WithinAttempt => (Duration::ZERO, ATTEMPT),
            Time::Connects => (CONNECT * 4, TOTAL),
            Time::Deadline => (TOTAL, TOTAL),
        };
        (lo, hi + MARGIN)
    }
}

/// The documented result of one fault for one method.
#[derive(Clone, Copy, Debug)]
struct Expect {
    /// A status code (`"429"`) or an error kind (`"timeout"`).
    outcome: &'static str,
    attempts: u64,
    time: Time,
}

const fn expect(outcome: &'static str, attempts: u64, time: Time) -> Expect {
    Expect { outcome, attempts, time }
}

/// The same result for every method.
const fn all(outcome: &'static str, attempts: u64, time: Time) -> [Expect; 3] {
    [expect(outcome, attempts, time); 3]
}

/// A failure that is retried for GET and POST with a key, and not for a plain POST: the
/// request was sent, so only an idempotent one may go again.
const fn sent(outcome: &'static str, retried: (u64, Time), once: (u64, Time)) -> [Expect; 3] {
    [
        expect(outcome, retried.0, retried.1),
        expect(outcome, once.0, once.1),
        expect(outcome, retried.0, retried.1),
    ]
}

struct Case {
    name: &'static str,
    fault: Fault,
    unit: Unit,
    /// Sent by the client with a rate limit configured.
    rate_limited: bool,
    expect: [Expect; 3],
}

fn case(name: &'static str, fault: Fault, unit: Unit, expect: [Expect; 3]) -> Case {
    Case { name, fault, unit, rate_limited: false, expect }
}

fn respond(status: u16, headers: &[(&str, String)]) -> Fault {
    let headers = headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect();
    Fault::Respond { status, headers }
}

/// A Structured Field list of about `len` bytes, item `i` written by `item(i)`.
fn long_list(len: usize, item: impl Fn(usize) -> String) -> String {
    let mut list = String::new();
    for i in 0.. {
        let next = item(i);
        if list.len() + next.len() + 2 > len {
            break;
        }
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(&next);
    }
    list
}

/// The matrix. Four attempts is the default of three retries; three is what fits in the
/// 2.5 s deadline when each attempt waits out its 1 s timeout.
fn cases() -> Vec<Case> {
    use Time::*;
    let ratelimit = long_list(200_000, |i| format!("\"p{i}\";r=0;t=1"));
    let policy = long_list(200_000, |i| format!("\"p{i}\";q=100;w=60"));
    vec![
        case("connection refused", Fault::Refuse, Unit::Client, all("connect", 4, Now)),
        case(
            "accepted, never read",
            Fault::AcceptNoRead,
            Unit::Connections,
            sent("timeout", (3, Deadline), (1, Attempt)),
        ),
        case(
            "TLS handshake stalls",
            Fault::TlsStall,
            Unit::Connections,
            all("timeout (connect)", 4, Connects),
        ),
        case(
            "headers never sent",
            Fault::NoHeaders,
            Unit::Requests,
            sent("timeout", (3, Deadline), (1, Attempt)),
        ),
        case(
            "headers, then the body stalls",
            Fault::StalledBody,
            Unit::Requests,
            all("timeout", 1, Attempt),
        ),
        case(
            "body drips 1 byte/s",
            Fault::Drip { every: Duration::from_secs(1) },
            Unit::Requests,
            all("timeout", 1, Attempt),
        ),
        case("reset mid-body", Fault::ResetMidBody, Unit::Requests, all("body", 1, Now)),
        case("garbage status line", Fault::GarbageStatus, Unit::Requests, all("other", 1, Now)),
        case(
            "400 KB header block",
            Fault::HugeHeaders { bytes: 400 * 1024 },
            Unit::Requests,
            all("other", 1, Now),
        ),
        case(
            "endless body, read with bytes()",
            Fault::EndlessBody { cap: BODY_LIMIT + 2 * BODY_SLACK },
            Unit::Requests,
            all(BODY_TOO_LARGE, 1, WithinAttempt),
        ),
        case(
            "429, Retry-After: 99999999999",
            respond(429, &[("retry-after", "99999999999".into())]),
            Unit::Requests,
            all("429", 1, Now),
        ),
        case(
            "429, Retry-After in year 9999",
            respond(429, &[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT".into())]),
            Unit::Requests,
            all("429", 1, Now),
        ),
        case(
            "429 on every attempt",
            respond(429, &[]),
            Unit::Requests,
            sent("429", (4, Now), (1, Now)),
        ),
        Case {
            name: "429 with a 400 KB RateLimit pair, rate limit on",
            fault: respond(429, &[("ratelimit", ratelimit), ("ratelimit-policy", policy)]),
            unit: Unit::Requests,
            rate_limited: true,
            expect: sent("429", (4, Now), (1, Now)),
        },
        case(
            "HTTP/2 GOAWAY, nothing processed",
            Fault::H2GoAway,
            Unit::Connections,
            all("200", 2, Now),
        ),
        case("HTTP/2 REFUSED_STREAM", Fault::H2RefusedStream, Unit::Requests, all("200", 2, Now)),
        case(
            "HTTP/2 connection black-holed",
            Fault::H2BlackHole,
            Unit::Requests,
            sent("timeout", (3, Deadline), (1, Attempt)),
        ),
    ]
}

/// What one (fault, method) cell came to.
#[derive(Debug)]
struct Observed {
    outcome: String,
    attempts: u64,
    elapsed: Duration,
    body_bytes_written: u64,
    detail: String,
}

fn client(rate_limited: bool) -> Client {
    let mut builder =
        Client::builder()
            .timeout(Some(TOTAL))
            .attempt_timeout(Some(ATTEMPT))
            .connect_timeout(Some(CONNECT))
            .retry_policy(RetryPolicy::new().backoff(Backoff::full_jitter(
                Duration::from_millis(10),
                Duration::from_millis(100),
            )))
            .max_response_body(Some(BODY_LIMIT))
            .add_root_certificate(fault::certificate().expect("the fault servers' certificate"));
    if rate_limited {
        // Generous enough never to delay the matrix or the permit check.
        builder = builder.rate_limit(1000, Duration::from_secs(1), 1000);
    }
    builder.build().expect("a client")
}

/// Sends `request` and reads the whole body.
async fn fetch(request: RequestBuilder) -> Result<(http::StatusCode, u32), volley::Error> {
    let res = request.send().await?;
    let status = res.status();
    let attempts = res.attempts();
    res.bytes().await?;
    Ok((status, attempts))
}

async fn run(client: Client, fault: Fault, unit: Unit, method: Method) -> Observed {
    let server = FaultServer::start(fault).await.expect("a fault server");
    let url = server.url("/fault");
    let request = match method {
        Method::Get => client.get(url),
        Method::Post => client.post(url).body("payload"),
        Method::PostWithKey => client.post(url).body("payload").header("idempotency-key", "k-1"),
    };
    let start = Instant::now();
    let result = fetch(request).await;
    let elapsed = start.elapsed();
    let (outcome, client_attempts, detail) = match result {
        Ok((status, attempts)) => {
            (status.as_str().to_owned(), Some(u64::from(attempts)), String::new())
        }
        Err(err) => {
            let kind = err.kind();
            // A connect timeout is a timeout that `is_connect`: say both.
            let outcome = if err.is_connect() && kind != volley::Kind::Connect {
                format!("{kind} (connect)")
            } else {
                kind.to_string()
            };
            (outcome, err.attempts().map(u64::from), err.to_string())
        }
    };
    let attempts = match unit {
        Unit::Client => client_attempts.unwrap_or(0),
        Unit::Connections => server.connections(),
        Unit::Requests => server.requests(),
    };
    Observed { outcome, attempts, elapsed, body_bytes_written: server.body_bytes_written(), detail }
}

/// Every permit of `client`'s concurrency limit (100) is free: 100 responses can be
/// held at once (each holds its permit until its body is read or dropped), a 101st request
/// then fails fast for want of a permit, and once they are dropped a request goes through.
async fn assert_permits_free(client: &Client, which: &str, failures: &mut Vec<String>) {
    let server = TestServer::start().await.expect("a test server");
    let sends = (0..100).map(|_| client.get(server.url("/bytes/10")).send());
    let held = futures_util::future::join_all(sends).await;
    let ok = held.iter().filter(|r| r.is_ok()).count();
    let extra =
        client.get(server.url("/bytes/10")).timeout(Duration::from_millis(300)).send().await;
    let extra =
        extra.map(|res| res.status().to_string()).unwrap_or_else(|err| err.kind().to_string());
    drop(held);
    let after = client.get(server.url("/bytes/10")).send().await.map(|res| res.status().as_u16());
    if ok != 100 || extra != "overloaded" || after.as_ref().ok() != Some(&200) {
        failures.push(format!(
            "{which}: {ok}/100 responses held at once (expected 100; a permit leaked?), then a \
             101st request gave `{extra}` (expected `overloaded`: no permit before its deadline) and, once they were \
             dropped, one more gave {after:?} (expected 200)"
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_matrix() {
    let plain = client(false);
    let limited = client(true);
    let cases = cases();
    // All cells at once, polled by this task (`join_all`, not `tokio::spawn`, whose
    // `Send` bound `Response::bytes()` does not meet for every lifetime today); a panic
    // is caught per cell and reported as its outcome.
    let mut runs = Vec::new();
    let mut cells = Vec::new();
    for case in &cases {
        for (method, expected) in METHODS.into_iter().zip(case.expect) {
            let client = if case.rate_limited { limited.clone() } else { plain.clone() };
            runs.push(
                AssertUnwindSafe(run(client, case.fault.clone(), case.unit, method)).catch_unwind(),
            );
            cells.push((case, method, expected));
        }
    }
    let results = futures_util::future::join_all(runs).await;

    let mut failures = Vec::new();
    let mut rows = Vec::new();
    for ((case, method, expected), result) in cells.into_iter().zip(results) {
        let observed = result.unwrap_or_else(|panic| Observed {
            outcome: "panic".to_owned(),
            attempts: 0,
            elapsed: Duration::ZERO,
            body_bytes_written: 0,
            detail: panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
        });
        let mut problems = Vec::new();
        if observed.outcome != expected.outcome {
            problems.push(format!("`{}`", expected.outcome));
        }
        if observed.attempts != expected.attempts {
            problems.push(format!("{} attempts", expected.attempts));
        }
        let (lo, hi) = expected.time.bounds();
        if observed.elapsed < lo || observed.elapsed > hi {
            problems.push(format!("{:.1}–{:.1} s", lo.as_secs_f64(), hi.as_secs_f64()));
        }
        if matches!(case.fault, Fault::EndlessBody { .. })
            && observed.body_bytes_written > BODY_LIMIT + BODY_SLACK
        {
            problems.push(format!("≤ {} MiB sent", (BODY_LIMIT + BODY_SLACK) >> 20));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} / {}: got `{}`, {} attempts, {:.2} s, {} body bytes sent; expected {} ({})",
                case.name,
                method.label(),
                observed.outcome,
                observed.attempts,
                observed.elapsed.as_secs_f64(),
                observed.body_bytes_written,
                problems.join(", "),
                observed.detail,
            ));
        }
        rows.push(Row { case, method, observed, problems });
    }

    assert_permits_free(&plain, "the client", &mut failures).await;
    assert_permits_free(&limited, "the rate-limited client", &mut failures).await;

    let table = table(&rows);
    let out = concat!(env!("CARGO_TARGET_TMPDIR"), "/fault_matrix.md");
    let mut report = format!("{table}\nErrors, as displayed:\n\n");
    for row in rows.iter().filter(|row| !row.observed.detail.is_empty()) {
        let _ = writeln!(
            report,
            "- {} / {}: {}",
            row.case.name,
            row.method.label(),
            row.observed.detail
        );
    }
    std::fs::write(out, report).expect("write the observed table");
    check_doc(&table, &mut failures);

    assert!(
        failures.is_empty(),
        "{} problems:\n{}\n\nobserved:\n{table}",
        failures.len(),
        failures.join("\n")
    );
}

struct Row<'a> {
    case: &'a Case,
    method: Method,
    observed: Observed,
    problems: Vec<String>,
}

const TIME_COLUMN: usize = 4;

fn table(rows: &[Row<'_>]) -> String {
    let mut table = String::from(
        "| fault | method | outcome | attempts | time | as documented |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let outcome = if row.observed.outcome.parse::<u16>().is_ok() {
            format!("`{}`", row.observed.outcome)
        } else {
            format!("error `{}`", row.observed.outcome)
        };
        let unit = match row.case.unit {
            Unit::Client => " (client)",
            Unit::Connections => " conn.",
            Unit::Requests => "",
        };
        let verdict = if row.problems.is_empty() {
            "yes".to_owned()
        } else {
            format!("**no**: expected {}", row.problems.join(", "))
        };
        let _ = writeln!(
            table,
            "| {} | {} | {outcome} | {}{unit} | {:.1} s | {verdict} |",
            row.case.name,
            row.method.label(),
            row.observed.attempts,
            row.observed.elapsed.as_secs_f64(),
        );
    }
    table
}

/// The table without its time column, which differs from run to run.
fn timeless(table: &str) -> Vec<String> {
    table
        .lines()
        .map(|line| {
            let mut cells: Vec<&str> = line.split('|').collect();
            if cells.len() > TIME_COLUMN + 1 {
                cells.remove(TIME_COLUMN + 1);
            }
            cells.join("|")
        })
        .collect()
}

/// Compares `table` with the one in the doc, or writes it there when asked to.
fn check_doc(table: &str, failures: &mut Vec<String>) {
    let doc = std::fs::read_to_string(DOC).unwrap_or_default();
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        failures.push(format!("{DOC} has no {START} … {END} section"));
        return;
    };
    let current = &doc[start + START.len()..end];
    if std::env::var_os("VOLLEY_WRITE_RELIABILITY").is_some_and(|v| v == "1") {
        let updated = format!("{}{START}\n{table}{}", &doc[..start], &doc[end..]);
        std::fs::write(DOC, updated).expect("write docs/reliability.md");
        eprintln!("wrote the fault matrix to {DOC}");
    } else if timeless(current.trim()) != timeless(table.trim()) {
        failures.push(
            "docs/reliability.md does not show this run's outcomes; rewrite its table with \
             VOLLEY_WRITE_RELIABILITY=1 cargo test -p volley-tests --test fault_matrix"
                .to_owned(),
        );
    }
}
