//! `volley fetch` with redirects, decompression and cookies, against the test server.

mod common;

use common::{scratch_dir, volley};
use serde_json::Value;
use volley_testserver::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_counted_and_recorded() {
    let server = TestServer::start().await.unwrap();
    let input = [
        server.url("/redirect/3"),
        server.url("/get"),
        server.redirect_to("/get?token=s3cr3t&page=2", 307),
    ]
    .join("\n");
    let run = volley(&["fetch", "-"], &input).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = run.records();
    fn fields(r: &Value) -> (Option<u64>, Option<u64>, Option<u64>, Option<&Value>) {
        (r["status"].as_u64(), r["attempts"].as_u64(), r["redirects"].as_u64(), r.get("final_url"))
    }
    let get = Value::from(server.url("/get"));
    assert_eq!(fields(&records[0]), (Some(200), Some(4), Some(3), Some(&get)));
    assert_eq!(fields(&records[1]), (Some(200), Some(1), None, None), "not redirected");
    let port = server.addr().port();
    let redacted = Value::from(format!("http://127.0.0.1:{port}/get?token=[redacted]&page=2"));
    assert_eq!(fields(&records[2]), (Some(200), Some(2), Some(1), Some(&redacted)));
    // Every hop reached the server once: attempts count hops, not retries.
    for path in ["/redirect/3", "/redirect/2", "/redirect/1"] {
        assert_eq!(server.hits(path), 1, "{path}");
    }
    assert_eq!((server.hits("/get"), server.total_hits()), (3, 7));
    assert!(
        run.stderr.starts_with("3 requests in ")
            && run.stderr.contains(": 7 attempts, 0 retries, 4 redirects followed, "),
        "{}",
        run.stderr
    );
}

/// `--max-redirects 0` records the 3xx itself, a success as curl without `-L` would have
/// it; a chain longer than `--max-redirects` fails with kind `redirect`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_redirects_stops_or_refuses_the_chain() {
    let server = TestServer::start().await.unwrap();
    let run = volley(&["fetch", "--max-redirects", "0", "-"], &server.url("/redirect/3")).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let record = &run.records()[0];
    assert_eq!((record["status"].as_u64(), record["attempts"].as_u64()), (Some(302), Some(1)));
    assert!(record.get("redirects").is_none() && record.get("error").is_none(), "{record}");
    assert_eq!((server.hits("/redirect/3"), server.total_hits()), (1, 1));
    assert!(run.stderr.contains("outcomes  ok 1 · "), "{}", run.stderr);
    assert!(!run.stderr.contains("redirect"), "{}", run.stderr);

    // Without retries the attempts come from the responses, not the retry layer's spans.
    server.reset_counters();
    let input = format!("{}\n{}\n", server.url("/redirect/3"), server.url("/redirect/2"));
    let run = volley(&["fetch", "--max-redirects", "2", "--retries", "0", "-"], &input).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let records = run.records();
    let refused = &records[0];
    assert_eq!(refused["status"], Value::Null);
    assert_eq!(refused["error"]["kind"], "redirect");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("too many redirects: stopped after 2 (the limit)"), "{message}");
    assert_eq!((refused["redirects"].as_u64(), refused["attempts"].as_u64()), (Some(2), Some(3)));
    assert_eq!(refused["final_url"], server.url("/redirect/1"));
    let followed = &records[1];
    assert_eq!(
        (
            followed["status"].as_u64(),
            followed["attempts"].as_u64(),
            followed["redirects"].as_u64()
        ),
        (Some(200), Some(3), Some(2))
    );
    // /redirect/3, 2, 1 for the first line; /redirect/2, 1 and /get for the second.
    assert_eq!((server.total_hits(), server.hits("/get")), (6, 1));
    assert!(
        run.stderr.contains(": 6 attempts, 0 retries, 4 redirects followed, "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("connect 0 · redirect 1\n"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_decompressed_unless_asked_not_to() {
    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("gzip");
    let (decoded, raw) = (dir.join("decoded"), dir.join("raw"));
    let url = server.url("/gzip");

    let run = volley(&["fetch", "-q", "--save-bodies", decoded.to_str().unwrap(), "-"], &url).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let body = std::fs::read(decoded.join("1.body")).unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["gzipped"], true);
    assert_eq!(run.records()[0]["bytes"].as_u64(), Some(body.len() as u64));
    let asked = server.last_request("/gzip").unwrap();
    assert!(asked.header("accept-encoding").is_some_and(|v| v.contains("gzip")), "{asked:?}");

    let args = ["fetch", "-q", "--no-decompress", "--save-bodies", raw.to_str().unwrap(), "-"];
    let run = volley(&args, &url).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let compressed = std::fs::read(raw.join("1.body")).unwrap();
    assert_eq!(compressed[..2], [0x1f, 0x8b], "the gzip magic");
    assert_ne!(compressed.len(), body.len());
    assert_eq!(run.records()[0]["bytes"].as_u64(), Some(compressed.len() as u64));
    assert_eq!(server.last_request("/gzip").unwrap().header("accept-encoding"), None);
    let _ = std::fs::remove_dir_all(dir);
}

/// One jar for the whole run: a cookie set by one line goes with the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_keep_one_jar_for_the_run() {
    let server = TestServer::start().await.unwrap();
    let input = format!("{}\n{}\n", server.url("/cookies/set?a=1"), server.url("/cookies"));
    let cookies_seen = |dir: &std::path::Path, line: u32| -> Value {
        let body = std::fs::read(dir.join(format!("{line}.body"))).unwrap();
        serde_json::from_slice::<Value>(&body).unwrap()["cookies"].clone()
    };
    for (with_jar, expected) in
        [(true, serde_json::json!({"a": "1"})), (false, serde_json::json!({}))]
    {
        let dir = scratch_dir(&format!("cookies-{with_jar}"));
        let mut args = vec!["fetch", "-q", "--concurrency", "1", "--save-bodies"];
        args.push(dir.to_str().unwrap());
        if with_jar {
            args.push("--cookies");
        }
        args.push("-");
        let run = volley(&args, &input).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let first = &run.records()[0];
        assert_eq!(
            (first["redirects"].as_u64(), &first["final_url"]),
            (Some(1), &server.url("/cookies").into())
        );
        // The redirect from /cookies/set, then the second line.
        assert_eq!(cookies_seen(&dir, 1), expected, "with_jar {with_jar}");
        assert_eq!(cookies_seen(&dir, 2), expected, "with_jar {with_jar}");
        let _ = std::fs::remove_dir_all(dir);
    }
    assert_eq!(server.hits("/cookies"), 4);
}
