//! The HTTP client core: no Python here.
//!
//! - [`request`]: a fully prepared request and its options
//! - [`session`]: pools, cookie jars, sending and redirects
//! - [`direct`]: plain HTTP/1.1 on hyper without reqwest's layers
//! - [`response`]: status, headers, body (whole or streamed)
//! - [`proxy`], [`tls`], [`redirect`]: the rules requests users rely on
//! - [`retry`]: which failures are retried and how long to wait
//! - [`error`]: the one error type
//! - [`jsonfmt`]: JSON text exactly as Python's `json.dumps` writes it

pub mod direct;
pub mod error;
pub mod jsonfmt;
pub mod proxy;
pub mod redirect;
pub mod request;
pub mod response;
pub mod retry;
pub mod session;
pub mod tls;
pub mod url_util;

pub use error::{Error, ErrorKind, Result};
pub use request::{RequestSpec, Timeouts};
pub use response::{Body, BodyStream, Response, SentRequest};
pub use session::{Pool, Session};
