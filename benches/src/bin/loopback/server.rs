//! The test server in its own process: started by the comparison, stopped when the
//! comparison closes its stdin (or exits).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};

use volley_testserver::TestServer;

use crate::BoxError;

/// The `serve` part: listen on a free loopback port, print the address, serve until stdin
/// reaches its end.
pub(crate) fn serve() -> Result<(), BoxError> {
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let server = TestServer::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        // The request record is for tests; a benchmark target keeps nothing.
        server.set_record_limit(0);
        println!("listening on http://{}", server.addr());
        // Reading stdin blocks a thread, so it runs beside the runtime's workers.
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
        Ok(())
    })
}

/// A running server process.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    /// Held open for the server's lifetime: closing it asks the server to stop.
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
}

impl ServerProcess {
    /// Starts this binary's `serve` part, pinned to `core` when given.
    pub(crate) fn start(core: Option<usize>) -> Result<Self, BoxError> {
        let mut command = pinned(core)?;
        command.arg("serve").stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("the server's stdout is not piped")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            return Err(format!("the server did not start (it printed {line:?})").into());
        };
        Ok(Self { base: base.to_owned(), child, stdin })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}

/// A command running this binary, under `taskset -c core` when a core is given.
pub(crate) fn pinned(core: Option<usize>) -> Result<Command, BoxError> {
    let exe = std::env::current_exe()?;
    Ok(match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(exe);
            command
        }
        None => Command::new(exe),
    })
}

/// Cores for the server and the clients: the last and the first, when `taskset` runs and
/// there are at least two.
pub(crate) fn cores(no_pin: bool) -> (Option<usize>, Option<usize>) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if no_pin || !taskset || cores < 2 { (None, None) } else { (Some(cores - 1), Some(0)) }
}
