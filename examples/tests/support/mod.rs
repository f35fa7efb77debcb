//! Running an example binary and reading what it printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio::time::Instant;

/// What one run of an example printed, and how long the process took.
pub(crate) struct Run {
    pub(crate) name: &'static str,
    pub(crate) stdout: String,
    pub(crate) elapsed: Duration,
}

impl Run {
    /// The first line containing `needle`.
    pub(crate) fn line(&self, needle: &str) -> &str {
        match self.stdout.lines().find(|line| line.contains(needle)) {
            Some(line) => line,
            None => panic!("{}: no line contains {needle:?} in:\n{}", self.name, self.stdout),
        }
    }

    /// The number printed right after `prefix` on the first line containing it.
    pub(crate) fn number_after(&self, prefix: &str) -> f64 {
        let line = self.line(prefix);
        let rest = &line[line.find(prefix).map_or(0, |at| at + prefix.len())..];
        let number: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        match number.parse() {
            Ok(number) => number,
            Err(_) => panic!("{}: no number after {prefix:?} in {line:?}", self.name),
        }
    }

    /// Lines starting with `prefix`, in order.
    pub(crate) fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.stdout.lines().filter(|line| line.starts_with(prefix)).collect()
    }
}

fn example_path(name: &str) -> PathBuf {
    let test_exe = std::env::current_exe().expect("the path of the test executable");
    // target/<profile>/deps/run_examples-<hash> → target/<profile>/examples/<name>
    let profile_dir = test_exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable sits in target/<profile>/deps");
    let path = profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "example binary {} is missing: run `cargo test -p volley-examples`, which builds the examples first \
         (`--test run_examples` alone does not), or `cargo build -p volley-examples --examples`",
        path.display()
    );
    path
}

pub(crate) fn run(name: &'static str) -> Run {
    let path = example_path(name);
    let start = Instant::now();
    let output = Command::new(&path)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", path.display()));
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Run { name, stdout, elapsed }
}

pub(crate) fn json_after(run: &Run, prefix: &str) -> serde_json::Value {
    let line = run.line(prefix);
    let text = &line[line.find(prefix).map_or(0, |at| at + prefix.len())..];
    serde_json::from_str(text)
        .unwrap_or_else(|err| panic!("{}: {text:?} is not JSON: {err}", run.name))
}
