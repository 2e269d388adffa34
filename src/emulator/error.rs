//! The emulator's error answers: one [`ApiError`] type that every handler
//! returns, rendered as `{"error": code, "message": text}` (strict mode) or
//! rewritten to the v4 quirk shape by [`crate::emulator::server`].

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failed request, as the client will see it.
///
/// Messages name the problem (a parameter, an operator, a type) and never
/// contain a credential.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status in strict mode.
    pub status: StatusCode,
    /// Short machine code, e.g. `bad_request`, `unauthorized`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds for a `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
}

/// Marker put on error responses so the v4 quirk layer can find them.
#[derive(Debug, Clone)]
pub struct ErrorMark {
    /// The message, for the v4 `{"message": ...}` body.
    pub message: String,
}

impl ApiError {
    /// A new error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `400 bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// `401 unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// `403 forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `429 rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("rate limit exceeded; retry after {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// `413 payload_too_large`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body larger than the limit of {limit} bytes"),
        )
    }

    /// `500 internal` (storage failures and the like).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::internal(format!("storage error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "message": self.message});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp.extensions_mut().insert(ErrorMark {
            message: self.message,
        });
        resp
    }
}

/// Errors from starting or driving the emulator itself (not HTTP answers).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding the socket or another OS-level failure.
    #[error("emulator I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Opening or filling the store.
    #[error("emulator store error: {0}")]
    Store(String),
    /// A bad option value (e.g. an unknown response shape).
    #[error("invalid emulator option: {0}")]
    Config(String),
}

impl From<rusqlite::Error> for EmulatorError {
    fn from(e: rusqlite::Error) -> Self {
        EmulatorError::Store(e.to_string())
    }
}
