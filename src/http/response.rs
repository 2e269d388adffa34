//! What comes back: status line, headers, body (whole or streamed), history.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::error::Result;
use super::retry::Attempt;

/// The request as it was finally sent (for `Response.request`).
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: HeaderMap,
}

/// A body still on the wire (`stream=True`).
#[derive(Debug)]
pub struct BodyStream {
    inner: Option<reqwest::Response>,
}

impl BodyStream {
    pub(crate) fn new(resp: reqwest::Response) -> Self {
        BodyStream { inner: Some(resp) }
    }

    /// The next chunk, or None at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let Some(resp) = self.inner.as_mut() else {
            return Ok(None);
        };
        match resp.chunk().await {
            Ok(Some(chunk)) => Ok(Some(chunk)),
            Ok(None) => {
                self.inner = None;
                Ok(None)
            }
            Err(e) => {
                self.inner = None;
                Err(super::session::classify_body_error(&e))
            }
        }
    }

    /// Close the connection without reading the rest.
    pub fn close(&mut self) {
        self.inner = None;
    }

    /// Read everything that is left, into one buffer sized from Content-Length.
    pub async fn read_to_end(&mut self) -> Result<Bytes> {
        let hint = self
            .inner
            .as_ref()
            .and_then(|r| r.content_length())
            .unwrap_or(0)
            .min(64 << 20);
        let mut buf: Vec<u8> = Vec::with_capacity(hint as usize);
        while let Some(chunk) = self.next_chunk().await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    }
}

/// A response: head, body and the redirects that led to it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: &'static str,
    pub headers: HeaderMap,
    pub url: String,
    pub elapsed: Duration,
    pub request: SentRequest,
    /// The whole body, when it was read (not streaming).
    pub body: Option<Bytes>,
    /// The unread body, when streaming.
    pub stream: Option<BodyStream>,
    pub history: Vec<Response>,
    /// Every attempt made (more than one when retried), for logs.
    pub attempts: Vec<Attempt>,
}
