//! `volley-testserver [--port P]`: serves the test server on `127.0.0.1:P`
//! (default 0, any free port) until interrupted.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::process::ExitCode;

use volley_testserver::TestServer;

const USAGE: &str = "usage: volley-testserver [--port P]";

/// The port from the command line, or a message for the user.
fn parse_port(mut args: impl Iterator<Item = String>) -> Result<Option<u16>, String> {
    let mut port = 0;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => args.next().ok_or("--port needs a value")?,
            _ => match arg.strip_prefix("--port=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unexpected argument {arg:?}")),
            },
        };
        port = value.parse().map_err(|_| format!("--port {value:?} is not a port (0-65535)"))?;
    }
    Ok(Some(port))
}

#[tokio::main]
async fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(Some(port)) => port,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("volley-testserver: {message} ({USAGE})");
            return ExitCode::from(2);
        }
    };
    let server = match TestServer::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("volley-testserver: cannot listen on 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{}", server.addr());
    if let Err(err) = tokio::signal::ctrl_c().await {
        eprintln!("volley-testserver: cannot wait for Ctrl-C: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
