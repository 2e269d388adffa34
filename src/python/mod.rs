//! The `petro._core` extension module: thin pyo3 glue over [`crate::http`]
//! and [`crate::emulator`].

use pyo3::prelude::*;

mod bridge;
mod client;
mod emulator;
mod errors;
mod frames;
mod json;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::PySession>()?;
    m.add_class::<client::PyRawResponse>()?;
    m.add_class::<bridge::TaskHandle>()?;
    m.add_function(wrap_pyfunction!(client::dumps, m)?)?;
    m.add_function(wrap_pyfunction!(client::loads, m)?)?;
    m.add_function(wrap_pyfunction!(frames::parse_records, m)?)?;
    m.add_function(wrap_pyfunction!(bridge::shutdown_dispatcher, m)?)?;
    m.add_class::<frames::RecordPage>()?;
    m.add_class::<frames::FrameBuilder>()?;
    emulator::register(m)?;
    Ok(())
}
