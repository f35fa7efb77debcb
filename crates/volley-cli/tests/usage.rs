//! Usage errors, `volley serve`, and `volley demo`.

mod common;

use std::time::Duration;

use common::{assert_one_line_usage_error, finish, spawn, spawn_closed_stdout, volley};
use tokio::io::{AsyncBufReadExt, BufReader};
use volley_testserver::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_flags_and_unreadable_files_give_one_clear_line() {
    let cases: [(&[&str], &str); 7] = [
        (&["fetch", "--bogus"], "unexpected argument '--bogus'"),
        (&["fetch", "--rate", "20/d", "-"], "unknown unit \"d\""),
        (&["fetch", "--concurrency", "0", "-"], "must be at least 1"),
        (&["fetch", "--timeout", "soon", "-"], "not a duration"),
        (&["fetch", "-H", "no colon here", "-"], "is 'Name: value', and this has no ':'"),
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
    // Kept open while the server is used: serve stops once its stdout's reader is gone.
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_rates_bursts_and_sizes_are_refused_in_one_line() {
    let cases: [(&[&str], &str); 7] = [
        (&["fetch", "--rate", "0", "-"], "must be at least 1"),
        (&["fetch", "--rate", "4294967295/s", "-"], "faster than one per nanosecond"),
        (&["fetch", "--rate", "1000000001", "-"], "at most 1000000000/s"),
        (&["fetch", "--rate", "5/ns", "-"], "unknown unit \"ns\""),
        (&["fetch", "--rate", "5/s", "--burst", "0", "-"], "must be at least 1"),
        // 3600 s × 4294967295 is 490 thousand years: governor's multiplication overflows.
        (
            &["fetch", "--rate", "1/h", "--burst", "4294967295", "-"],
            "--burst 4294967295 is too large for --rate 1/h: an empty bucket would take more \
             than 292 years to refill",
        ),
        (&["demo", "--requests", "18446744073709551615"], "more than the demo's 1000000"),
    ];
    for (args, mentions) in cases {
        assert_one_line_usage_error(&volley(args, "").await, mentions);
    }
    // The largest burst that still refills within 2^63 ns at 1/h runs.
    let run = volley(&["fetch", "-q", "--rate", "1/h", "--burst", "2562047", "-"], "").await;
    assert_eq!((run.code, run.stderr.as_str(), run.stdout.as_str()), (0, "", ""));
}

/// A header value that clap refuses is not echoed: it may be a credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_header_value_is_not_repeated() {
    let run = volley(&["fetch", "-H", "Authorization: Bearer s3cr3t\u{7f}", "-"], "").await;
    assert_one_line_usage_error(&run, "invalid value for header authorization");
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
    let run = volley(&["fetch", "-H", "Authorization Bearer s3cr3t", "-"], "").await;
    assert_one_line_usage_error(&run, "no ':'");
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
}

/// `volley … | head` after head has gone: every command stops at its first write, says
/// nothing and exits 0, where `print!` used to panic with "failed printing to stdout".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_every_command_quietly() {
    for args in [
        &["--help"][..],
        &["fetch", "--help"],
        &["--version"],
        &["serve", "--port", "0"],
        &["demo", "--requests", "10"],
    ] {
        let run = finish(spawn_closed_stdout(args), "").await;
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{args:?}");
    }

    // fetch stops at the first record it cannot write: the rest of the input is not sent.
    let server = TestServer::start().await.unwrap();
    let input: String = (0..1000).map(|i| server.url(&format!("/get?i={i}")) + "\n").collect();
    let child = spawn_closed_stdout(&["fetch", "--concurrency", "4", "--unordered", "-"]);
    let run = finish(child, &input).await;
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "no summary, no message");
    let sent = server.total_hits();
    assert!((1..=12).contains(&sent), "{sent} of 1000 requests were sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_when_its_reader_goes_away() {
    let mut server = spawn(&["serve", "--port", "0"]);
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).await.unwrap();
    assert!(first.starts_with("listening on http://127.0.0.1:"), "{first:?}");
    // `volley serve | head -1`: the banner fits in the pipe, so serve learns of the closed
    // pipe without writing. Ten seconds bound a server that never would.
    drop(stdout);
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait()).await;
    let status = status.expect("serve exits once stdout's reader is gone").unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut server.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}
