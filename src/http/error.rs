//! The client core's one error type.
//!
//! Every failure of the core is an [`Error`]; the Python glue maps each kind to
//! the exception class of the same name in `petro.exceptions` (one place:
//! `src/python/errors.rs`). Messages never contain credentials: URLs are shown
//! without their userinfo.

use std::fmt;

/// What went wrong, named after the requests exception it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The URL has no scheme (`example.com/path`).
    MissingSchema,
    /// The scheme is not http or https.
    InvalidSchema,
    /// The URL cannot be parsed or has no host.
    InvalidUrl,
    /// A header name or value is not valid HTTP.
    InvalidHeader,
    /// The TCP connection could not be made or was lost before a response.
    Connection,
    /// The proxy could not be reached or refused the tunnel.
    Proxy,
    /// The TLS handshake failed (certificate, hostname, protocol).
    Ssl,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// The server sent nothing for longer than the read timeout.
    ReadTimeout,
    /// More redirects than allowed.
    TooManyRedirects,
    /// The body ended early or its framing was broken.
    ChunkedEncoding,
    /// The body's Content-Encoding could not be decoded.
    ContentDecoding,
    /// The streamed body was already consumed.
    StreamConsumed,
    /// A local file (CA bundle, client certificate) could not be used.
    InvalidFile,
    /// Anything else (an internal failure).
    Other,
}

impl ErrorKind {
    /// The name of the matching class in `petro.exceptions`.
    pub fn exception_name(self) -> &'static str {
        match self {
            ErrorKind::MissingSchema => "MissingSchema",
            ErrorKind::InvalidSchema => "InvalidSchema",
            ErrorKind::InvalidUrl => "InvalidURL",
            ErrorKind::InvalidHeader => "InvalidHeader",
            ErrorKind::Connection => "ConnectionError",
            ErrorKind::Proxy => "ProxyError",
            ErrorKind::Ssl => "SSLError",
            ErrorKind::ConnectTimeout => "ConnectTimeout",
            ErrorKind::ReadTimeout => "ReadTimeout",
            ErrorKind::TooManyRedirects => "TooManyRedirects",
            ErrorKind::ChunkedEncoding => "ChunkedEncodingError",
            ErrorKind::ContentDecoding => "ContentDecodingError",
            ErrorKind::StreamConsumed => "StreamConsumedError",
            ErrorKind::InvalidFile => "InvalidFileError",
            ErrorKind::Other => "RequestException",
        }
    }
}

/// An error from the client core: a kind and a message fit to show a person.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// The messages of an error's source chain, joined, most specific last.
/// reqwest's own top-level message is skipped: it embeds the full URL.
pub fn source_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        // No sources: reqwest's message is all there is; drop its URL part.
        let text = err.to_string();
        let text = match text.find(" for url (") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        parts.push(text);
    }
    parts.join(": ")
}

/// True when `test` holds for `err` or any error in its chain of sources.
pub fn chain_any(
    err: &(dyn std::error::Error + 'static),
    test: impl Fn(&(dyn std::error::Error + 'static)) -> bool,
) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if test(e) {
            return true;
        }
        cur = e.source();
    }
    false
}

/// True when a TLS error sits anywhere in the chain.
pub fn chain_has_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    let found = chain_any(err, |e| {
        e.is::<rustls::Error>()
            || e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<rustls::Error>())
    });
    if found {
        return true;
    }
    // io::Error hides its inner error from source(): fall back to rustls' wording.
    let text = source_chain(err);
    [
        "invalid peer certificate",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "certificate",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}
