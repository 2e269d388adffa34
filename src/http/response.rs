//! What comes back: status line, headers, body (whole or streamed), history.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::error::Result;
use super::retry::Attempt;

/// The request as it was finally sent (for `Response.request`); its URL is
/// the response's `url`.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: http::Method,
    pub headers: std::sync::Arc<HeaderMap>,
}

/// A body still on the wire (`stream=True`).
#[derive(Debug)]
pub struct BodyStream {
    inner: Option<Source>,
}

/// Where the body comes from: reqwest (TLS, proxies) or the direct transport.
#[derive(Debug)]
enum Source {
    Reqwest(reqwest::Response),
    Direct(super::direct::DirectBody),
}

impl BodyStream {
    pub(crate) fn new(resp: reqwest::Response) -> Self {
        BodyStream {
            inner: Some(Source::Reqwest(resp)),
        }
    }

    pub(crate) fn direct(body: super::direct::DirectBody) -> Self {
        BodyStream {
            inner: Some(Source::Direct(body)),
        }
    }

    /// The next chunk, or None at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let next = match self.inner.as_mut() {
            None => return Ok(None),
            Some(Source::Reqwest(resp)) => resp
                .chunk()
                .await
                .map_err(|e| super::session::classify_body_error(&e)),
            Some(Source::Direct(body)) => body
                .chunk()
                .await
                .map_err(super::session::classify_direct_body_error),
        };
        match next {
            Ok(Some(chunk)) => Ok(Some(chunk)),
            Ok(None) => {
                self.inner = None;
                Ok(None)
            }
            Err(e) => {
                self.inner = None;
                Err(e)
            }
        }
    }

    /// Close the connection without reading the rest.
    pub fn close(&mut self) {
        self.inner = None;
    }

    /// Read everything that is left. Up to `CHUNKED_MAX` the chunks are kept
    /// as they arrived (see `Body`); a larger body (by Content-Length, or once
    /// it grows past the limit) is gathered into one buffer as it arrives, so
    /// it is never held twice.
    pub async fn read_to_end(&mut self) -> Result<Body> {
        let hint = self
            .inner
            .as_ref()
            .and_then(|s| match s {
                Source::Reqwest(r) => r.content_length(),
                Source::Direct(b) => b.content_length(),
            })
            .unwrap_or(0)
            .min(64 << 20) as usize;
        let mut body = BodyBuilder::new(hint);
        while let Some(chunk) = self.next_chunk().await? {
            body.push(chunk);
        }
        Ok(body.finish())
    }
}

/// Gathers a body as `read_to_end` describes.
struct BodyBuilder {
    chunks: Vec<Bytes>,
    /// Small chunks after the first few, gathered (a server sending tiny
    /// chunks must not cost a `Bytes` per byte).
    small: Vec<u8>,
    /// The whole body in one buffer, once it is known to exceed `CHUNKED_MAX`.
    joined: Option<Vec<u8>>,
    len: usize,
}

impl BodyBuilder {
    /// Chunks kept as they are before small ones are gathered.
    const KEEP: usize = 16;
    /// Chunks below this size are gathered (after the first `KEEP`)...
    const SMALL: usize = 8 << 10;
    /// ... into buffers of this size.
    const GATHER: usize = 64 << 10;
    /// Bodies up to this size are copied out of the connection's buffer.
    const DETACH: usize = 16 << 10;

    fn new(hint: usize) -> Self {
        BodyBuilder {
            chunks: Vec::new(),
            small: Vec::new(),
            joined: (hint > CHUNKED_MAX).then(|| Vec::with_capacity(hint)),
            len: 0,
        }
    }

    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if let Some(buf) = self.joined.as_mut() {
            buf.extend_from_slice(&chunk);
            return;
        }
        if chunk.is_empty() {
            return;
        }
        if chunk.len() < Self::SMALL && self.chunks.len() >= Self::KEEP {
            self.small.extend_from_slice(&chunk);
            if self.small.len() >= Self::GATHER {
                self.flush_small();
            }
        } else {
            self.flush_small();
            self.chunks.push(chunk);
        }
        if self.len > CHUNKED_MAX {
            self.flush_small();
            let mut buf = Vec::with_capacity(self.len * 2);
            for c in self.chunks.drain(..) {
                buf.extend_from_slice(&c);
            }
            self.joined = Some(buf);
        }
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.chunks
                .push(Bytes::from(std::mem::take(&mut self.small)));
        }
    }

    fn finish(mut self) -> Body {
        self.flush_small();
        match self.joined {
            Some(buf) => Body::from(Bytes::from(buf)),
            None if self.len <= Self::DETACH && !self.chunks.is_empty() => {
                // A small body is a slice of the connection's read buffer (8 KiB
                // and up), and would keep all of it allocated for as long as the
                // response lives (a batch keeps every reply until it ends). Copied
                // out, the buffer is the connection's alone again. Measured: 40
                // batches of 1,000 small replies, page faults 21,400 -> 19,850.
                let mut one = Vec::with_capacity(self.len);
                for c in &self.chunks {
                    one.extend_from_slice(c);
                }
                Body::from(Bytes::from(one))
            }
            None => Body {
                chunks: self.chunks,
                len: self.len,
            },
        }
    }
}

/// Bodies up to this size are kept as the chunks that arrived (`Body`).
pub const CHUNKED_MAX: usize = 8 << 20;

