//! Injected faults, for testing a client's reliability.
//!
//! A fault is a small JSON object posted to `POST /_admin/faults`:
//!
//! ```json
//! {"route": "/api/data/query", "kind": "status", "status": 503, "times": 2, "retry_after": 1}
//! ```
//!
//! Common fields: `route` (exact path, a prefix ending in `*`, or `*` for
//! every route), optional `method` (e.g. `"POST"`), `times` (how many
//! responses it affects, default 1; `-1` = until cleared). Kinds:
//!
//! | kind | fields | effect |
//! |---|---|---|
//! | `delay` | `delay_ms` | wait before sending the headers, then answer normally |
//! | `slow_body` | `chunk_bytes` (16), `chunk_delay_ms` (50) | the real body, trickled |
//! | `drop` | `after_bytes` (half the body) | send the headers and part of the body, then drop the connection |
//! | `status` | `status`, `retry_after`, `body` | answer `status` (JSON error body unless `body` given) |
//! | `truncate` | | the real body cut in half (valid HTTP, broken JSON) |
//! | `malformed` | | `200` with a body that is not valid JSON |
//! | `body_size` | `size` | `200` with a JSON body of exactly `size` bytes |
//! | `redirect` | `location`, `status` (302) | a redirect to another URL or host |
//!
//! Faults are checked before authentication, in the order they were added.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;

/// One fault, as posted to the admin surface.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultSpec {
    /// Path it applies to (`*` = all, `prefix*` = prefix).
    pub route: String,
    /// Only this method, when given.
    #[serde(default)]
    pub method: Option<String>,
    /// Responses affected (default 1; -1 = until cleared).
    #[serde(default)]
    pub times: Option<i64>,
    /// What to do.
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// What a fault does.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Wait before the headers.
    Delay {
        /// Milliseconds to wait.
        delay_ms: u64,
    },
    /// Trickle the body.
    SlowBody {
        /// Bytes per chunk.
        #[serde(default)]
        chunk_bytes: Option<usize>,
        /// Pause between chunks.
        #[serde(default)]
        chunk_delay_ms: Option<u64>,
    },
    /// Drop the connection part-way through the body.
    Drop {
        /// Bytes sent before the drop (default: half).
        #[serde(default)]
        after_bytes: Option<usize>,
    },
    /// Answer with a status.
    Status {
        /// The status code.
        status: u16,
        /// Seconds for `Retry-After`.
        #[serde(default)]
        retry_after: Option<u64>,
        /// Body to send instead of the default JSON error.
        #[serde(default)]
        body: Option<Value>,
    },
    /// Cut the real body in half.
    Truncate,
    /// A body that is not JSON.
    Malformed,
    /// A JSON body of an exact size.
    BodySize {
        /// Size in bytes.
        size: usize,
    },
    /// Redirect elsewhere.
    Redirect {
        /// The `Location` value.
        location: String,
        /// 301, 302, 303, 307 or 308 (default 302).
        #[serde(default)]
        status: Option<u16>,
    },
}

/// Every key a fault spec may have (serde cannot deny unknown fields
/// together with a flattened tagged enum, so they are checked here).
const KNOWN_KEYS: &[&str] = &[
    "route",
    "method",
    "times",
    "kind",
    "delay_ms",
    "chunk_bytes",
    "chunk_delay_ms",
    "after_bytes",
    "status",
    "retry_after",
    "body",
    "size",
    "location",
];

/// Parse a fault spec from JSON text, refusing unknown keys.
pub fn parse_spec(text: &str) -> Result<FaultSpec, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("invalid fault spec: {e}"))?;
    if let Some(o) = v.as_object() {
        if let Some(k) = o.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(format!("invalid fault spec: unknown key '{k}'"));
        }
    }
    serde_json::from_value(v).map_err(|e| format!("invalid fault spec: {e}"))
}

struct Active {
    id: u64,
    spec: FaultSpec,
    remaining: i64,
}

/// The active faults.
#[derive(Default)]
pub struct Faults {
    active: Mutex<Vec<Active>>,
    next_id: Mutex<u64>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faults { .. }")
    }
}

/// Largest `body_size` fault allowed (256 MiB).
pub const MAX_FAULT_BODY: usize = 256 << 20;

