//! `/gzip`, `/deflate`, `/brotli`, `/zstd`, `/bomb/{encoding}`.

use std::io::Read;

use http::StatusCode;
use serde_json::Value;
use volley_testserver::TestServer;

use crate::common::{client, get};

/// Decodes `body` as `encoding` (a `Content-Encoding` token) with the reference crates.
fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(body).read_to_end(&mut out),
        "br" => brotli::Decompressor::new(body, 4096).read_to_end(&mut out),
        "zstd" => zstd::stream::read::Decoder::new(body).and_then(|mut d| d.read_to_end(&mut out)),
        other => panic!("unknown encoding {other}"),
    }
    .unwrap_or_else(|err| panic!("{encoding} does not decode: {err}"));
    out
}

#[tokio::test]
async fn compressed_documents_decode_to_the_get_document_plus_a_flag() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    for (path, encoding, flag) in [
        ("/gzip", "gzip", "gzipped"),
        ("/deflate", "deflate", "deflated"),
        ("/brotli", "br", "brotli"),
        ("/zstd", "zstd", "zstd"),
    ] {
        let url = server.url(&format!("{path}?x=1"));
        let reply = get(&client, &url).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-encoding"), encoding);
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(reply.header("content-length"), reply.body.len().to_string());
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err(), "{path} is compressed");
        let json: Value = serde_json::from_slice(&decode(encoding, &reply.body)).unwrap();
        assert_eq!(json[flag], true, "{path}");
        assert_eq!(json["args"]["x"], "1");
        assert_eq!(json["method"], "GET");
        assert_eq!(json["url"], url);
        assert_eq!(json.as_object().unwrap().len(), 5, "{json}");
        assert_eq!(server.endpoint_hits(path.trim_start_matches('/')), 1);
    }
}

#[tokio::test]
async fn bombs_are_small_and_decode_to_exactly_size_zeros() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    // Around the 1 MiB unit the bombs repeat, a few full units with a remainder, and
    // 20 units.
    let sizes =
        [0_u64, 1, 1_048_575, 1_048_576, 2_097_152, 2_097_153, 3 * 1_048_576 + 12_345, 20 << 20];
    for (name, encoding) in
        [("gzip", "gzip"), ("deflate", "deflate"), ("br", "br"), ("brotli", "br"), ("zstd", "zstd")]
    {
        for size in sizes {
            let reply = get(&client, &server.url(&format!("/bomb/{name}?size={size}"))).await;
            assert_eq!(reply.status, StatusCode::OK, "{name} {size}");
            assert_eq!(reply.header("content-encoding"), encoding);
            assert_eq!(reply.header("content-length"), reply.body.len().to_string());
            assert!(
                reply.body.len() as u64 <= 64 + size / 500,
                "{name} {size}: {} bytes",
                reply.body.len()
            );
            let decoded = decode(encoding, &reply.body);
            assert_eq!(decoded.len() as u64, size, "{name}");
            assert!(decoded.iter().all(|&b| b == 0), "{name} {size}");
        }
    }
    assert_eq!(server.endpoint_hits("bomb"), 5 * sizes.len() as u64);
}

#[tokio::test]
async fn a_default_bomb_is_ten_mib_and_a_gib_bomb_stays_small() {
    let server = TestServer::start().await.unwrap();
    let client = client();
    let reply = get(&client, &server.url("/bomb/gzip")).await;
    assert!(reply.body.len() < 20_000, "{} bytes", reply.body.len());
    assert_eq!(decode("gzip", &reply.body).len(), 10 << 20);

    for (name, most) in
        [("gzip", 1_100_000), ("deflate", 1_100_000), ("br", 100_000), ("zstd", 33_000)]
    {
        let reply = get(&client, &server.url(&format!("/bomb/{name}?size=1073741824"))).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.len() <= most, "{name}: {} bytes", reply.body.len());
    }
    // The zstd frame declares its size; the gzip trailer carries it modulo 2^32.
    let gzip = get(&client, &server.url("/bomb/gzip?size=1073741824")).await;
    let isize = u32::from_le_bytes(gzip.body[gzip.body.len() - 4..].try_into().unwrap());
    assert_eq!(isize, 1 << 30);
    let zstd = get(&client, &server.url("/bomb/zstd?size=1073741824")).await;
    assert_eq!(zstd::zstd_safe::get_frame_content_size(&zstd.body).ok().flatten(), Some(1 << 30));

    for bad in ["/bomb/lzma", "/bomb/gzip?size=1073741825", "/bomb/gzip?size=-1"] {
        let reply = get(&client, &server.url(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
