//! The `petro._core` extension module: thin pyo3 glue over [`crate::http`]
//! and [`crate::emulator`].

use pyo3::prelude::*;

mod emulator;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    emulator::register(m)?;
    Ok(())
}
