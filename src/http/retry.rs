//! Retry policy: which failures are retried, how long to wait, when to stop.
//!
//! Retried: connection failures (the request never reached the server, or the
//! connection broke mid-body) and
//! the statuses in [`RetryPolicy::statuses`] (408, 429, 502, 503, 504 by
//! default), only for requests safe to repeat: GET, HEAD, OPTIONS, PUT,
//! DELETE, TRACE, or any request the caller marks idempotent (petro's
//! `POST /api/data/query`). The wait is the server's `Retry-After` (seconds or
//! an HTTP date) up to a cap, else exponential backoff with full jitter. A
//! deadline bounds the total time across attempts.

use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, Method};

use super::error::ErrorKind;

/// How a session retries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retrying off).
    pub max_retries: u32,
    /// First backoff step; step n waits up to `base * 2^(n-1)`.
    pub backoff_base: Duration,
    /// Longest backoff step.
    pub backoff_max: Duration,
    /// Longest `Retry-After` honoured; a longer one is not waited for.
    pub retry_after_max: Duration,
    /// Statuses worth another try.
    pub statuses: Vec<u16>,
    /// Total time budget across attempts, counted from the first send.
    pub deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            retry_after_max: Duration::from_secs(120),
            statuses: vec![408, 429, 502, 503, 504],
            deadline: None,
        }
    }
}

/// A `Retry-After` header, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// None sent, or not a number of seconds or an HTTP date.
    Absent,
    /// Wait this long.
    Wait(Duration),
    /// Longer than the policy will wait: give up.
    TooLong,
}

/// What one attempt ended with, for logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub elapsed: Duration,
    /// How long petro waited after this attempt before the next one.
    pub wait: Duration,
}

/// Methods that may be sent twice without changing the outcome.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Errors that are worth another try (for requests safe to repeat): the
/// request did not get through, or the connection broke while the body was
/// being read. Read timeouts are not retried: they can be long; use a deadline.
pub fn is_retryable_error(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Connection | ErrorKind::ConnectTimeout | ErrorKind::ChunkedEncoding
    )
}

impl RetryPolicy {
    /// The n-th backoff (n from 1): uniform in [0, min(max, base * 2^(n-1))].
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = 2f64.powi(n.saturating_sub(1).min(30) as i32);
        let ceiling = (self.backoff_base.as_secs_f64() * exp).min(self.backoff_max.as_secs_f64());
        Duration::try_from_secs_f64(ceiling * fastrand::f64()).unwrap_or(self.backoff_max)
    }

    /// The server's `Retry-After`, judged against the cap.
    pub fn retry_after(&self, headers: &HeaderMap) -> RetryAfter {
        let Some(value) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) else {
            return RetryAfter::Absent;
        };
        let value = value.trim();
        let wait = if let Ok(secs) = value.parse::<f64>() {
            if !secs.is_finite() || secs < 0.0 {
                return RetryAfter::Absent;
            }
            match Duration::try_from_secs_f64(secs) {
                Ok(d) => d,
                Err(_) => return RetryAfter::TooLong,
            }
        } else if let Ok(when) = httpdate::parse_http_date(value) {
            when.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        } else {
            return RetryAfter::Absent;
        };
        if wait > self.retry_after_max {
            return RetryAfter::TooLong;
        }
        RetryAfter::Wait(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(4),
            ..RetryPolicy::default()
        };
        for n in 1..10 {
            let cap = (2f64.powi(n as i32 - 1)).min(4.0);
            for _ in 0..50 {
                assert!(p.backoff(n).as_secs_f64() <= cap);
            }
        }
    }

    #[test]
    fn retry_after_seconds_dates_and_cap() {
        let p = RetryPolicy::default();
        let mut h = HeaderMap::new();
        assert_eq!(p.retry_after(&h), RetryAfter::Absent);
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(p.retry_after(&h), RetryAfter::Wait(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("100000"));
        assert_eq!(p.retry_after(&h), RetryAfter::TooLong);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(p.retry_after(&h), RetryAfter::Wait(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("1e300"));
        assert_eq!(p.retry_after(&h), RetryAfter::TooLong);
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(p.retry_after(&h), RetryAfter::Absent);
    }

    #[test]
    fn idempotent_methods() {
        assert!(is_idempotent(&Method::GET) && is_idempotent(&Method::PUT));
        assert!(!is_idempotent(&Method::POST) && !is_idempotent(&Method::PATCH));
    }
}
