use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::Body;

/// A `multipart/form-data` body (RFC 7578): text fields and files, built in memory.
///
/// # Example
///
/// ```
/// use volley::Multipart;
///
/// let form = Multipart::new()
///     .text("title", "quarterly report")
///     .file("report", "report.csv", "text/csv", b"a,b\n1,2\n".to_vec());
/// assert!(form.content_type().starts_with("multipart/form-data; boundary="));
/// ```
pub struct Multipart {
    boundary: String,
    buffer: BytesMut,
}

impl Multipart {
    /// An empty form with a random boundary.
    pub fn new() -> Self {
        Self {
            boundary: format!("volley-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            buffer: BytesMut::new(),
        }
    }

    /// A text field.
    #[must_use]
    pub fn text(self, name: &str, value: impl AsRef<str>) -> Self {
        self.part(name, None, None, value.as_ref().as_bytes())
    }

    /// A file field: its file name, media type and contents.
    #[must_use]
    pub fn file(
        self,
        name: &str,
        file_name: &str,
        media_type: &str,
        contents: impl AsRef<[u8]>,
    ) -> Self {
        self.part(name, Some(file_name), Some(media_type), contents.as_ref())
    }

    fn part(
        mut self,
        name: &str,
        file_name: Option<&str>,
        media_type: Option<&str>,
        contents: &[u8],
    ) -> Self {
        let buffer = &mut self.buffer;
        buffer.put_slice(format!("--{}\r\n", self.boundary).as_bytes());
        buffer.put_slice(
            format!("Content-Disposition: form-data; name=\"{}\"", quote(name)).as_bytes(),
        );
        if let Some(file_name) = file_name {
            buffer.put_slice(format!("; filename=\"{}\"", quote(file_name)).as_bytes());
        }
        buffer.put_slice(b"\r\n");
        if let Some(media_type) = media_type {
            buffer.put_slice(
                format!("Content-Type: {}\r\n", media_type.replace(['\r', '\n'], "")).as_bytes(),
            );
        }
        buffer.put_slice(b"\r\n");
        buffer.put_slice(contents);
        buffer.put_slice(b"\r\n");
        self
    }

    /// The `Content-Type` header value, with the boundary.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    pub(crate) fn into_body(mut self) -> Body {
        self.buffer.put_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        Body::from(Bytes::from(self.buffer))
    }
}

/// Field and file names go inside quotes: escape what would end them (RFC 7578 §4.2).
fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "%22").replace(['\r', '\n'], " ")
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field("boundary", &self.boundary)
            .field("bytes", &self.buffer.len())
            .finish()
    }
}
