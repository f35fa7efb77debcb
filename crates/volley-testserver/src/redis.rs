//! [`RedisServer`]: a throwaway `redis-server` on a free loopback port, for tests and benches
//! of shared rate-limit state.
//!
//! ```no_run
//! use volley_testserver::redis::RedisServer;
//!
//! // Outside CI, a machine without redis-server skips the test with a note on stderr;
//! // with `CI` set it panics instead.
//! let Some(redis) = RedisServer::start_or_skip("my_test") else { return };
//! assert!(redis.url().starts_with("redis://127.0.0.1:"));
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long to wait for a fresh server to answer `PING`, in steps of [`STEP`].
const STARTUP_STEPS: u32 = 500;
/// One step of the startup wait.
const STEP: Duration = Duration::from_millis(10);

/// A `redis-server` child process listening on `127.0.0.1:PORT`, with persistence off
/// (`--save ''`, `--appendonly no`) and the `DEBUG` command enabled, killed when dropped.
///
/// Starting waits on the wall clock (not tokio's), so it works in tests with paused time;
/// it blocks the calling thread until the server answers `PING` (a few milliseconds, at
/// most 5 s).
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] when `redis-server` is not on `PATH`; any other error
    /// when it does not start or answer within 5 s.
    pub fn start() -> io::Result<Self> {
        // The OS picks a free port; a server started right after takes it over. Another
        // process grabbing it in between is unlikely, and tried again below.
        let mut last = None;
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut server = Self { child: None, port };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(err),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// [`start`](Self::start), or `None` with a note on stderr naming `test` (shown even
    /// when the test harness captures output) when `redis-server` is not installed. With the `CI` environment variable set, a missing
    /// `redis-server` is a failure instead: CI installs it (`.ci/run`), so its absence
    /// there is a bug, not a reason to skip.
    ///
    /// # Panics
    ///
    /// When `redis-server` is missing and `CI` is set, or when it is installed but does not
    /// start.
    #[allow(
        clippy::print_stderr,
        reason = "telling the person running the tests why one was skipped"
    )]
    pub fn start_or_skip(test: &str) -> Option<Self> {
        match Self::start() {
            Ok(server) => Some(server),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if std::env::var_os("CI").is_some_and(|ci| !ci.is_empty()) {
                    panic!(
                        "{test}: redis-server is not installed and CI is set, so the Redis \
                         tests must run: install it with `apt-get install -y redis-server` \
                         (.ci/run does)"
                    );
                }
                // Straight to the process's stderr: libtest captures `eprintln!` of a
                // passing test, and this note must be seen.
                let _ = writeln!(
                    io::stderr(),
                    "SKIPPED {test}: redis-server is not on PATH (install it with \
                     `apt-get install -y redis-server`); with CI set this is a failure"
                );
                None
            }
            Err(err) => panic!("{test}: redis-server is installed but did not start: {err}"),
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The URL of database 0: `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Whether the child process is running (it was not killed and has not exited).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Kills the server with `SIGKILL` (no shutdown, no save: a crash) and reaps it. The
    /// port is free again once this returns. Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, then starts a fresh one (empty, like after a crash) on
    /// the same port and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// When the new server does not start or answer within 5 s.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.spawn()
    }

    /// Starts the child on `self.port` and waits for `PING`; kills it if it never answers.
    fn spawn(&mut self) -> io::Result<()> {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if supports_enable_debug_command()? {
            // Redis 7 refuses `DEBUG` (used to make the server slow in tests) by default.
            command.args(["--enable-debug-command", "yes"]);
        }
        self.child = Some(command.spawn()?);
        for _ in 0..STARTUP_STEPS {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "redis-server on port {port} exited at startup with {status}"
                )));
            }
            if ping(self.addr()).is_ok() {
                return Ok(());
            }
            wall_clock_sleep(STEP);
        }
        self.kill();
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("redis-server on port {port} did not answer PING within 5s"),
        ))
    }
}

/// Whether this `redis-server` knows `--enable-debug-command` (Redis 7 and later).
fn supports_enable_debug_command() -> io::Result<bool> {
    let output = Command::new("redis-server").arg("--version").output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "Redis server v=7.0.15 sha=…"
    let major = text
        .split_once("v=")
        .and_then(|(_, rest)| rest.split('.').next())
        .and_then(|major| major.parse::<u32>().ok());
    Ok(major.is_some_and(|major| major >= 7))
}

/// One inline `PING`, expecting `+PONG`.
fn ping(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(io::Error::other("redis-server answered PING with something else"))
    }
}

/// The startup wait is for a real process, so it runs on the wall clock: under tokio's
/// paused time a tokio sleep would not give the server any time to start.
#[allow(clippy::disallowed_methods, reason = "waiting for a child process, on the wall clock")]
fn wall_clock_sleep(duration: Duration) {
    std::thread::sleep(duration);
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
