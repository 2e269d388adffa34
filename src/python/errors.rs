//! The one translation point from core errors to Python exceptions.
//!
//! Exception classes live in `petro/exceptions.py` (so they have docstrings,
//! pickle, and keep the stdlib mixins); this module only looks them up.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use crate::http::Error;

static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn exceptions(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    EXCEPTIONS
        .get_or_try_init(py, || py.import("petro.exceptions").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// Instantiate `petro.exceptions.<name>(*args)` as a PyErr.
pub fn new_error<A>(py: Python<'_>, name: &str, args: A) -> PyErr
where
    A: for<'py> pyo3::call::PyCallArgs<'py>,
{
    let made = exceptions(py)
        .and_then(|m| m.getattr(name))
        .and_then(|cls| cls.call1(args));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// Map a core error to the exception class named after its kind.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    new_error(py, err.kind.exception_name(), (err.message,))
}

/// The runtime could not be started or a task died: not the user's fault.
pub fn internal(msg: impl Into<String>) -> PyErr {
    PyRuntimeError::new_err(msg.into())
}