impl Faults {
    /// Check and add a fault; returns its id.
    pub fn add(&self, spec: FaultSpec) -> Result<u64, String> {
        match &spec.kind {
            FaultKind::Status { status, .. } if !(100..=599).contains(status) => {
                return Err(format!("status {status} is not an HTTP status"))
            }
            FaultKind::Redirect {
                status: Some(s), ..
            } if ![301, 302, 303, 307, 308].contains(s) => {
                return Err(format!("redirect status {s} is not a redirect"))
            }
            FaultKind::Redirect { location, .. } if HeaderValue::from_str(location).is_err() => {
                return Err("redirect location is not a valid header value".into())
            }
            FaultKind::BodySize { size } if *size > MAX_FAULT_BODY => {
                return Err(format!("size is larger than {MAX_FAULT_BODY}"))
            }
            _ => {}
        }
        if spec.route.is_empty() {
            return Err("route must not be empty".into());
        }
        let remaining = spec.times.unwrap_or(1);
        if remaining == 0 || remaining < -1 {
            return Err("times must be a positive number or -1".into());
        }
        let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        let id = *next;
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Active {
                id,
                spec,
                remaining,
            });
        Ok(id)
    }

    /// Remove every fault.
    pub fn clear(&self) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Take one use of the first fault matching this request, if any.
    pub fn take(&self, method: &Method, path: &str) -> Option<FaultKind> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let pos = active.iter().position(|a| {
            let route_ok = a.spec.route == "*"
                || match a.spec.route.strip_suffix('*') {
                    Some(p) => path.starts_with(p),
                    None => a.spec.route == path,
                };
            let method_ok = a
                .spec
                .method
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()));
            route_ok && method_ok
        })?;
        let kind = active[pos].spec.kind.clone();
        if active[pos].remaining > 0 {
            active[pos].remaining -= 1;
            if active[pos].remaining == 0 {
                let id = active[pos].id;
                active.retain(|a| a.id != id);
            }
        }
        Some(kind)
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A JSON body `{"data":"xxx..."}` of exactly `size` bytes (at least 11).
pub fn sized_body(size: usize) -> Vec<u8> {
    let pad = size.saturating_sub(11);
    let mut body = Vec::with_capacity(pad + 11);
    body.extend_from_slice(br#"{"data":""#);
    body.resize(9 + pad, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

/// A response made entirely by the fault (no handler runs), or `None` when
/// the fault wraps the real response (see [`wrap`]).
pub fn answer_alone(kind: &FaultKind) -> Option<Response> {
    match kind {
        FaultKind::Status {
            status,
            retry_after,
            body,
        } => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = body.clone().unwrap_or_else(|| {
                serde_json::json!({
                    "error": if *status == 429 { "rate_limited" } else { "injected_fault" },
                    "message": format!("injected fault: status {status}"),
                })
            });
            let mut r = json_response(code, body.to_string().into_bytes());
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*s));
            }
            Some(r)
        }
        FaultKind::Malformed => Some(json_response(
            StatusCode::OK,
            br#"{"data": [{"id": "1", "name": "broken",, ]"#.to_vec(),
        )),
        FaultKind::BodySize { size } => Some(json_response(StatusCode::OK, sized_body(*size))),
        FaultKind::Redirect { location, status } => {
            let code = StatusCode::from_u16(status.unwrap_or(302)).unwrap_or(StatusCode::FOUND);
            let mut r = (code, Body::empty()).into_response();
            if let Ok(v) = HeaderValue::from_str(location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            Some(r)
        }
        _ => None,
    }
}

/// Sleep for `delay`; false if the emulator started stopping meanwhile.
pub async fn sleep_unless_stopping(delay: Duration, stopping: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = stopping.wait_for(|s| *s) => false,
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Interrupted, "emulator stopping")
}

/// Apply a body-changing fault to the real response. Trickled bodies end
/// with an error (the connection is cut) when the emulator stops, so a stop
/// never waits on them.
pub async fn wrap(kind: &FaultKind, resp: Response, stopping: watch::Receiver<bool>) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    match kind {
        FaultKind::Truncate => {
            let cut = bytes.slice(0..bytes.len() / 2);
            Response::from_parts(parts, Body::from(cut))
        }
        FaultKind::SlowBody {
            chunk_bytes,
            chunk_delay_ms,
        } => {
            let size = chunk_bytes.unwrap_or(16).max(1);
            let delay = Duration::from_millis(chunk_delay_ms.unwrap_or(50));
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            let chunks: Vec<Bytes> = (0..bytes.len())
                .step_by(size)
                .map(|i| bytes.slice(i..(i + size).min(bytes.len())))
                .collect();
            let state = (chunks.into_iter(), stopping, false);
            let stream =
                futures_util::stream::unfold(state, move |(mut it, mut stop, done)| async move {
                    if done {
                        return None;
                    }
                    let chunk = it.next()?;
                    if !sleep_unless_stopping(delay, &mut stop).await {
                        return Some((Err(stopped()), (it, stop, true)));
                    }
                    Some((Ok::<Bytes, std::io::Error>(chunk), (it, stop, false)))
                });
            Response::from_parts(parts, Body::from_stream(stream))
        }
        FaultKind::Drop { after_bytes } => {
            let n = after_bytes.unwrap_or(bytes.len() / 2).min(bytes.len());
            // Promise the full length, send part of it, then fail the body:
            // the server then closes the connection mid-body.
            parts.headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(bytes.len().max(1)),
            );
            let head = bytes.slice(0..n);
            let items: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(head),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "injected fault: connection dropped",
                )),
            ];
            let stream = futures_util::stream::unfold(items.into_iter(), |mut it| async move {
                let item = it.next()?;
                if item.is_err() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Some((item, it))
            });
            Response::from_parts(parts, Body::from_stream(stream))
        }
        _ => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_and_counts() {
        let f = Faults::default();
        let spec: FaultSpec = serde_json::from_str(
            r#"{"route": "/api/data/query", "kind": "status", "status": 503, "times": 2, "retry_after": 1}"#,
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(f.add(spec).is_ok());
        assert!(f.take(&Method::POST, "/api/data").is_none());
        assert!(f.take(&Method::POST, "/api/data/query").is_some());
        assert!(f.take(&Method::POST, "/api/data/query").is_some());
        assert!(f.take(&Method::POST, "/api/data/query").is_none());
        let bad: Result<FaultSpec, _> = serde_json::from_str(r#"{"route": "*", "kind": "nope"}"#);
        assert!(bad.is_err());
        assert!(
            parse_spec(r#"{"route": "*", "kind": "delay", "delay_ms": 1, "oops": 2}"#).is_err()
        );
        assert!(parse_spec(r#"{"route": "*", "kind": "delay", "delay_ms": 1}"#).is_ok());
    }

    #[test]
    fn body_size_exact() {
        for size in [11, 100, 4096] {
            let b = sized_body(size);
            assert_eq!(b.len(), size);
            assert!(serde_json::from_slice::<Value>(&b).is_ok());
        }
    }
}
