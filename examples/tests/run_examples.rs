//! Runs every example binary and checks what it printed (counts exactly, timings within
//! generous bounds), so the examples keep working and keep saying what the README claims.
//!
//! `cargo test` builds the examples before it runs tests; they sit in
//! `target/<profile>/examples/`, next to the `deps/` folder holding this test. (With
//! `--test run_examples` alone cargo does not build them: run the package's tests whole,
//! or `cargo build -p volley-examples --examples` first.)

mod support;

use std::path::Path;
use std::time::Duration;

use support::{json_after, run};

#[test]
fn concurrent_fetch_takes_2s_not_10s() {
    let run = run("concurrent_fetch");
    assert_eq!(run.line("Fetched"), "Fetched 5 responses");
    let elapsed = run.number_after("Elapsed: ");
    assert!((2.0..4.0).contains(&elapsed), "5 × 2 s at once took {elapsed} s");
    assert!(run.elapsed < Duration::from_secs(4), "process took {:?}", run.elapsed);
}

#[test]
fn simple_get_prints_status_headers_and_data() {
    let run = run("simple_get");
    assert_eq!(run.line("Status:"), "Status: 200");
    assert!(run.line("Headers:").contains("\"content-type\": \"application/json\""));
    let data = json_after(&run, "Data: ");
    assert_eq!(data["method"], "GET");
    assert_eq!(data["args"], serde_json::json!({}));
    assert!(data["url"].as_str().is_some_and(|url| url.ends_with("/get")), "{data}");
}

#[test]
fn post_json_echoes_the_payload() {
    let run = run("post_json");
    assert_eq!(run.line("Status:"), "Status: 200");
    assert_eq!(json_after(&run, "Sent data: "), serde_json::json!({"name": "Alice", "age": 30}));
}

#[test]
fn gather_returns_results_in_order() {
    let run = run("gather");
    assert!(run.line("Fetched").starts_with("Fetched 3 posts in "));
    let urls = run.lines_starting("  http://");
    assert_eq!(urls.len(), 3, "{}", run.stdout);
    for (id, url) in (1..=3).zip(urls) {
        assert!(url.ends_with(&format!("/anything/posts/{id}")), "{url}");
    }
}

#[test]
fn session_reuse_reuses_pooled_connections() {
    let run = run("session_reuse");
    assert_eq!(run.number_after("One after another: "), 10.0);
    // Usually 1; hyper-util opens a second when a request races the previous connection's
    // return to the pool.
    let sequential = run.number_after("10 requests over ");
    assert!(
        (1.0..=3.0).contains(&sequential),
        "10 requests one after another used {sequential} connections"
    );
    assert_eq!(run.line("Successfully"), "Successfully fetched 3 responses");
    assert_eq!(run.number_after("In all: "), 13.0);
    let total = run.number_after("13 requests over ");
    assert!((sequential..=sequential + 3.0).contains(&total), "{}", run.stdout);
}

