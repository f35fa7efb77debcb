//! What the client checks and changes in a request's URI before sending it.

use base64::Engine;
use http::header::{AUTHORIZATION, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Request, Uri};

use crate::error::Kind;
use crate::{Body, Error};

/// Refuses URLs whose scheme is not `http` or `https` before they reach the stack, so that
/// nothing retries what can never work.
pub(crate) fn check_scheme(uri: &Uri) -> Result<(), Error> {
    match uri.scheme() {
        Some(scheme) if *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS => Ok(()),
        Some(scheme) => Err(Error::with_kind(
            Kind::Request,
            format!("unsupported URL scheme {:?}: volley speaks http and https", scheme.as_str()),
        )),
        None => Err(Error::with_kind(Kind::Request, "the URL has no scheme (http or https)")),
    }
}

/// Turns `user:password@` in the URL into `Authorization: Basic …` (marked sensitive), unless
/// the request already carries an `Authorization` header, and removes it from the URL.
///
/// Left in place, HTTP/1 would drop it silently and HTTP/2 would send it inside
/// `:authority`, where servers log it.
pub(crate) fn move_userinfo_to_authorization(req: &mut Request<Body>) -> Result<(), Error> {
    let Some(authority) = req.uri().authority() else { return Ok(()) };
    let Some((userinfo, host)) = authority.as_str().rsplit_once('@') else { return Ok(()) };
    let host: Authority = host.parse().map_err(|_| {
        Error::with_kind(Kind::Request, "the URL's host is invalid after its userinfo")
    })?;
    let credentials = match userinfo.split_once(':') {
        Some((user, password)) => [percent_decode(user), b":".to_vec(), percent_decode(password)],
        None => [percent_decode(userinfo), b":".to_vec(), Vec::new()],
    }
    .concat();
    if !req.headers().contains_key(AUTHORIZATION) {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
            .map_err(|_| Error::with_kind(Kind::Request, "invalid credentials in the URL"))?;
        value.set_sensitive(true);
        req.headers_mut().insert(AUTHORIZATION, value);
    }
    let mut parts = req.uri().clone().into_parts();
    parts.authority = Some(host);
    *req.uri_mut() = Uri::from_parts(parts)
        .map_err(|_| Error::with_kind(Kind::Request, "the URL is invalid without its userinfo"))?;
    Ok(())
}

/// `%XX` sequences decoded; anything else (a lone `%` included) kept as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes.get(i + 1..i + 3).and_then(|hex| {
            let hex = std::str::from_utf8(hex).ok()?;
            u8::from_str_radix(hex, 16).ok()
        });
        match (bytes[i], escaped) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(url: &str) -> (String, Option<String>) {
        let mut req = Request::get(url).body(Body::empty()).unwrap();
        move_userinfo_to_authorization(&mut req).unwrap();
        let auth = req.headers().get(AUTHORIZATION).map(|value| {
            assert!(value.is_sensitive());
            value.to_str().unwrap().to_owned()
        });
        (req.uri().to_string(), auth)
    }

    #[test]
    fn userinfo_becomes_basic_auth_and_leaves_the_url() {
        // base64("user:p@ss w") and base64("token:")
        assert_eq!(
            moved("https://user:p%40ss%20w@api.example.com:8443/x?y=1"),
            (
                "https://api.example.com:8443/x?y=1".to_owned(),
                Some("Basic dXNlcjpwQHNzIHc=".to_owned())
            )
        );
        assert_eq!(
            moved("http://token@h/"),
            ("http://h/".to_owned(), Some("Basic dG9rZW46".to_owned()))
        );
        assert_eq!(moved("http://h/"), ("http://h/".to_owned(), None));
    }

    #[test]
    fn an_explicit_authorization_header_wins_but_the_userinfo_still_goes() {
        let mut req = Request::get("http://u:p@h/")
            .header(AUTHORIZATION, "Bearer t")
            .body(Body::empty())
            .unwrap();
        move_userinfo_to_authorization(&mut req).unwrap();
        assert_eq!(req.headers()[AUTHORIZATION], "Bearer t");
        assert_eq!(req.uri(), "http://h/");
    }

    #[test]
    fn only_http_and_https() {
        assert!(check_scheme(&"https://h/".parse().unwrap()).is_ok());
        let err = check_scheme(&"ftp://h/f".parse().unwrap()).unwrap_err();
        assert_eq!(err.kind(), Kind::Request);
        assert_eq!(err.to_string(), "unsupported URL scheme \"ftp\": volley speaks http and https");
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%41%zz%"), b"aA%zz%".to_vec());
    }
}

/// A request URL parsed with the `url` crate (IDN hosts to punycode, spaces and other
/// characters percent-encoded), joined to `base` when there is one, as an `http::Uri`.
pub(crate) fn parse_url(base: Option<&url::Url>, text: &str) -> Result<Uri, Error> {
    if base.is_none()
        && let Some(uri) = already_normal(text)
    {
        return Ok(uri);
    }
    let shown = volley_core::redact::RedactedUrl(text);
    let parsed = match base {
        Some(base) => base.join(text),
        None => url::Url::parse(text),
    };
    let url = parsed.map_err(|err| {
        let message = match err {
            url::ParseError::RelativeUrlWithoutBase => {
                format!("URL {shown:?} needs a scheme and a host (or a base URL on the client)")
            }
            err => format!("invalid URL {shown:?}: {err}"),
        };
        Error::with_kind(Kind::Request, message)
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::with_kind(
            Kind::Request,
            format!("URL {shown:?} needs a scheme and a host"),
        ));
    }
    url.as_str()
        .parse()
        .map_err(|err| Error::with_kind(Kind::Request, format!("invalid URL {shown:?}: {err}")))
}

