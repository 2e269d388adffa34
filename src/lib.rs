//! petro: a requests-compatible HTTP client with a Rust core, built for the
//! Petro.ai and Petra Security data APIs.
//!
//! The crate has three parts:
//! - [`http`]: the pure-Rust client core (request building, auth headers,
//!   proxies, TLS, redirects, cookies, timeouts, errors). No Python in it.
//! - [`emulator`]: a local Petro.ai + Petra Security server (axum) used by the
//!   examples, the tests and offline notebooks.
//! - `python` (feature `python`, turned on by maturin): the thin pyo3 glue that
//!   exposes both as the `petro._core` extension module.

pub mod emulator;
pub mod http;
pub mod runtime;

#[cfg(feature = "python")]
mod python;