#[test]
fn error_handling_reports_each_failure_and_one_success() {
    let run = run("error_handling");
    assert!(run.line("Error: ").starts_with("Error: 500 for http://"));
    assert!(run.line("Error: ").ends_with("/status/500"));
    assert!(run.line("Timeout").starts_with("Timeout fetching http://"));
    assert!(run.line("Timeout").ends_with("/delay/5000"));
    assert_eq!(run.line("Successfully"), "Successfully fetched 1 out of 3 responses");
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    // The 1 s timeout fired; the 5 s delay was not waited out.
    assert!(
        run.elapsed >= Duration::from_secs(1) && run.elapsed < Duration::from_secs(4),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn rate_limiting_spaces_requests_500ms_apart() {
    let run = run("rate_limiting");
    assert_eq!(run.lines_starting("  id=").len(), 4, "{}", run.stdout);
    assert!(run.line("Fetched").starts_with("Fetched 4 responses in "));
    // 2 per second, burst 1: starts at 0, 0.5, 1.0 and 1.5 s.
    let total = run.number_after("Fetched 4 responses in ");
    assert!((1.45..4.0).contains(&total), "4 requests at 2/s took {total} s");
    assert!(run.elapsed >= Duration::from_millis(1400), "{:?}", run.elapsed);
}

#[test]
fn headers_auth_sends_bearer_basic_and_custom_headers() {
    let run = run("headers_auth");
    assert_eq!(run.line("Fetched"), "Fetched 2 authenticated responses");
    assert_eq!(run.line("/bearer:"), "  /bearer: authenticated=true token=\"your_api_token_here\"");
    assert_eq!(
        run.line("/headers:"),
        "  /headers: user-agent=\"MyApp/1.0\" accept=\"application/json\""
    );
    assert_eq!(run.line("right password"), "Basic auth with the right password: 200");
    assert_eq!(run.line("wrong password"), "Basic auth with a wrong password: 401");
}

#[test]
fn api_collector_classifies_every_endpoint() {
    let run = run("api_collector");
    assert!(run.line("Collected").starts_with("Collected 5/7 responses in "));
    let outcomes: Vec<&str> = run.lines_starting("  ").into_iter().map(str::trim).collect();
    assert_eq!(
        outcomes,
        [
            "1: success",
            "10000: timeout",
            "2: success",
            "404: error (404)",
            "3: success",
            "1: success",
            "1: success"
        ]
    );
    // 3 per second, burst 1: the 7th request starts 6 × 333 ms = 2 s after the first.
    let elapsed = run.number_after("responses in ");
    assert!((1.95..6.0).contains(&elapsed), "7 requests at 3/s took {elapsed} s");
}

#[test]
fn gather_errors_keeps_every_result_in_order() {
    let run = run("gather_errors");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[0].contains("/get got ") && lines[0].ends_with(" bytes"), "{}", lines[0]);
    assert!(lines[1].contains("/status/404 FAILED: server answered 404 Not Found"), "{}", lines[1]);
    assert!(lines[2].ends_with("/bytes/2048 got 2048 bytes"), "{}", lines[2]);
}

#[test]
fn semaphore_10k_never_exceeds_20_in_flight() {
    let run = run("semaphore_10k");
    assert_eq!(run.lines_starting("  ").len(), 4, "progress every 2,500: {}", run.stdout);
    assert!(run.line("Fetched").starts_with("Fetched 10000 of 10000 URLs in "));
    let max = run.number_after("Most requests in flight at the server: ");
    assert!((1.0..=20.0).contains(&max), "{max} in flight with a limit of 20");
    let connections = run.number_after("Connections opened: ");
    assert!((1.0..=40.0).contains(&connections), "{connections} connections for 20 slots");
}

#[test]
fn post_form_json_multipart_sends_each_body() {
    let run = run("post_form_json_multipart");
    assert_eq!(
        json_after(&run, "JSON: the server parsed "),
        serde_json::json!({"name": "Alice", "email": "alice@example.com"})
    );
    assert_eq!(run.line("authorization"), "JSON: authorization \"Bearer secret-token\"");
    assert_eq!(
        run.line("Form:"),
        "Form: the server got \"key=value\" as \"application/x-www-form-urlencoded\""
    );
    assert!(run.line("Multipart: the server got").ends_with("bytes for a 4096-byte file"));
    // The file plus boundaries, part headers and the caption field.
    let bytes = run.number_after("Multipart: the server got ");
    assert!((4096.0..5000.0).contains(&bytes), "{bytes}");
    assert_eq!(run.line("file part"), "Multipart: file part present: true");
}

#[test]
fn retries_jitter_succeeds_on_the_third_attempt() {
    let run = run("retries_jitter");
    assert!(run.line("Succeeded").starts_with("Succeeded after 3 attempts"));
    assert_eq!(run.line("server saw"), "The server saw 3 requests");
    assert!(run.line("Gave up").starts_with("Gave up after 5 attempts: server answered 503"));
    // Sleeps of at most 0.1 + 0.2 s before the success, 0.1 + 0.2 + 0.4 + 0.8 s before giving up.
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn stream_download_writes_5mb_in_bounded_chunks_and_cleans_up() {
    let run = run("stream_download");
    let line = run.line("Wrote ");
    assert!(line.starts_with("Wrote 5000000 bytes to "), "{line}");
    let path =
        line.trim_start_matches("Wrote 5000000 bytes to ").split(" in ").next().unwrap_or_default();
    assert!(!Path::new(path).exists(), "{path} was not deleted");
    assert!(run.number_after(".bin in ") >= 2.0, "5 MB arrived in one chunk: {line}");
    let largest = run.number_after("Largest chunk held in memory: ");
    assert!(largest <= 1024.0 * 1024.0, "a {largest}-byte chunk is not constant memory");
    assert_eq!(run.line("Size on disk"), "Size on disk: 5000000 bytes");
}

#[test]
fn streaming_post_sends_every_chunk() {
    let run = run("streaming_post");
    assert_eq!(run.line("Streamed"), "Streamed 100 chunks of 10240 bytes");
    assert_eq!(run.line("received"), "The server received 1024000 bytes");
    assert_eq!(run.line("Transfer-Encoding"), "Transfer-Encoding: \"chunked\"");
}

#[test]
fn per_host_limits_cap_each_host_at_2() {
    let run = run("per_host_limits");
    assert!(run.line("Fetched").starts_with("Fetched 20 responses from 2 hosts in "));
    assert_eq!(run.line("host A"), "Most in flight at host A: 2");
    assert_eq!(run.line("host B"), "Most in flight at host B: 2");
    // 10 requests of 100 ms per host, 2 at a time: at least 5 rounds.
    let elapsed = run.number_after("2 hosts in ");
    assert!((0.5..3.0).contains(&elapsed), "{elapsed} s");
}

#[test]
fn retry_after_429_waits_when_short_and_returns_when_long() {
    let run = run("retry_after_429");
    let short = run.line("Retry-After: 1 ->");
    assert!(short.starts_with("Retry-After: 1 -> status 200 after 2 attempts in "), "{short}");
    // Never earlier than the server asked; jitter adds at most 0.1 s.
    let waited = run.number_after("after 2 attempts in ");
    assert!((1.0..2.5).contains(&waited), "{waited} s");
    let long = run.line("Retry-After: 3600 ->");
    assert!(long.starts_with("Retry-After: 3600 -> status 429 after 1 attempt(s) in "), "{long}");
    assert!(long.ends_with("the server asks to wait 3600 s (throttled: true)"), "{long}");
    assert!(run.number_after("after 1 attempt(s) in ") < 0.5, "{long}");
}

#[test]
fn sequential_vs_concurrent_shows_the_speedup() {
    let run = run("sequential_vs_concurrent");
    let sequential = run.number_after("Sequential: 20 requests in ");
    let concurrent = run.number_after("Concurrent: 20 requests in ");
    assert!(sequential >= 2.0, "20 × 100 ms one after another took {sequential} s");
    assert!(concurrent < 1.0, "20 × 100 ms at once took {concurrent} s");
}

#[test]
fn redirects_are_followed_limited_and_keep_credentials_home() {
    let run = run("redirects");
    assert_eq!(
        run.line("Followed /redirect/3"),
        "Followed /redirect/3: status 200 from /get after 3 redirects"
    );
    assert_eq!(
        run.lines_starting("  302 /redirect/"),
        ["  302 /redirect/3", "  302 /redirect/2", "  302 /redirect/1"]
    );
    assert_eq!(run.line("302 after a POST"), "302 after a POST: \"GET\" with 0 body bytes");
    assert_eq!(
        run.line("307 after a POST"),
        "307 after a POST: \"POST\" with the body {\"age\":30,\"name\":\"Alice\"}"
    );
    let limited = run.line("Limited to 2");
    assert!(
        limited.starts_with(
            "Limited to 2: error of kind redirect: too many redirects: stopped after 2 (the limit), \
             the next to http://127.0.0.1:"
        ),
        "{limited}"
    );
    assert!(limited.ends_with("/get"), "{limited}");
    assert_eq!(
        run.line("chain:"),
        "  chain: 302 /redirect/3, 302 /redirect/2, 302 /redirect/1 (the last one refused)"
    );
    assert_eq!(
        run.line("Policy::none()"),
        "Policy::none(): status 302 with Location /redirect/2 (1 request sent)"
    );
    assert_eq!(
        run.line("same origin"),
        "Redirected to the same origin: authorization \"Bearer s3cret-token\""
    );
    assert_eq!(run.line("other origin"), "Redirected to the other origin: authorization not sent");
}

#[test]
fn cookies_are_opt_in_inspectable_and_per_user() {
    let run = run("cookies");
    assert_eq!(run.line("Client::new()"), "Client::new(): the server got cookies {}");
    assert_eq!(
        run.line("on the redirect"),
        "cookie_store(true), on the redirect: the server got cookies {\"session\":\"abc\"}"
    );
    assert_eq!(
        run.line("a later request"),
        "cookie_store(true), a later request: the server got cookies {\"session\":\"abc\"}"
    );
    assert_eq!(
        json_after(&run, "Shared jar: the server got cookies "),
        serde_json::json!({"session": "abc", "theme": "dark"})
    );
    assert_eq!(run.line("holds"), "Shared jar holds 2 cookies:");
    let mut stored = run.lines_starting("  ");
    stored.sort_unstable();
    assert_eq!(
        stored,
        [
            "  session=abc for 127.0.0.1/ (host only: true)",
            "  theme=dark for 127.0.0.1/ (host only: true)"
        ]
    );
    assert_eq!(run.line("jar.clear()"), "After jar.clear(): the server got cookies {}");
    assert_eq!(
        run.lines_starting("Per-user jar: "),
        [
            "Per-user jar: alice's request carried {\"session\":\"alice\"} (1 cookie in the jar)",
            "Per-user jar: bob's request carried {\"session\":\"bob\"} (1 cookie in the jar)"
        ]
    );
}

#[test]
fn decompression_decodes_every_encoding_and_stops_a_bomb() {
    let run = run("decompression");
    for (path, flag) in
        [("/gzip", "gzipped"), ("/brotli", "brotli"), ("/zstd", "zstd"), ("/deflate", "deflated")]
    {
        let line = run.line(&format!("{path}: "));
        assert!(
            line.starts_with(&format!(
                "{path}: decoded JSON with {flag}=true, Content-Encoding removed, asked for \""
            )),
            "{line}"
        );
        for coding in ["gzip", "deflate", "br", "zstd"] {
            assert!(line.contains(coding), "{coding} not in Accept-Encoding: {line}");
        }
    }
    let raw = run.line("decompress(false)");
    assert!(raw.starts_with("decompress(false): Content-Encoding gzip, "), "{raw}");
    assert!(raw.ends_with(" bytes starting 1f 8b (the gzip magic)"), "{raw}");
    // 100 MB of zeros compress about a thousandfold.
    let compressed = run.number_after("100000000 bytes sent as ");
    assert!((10_000.0..1_000_000.0).contains(&compressed), "{compressed} gzip bytes");
    assert_eq!(
        run.line("max_response_body"),
        "max_response_body(1 MiB): error of kind body_too_large: response body grew past the \
         limit of 1048576 bytes"
    );
    // Stopped at 1 MiB: nowhere near the time decoding 100 MB would take in a debug build.
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

#[test]
fn hooks_count_connections_requests_and_attempts_and_wrap_a_fake_service() {
    let run = run("hooks");
    let connects = run.line("connector_layer");
    let counts: Vec<&str> =
        connects.split_whitespace().filter(|word| word.parse::<u64>().is_ok()).collect();
    assert_eq!(counts.len(), 2, "{connects}");
    let (seen, accepted): (u64, u64) = (counts[0].parse().unwrap(), counts[1].parse().unwrap());
    assert!(accepted >= 1 && seen >= accepted, "the layer saw every connection: {connects}");
    assert_eq!(
        run.line("attempt_layer"),
        "layer vs attempt_layer: /flaky/2 answered 200 after 1 request(s) and 3 attempt(s)"
    );
    assert_eq!(
        run.line("into_layer"),
        "into_layer: the fake service answered 200 \"answer 2\" after 2 attempts:"
    );
    assert_eq!(
        run.lines_starting("  attempt "),
        [
            "  attempt 1: GET http://fake.test/items -> 503",
            "  attempt 2: GET http://fake.test/items -> 200"
        ]
    );
}
