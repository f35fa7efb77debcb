use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, OnceLock};

mod key_fn;
mod origin;

pub use key_fn::{ByAuthority, KeyFn, RequestHead, SingleKey};

/// The partition a request belongs to for per-key state (per-host limits, rate-limit
/// buckets, cooldowns, retry budgets).
///
/// Cheap to clone (one reference count). The default key, made by [`ByAuthority`], is the
/// request's origin — scheme, lowercase host and port, with the scheme's default port left
/// out — so `HTTP://Example.COM:80/a` and `http://example.com/b` share a key while
/// `https://example.com` does not. Credentials in the URI never become part of a key.
///
/// # Example
///
/// ```
/// use volley_core::Key;
///
/// let uri: http::Uri = "HTTPS://Api.Example.com:443/v1/items?page=2".parse().unwrap();
/// assert_eq!(Key::from_uri(&uri).as_str(), "https://api.example.com");
/// assert_eq!(Key::new("tenant-42").as_str(), "tenant-42");
/// ```
///
/// A key carries a hash of its text computed once, when it is made (with keys random per
/// process, so hosts cannot be chosen to collide), and hashing a key writes only that: maps
/// keyed by [`Key`] built with [`KeyHashBuilder`] cost no string hashing per request.
#[derive(Clone)]
pub struct Key {
    text: Arc<str>,
    hash: u64,
}

impl Key {
    /// A key with the given text, for partitions of your own (per tenant, per API token).
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        let text = key.into();
        let hash = key_hasher().hash_one(&*text);
        Self { text, hash }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.text, &other.text) || (self.hash == other.hash && self.text == other.text)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

/// The per-process hasher for key text.
fn key_hasher() -> &'static RandomState {
    static HASHER: OnceLock<RandomState> = OnceLock::new();
    HASHER.get_or_init(RandomState::new)
}

/// A [`BuildHasher`] for maps keyed by [`Key`]: it passes the key's precomputed hash
/// through instead of hashing the text again.
///
/// Other types hashed with it are mixed with FNV-1a, so it stays correct (if not
/// DoS-resistant) for them.
///
/// ```
/// use std::collections::HashMap;
/// use volley_core::{Key, KeyHashBuilder};
///
/// let mut map: HashMap<Key, u32, KeyHashBuilder> = HashMap::default();
/// map.insert(Key::new("https://api.example.com"), 1);
/// assert_eq!(map.get(&Key::new("https://api.example.com")), Some(&1));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyHashBuilder;

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0xcbf2_9ce4_8422_2325)
    }
}

/// The hasher made by [`KeyHashBuilder`].
#[derive(Clone, Copy, Debug)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        // A key's hash is already well mixed: keep it as it is.
        self.0 ^= hash;
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<&str> for Key {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl From<String> for Key {
    fn from(key: String) -> Self {
        Self::new(key)
    }
}
