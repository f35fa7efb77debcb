//! `volley fetch` reads its input as a stream: a million-line file is never held in memory.

mod common;

use std::io::{BufWriter, Write};
use std::process::Stdio;
use std::time::Duration;

use common::scratch_dir;
use serde_json::Value;
use tokio::process::Command;
use volley_testserver::TestServer;

const LINES: usize = 1_000_000;
/// Every this many lines, one request; the rest are comments. The whole file is read and
/// numbered line by line, while the run stays a few seconds long in a debug build.
const EVERY: usize = 200;
const PEAK_LIMIT_KIB: u64 = 64 * 1024;

/// The high-water mark of `pid`'s resident set, in KiB, while it is alive.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_line_input_is_streamed_in_under_64_mib() {
    let server = TestServer::start().await.unwrap();
    let dir = scratch_dir("million");
    let (urls, out) = (dir.join("urls.txt"), dir.join("records.jsonl"));
    // About 95 MB: the old reader, which read the whole file first, peaked above 100 MiB.
    let mut file = BufWriter::new(std::fs::File::create(&urls).unwrap());
    for i in 0..LINES {
        if i % EVERY == 0 {
            writeln!(file, "{}", server.url(&format!("/bytes/16?i={i}"))).unwrap();
        } else {
            writeln!(file, "# {i:07} {}", "padding ".repeat(11)).unwrap();
        }
    }
    file.into_inner().unwrap().sync_all().unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["fetch", "-q", "--concurrency", "64", "-o"])
        .args([&out, &urls])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    // VmHWM only grows: the last reading before the exit is the peak up to then. Sampling
    // is how the test watches the child; it proves nothing by waiting.
    let (mut peak, mut samples) = (0, 0);
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            (peak, samples) = (peak.max(kib), samples + 1);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!((status.code(), stderr.as_ref()), (Some(0), ""));

    let records = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<u64> = records
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|r| assert_eq!((r["status"].as_u64(), r["bytes"].as_u64()), (Some(200), Some(16))))
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..LINES).step_by(EVERY).map(|i| i as u64 + 1).collect();
    assert_eq!(lines, expected, "every request line, numbered in the whole file");
    assert_eq!(server.total_hits(), (LINES / EVERY) as u64);

    assert!(samples >= 3, "only {samples} readings of /proc/{pid}/status");
    assert!(peak < PEAK_LIMIT_KIB, "peak RSS {peak} KiB, the limit is {PEAK_LIMIT_KIB} KiB");
    let _ = std::fs::remove_dir_all(dir);
}
