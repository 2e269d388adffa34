//! JSON between Python objects and bytes, with no intermediate tree.
//!
//! Out: a direct walk over dicts, lists, strings and numbers writing the same
//! text as `json.dumps` (see [`crate::http::jsonfmt`]); errors name the type
//! and where it sits (`$.data[0].when`). In: jiter's Python parser, which
//! builds Python objects in one pass and agrees with `json.loads` (key order,
//! big integers, NaN/Infinity, last duplicate key wins).

use jiter::{FloatMode, PartialMode, PythonParse, StringCacheMode};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::errors::new_error;
use crate::http::jsonfmt;

const MAX_DEPTH: usize = 512;

enum Failure {
    Type(String),
    Value(String),
    /// NaN or infinity: requests raises InvalidJSONError.
    NotCompliant(String),
    Py(PyErr),
}

struct Fail {
    failure: Failure,
    /// Path segments, innermost first.
    path: Vec<String>,
}

impl From<PyErr> for Fail {
    fn from(e: PyErr) -> Self {
        Fail {
            failure: Failure::Py(e),
            path: Vec::new(),
        }
    }
}

fn fail(failure: Failure) -> Fail {
    Fail {
        failure,
        path: Vec::new(),
    }
}

fn key_segment(key: &str) -> String {
    let ident = !key.is_empty()
        && key.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if ident {
        format!(".{key}")
    } else {
        format!("[{key:?}]")
    }
}

/// Serialise `obj` to JSON bytes exactly as `json.dumps(obj)` would.
pub fn dumps(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    match write(&mut out, obj, 0) {
        Ok(()) => Ok(out),
        Err(f) => {
            let path: String = std::iter::once("$".to_string())
                .chain(f.path.into_iter().rev())
                .collect();
            Err(match f.failure {
                Failure::Py(e) => e,
                Failure::Type(msg) => PyTypeError::new_err(format!("{msg} (at {path})")),
                Failure::Value(msg) => PyValueError::new_err(format!("{msg} (at {path})")),
                Failure::NotCompliant(msg) => {
                    new_error(py, "InvalidJSONError", (format!("{msg} (at {path})"),))
                }
            })
        }
    }
}

fn float_text(v: f64) -> Result<String, Fail> {
    if v.is_finite() {
        Ok(jsonfmt::py_float_repr(v))
    } else {
        Err(fail(Failure::NotCompliant(format!(
            "Out of range float values are not JSON compliant: {}",
            if v.is_nan() {
                "nan"
            } else if v > 0.0 {
                "inf"
            } else {
                "-inf"
            }
        ))))
    }
}

fn int_text(i: &Bound<'_, PyInt>) -> Result<String, Fail> {
    if let Ok(v) = i.extract::<i64>() {
        let mut buf = itoa::Buffer::new();
        return Ok(buf.format(v).to_string());
    }
    // Arbitrary size: int.__repr__ (not str(), which IntEnum overrides).
    let repr = i.py().get_type::<PyInt>().call_method1("__repr__", (i,))?;
    Ok(repr.extract::<String>()?)
}

fn write(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> Result<(), Fail> {
    if depth > MAX_DEPTH {
        return Err(fail(Failure::Value(format!(
            "Circular reference detected, or nesting deeper than {MAX_DEPTH} levels"
        ))));
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow().map_err(|_| {
            fail(Failure::Value(
                "String contains a lone surrogate and cannot be encoded".into(),
            ))
        })?;
        jsonfmt::write_str(out, &text);
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = obj.cast::<PyInt>() {
        out.extend_from_slice(int_text(i)?.as_bytes());
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        out.extend_from_slice(float_text(f.value())?.as_bytes());
    } else if let Ok(d) = obj.cast::<PyDict>() {
        out.push(b'{');
        for (n, (k, v)) in d.iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b", ");
            }
            let key = dict_key(&k)?;
            jsonfmt::write_str(out, &key);
            out.extend_from_slice(b": ");
            write(out, &v, depth + 1).map_err(|mut f| {
                f.path.push(key_segment(&key));
                f
            })?;
        }
        out.push(b'}');
    } else if let Ok(l) = obj.cast::<PyList>() {
        write_seq(out, l.iter(), depth)?;
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        write_seq(out, t.iter(), depth)?;
    } else {
        let name = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "object".to_string());
        return Err(fail(Failure::Type(format!(
            "Object of type {name} is not JSON serializable"
        ))));
    }
    Ok(())
}

