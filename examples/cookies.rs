//! Cookies — the jar an aiohttp `ClientSession` keeps, asked for explicitly.
//!
//! `ClientBuilder::cookie_store(true)` gives a client a jar of its own, as a session has;
//! `ClientBuilder::cookie_provider(jar)` uses a `volley::cookies::Jar` you keep a handle
//! on, to seed and inspect. Both are off by default, and a server acting for many users
//! gives each user a jar of their own.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use volley::Client;
use volley::cookies::{Jar, Url};
use volley_testserver::TestServer;

/// The cookies the server received, as `/cookies` echoes them.
async fn cookies_seen(client: &Client, url: &str) -> Result<Value, volley::Error> {
    let echoed: Value = client.get(url).send().await?.error_for_status()?.json().await?;
    Ok(echoed["cookies"].clone())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `/cookies/set?k=v` answers 302 to `/cookies` with `Set-Cookie: k=v; Path=/`, and
    // `/cookies` echoes the `Cookie` header it got.
    let server = TestServer::start().await?;
    let login = server.url("/cookies/set?session=abc");

    // Off by default. A client often runs inside a server, calling APIs on behalf of many
    // users: with a jar built in, Alice's session cookie would go out with Bob's next
    // request to the same API. So a jar is opt-in, and you choose what it is shared by.
    let plain = Client::new()?;
    let seen = cookies_seen(&plain, &login).await?;
    println!("Client::new(): the server got cookies {seen}");
    assert_eq!(seen, json!({}));

    // One client, one jar: aiohttp's `ClientSession`. The cookie set on the 302 is kept
    // and sent on the next hop, and on every later request to this host.
    let session = Client::builder().cookie_store(true).build()?;
    let seen = cookies_seen(&session, &login).await?;
    println!("cookie_store(true), on the redirect: the server got cookies {seen}");
    let later = cookies_seen(&session, &server.url("/cookies")).await?;
    println!("cookie_store(true), a later request: the server got cookies {later}");
    assert_eq!((&seen, &later), (&json!({"session": "abc"}), &json!({"session": "abc"})));

    // A jar you keep a handle on: seed it, inspect it, clear it. Every clone of the
    // client shares it.
    let jar = Arc::new(Jar::new());
    let client = Client::builder().cookie_provider(jar.clone()).build()?;
    let url = Url::parse(&server.url("/"))?;
    assert!(jar.add_cookie_str("theme=dark; Path=/", &url));
    let seen = cookies_seen(&client, &login).await?;
    println!("Shared jar: the server got cookies {seen}");
    assert_eq!(seen, json!({"session": "abc", "theme": "dark"}));
    println!("Shared jar holds {} cookies:", jar.len());
    for cookie in jar.snapshot() {
        println!(
            "  {}={} for {}{} (host only: {})",
            cookie.name(),
            cookie.value(),
            cookie.domain(),
            cookie.path(),
            cookie.host_only()
        );
    }
    assert_eq!(jar.len(), 2);
    jar.clear();
    let seen = cookies_seen(&client, &server.url("/cookies")).await?;
    println!("After jar.clear(): the server got cookies {seen}");
    assert_eq!(seen, json!({}));

    // One jar per user, for a server acting for many: each user's client sends only that
    // user's cookies. A client is built once per user session and kept with it (each has
    // a connection pool of its own); drop it when the session ends.
    let mut users: HashMap<&str, (Client, Arc<Jar>)> = HashMap::new();
    for user in ["alice", "bob"] {
        let jar = Arc::new(Jar::new());
        let client = Client::builder().cookie_provider(jar.clone()).build()?;
        cookies_seen(&client, &server.url(&format!("/cookies/set?session={user}"))).await?;
        users.insert(user, (client, jar));
    }
    for user in ["alice", "bob"] {
        let Some((client, jar)) = users.get(user) else { continue };
        let seen = cookies_seen(client, &server.url("/cookies")).await?;
        println!("Per-user jar: {user}'s request carried {seen} ({} cookie in the jar)", jar.len());
        assert_eq!((seen, jar.len()), (json!({"session": user}), 1));
    }
    Ok(())
}
