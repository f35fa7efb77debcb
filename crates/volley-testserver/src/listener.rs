//! A listening socket that a server shares with its accept loop only while the loop polls,
//! so that dropping the server closes the port at once (a connect made right after the drop
//! is refused) instead of when the runtime next polls the aborted task.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::net::{TcpListener, TcpStream};

/// The listener, or `None` once its server was dropped.
pub(crate) type SharedListener = Arc<Mutex<Option<TcpListener>>>;

/// Polls the shared listener; `None` once the server was dropped.
pub(crate) fn poll_accept(
    listener: &SharedListener,
    cx: &mut Context<'_>,
) -> Poll<Option<io::Result<(TcpStream, SocketAddr)>>> {
    match &*listener.lock().unwrap_or_else(PoisonError::into_inner) {
        Some(listener) => listener.poll_accept(cx).map(Some),
        None => Poll::Ready(None),
    }
}

/// Closes the listening socket now.
pub(crate) fn close(listener: &SharedListener) {
    drop(listener.lock().unwrap_or_else(PoisonError::into_inner).take());
}
