//! Running the built `volley` binary and reading what it wrote.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// What one run of the binary left behind.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The stdout lines, each parsed as a JSON record.
    pub(crate) fn records(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            .collect()
    }
}

/// The proxy variables the client reads: cleared for every run, so that a proxy set where
/// the tests run does not carry their requests away.
pub(crate) const PROXY_VARS: [&str; 9] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// `volley ARGS` with its stdout and stderr piped, not yet waited for.
pub(crate) fn spawn(args: &[&str]) -> Child {
    spawn_with_env(args, &[])
}

/// [`spawn`] with `env` set (after the proxy variables are cleared).
pub(crate) fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_volley"));
    for name in PROXY_VARS {
        command.env_remove(name);
    }
    command
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the volley binary starts")
}

/// `volley ARGS` with stdout a pipe whose reader has already gone (`volley … | head`
/// after head exited), stderr piped; not yet waited for.
pub(crate) fn spawn_closed_stdout(args: &[&str]) -> Child {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut command = Command::new(env!("CARGO_BIN_EXE_volley"));
    for name in PROXY_VARS {
        command.env_remove(name);
    }
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(writer)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the volley binary starts")
}

/// Writes `input` to the child's stdin and closes it, then waits for it to finish. A
/// child that stops reading early (its stdout closed) may leave part of `input` unread.
pub(crate) async fn finish(mut child: Child, input: &str) -> Run {
    let mut stdin = child.stdin.take().expect("stdin is piped");
    match stdin.write_all(input.as_bytes()).await {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written.expect("stdin takes the input"),
    }
    drop(stdin);
    let output = child.wait_with_output().await.expect("volley runs to the end");
    Run {
        code: output.status.code().unwrap_or_else(|| panic!("volley was killed: {output:?}")),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// `volley ARGS` with `input` on stdin, run to the end.
pub(crate) async fn volley(args: &[&str], input: &str) -> Run {
    finish(spawn(args), input).await
}

/// `volley ARGS` with `env` set and `input` on stdin, run to the end.
pub(crate) async fn volley_with_env(args: &[&str], env: &[(&str, &str)], input: &str) -> Run {
    finish(spawn_with_env(args, env), input).await
}

/// One line on stderr, exit 2, no panic and no backtrace.
pub(crate) fn assert_one_line_usage_error(run: &Run, mentions: &str) {
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

/// A fresh, empty directory for one test.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("volley-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the temp dir is writable");
    dir
}

/// The path of a URL, without its query: what `TestServer::hits` counts by.
pub(crate) fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split_once('?').map_or(path, |(path, _)| path).to_owned()
}
