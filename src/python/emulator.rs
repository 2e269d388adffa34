//! Python glue for the emulator (issue 4): the `petro._core._Emulator` class
//! that `petro.emulator.Emulator` wraps. Converts arguments, releases the
//! GIL around start and stop, and maps [`EmulatorError`] to Python errors.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::emulator::{Config, Emulator, EmulatorError, SampleSize};

fn to_py(e: EmulatorError) -> PyErr {
    match e {
        EmulatorError::Io(e) => PyOSError::new_err(e.to_string()),
        EmulatorError::Config(m) => PyValueError::new_err(m),
        EmulatorError::Store(m) => PyRuntimeError::new_err(m),
    }
}

/// A running emulator (private; use `petro.emulator.Emulator`).
#[pyclass(name = "_Emulator", module = "petro._core")]
pub struct PyEmulator {
    inner: Mutex<Emulator>,
}

impl PyEmulator {
    fn with<T>(&self, f: impl FnOnce(&mut Emulator) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

#[pymethods]
impl PyEmulator {
    #[new]
    #[pyo3(signature = (
        host = "127.0.0.1".to_owned(), port = 0, data_dir = None, sample_data = true,
        sample_wells = 2000, sample_months = 36, seed = 42, response_shape = "list".to_owned(),
        errors = "strict".to_owned(), rate_limit = None, rate_limit_per = 60.0,
        max_body_bytes = 64 << 20
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: String,
        port: u16,
        data_dir: Option<PathBuf>,
        sample_data: bool,
        sample_wells: usize,
        sample_months: u32,
        seed: u64,
        response_shape: String,
        errors: String,
        rate_limit: Option<u32>,
        rate_limit_per: f64,
        max_body_bytes: usize,
    ) -> PyResult<Self> {
        let config = Config {
            host,
            port,
            data_dir,
            sample_data,
            sample_size: SampleSize {
                wells: sample_wells,
                max_months: sample_months,
            },
            seed,
            response_shape: response_shape.parse().map_err(to_py)?,
            errors: errors.parse().map_err(to_py)?,
            rate_limit: rate_limit.filter(|n| *n > 0).map(|n| (n, rate_limit_per)),
            max_body_bytes,
        };
        let emu = py.detach(move || Emulator::start(config)).map_err(to_py)?;
        Ok(Self {
            inner: Mutex::new(emu),
        })
    }

    /// Base URL of both services.
    #[getter]
    fn url(&self) -> String {
        self.with(|e| e.url())
    }

    /// Bound port.
    #[getter]
    fn port(&self) -> u16 {
        self.with(|e| e.addr().port())
    }

    /// True until `stop()`.
    #[getter]
    fn running(&self) -> bool {
        self.with(|e| e.is_running())
    }

    /// `(app_id, secret_key, petra_api_key, petra_var_api_key, admin_token)`.
    fn credentials(&self) -> (String, String, String, String, String) {
        self.with(|e| {
            let c = e.credentials();
            (
                c.app_id.clone(),
                c.secret_key.clone(),
                c.petra_api_key.clone(),
                c.petra_var_api_key.clone(),
                e.state().auth.admin_token.clone(),
            )
        })
    }

    fn create_api_key(&self) -> (String, String) {
        self.with(|e| e.state().auth.create_api_key())
    }

    fn set_api_key_enabled(&self, app_id: &str, enabled: bool) -> bool {
        self.with(|e| e.state().auth.set_api_key_enabled(app_id, enabled))
    }

    fn delete_api_key(&self, app_id: &str) -> bool {
        self.with(|e| e.state().auth.delete_api_key(app_id))
    }

    #[pyo3(signature = (multi_msp = false, org = None))]
    fn create_petra_key(&self, multi_msp: bool, org: Option<String>) -> String {
        self.with(|e| {
            let org = org.unwrap_or_else(|| crate::emulator::petra::DEFAULT_ORG.to_owned());
            e.state().auth.create_petra_key(&org, multi_msp)
        })
    }

    fn delete_petra_key(&self, key: &str) -> bool {
        self.with(|e| e.state().auth.delete_petra_key(key))
    }

    #[pyo3(signature = (expires_in = None))]
    fn issue_jwt(&self, expires_in: Option<f64>) -> String {
        self.with(|e| e.state().issue_jwt(expires_in.map(|s| s.round() as i64)))
    }

    fn advance_clock(&self, seconds: f64) -> i64 {
        self.with(|e| {
            e.state().clock.advance(seconds);
            e.state().clock.now_secs()
        })
    }

    #[pyo3(signature = (limit, per_seconds = 60.0, route = None))]
    fn set_rate_limit(&self, limit: u32, per_seconds: f64, route: Option<String>) -> PyResult<()> {
        self.with(|e| e.state().set_rate_limit(limit, per_seconds, route))
            .map_err(PyValueError::new_err)
    }

    fn inject_fault(&self, spec_json: &str) -> PyResult<u64> {
        self.with(|e| crate::emulator::server::add_fault_json(e.state(), spec_json))
            .map_err(PyValueError::new_err)
    }

    fn clear_faults(&self) {
        self.with(|e| e.state().faults.clear())
    }

    /// Stop serving (idempotent); releases the GIL while waiting.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.with(|e| e.stop()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEmulator>()?;
    Ok(())
}