fn write_seq<'py>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
) -> Result<(), Fail> {
    out.push(b'[');
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.extend_from_slice(b", ");
        }
        write(out, &item, depth + 1).map_err(|mut f| {
            f.path.push(format!("[{n}]"));
            f
        })?;
    }
    out.push(b']');
    Ok(())
}

fn dict_key(k: &Bound<'_, PyAny>) -> Result<String, Fail> {
    if let Ok(s) = k.cast::<PyString>() {
        return s
            .to_cow()
            .map(|c| c.into_owned())
            .map_err(|_| fail(Failure::Value("Key contains a lone surrogate".into())));
    }
    if let Ok(b) = k.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.to_string());
    }
    if let Ok(i) = k.cast::<PyInt>() {
        return int_text(i);
    }
    if let Ok(f) = k.cast::<PyFloat>() {
        return float_text(f.value());
    }
    if k.is_none() {
        return Ok("null".to_string());
    }
    let name = k
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Err(fail(Failure::Type(format!(
        "keys must be str, int, float, bool or None, not {name}"
    ))))
}

/// Bodies up to this size go to orjson when it is installed: it parses them
/// about 1.5x faster than jiter with string sharing. Larger ones stay with
/// jiter, whose sharing of repeated strings matters more there (W4: ~50 MB less
/// for 100,000 records).
const ORJSON_MAX: usize = 8 << 20;

/// A run of 20 or more digits: maybe an int beyond 64 bits, which orjson turns
/// into a lossy float (jiter keeps it exact). Runs of 19 digits fit in an i64.
///
/// Any such run covers one of every `RUN`-th byte, so only those are probed and
/// a digit there is measured both ways: about a tenth of the bytes are read.
fn long_digit_run(data: &[u8]) -> bool {
    const RUN: usize = 20;
    let mut i = RUN - 1;
    while let Some(b) = data.get(i) {
        if !b.is_ascii_digit() {
            i += RUN;
            continue;
        }
        let start = data[..i]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        let end = data[i..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(data.len(), |p| i + p);
        if end - start >= RUN {
            return true;
        }
        // A longer run starting after `end` (a non-digit) covers `end + RUN`.
        i = end + RUN;
    }
    false
}

static ORJSON: PyOnceLock<Option<Py<PyAny>>> = PyOnceLock::new();

/// `orjson.loads`, imported on first use (None when orjson is not installed).
fn orjson_loads(py: Python<'_>) -> Option<&Bound<'_, PyAny>> {
    ORJSON
        .get_or_init(py, || {
            py.import("orjson")
                .and_then(|m| m.getattr("loads"))
                .ok()
                .map(Bound::unbind)
        })
        .as_ref()
        .map(|f| f.bind(py))
}

/// Bodies from this size up are parsed with the cyclic GC paused (see `without_gc`).
const PAUSE_GC_FROM: usize = 256 << 10;

/// `gc.isenabled`, `gc.disable`, `gc.enable`.
type GcFns = (Py<PyAny>, Py<PyAny>, Py<PyAny>);

static GC: PyOnceLock<Option<GcFns>> = PyOnceLock::new();

/// Run `f` with Python's cyclic garbage collector paused, as `gc.disable()`
/// then `gc.enable()` (only if it was enabled). A large parse allocates many
/// containers, each counting towards a collection that can find nothing to free:
/// parsed JSON holds no cycles. The GIL is held throughout, so no other thread
/// sees the pause.
fn without_gc<'py, T>(py: Python<'py>, f: impl FnOnce() -> T) -> T {
    let fns = GC.get_or_init(py, || {
        let gc = py.import("gc").ok()?;
        let get = |name| gc.getattr(name).ok().map(Bound::unbind);
        Some((get("isenabled")?, get("disable")?, get("enable")?))
    });
    let Some((isenabled, disable, enable)) = fns else {
        return f();
    };
    let paused = isenabled
        .bind(py)
        .call0()
        .and_then(|v| v.is_truthy())
        .unwrap_or(false)
        && disable.bind(py).call0().is_ok();
    let out = f();
    if paused {
        // Cannot fail in practice; a failure would leave the GC off, so say so.
        if let Err(e) = enable.bind(py).call0() {
            e.write_unraisable(py, None);
        }
    }
    out
}

/// Whether orjson parses these bytes exactly: at most `ORJSON_MAX` and no int
/// beyond 64 bits. Pure Rust: callers run it with the GIL released, as a body
/// arrives, and hand the answer to `loads_from`.
pub(crate) fn orjson_can_parse(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    data.len() <= ORJSON_MAX && !long_digit_run(data)
}

/// Parse JSON bytes into Python objects, raising petro's `JSONDecodeError`
/// (also a `json.JSONDecodeError`) with the position of the problem.
pub fn loads<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    loads_from(py, data, None, None)
}

