//! `application/x-www-form-urlencoded` query strings and percent-encoded path
//! segments, decoded lossily (bad escapes are kept as they are, bad UTF-8
//! becomes U+FFFD) so no input can make a handler fail here.

use std::borrow::Cow;

/// Decodes `%XX` escapes, and `+` as a space when `plus` is set.
pub(crate) fn decode(raw: &str, plus: bool) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'%' || (plus && b == b'+')) {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The decoded `(name, value)` pairs of a query string, in order.
pub(crate) fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(name, true), decode(value, true))
    })
}

/// The decoded value of the first `name` parameter, if any.
pub(crate) fn get<'q>(query: Option<&'q str>, name: &str) -> Option<Cow<'q, str>> {
    pairs(query?).find(|(n, _)| n == name).map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::{decode, get, pairs};

    #[test]
    fn decodes_escapes_plus_and_garbage() {
        assert_eq!(decode("a%20b+c", true), "a b c");
        assert_eq!(decode("a+b", false), "a+b");
        assert_eq!(decode("100%", true), "100%");
        assert_eq!(decode("%zz%4", true), "%zz%4");
        assert_eq!(decode("%ff", true), "\u{fffd}");
    }

    #[test]
    fn finds_first_value() {
        let q = Some("a=1&b&a=2&c=x%3Dy");
        assert_eq!(get(q, "a").as_deref(), Some("1"));
        assert_eq!(get(q, "b").as_deref(), Some(""));
        assert_eq!(get(q, "c").as_deref(), Some("x=y"));
        assert_eq!(get(q, "d"), None);
        assert_eq!(pairs("a=1&&b=2").count(), 2);
    }
}