/// `text` as a `Uri` when the `url` crate would not change it: an absolute `http` or
/// `https` URL in plain ASCII, lower-case scheme and host, no userinfo, no default port, a
/// path, no dot segments and nothing to percent-encode. Most URLs a program builds are like
/// this, and parsing them once instead of twice saves most of a request's URL cost (the
/// `url` crate's parse is about 7,000 instructions for `http://127.0.0.1:8080/get`).
fn already_normal(text: &str) -> Option<Uri> {
    let (default_port, rest) = if let Some(rest) = text.strip_prefix("http://") {
        (":80", rest)
    } else {
        (":443", text.strip_prefix("https://")?)
    };
    let authority_end = rest.find('/')?;
    let authority = &rest[..authority_end];
    let path = &rest[authority_end..];
    let plain_authority = !authority.is_empty()
        && authority.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b':'))
        && !authority.ends_with(default_port)
        && !authority.ends_with(':');
    if !(plain_authority && plain_path(path.as_bytes())) {
        return None;
    }
    text.parse().ok()
}

/// Whether `path` (with its query) is printable ASCII without `\\` or `#`, and has no dot
/// segment (`/./`, `/../`, a trailing `/.` or `/..`) and no encoded dot (`%2e`): one pass,
/// where five substring searches cost a request about 300 instructions.
fn plain_path(path: &[u8]) -> bool {
    let at = |i: usize| path.get(i).copied();
    let ends_segment = |i: usize| matches!(at(i), None | Some(b'/'));
    path.iter().enumerate().all(|(i, &b)| match b {
        // `/.` or `/..` that ends its segment.
        b'/' if at(i + 1) == Some(b'.') => {
            let dot_segment =
                ends_segment(i + 2) || (at(i + 2) == Some(b'.') && ends_segment(i + 3));
            !dot_segment
        }
        b'%' => !(at(i + 1) == Some(b'2') && matches!(at(i + 2), Some(b'e' | b'E'))),
        b'\\' | b'#' => false,
        _ => b.is_ascii_graphic(),
    })
}

/// A base URL whose path ends with `/`, so that relative paths are added to it:
/// `https://api.example.com/v1` and `users` give `https://api.example.com/v1/users`.
pub(crate) fn base_url(text: &str) -> Result<url::Url, Error> {
    let mut url = url::Url::parse(text).map_err(|err| {
        Error::with_kind(Kind::Config, format!("invalid base URL {text:?}: {err}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::with_kind(
            Kind::Config,
            format!("the base URL {text:?} needs an http or https scheme and a host"),
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn urls_are_parsed_like_a_browser_would() {
        let parsed = |text: &str| parse_url(None, text).map(|uri| uri.to_string());
        assert_eq!(
            parsed("http://bücher.example/ä?q=a b").unwrap(),
            "http://xn--bcher-kva.example/%C3%A4?q=a%20b"
        );
        assert_eq!(parsed("HTTP://Example.COM:80/x").unwrap(), "http://example.com/x");
        let err = parsed("/relative").unwrap_err();
        assert!(err.to_string().contains("needs a scheme and a host"), "{err}");
        let err = parsed("http://u:secret@exa mple.com/").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn the_fast_path_agrees_with_the_url_crate() {
        let slow = |text: &str| url::Url::parse(text).unwrap().as_str().to_owned();
        for text in [
            "http://127.0.0.1:8080/get",
            "https://api.example.com/v1/users/7?page=2&sort=name",
            "http://h.test/a%20b?q=%41",
            "https://[::1]:8443/x",
            "http://h.test/?",
            "http://h.test/a/b/",
            "http://h.test/.well-known/x",
            "http://h.test/a/..b/.c",
            "http://h.test/v1.2/%2f",
        ] {
            assert_eq!(parse_url(None, text).unwrap().to_string(), slow(text), "{text}");
        }
        // These need the url crate, and the fast path leaves them to it.
        for text in [
            "HTTP://h.test/",
            "http://H.test/",
            "http://h.test:80/",
            "http://h.test",
            "http://h.test/a/../b",
            "http://h.test/a/./b",
            "http://h.test/a/..",
            "http://h.test/a/.",
            "http://h.test/a/%2e%2E/b",
            "http://h.test/a/%2E",
            "http://h.test/a\\b",
            "http://h.test/a b",
            "http://bücher.test/",
            "http://u:p@h.test/",
            "http://h.test/x#frag",
        ] {
            assert!(already_normal(text).is_none(), "{text}");
        }
    }

    #[test]
    fn a_base_url_takes_relative_paths() {
        let base = base_url("https://api.example.com/v1").unwrap();
        let joined = |text: &str| parse_url(Some(&base), text).unwrap().to_string();
        assert_eq!(joined("users/1?x=1"), "https://api.example.com/v1/users/1?x=1");
        assert_eq!(joined("/health"), "https://api.example.com/health");
        assert_eq!(joined("https://other.example/a"), "https://other.example/a");
        assert_eq!(base_url("ftp://x/").unwrap_err().kind(), Kind::Config);
    }
}