/// `loads`; `owner` is a Python bytes object holding exactly `data`, handed to
/// orjson as it is instead of being copied; `orjson_ok` is `orjson_can_parse(data)`
/// when already known.
pub fn loads_from<'py>(
    py: Python<'py>,
    data: &[u8],
    owner: Option<&Bound<'py, PyBytes>>,
    orjson_ok: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    if data.len() >= PAUSE_GC_FROM {
        without_gc(py, || parse(py, data, owner, orjson_ok))
    } else {
        parse(py, data, owner, orjson_ok)
    }
}

fn parse<'py>(
    py: Python<'py>,
    data: &[u8],
    owner: Option<&Bound<'py, PyBytes>>,
    orjson_ok: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let whole = data.len();
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    if orjson_ok.unwrap_or_else(|| orjson_can_parse(data)) {
        if let Some(f) = orjson_loads(py) {
            let arg = match owner {
                Some(b) if data.len() == whole => b.clone(),
                _ => PyBytes::new(py, data),
            };
            // What orjson refuses (NaN, invalid JSON...) goes to jiter, which
            // accepts NaN and words the errors.
            if let Ok(v) = f.call1((arg,)) {
                return Ok(v);
            }
        }
    }
    let parser = PythonParse {
        allow_inf_nan: true,
        // Repeated values (basin names, operators, dates) share one Python str, as keys do:
        // less memory for large record lists and fewer allocations.
        cache_mode: StringCacheMode::All,
        partial_mode: PartialMode::Off,
        catch_duplicate_keys: false,
        float_mode: FloatMode::Float,
    };
    parser.python_parse(py, data).map_err(|e| {
        let pos = char_index(data, e.index);
        let msg = e.error_type.to_string();
        let doc = String::from_utf8_lossy(data).into_owned();
        new_error(py, "JSONDecodeError", (msg, doc, pos))
    })
}

/// jiter reports byte offsets; json.JSONDecodeError wants character offsets.
fn char_index(data: &[u8], byte_index: usize) -> usize {
    let end = byte_index.min(data.len());
    data[..end].iter().filter(|b| (**b & 0xC0) != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::long_digit_run;

    /// The probe-every-20th-byte scan against the obvious byte-by-byte one.
    #[test]
    fn long_digit_run_agrees_with_a_plain_scan() {
        fn plain(data: &[u8]) -> bool {
            let mut run = 0;
            data.iter().any(|b| {
                run = if b.is_ascii_digit() { run + 1 } else { 0 };
                run >= 20
            })
        }
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"1".to_vec()];
        for len in [18, 19, 20, 21, 39, 40, 41] {
            for pad in 0..45 {
                for tail in 0..3 {
                    let mut v = vec![b' '; pad];
                    v.extend(std::iter::repeat_n(b'7', len));
                    v.extend(std::iter::repeat_n(b',', tail));
                    cases.push(v);
                }
            }
        }
        // Runs of 19 separated by one non-digit, at every offset: never 20.
        for pad in 0..45 {
            let mut v = vec![b'['; pad];
            for _ in 0..5 {
                v.extend_from_slice(b"1234567890123456789,");
            }
            cases.push(v);
        }
        for case in &cases {
            assert_eq!(
                long_digit_run(case),
                plain(case),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        assert!(long_digit_run(b"[12345678901234567890]"));
        assert!(!long_digit_run(b"[1234567890123456789]"));
    }
}
