//! The HTTP/2 faults, on the `h2` crate over TLS.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::server::{self, SendResponse};
use h2::{Reason, RecvStream};
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::{Counters, Fault};

/// Runs an `H2…` fault on one accepted connection.
pub(super) async fn serve(
    tcp: TcpStream,
    acceptor: &TlsAcceptor,
    fault: &Fault,
    counters: &Counters,
) -> io::Result<()> {
    let mut tls = acceptor.accept(tcp).await?;
    if *fault == Fault::H2GoAway && counters.take_first() {
        return go_away(&mut tls).await;
    }
    let dark = Arc::new(AtomicBool::new(false));
    let mut conn = server::handshake(BlackHole { io: tls, dark: Arc::clone(&dark) })
        .await
        .map_err(io::Error::other)?;
    match fault {
        Fault::H2BlackHole => {
            dark.store(true, Relaxed);
            // Keep reading, and the streams, so the client sees no reset and no close.
            let mut held = Vec::new();
            while let Some(stream) = conn.accept().await {
                counters.request();
                held.push(stream.map_err(io::Error::other)?);
            }
            Ok(())
        }
        _ => {
            let mut streams = JoinSet::new();
            while let Some(stream) = conn.accept().await {
                let (req, mut respond) = stream.map_err(io::Error::other)?;
                counters.request();
                if *fault == Fault::H2RefusedStream && counters.take_first() {
                    respond.send_reset(Reason::REFUSED_STREAM);
                    continue;
                }
                streams.spawn(answer(req, respond));
            }
            Ok(())
        }
    }
}

/// Reads the client's preface, answers with an empty `SETTINGS` and a `GOAWAY` whose last
/// stream is 0 (nothing processed, `NO_ERROR`), then reads until the client closes.
///
/// Written by hand because h2 closes the connection as soon as its `GOAWAY` is out, and a
/// client still writing a request body then sees a broken pipe instead of the `GOAWAY`;
/// servers that drain gracefully leave the connection open for the client to close.
async fn go_away<T: AsyncRead + AsyncWrite + Unpin>(io: &mut T) -> io::Result<()> {
    const SETTINGS: [u8; 9] = [0, 0, 0, 0x4, 0, 0, 0, 0, 0];
    const GOAWAY: [u8; 17] = [0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut preface = [0; 24];
    io.read_exact(&mut preface).await?;
    io.write_all(&SETTINGS).await?;
    io.write_all(&GOAWAY).await?;
    io.flush().await?;
    let mut sink = [0; 4096];
    while io.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Reads the request body, then answers `200 ok`.
async fn answer(
    req: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) -> Result<(), h2::Error> {
    let mut body = req.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let mut send = respond.send_response(Response::new(()), false)?;
    send.send_data(Bytes::from_static(b"ok"), true)
}

/// An I/O stream that, once `dark` is set, still reads but silently drops every write.
struct BlackHole<T> {
    io: T,
    dark: Arc<AtomicBool>,
}

impl<T: AsyncRead + Unpin> AsyncRead for BlackHole<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BlackHole<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.dark.load(Relaxed) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.dark.load(Relaxed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.dark.load(Relaxed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
