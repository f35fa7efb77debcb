//! The HTTP/1.1 faults, written byte by byte on the raw socket.

use std::io;

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Counters, Fault};

/// The longest request head read; a longer one ends the connection.
const MAX_HEAD: usize = 64 * 1024;
/// The size of one chunk of an endless body.
const CHUNK: usize = 64 * 1024;

/// Runs `fault` on one accepted connection.
pub(super) async fn serve(
    mut tcp: TcpStream,
    fault: &Fault,
    counters: &Counters,
) -> io::Result<()> {
    let mut buf = Vec::new();
    match fault {
        // `Refuse` never accepts; `TlsStall` is `AcceptNoRead` for an https client.
        Fault::Refuse | Fault::AcceptNoRead | Fault::TlsStall => {
            std::future::pending::<()>().await;
            Ok(())
        }
        Fault::Respond { status, headers } => {
            while read_request(&mut tcp, &mut buf, counters).await? {
                let mut head = status_line(*status);
                head.push_str("content-length: 0\r\n");
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                tcp.write_all(head.as_bytes()).await?;
            }
            Ok(())
        }
        _ => {
            if !read_request(&mut tcp, &mut buf, counters).await? {
                return Ok(());
            }
            misbehave(tcp, fault, counters).await
        }
    }
}

/// The fault's answer to the one request it reads.
async fn misbehave(mut tcp: TcpStream, fault: &Fault, counters: &Counters) -> io::Result<()> {
    match fault {
        Fault::NoHeaders => drain(tcp).await,
        Fault::StalledBody => {
            tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1024\r\n\r\n").await?;
            write_body(&mut tcp, &[b'*'; 16], counters).await?;
            drain(tcp).await
        }
        Fault::Drip { every } => {
            tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 60\r\n\r\n").await?;
            let mut ticks = tokio::time::interval(*every);
            for _ in 0..60 {
                ticks.tick().await;
                write_body(&mut tcp, b"*", counters).await?;
            }
            Ok(())
        }
        Fault::ResetMidBody => {
            tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n").await?;
            write_body(&mut tcp, &[b'*'; 1000], counters).await?;
            // Linger 0 turns the close into a RST: the client's read fails with a reset,
            // after the bytes already sent.
            tcp.set_zero_linger()?;
            Ok(())
        }
        Fault::GarbageStatus => {
            tcp.write_all(b"HTTP/1.1 banana\r\n\r\n").await?;
            tcp.shutdown().await
        }
        Fault::HugeHeaders { bytes } => {
            tcp.write_all(&huge_head(*bytes)).await?;
            tcp.shutdown().await
        }
        Fault::EndlessBody { cap } => {
            tcp.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await?;
            let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
            chunk.extend(std::iter::repeat_n(b'*', CHUNK));
            chunk.extend_from_slice(b"\r\n");
            let mut sent = 0;
            while sent + CHUNK as u64 <= *cap {
                tcp.write_all(&chunk).await?;
                counters.body_bytes.fetch_add(CHUNK as u64, std::sync::atomic::Ordering::Relaxed);
                sent += CHUNK as u64;
            }
            drain(tcp).await
        }
        _ => Ok(()),
    }
}

/// `HTTP/1.1 200 OK\r\n` and about `bytes` bytes of filler headers, 100 bytes each.
fn huge_head(bytes: usize) -> Vec<u8> {
    let mut head = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n".to_vec();
    let mut i = 0;
    while head.len() + 100 <= bytes {
        // "x-filler-" 9, the number 5, ": " 2, the value 82, CRLF 2: 100 bytes.
        head.extend_from_slice(format!("x-filler-{i:05}: {}\r\n", "f".repeat(82)).as_bytes());
        i += 1;
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn status_line(status: u16) -> String {
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    format!("HTTP/1.1 {status} {}\r\n", reason.unwrap_or("Unknown"))
}

async fn write_body(tcp: &mut TcpStream, body: &[u8], counters: &Counters) -> io::Result<()> {
    tcp.write_all(body).await?;
    counters.body_bytes.fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Reads and discards until the client closes, so the connection ends with the client.
async fn drain(mut tcp: TcpStream) -> io::Result<()> {
    let mut sink = [0; 4096];
    while tcp.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Reads one request head and its `content-length` body, counting the head. `buf` keeps
/// bytes read past the request for the next one. `false` when the client closed first.
async fn read_request(
    tcp: &mut TcpStream,
    buf: &mut Vec<u8>,
    counters: &Counters,
) -> io::Result<bool> {
    let head_len = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
        if !fill(tcp, buf).await? {
            return Ok(false);
        }
    };
    counters.request();
    let body_len = content_length(&buf[..head_len]);
    buf.drain(..head_len);
    let mut left = body_len;
    loop {
        let take = left.min(buf.len());
        buf.drain(..take);
        left -= take;
        if left == 0 {
            return Ok(true);
        }
        if !fill(tcp, buf).await? {
            return Ok(false);
        }
    }
}

/// Appends what the socket has to `buf`; `false` at end of stream.
async fn fill(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0; 8192];
    let n = tcp.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// The `content-length` of a request head, 0 if absent or unreadable. (Chunked request
/// bodies are not read: volley's clients send bodies of known length here.)
fn content_length(head: &[u8]) -> usize {
    let head = String::from_utf8_lossy(head);
    head.split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_head_is_as_large_as_asked_in_100_byte_lines() {
        let head = huge_head(400 * 1024);
        let lines = head.split(|&b| b == b'\n').filter(|l| l.starts_with(b"x-filler-")).count();
        // 36 bytes of status line and content-length, then 4095 lines fit in 409 600.
        assert_eq!(lines, 4095);
        assert_eq!(head.len(), 36 + 4095 * 100 + 2);
    }

    #[test]
    fn content_length_is_read_case_insensitively() {
        assert_eq!(content_length(b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), 12);
        assert_eq!(content_length(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"), 0);
        assert_eq!(content_length(b"POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n"), 0);
    }
}
