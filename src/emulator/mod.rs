//! The local Petro.ai + Petra Security emulator: a real HTTP server on
//! loopback (axum on the shared tokio runtime) backed by SQLite, used by the
//! examples, the tests and offline notebooks. See issue 4.
//!
//! - [`server`]: options, the router and its layers, the [`Emulator`] handle.
//! - [`petro`]: the Petro.ai `/api/data` handlers and the legacy collections.
//! - [`query`]: the query language, compiled to SQL.
//! - [`store`]: SQLite storage.
//! - [`auth`]: API keys, JWTs and Petra keys.
//! - [`petra`]: the Petra Security endpoints and their data.
//! - [`sample`]: seeded sample wells, production and petrons.
//! - [`faults`], [`ratelimit`], [`clock`]: reliability-testing controls.
//! - [`admin`]: the `/_admin` control surface.
//!
//! No pyo3 here: the Python glue is `src/python/emulator.rs`.

pub mod admin;
pub mod auth;
pub mod clock;
pub mod dates;
pub mod error;
pub mod faults;
pub mod petra;
pub mod petro;
pub mod query;
pub mod ratelimit;
pub mod sample;
pub mod server;
pub mod store;

pub use error::{ApiError, EmulatorError};
pub use sample::SampleSize;
pub use server::{Config, Credentials, Emulator, ErrorMode, ResponseShape};
