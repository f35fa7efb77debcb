//! Usage errors, `volley serve`, and `volley demo`.

mod common;

use common::{spawn, volley};
use tokio::io::{AsyncBufReadExt, BufReader};

/// One line on stderr, exit 2, no panic and no backtrace.
fn assert_one_line_usage_error(run: &common::Run, mentions: &str) {
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{:?}", run.stderr);
    assert!(
        run.stderr.starts_with("volley: ") && run.stderr.contains(mentions),
        "{:?}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("backtrace"),
        "{:?}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_flags_and_unreadable_files_give_one_clear_line() {
    let cases: [(&[&str], &str); 7] = [
        (&["fetch", "--bogus"], "unexpected argument '--bogus'"),
        (&["fetch", "--rate", "20/d", "-"], "unknown unit \"d\""),
        (&["fetch", "--concurrency", "0", "-"], "must be at least 1"),
        (&["fetch", "--timeout", "soon", "-"], "not a duration"),
        (&["fetch", "-H", "no colon here", "-"], "is not 'Name: value'"),
        (&["fetch", "/no/such/file.txt"], "cannot read /no/such/file.txt"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ];
    for (args, mentions) in cases {
        assert_one_line_usage_error(&volley(args, "").await, mentions);
    }
    // --burst only means something with --rate.
    assert_one_line_usage_error(&volley(&["fetch", "--burst", "5", "-"], "").await, "--rate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_on_the_port_it_prints() {
    let mut server = spawn(&["serve", "--port", "0"]);
    let stdout = server.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).await.unwrap();
    let base = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first:?}");

    let run = volley(&["fetch", "-q"], &format!("{base}/get\n{base}/status/418\n")).await;
    let statuses: Vec<_> = run.records().iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!((run.code, statuses), (1, vec![200, 418]));
    server.kill().await.unwrap();
}
