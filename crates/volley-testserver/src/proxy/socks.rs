//! The SOCKS5 side of the proxy (RFC 1928), with username/password authentication
//! (RFC 1929): the `CONNECT` command to IPv4, IPv6 or domain-name targets.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use http::{HeaderMap, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::state::{ProxyKind, ProxySeen, State, bump};
use super::target;

const VERSION: u8 = 0x05;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xFF;
const CMD_CONNECT: u8 = 0x01;

/// Reply codes of RFC 1928 §6.
const SUCCEEDED: u8 = 0x00;
const NOT_ALLOWED: u8 = 0x02;
const CONNECTION_REFUSED: u8 = 0x05;
const COMMAND_NOT_SUPPORTED: u8 = 0x07;
const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;

/// Serves one SOCKS5 client on `stream` (whose first byte is 0x05) until the tunnel
/// closes. Errors are the client's (bad bytes, gone) and end only this connection.
pub(crate) async fn serve(state: &State, mut stream: TcpStream) -> io::Result<()> {
    let Some(user) = negotiate(state, &mut stream).await? else {
        return Ok(());
    };
    let [version, command, _reserved, address_type] = read_array(&mut stream).await?;
    if version != VERSION {
        return Ok(());
    }
    let host = match address_type {
        0x01 => Ipv4Addr::from(read_array::<4>(&mut stream).await?).to_string(),
        0x03 => {
            let [len] = read_array(&mut stream).await?;
            let mut name = vec![0; usize::from(len)];
            stream.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        0x04 => Ipv6Addr::from(read_array::<16>(&mut stream).await?).to_string(),
        _ => return reply(&mut stream, ADDRESS_TYPE_NOT_SUPPORTED, None).await,
    };
    let port = u16::from_be_bytes(read_array(&mut stream).await?);
    let target =
        if address_type == 0x04 { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    state.record(ProxySeen {
        kind: ProxyKind::Socks5,
        method: Method::CONNECT,
        target,
        host: host.clone(),
        port,
        headers: HeaderMap::new(),
        user,
    });
    if command != CMD_CONNECT {
        return reply(&mut stream, COMMAND_NOT_SUPPORTED, None).await;
    }
    let Some(addrs) = target::resolve(&host, port) else {
        bump(&state.refused);
        return reply(&mut stream, NOT_ALLOWED, None).await;
    };
    bump(&state.upstream_connects);
    let Ok(mut upstream) = target::connect(&addrs).await else {
        bump(&state.upstream_errors);
        return reply(&mut stream, CONNECTION_REFUSED, None).await;
    };
    bump(&state.socks);
    reply(&mut stream, SUCCEEDED, upstream.local_addr().ok()).await?;
    tokio::io::copy_bidirectional(&mut stream, &mut upstream).await.map(drop)
}

/// The method negotiation and, if chosen, username/password authentication.
/// `Some(user)` to go on (`user` is the name offered, if any); `None` once refused.
async fn negotiate(state: &State, stream: &mut TcpStream) -> io::Result<Option<Option<String>>> {
    let [version, count] = read_array(stream).await?;
    let mut methods = vec![0; usize::from(count)];
    stream.read_exact(&mut methods).await?;
    if version != VERSION {
        return Ok(None);
    }
    let method =
        if methods.contains(&USER_PASS) && (state.auth.is_some() || !methods.contains(&NO_AUTH)) {
            USER_PASS
        } else if methods.contains(&NO_AUTH) && state.auth.is_none() {
            NO_AUTH
        } else {
            NO_ACCEPTABLE_METHOD
        };
    if method == NO_ACCEPTABLE_METHOD {
        if state.auth.is_some() {
            bump(&state.auth_failures);
        }
        stream.write_all(&[VERSION, NO_ACCEPTABLE_METHOD]).await?;
        return Ok(None);
    }
    stream.write_all(&[VERSION, method]).await?;
    if method == NO_AUTH {
        return Ok(Some(None));
    }
    // RFC 1929: VER(1) ULEN UNAME PLEN PASSWD, answered by VER(1) STATUS.
    let [_sub_version, user_len] = read_array(stream).await?;
    let mut user = vec![0; usize::from(user_len)];
    stream.read_exact(&mut user).await?;
    let [pass_len] = read_array(stream).await?;
    let mut pass = vec![0; usize::from(pass_len)];
    stream.read_exact(&mut pass).await?;
    let ok = state.auth.as_ref().is_none_or(|auth| auth.matches(&user, &pass));
    stream.write_all(&[0x01, if ok { 0x00 } else { 0x01 }]).await?;
    if !ok {
        bump(&state.auth_failures);
        return Ok(None);
    }
    Ok(Some(Some(String::from_utf8_lossy(&user).into_owned())))
}

/// Writes a reply with `code` and the bound address (0.0.0.0:0 if none).
async fn reply(stream: &mut TcpStream, code: u8, bound: Option<SocketAddr>) -> io::Result<()> {
    let mut out = vec![VERSION, code, 0x00];
    match bound {
        Some(SocketAddr::V6(addr)) => {
            out.push(0x04);
            out.extend_from_slice(&addr.ip().octets());
        }
        Some(SocketAddr::V4(addr)) => {
            out.push(0x01);
            out.extend_from_slice(&addr.ip().octets());
        }
        None => out.extend_from_slice(&[0x01, 0, 0, 0, 0]),
    }
    out.extend_from_slice(&bound.map_or(0, |addr| addr.port()).to_be_bytes());
    stream.write_all(&out).await
}

async fn read_array<const N: usize>(stream: &mut TcpStream) -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    stream.read_exact(&mut bytes).await?;
    Ok(bytes)
}