/// A whole body as the connection delivered it: its chunks, joined only when
/// a caller needs one buffer. A caller that copies the body anyway (into a
/// Python `bytes`) then copies it once, and a one-chunk body is never copied.
#[derive(Debug, Clone, Default)]
pub struct Body {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Body {
    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks in order (none empty).
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// A body of these chunks, in order.
    pub fn from_chunks(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let len = chunks.iter().map(Bytes::len).sum();
        Body { chunks, len }
    }

    /// Copy the body into `out`, which must be exactly `len()` bytes long.
    pub fn copy_to(&self, out: &mut [u8]) {
        let mut at = 0;
        for c in &self.chunks {
            out[at..at + c.len()].copy_from_slice(c);
            at += c.len();
        }
    }

    /// One buffer: a single chunk as it is, several joined (one copy).
    pub fn into_bytes(self) -> Bytes {
        match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks.into_iter().next().unwrap_or_default(),
            _ => {
                let mut buf = Vec::new();
                self.join_into(&mut buf);
                Bytes::from(buf)
            }
        }
    }

    /// The body as one slice: a single chunk as it is, several copied into
    /// `scratch` (cleared first; a caller reusing it between bodies spares the
    /// allocation, and the fresh pages, of a new buffer each time).
    pub fn join_into<'a>(&'a self, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        if let [one] = self.chunks.as_slice() {
            return one;
        }
        scratch.clear();
        scratch.reserve(self.len);
        for c in &self.chunks {
            scratch.extend_from_slice(c);
        }
        scratch
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::from_chunks([b])
    }
}

/// A response: head, body and the redirects that led to it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The canonical phrase for the status unless the server sent another.
    pub reason: std::borrow::Cow<'static, str>,
    pub version: &'static str,
    pub headers: HeaderMap,
    pub url: String,
    pub elapsed: Duration,
    pub request: SentRequest,
    /// The whole body, when it was read (not streaming).
    pub body: Option<Body>,
    /// The unread body, when streaming.
    pub stream: Option<BodyStream>,
    pub history: Vec<Response>,
    /// Every attempt made (more than one when retried), for logs.
    pub attempts: Vec<Attempt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_joins_chunks_in_order() {
        let parts: Vec<Bytes> = vec![Bytes::from_static(b"[1,"), Bytes::from_static(b"2,3]")];
        let body = Body::from_chunks(parts.clone());
        assert_eq!(body.len(), 7);
        let mut out = vec![0; body.len()];
        body.copy_to(&mut out);
        assert_eq!(out, b"[1,2,3]");
        assert_eq!(body.clone().into_bytes(), Bytes::from_static(b"[1,2,3]"));
        // One chunk: handed over as it is, no copy.
        let one = Body::from(parts[1].clone());
        assert_eq!(one.into_bytes().as_ptr(), parts[1].as_ptr());
        let empty = Body::from(Bytes::new());
        assert!(empty.is_empty() && empty.chunks().is_empty());
        assert_eq!(empty.into_bytes(), Bytes::new());
    }

    #[test]
    fn small_bodies_are_copied_out_of_the_connection_buffer() {
        // Two slices of one "read buffer": the small body must not share it.
        let buffer = Bytes::from(vec![7u8; 64 << 10]);
        let mut b = BodyBuilder::new(0);
        b.push(buffer.slice(0..100));
        b.push(buffer.slice(100..300));
        let body = b.finish();
        assert_eq!(body.chunks().len(), 1);
        let bytes = body.into_bytes();
        assert_eq!(bytes.len(), 300);
        assert!(!buffer.as_ptr_range().contains(&bytes.as_ptr()));
        // Above the limit the chunks are kept as they came (no copy).
        let mut b = BodyBuilder::new(0);
        b.push(buffer.slice(..(BodyBuilder::DETACH + 1)));
        let body = b.finish();
        assert_eq!(body.chunks().len(), 1);
        assert_eq!(body.into_bytes().as_ptr(), buffer.as_ptr());
    }

    #[test]
    fn tiny_chunks_are_gathered_and_large_bodies_joined() {
        // 100,000 one-byte chunks: kept in a handful of buffers, in order.
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut b = BodyBuilder::new(0);
        for byte in &data {
            b.push(Bytes::copy_from_slice(std::slice::from_ref(byte)));
        }
        let body = b.finish();
        assert!(
            body.chunks().len() < BodyBuilder::KEEP + 4,
            "{}",
            body.chunks().len()
        );
        assert_eq!(body.into_bytes(), Bytes::from(data));
        // Large chunks stay as they are (no copy).
        let big = Bytes::from(vec![7u8; 1 << 20]);
        let mut b = BodyBuilder::new(0);
        for _ in 0..3 {
            b.push(big.clone());
        }
        b.push(Bytes::from_static(b"end"));
        let body = b.finish();
        assert_eq!(body.len(), 3 * (1 << 20) + 3);
        assert_eq!(body.chunks()[1].as_ptr(), big.as_ptr());
        // Past CHUNKED_MAX: one buffer, the same bytes.
        let mut b = BodyBuilder::new(0);
        for _ in 0..9 {
            b.push(big.clone());
        }
        b.push(Bytes::from_static(b"tail"));
        let body = b.finish();
        assert_eq!(body.chunks().len(), 1);
        assert_eq!(body.len(), 9 * (1 << 20) + 4);
        assert_eq!(&body.into_bytes()[9 << 20..], b"tail");
    }
}
