//! POST, headers and JSON — the seed's snippet with a JSON body and a Bearer token, a
//! form, and a multipart file upload.

// An example reports to its reader on stdout.
#![allow(clippy::print_stdout)]

use serde_json::{Value, json};
use volley::{Client, Multipart};
use volley_testserver::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local stand-in for api.example.com: `/post` echoes what it received.
    let server = TestServer::start().await?;
    let client = Client::new()?;
    let url = server.url("/post");
    let token = "secret-token";

    // POST with a JSON body.
    let result: Value = client
        .post(&url)
        .json(&json!({"name": "Alice", "email": "alice@example.com"}))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("JSON: the server parsed {}", result["json"]);
    println!("JSON: authorization {}", result["headers"]["authorization"]);

    // POST form data.
    let text = client
        .post(&url)
        .form(&[("key", "value")])
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let result: Value = serde_json::from_str(&text)?;
    println!("Form: the server got {} as {}", result["data"], result["headers"]["content-type"]);

    // File upload (multipart). A real program would read the file:
    // `let photo = tokio::fs::read("photo.jpg").await?;`
    let photo: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    let form =
        Multipart::new().text("caption", "a photo").file("file", "photo.jpg", "image/jpeg", &photo);
    let result: Value =
        client.post(&url).multipart(form).send().await?.error_for_status()?.json().await?;
    let data = result["data"].as_str().unwrap_or_default();
    println!("Multipart: the server got {} bytes for a {}-byte file", result["bytes"], photo.len());
    println!("Multipart: file part present: {}", data.contains("filename=\"photo.jpg\""));
    Ok(())
}
