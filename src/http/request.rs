//! What a caller asks for: one fully prepared request and its options.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;

use super::error::{Error, ErrorKind, Result};
use super::retry::RetryPolicy;
use super::tls::{ClientCert, Verify};

/// Connect and read timeouts; `None` waits forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    /// Longest wait for the response headers and between two reads of the body.
    pub read: Option<Duration>,
}

/// One request, with every option resolved by the caller.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: Method,
    pub url: String,
    /// Shared: the requests of a batch carry their session's headers, cloned
    /// only where one is sent (or changed).
    pub headers: Arc<HeaderMap>,
    pub body: Option<Bytes>,
    pub timeouts: Timeouts,
    pub allow_redirects: bool,
    pub max_redirects: usize,
    pub verify: Verify,
    pub cert: Option<ClientCert>,
    /// `proxies=` as (key, url) pairs, keys as in requests.
    pub proxies: Vec<(String, String)>,
    /// Read proxies, NO_PROXY and CA bundles from the environment.
    pub trust_env: bool,
    /// Leave the body unread until asked for.
    pub stream: bool,
    /// Cookies for this request only (not stored in the session).
    pub cookies: Vec<(String, String)>,
    /// Extra header names to drop on a redirect to another host.
    pub credential_headers: Vec<String>,
    /// Retry policy; None sends once.
    pub retry: Option<RetryPolicy>,
    /// Whether the request is safe to repeat; None decides by method.
    pub idempotent: Option<bool>,
    /// The environment's proxy variables as read for a batch of requests;
    /// None: read them when the request is sent.
    pub proxy_env: Option<std::sync::Arc<super::proxy::ProxyEnv>>,
}

impl RequestSpec {
    /// A GET with defaults, mostly for tests and the emulator.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        RequestSpec {
            method,
            url: url.into(),
            headers: Arc::new(HeaderMap::new()),
            body: None,
            timeouts: Timeouts::default(),
            allow_redirects: true,
            max_redirects: 30,
            verify: Verify::Default,
            cert: None,
            proxies: Vec::new(),
            trust_env: true,
            stream: false,
            cookies: Vec::new(),
            credential_headers: Vec::new(),
            retry: None,
            idempotent: None,
            proxy_env: None,
        }
    }
}

/// Parse an HTTP method name (any token is allowed, as in requests).
pub fn parse_method(name: &str) -> Result<Method> {
    Method::from_bytes(name.to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::new(ErrorKind::Other, format!("Invalid HTTP method: {name:?}")))
}

/// Build a header map from (name, value) pairs, naming the first bad header.
/// Values are never echoed: they may be credentials.
pub fn headers_from_pairs<I, N, V>(pairs: I) -> Result<HeaderMap>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidHeader,
                format!("Invalid header name {name:?}: header names must be HTTP tokens"),
            )
        })?;
        let trimmed = trim_ascii_ws(value);
        if value.first().map(u8::is_ascii_whitespace).unwrap_or(false) {
            return Err(Error::new(
                ErrorKind::InvalidHeader,
                format!("Invalid leading whitespace in the value of header {name:?}"),
            ));
        }
        let value = HeaderValue::from_bytes(trimmed).map_err(|_| {
            Error::new(
                ErrorKind::InvalidHeader,
                format!(
                    "Invalid return character or control character in the value of header {name:?}"
                ),
            )
        })?;
        map.append(header, value);
    }
    Ok(map)
}

fn trim_ascii_ws(v: &[u8]) -> &[u8] {
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map(|i| i + 1)
        .unwrap_or(0);
    &v[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_headers_are_named_not_echoed() {
        let err = headers_from_pairs([(
            "Authorization".to_string(),
            b"Bearer x\r\nInjected: 1".to_vec(),
        )])
        .err()
        .unwrap_or_else(|| unreachable!());
        assert_eq!(err.kind, ErrorKind::InvalidHeader);
        assert!(err.message.contains("Authorization"));
        assert!(!err.message.contains("Bearer"));
        let err = headers_from_pairs([("Bad Name".to_string(), b"v".to_vec())]).err();
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::InvalidHeader));
        let err = headers_from_pairs([("X".to_string(), b" lead".to_vec())]).err();
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::InvalidHeader));
        assert!(headers_from_pairs([("X".to_string(), b"ok ".to_vec())]).is_ok());
    }
}
