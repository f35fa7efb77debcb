//! `volley fetch` end to end: the built binary against a test server in this process.

mod common;

use common::{path_of, scratch_dir, volley};
use serde_json::Value;
use volley_testserver::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_match_the_servers_counters_and_bad_lines_are_skipped() {
    let server = TestServer::start().await.unwrap();
    let post = server.url("/post");
    let input = [
        server.url("/get"),
        String::new(),
        "# a comment".to_owned(),
        server.url("/status/404"),
        server.url("/status/500"),
        server.url("/flaky/2?key=records"),
        "not a url".to_owned(),
        r#"{"url": 5}"#.to_owned(),
        format!(r#"{{"url": "{post}", "method": "POST", "headers": {{"X-Case": "json"}}, "body": {{"n": 1}}}}"#),
        server.url("/delay/1000"),
        server.url("/bytes/5000"),
    ]
    .join("\n");
    let run = volley(&["fetch", "--retries", "2", "--attempt-timeout", "200ms", "-"], &input).await;

    // Bad lines make the run an input error, after every other line was fetched.
    assert_eq!(run.code, 2, "{}", run.stderr);
    let records = run.records();
    let lines: Vec<u64> = records.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(
        lines,
        [1, 4, 5, 6, 7, 8, 9, 10, 11],
        "in input order, blank lines and comments skipped"
    );
    let by_line = |n: u64| records.iter().find(|r| r["line"] == n).unwrap();
    fn summary(r: &Value) -> (Option<u64>, u64, Option<&str>) {
        (r["status"].as_u64(), r["attempts"].as_u64().unwrap(), r["error"]["kind"].as_str())
    }

    assert_eq!(summary(by_line(1)), (Some(200), 1, None));
    assert_eq!(summary(by_line(4)), (Some(404), 1, Some("status")));
    assert_eq!(summary(by_line(5)), (Some(500), 3, Some("status")));
    assert!(by_line(5)["error"]["message"].as_str().unwrap().contains("all 2 retries were used"));
    assert_eq!(summary(by_line(6)), (Some(200), 3, None));
    assert_eq!(summary(by_line(7)), (None, 0, Some("input")));
    assert_eq!(summary(by_line(8)), (None, 0, Some("input")));
    assert_eq!(by_line(8)["url"], Value::Null);
    assert_eq!(summary(by_line(9)), (Some(200), 1, None));
    assert_eq!(summary(by_line(10)), (None, 3, Some("timeout")));
    assert_eq!(
        (by_line(11)["bytes"].as_u64(), by_line(11)["status"].as_u64()),
        (Some(5000), Some(200))
    );

    // Every attempt a record claims reached the server, and nothing else did.
    for record in &records {
        if let Some(url) = record["url"].as_str() {
            assert_eq!(
                record["attempts"].as_u64().unwrap(),
                server.hits(&path_of(url)),
                "{record}"
            );
        }
    }
    let attempts: u64 = records.iter().map(|r| r["attempts"].as_u64().unwrap()).sum();
    assert_eq!(attempts, server.total_hits());
    assert_eq!(attempts, 1 + 1 + 3 + 3 + 1 + 3 + 1);

    // Piped stderr: the summary, and no progress bar (no escape codes, no carriage returns).
    assert!(!run.stderr.contains('\x1b') && !run.stderr.contains('\r'), "{:?}", run.stderr);
    assert!(run.stderr.starts_with("9 requests in "), "{}", run.stderr);
    assert!(
        run.stderr.contains("ok 4 · http 4xx 1 · http 5xx 1 · throttled 0 · timeout 1"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("bad input 2"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_say_whether_every_request_worked() {
    let server = TestServer::start().await.unwrap();
    let ok =
        volley(&["fetch", "-q"], &format!("{}\n{}\n", server.url("/get"), server.url("/bytes/10")))
            .await;
    assert_eq!((ok.code, ok.stderr.as_str()), (0, ""));
    assert_eq!(ok.records().len(), 2);

    let failed = volley(
        &["fetch", "-q", "--retries", "0"],
        &format!("{}\n{}\n", server.url("/get"), server.url("/status/503")),
    )
    .await;
    assert_eq!(failed.code, 1);
    assert_eq!(failed.records()[1]["error"]["message"], "HTTP 503 Service Unavailable");
    assert_eq!(server.hits("/status/503"), 1, "--retries 0 sends once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_output_comes_as_requests_finish() {
    let server = TestServer::start().await.unwrap();
    let input = format!("{}\n{}\n", server.url("/delay/400"), server.url("/get"));
    let ordered = volley(&["fetch", "-q"], &input).await;
    let unordered = volley(&["fetch", "-q", "--unordered"], &input).await;
    let lines = |run: &common::Run| {
        run.records().iter().map(|r| r["line"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(lines(&ordered), [1, 2]);
    assert_eq!(lines(&unordered), [2, 1]);
    let slow = &unordered.records()[1];
    assert!(slow["elapsed_ms"].as_f64().unwrap() >= 400.0, "{slow}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_saved_and_records_go_to_the_output_file() {
    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("save");
    let (out, bodies) = (dir.join("records.jsonl"), dir.join("bodies"));
    let input = format!("{}\n{}\n", server.url("/bytes/70000"), server.url("/anything"));
    let args = [
        "fetch",
        "-q",
        "--output",
        out.to_str().unwrap(),
        "--save-bodies",
        bodies.to_str().unwrap(),
    ];
    let run = volley(&args, &input).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);

    let written = std::fs::read_to_string(&out).unwrap();
    let records: Vec<Value> = written.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["saved"], bodies.join("1.body").to_str().unwrap());
    assert_eq!(
        std::fs::read(bodies.join("1.body")).unwrap(),
        volley_testserver::pattern_bytes(70000)
    );
    let echoed: Value =
        serde_json::from_slice(&std::fs::read(bodies.join("2.body")).unwrap()).unwrap();
    assert_eq!(echoed["method"], "GET");
    assert_eq!(
        records[1]["bytes"].as_u64().unwrap(),
        std::fs::metadata(bodies.join("2.body")).unwrap().len()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_headers_and_body_come_from_flags_and_lines() {
    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("flags");
    let input = format!(
        "{}\n{{\"url\": \"{}\", \"method\": \"patch\", \"headers\": {{\"X-Who\": \"line\"}}, \"body\": \"from the line\"}}\n",
        server.url("/anything/a"),
        server.url("/anything/b"),
    );
    let args = [
        "fetch",
        "-q",
        "-X",
        "PUT",
        "-H",
        "X-Who: flag",
        "--data",
        "from the flag",
        "--save-bodies",
        dir.to_str().unwrap(),
    ];
    let run = volley(&args, &input).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let echo = |n: u32| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(format!("{n}.body"))).unwrap()).unwrap()
    };
    let (a, b) = (echo(1), echo(2));
    assert_eq!(
        (&a["method"], &a["headers"]["x-who"], &a["data"]),
        (&"PUT".into(), &"flag".into(), &"from the flag".into())
    );
    assert_eq!(
        (&b["method"], &b["headers"]["x-who"], &b["data"]),
        (&"PATCH".into(), &"line".into(), &"from the line".into())
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_caps_what_the_server_sees_at_once() {
    let server = TestServer::start().await.unwrap();
    let input: String = (0..12).map(|i| server.url(&format!("/delay/150?i={i}")) + "\n").collect();
    let run = volley(&["fetch", "-q", "--concurrency", "12", "--per-host", "3", "-"], &input).await;
    assert_eq!((run.code, run.records().len()), (0, 12), "{}", run.stderr);
    assert_eq!(server.max_in_flight(), 3);
    // Four waves of three: the last request cannot end before 4 × 150 ms.
    let last_end = run
        .records()
        .iter()
        .map(|r| r["start_ms"].as_f64().unwrap() + r["elapsed_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(last_end >= 600.0, "{last_end}");
}

/// Records, errors and the summary show URLs without userinfo or secret query values, and
/// no credential header value, while the request itself carries them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_records_or_stderr() {
    let server = TestServer::start().await.unwrap();
    let port = server.addr().port();
    let input = [
        format!("http://bob:hunter2@127.0.0.1:{port}/get?token=t0k3n&page=2"),
        // Refused by the request builder, whose message quotes the URL.
        "http://bob:hunter2@exa mple/?token=t0k3n".to_owned(),
        // serde quotes a misplaced string in its message.
        format!(r#"{{"url": "http://127.0.0.1:{port}/get", "headers": "Bearer s3cr3t"}}"#),
        format!("ftp://bob:hunter2@127.0.0.1:{port}/?api_key=t0k3n"),
        // Nothing listens on port 1: a connect error.
        "http://bob:hunter2@127.0.0.1:1/?access_token=t0k3n".to_owned(),
    ]
    .join("\n");
    let dir = scratch_dir("secrets");
    let out = dir.join("records.jsonl");
    let args = ["fetch", "--retries", "0", "-H", "X-Api-Key: h34d3r", "-o", out.to_str().unwrap()];
    let run = volley(&args, &input).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let written = std::fs::read_to_string(&out).unwrap();
    for secret in ["hunter2", "t0k3n", "s3cr3t", "h34d3r"] {
        assert!(!written.contains(secret), "{secret} in the records: {written}");
        assert!(!run.stderr.contains(secret), "{secret} on stderr: {}", run.stderr);
    }
    let records: Vec<Value> = written.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let urls: Vec<&str> = records.iter().map(|r| r["url"].as_str().unwrap_or("null")).collect();
    assert_eq!(
        urls,
        [
            format!("http://[redacted]@127.0.0.1:{port}/get?token=[redacted]&page=2").as_str(),
            "http://[redacted]@exa mple/?token=[redacted]",
            "null",
            &format!("ftp://[redacted]@127.0.0.1:{port}/?api_key=[redacted]"),
            "http://[redacted]@127.0.0.1:1/?access_token=[redacted]",
        ]
    );
    let kinds: Vec<&str> =
        records.iter().map(|r| r["error"]["kind"].as_str().unwrap_or("-")).collect();
    assert_eq!(kinds, ["-", "input", "input", "input", "connect"]);
    let message = records[1]["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("invalid URL \"http://[redacted]@exa mple/?token=[redacted]\": "),
        "{message}"
    );
    assert!(
        records[2]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON line: invalid type: a string, expected a map"),
        "{}",
        records[2]
    );
    // Only the output is redacted: the request went out with its query and its header.
    let seen = server.last_request("/get").unwrap();
    assert_eq!(server.total_hits(), 1);
    assert_eq!(seen.header("x-api-key"), Some("h34d3r"));
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_files_never_follow_a_planted_symlink() {
    use std::os::unix::fs::symlink;

    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("symlinks");
    let victim = dir.join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    let kept = || std::fs::read_to_string(&victim).unwrap();
    let input = format!("{}\n{}\n", server.url("/bytes/100"), server.url("/bytes/200"));

    // -o at a symlink: refused before anything is sent.
    let link = dir.join("records.jsonl");
    symlink(&victim, &link).unwrap();
    let run = volley(&["fetch", "-q", "-o", link.to_str().unwrap(), "-"], &input).await;
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert_eq!(
        run.stderr,
        format!(
            "volley: cannot create {}: it is a symbolic link, which volley does not follow\n",
            link.display()
        )
    );
    assert_eq!((kept(), server.total_hits()), ("keep me".to_owned(), 0));

    // -o naming the input file: refused, the input left whole.
    let urls = dir.join("urls.txt");
    std::fs::write(&urls, &input).unwrap();
    let run =
        volley(&["fetch", "-q", "-o", urls.to_str().unwrap(), urls.to_str().unwrap()], "").await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.ends_with("it is the input file\n"), "{}", run.stderr);
    assert_eq!((std::fs::read_to_string(&urls).unwrap(), server.total_hits()), (input.clone(), 0));

    // -o at an existing regular file: emptied, then filled with the records.
    let plain = dir.join("plain.jsonl");
    std::fs::write(&plain, "x".repeat(100_000)).unwrap();
    let run = volley(&["fetch", "-q", "-o", plain.to_str().unwrap(), "-"], &input).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read_to_string(&plain).unwrap();
    assert_eq!((written.lines().count(), written.contains('x')), (2, false), "{written}");

    // --save-bodies: a symlink planted as 1.body is not followed; 2.body is saved.
    let bodies = dir.join("bodies");
    std::fs::create_dir(&bodies).unwrap();
    symlink(&victim, bodies.join("1.body")).unwrap();
    let run =
        volley(&["fetch", "-q", "--save-bodies", bodies.to_str().unwrap(), "-"], &input).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let records = run.records();
    assert_eq!(records[0]["error"]["kind"], "save");
    let message = records[0]["error"]["message"].as_str().unwrap();
    assert!(message.ends_with("1.body is a symbolic link"), "{message}");
    assert_eq!(kept(), "keep me");
    assert_eq!(
        std::fs::read(bodies.join("2.body")).unwrap(),
        volley_testserver::pattern_bytes(200)
    );
    assert_eq!(records[1]["saved"], bodies.join("2.body").to_str().unwrap());
    let _ = std::fs::remove_dir_all(dir);
}
