//! Talking to the user: stdout that may be a closed pipe, stderr that may be gone, and
//! panics that print one line instead of a backtrace.
//!
//! `print!` panics when stdout is a closed pipe (`volley serve | head -1`): Rust ignores
//! SIGPIPE, so the write fails with EPIPE instead of ending the process the way it ends
//! `yes | head -1`. Everything the CLI prints goes through here instead.

use std::io::{self, Write};

/// Writes `text` to stdout and flushes it. A closed pipe is `ErrorKind::BrokenPipe`,
/// for the caller to stop on quietly (see [`Fatal::writing`](crate::Fatal::writing)).
pub(crate) fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `text` to stderr as it is. Nothing is left to tell if stderr is gone, so a
/// failed write is ignored.
pub(crate) fn write_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// `volley: MESSAGE` on one line of stderr.
pub(crate) fn error(message: &str) {
    write_stderr(&format!("volley: {message}\n"));
}

/// Replaces Rust's report of a panic (a message, and a backtrace when `RUST_BACKTRACE`
/// is set) with one line on stderr. `RUST_BACKTRACE` set to anything but `0` keeps Rust's
/// report, for whoever debugs. A panic is a bug: this only changes how it is told.
pub(crate) fn quiet_panics() {
    let rust_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0") {
            return rust_hook(info);
        }
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic");
        let at = info.location().map(|at| format!(" at {}:{}", at.file(), at.line()));
        error(&format!("internal error{}: {what} (please report it)", at.unwrap_or_default()));
    }));
}

/// Resolves once stdout's reader has gone, when stdout is a pipe: a command with little
/// to print (`volley serve`) learns of it without writing. Never resolves otherwise.
pub(crate) async fn stdout_closed() {
    #[cfg(unix)]
    if let Some(watch) = unix::PipeWatch::new() {
        watch.closed().await;
        return;
    }
    std::future::pending::<()>().await;
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;

    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// Stdout, registered with the runtime for its error condition only. Linux and the
    /// BSDs report an error on a pipe's write end once its last reader has closed.
    pub(super) struct PipeWatch(AsyncFd<File>);

    impl PipeWatch {
        /// `None` when stdout is not a pipe (a terminal, a file) or cannot be watched.
        pub(super) fn new() -> Option<Self> {
            let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
            let file = File::from(fd);
            if !file.metadata().ok()?.file_type().is_fifo() {
                return None;
            }
            // Sound: the `File` owns its descriptor for the `AsyncFd`'s whole life
            // (tokio#8587 deprecated this for types that do not). The replacement is an
            // `unsafe fn`, which this workspace forbids.
            #[allow(deprecated)]
            let registered = AsyncFd::with_interest(file, Interest::ERROR);
            registered.ok().map(Self)
        }

        pub(super) async fn closed(self) {
            loop {
                match self.0.ready(Interest::ERROR).await {
                    Ok(guard) if guard.ready().is_error() => return,
                    Ok(mut guard) => guard.clear_ready(),
                    // The runtime cannot watch it after all: there is nothing to wait for.
                    Err(_) => std::future::pending::<()>().await,
                }
            }
        }
    }
}
