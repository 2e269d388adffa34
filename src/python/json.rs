//! JSON between Python objects and bytes, with no intermediate tree.
//!
//! Out: a direct walk over dicts, lists, strings and numbers writing the same
//! text as `json.dumps` (see [`crate::http::jsonfmt`]); errors name the type
//! and where it sits (`$.data[0].when`). In: orjson when it is installed and
//! parses the body exactly (up to 8 MiB, no int beyond 64 bits; arrays from
//! 2 MiB in pieces, see `parse_in_pieces`), otherwise jiter's Python parser,
//! which builds Python objects in one pass. Either way the result agrees with
//! `json.loads` (key order, big integers, NaN/Infinity, last duplicate key wins).

use std::borrow::Cow;

use jiter::{FloatMode, PartialMode, PythonParse, StringCacheMode};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::PyTypeInfo;

use super::errors::new_error;
use crate::http::jsonfmt;
use crate::http::response::CHUNKED_MAX;
use crate::http::Body;

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
    // Room for a typical request body (~250 bytes) without growing.
    let mut out = Vec::with_capacity(256);
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
    match i.extract::<i64>() {
        Ok(v) => Ok(itoa::Buffer::new().format(v).to_string()),
        Err(_) => big_int_text(i),
    }
}

/// An int beyond 64 bits as text: `int.__repr__` (not `str()`, which IntEnum
/// overrides).
fn big_int_text(i: &Bound<'_, PyInt>) -> Result<String, Fail> {
    let repr = i.py().get_type::<PyInt>().call_method1("__repr__", (i,))?;
    Ok(repr.extract::<String>()?)
}

fn write(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> Result<(), Fail> {
    if depth > MAX_DEPTH {
        return Err(fail(Failure::Value(format!(
            "Circular reference detected, or nesting deeper than {MAX_DEPTH} levels"
        ))));
    }
    // The exact built-in types first, each a pointer compare: the subclass
    // checks below ask Python for the type's flags (a call each under abi3).
    let py = obj.py();
    let ty = obj.get_type_ptr();
    if ty == PyString::type_object_raw(py) {
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return write_text(out, s);
        }
    } else if ty == PyDict::type_object_raw(py) {
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            return write_dict(out, d, depth);
        }
    } else if ty == PyInt::type_object_raw(py) {
        if let Ok(i) = obj.cast_exact::<PyInt>() {
            return write_int(out, i);
        }
    } else if ty == PyList::type_object_raw(py) {
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return write_seq(out, l.iter(), depth);
        }
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = obj.cast::<PyString>() {
        write_text(out, s)?;
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = obj.cast::<PyInt>() {
        write_int(out, i)?;
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        out.extend_from_slice(float_text(f.value())?.as_bytes());
    } else if let Ok(d) = obj.cast::<PyDict>() {
        write_dict(out, d, depth)?;
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

fn write_text(out: &mut Vec<u8>, s: &Bound<'_, PyString>) -> Result<(), Fail> {
    let text = s.to_cow().map_err(|_| {
        fail(Failure::Value(
            "String contains a lone surrogate and cannot be encoded".into(),
        ))
    })?;
    jsonfmt::write_str(out, &text);
    Ok(())
}

fn write_int(out: &mut Vec<u8>, i: &Bound<'_, PyInt>) -> Result<(), Fail> {
    match i.extract::<i64>() {
        Ok(v) => jsonfmt::write_i64(out, v),
        Err(_) => out.extend_from_slice(big_int_text(i)?.as_bytes()),
    }
    Ok(())
}

fn write_dict(out: &mut Vec<u8>, d: &Bound<'_, PyDict>, depth: usize) -> Result<(), Fail> {
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

/// A key as text: borrowed from a str key (no copy), made for the others.
fn dict_key<'a>(k: &'a Bound<'_, PyAny>) -> Result<Cow<'a, str>, Fail> {
    // An exact str (nearly every key) by a pointer compare, as in `write`.
    let exact = k.get_type_ptr() == PyString::type_object_raw(k.py());
    if let Ok(s) = if exact {
        k.cast_exact::<PyString>()
    } else {
        k.cast::<PyString>()
    } {
        return s
            .to_cow()
            .map_err(|_| fail(Failure::Value("Key contains a lone surrogate".into())));
    }
    if let Ok(b) = k.cast::<PyBool>() {
        return Ok(Cow::Borrowed(if b.is_true() { "true" } else { "false" }));
    }
    if let Ok(i) = k.cast::<PyInt>() {
        return int_text(i).map(Cow::Owned);
    }
    if let Ok(f) = k.cast::<PyFloat>() {
        return float_text(f.value()).map(Cow::Owned);
    }
    if k.is_none() {
        return Ok(Cow::Borrowed("null"));
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
/// for 100,000 records). The same limit as `CHUNKED_MAX`: a body orjson may
/// parse arrives as chunks and is copied once into a `bytes`.
const ORJSON_MAX: usize = CHUNKED_MAX;

/// Digits in a run that may be an int beyond 64 bits.
const LONG_RUN: usize = 19;

/// A run of 19 or more digits: maybe an int beyond 64 bits, which orjson turns
/// into a lossy float (jiter keeps it exact). 20 digits pass `u64::MAX`, and
/// 19 pass `i64::MIN` when negative (`-9223372036854775809`); runs of 18
/// digits fit either way.
///
/// Any run of 15 or more digits covers a whole 8-byte block at an offset that
/// is a multiple of 8, so the blocks are tested eight bytes at a time (a
/// branch-free loop over 64 bytes the compiler vectorises) and only a block
/// of all digits is measured both ways. Number-heavy bodies (well records)
/// made the previous probe of every 20th byte stop and measure at most of them.
fn long_digit_run(data: &[u8]) -> bool {
    const RUN: usize = LONG_RUN;
    const GROUP: usize = 64;
    // Where the digit run that ends just before `at` starts.
    let run_start = |at: usize| {
        data[..at]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1)
    };
    let run_at = |block: usize| -> (usize, usize) {
        let start = run_start(block);
        let end = data[block..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(data.len(), |p| block + p);
        (start, end)
    };
    let mut skip_to = 0; // blocks before this lie inside a run already measured
    for (g, group) in data.chunks_exact(GROUP).enumerate() {
        let any = group
            .chunks_exact(8)
            .fold(false, |acc, w| acc | all_digits(w));
        if !any {
            continue;
        }
        for (k, w) in group.chunks_exact(8).enumerate() {
            let block = g * GROUP + k * 8;
            if block < skip_to || !all_digits(w) {
                continue;
            }
            let (start, end) = run_at(block);
            if end - start >= RUN {
                return true;
            }
            skip_to = end;
        }
    }
    // The tail after the last whole group: measured plainly.
    let tail = data.len() - data.len() % GROUP;
    let from = tail.max(skip_to);
    let mut run = from - run_start(from);
    data[from..].iter().any(|b| {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        run >= RUN
    })
}

/// Whether all eight bytes are ASCII digits (SWAR: after `^ b'0'` a digit is
/// 0..=9, and adding 0x76 sets the top bit of any byte above 9).
#[inline(always)]
fn all_digits(w: &[u8]) -> bool {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const ADD: u64 = 0x7676_7676_7676_7676;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut b = [0u8; 8];
    b.copy_from_slice(&w[..8]);
    let x = u64::from_le_bytes(b) ^ ZEROS;
    (x.wrapping_add(ADD) | x) & HIGH == 0
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

/// `orjson_can_parse` of a body still in the chunks it arrived in: each chunk
/// is scanned while it is the only copy, and runs across chunks are added up.
pub(crate) fn orjson_can_parse_body(body: &Body) -> bool {
    let chunks = body.chunks();
    if let [one] = chunks {
        return orjson_can_parse(one);
    }
    let head: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.iter())
        .take(3)
        .copied()
        .collect();
    let bom = if head == b"\xef\xbb\xbf" { 3 } else { 0 };
    if body.len() - bom > ORJSON_MAX {
        return false;
    }
    // `carry`: the digits that end the chunks so far.
    let mut carry = 0;
    for c in chunks {
        let lead = c
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(c.len());
        if carry + lead >= LONG_RUN || long_digit_run(c) {
            return false;
        }
        carry = if lead == c.len() {
            carry + lead
        } else {
            c.iter().rev().take_while(|b| b.is_ascii_digit()).count()
        };
    }
    true
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
            if data.len() >= PIECES_FROM {
                if let Some(v) = parse_in_pieces(py, f, data) {
                    return Ok(v);
                }
            }
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

/// Arrays from this size up go to orjson in pieces of about `PIECE` bytes.
/// orjson takes a pool of `len / 2 * 24` bytes for each call; past ~2.8 MB
/// that is over the 32 MiB up to which glibc learns to keep freed blocks, so
/// every such call maps fresh memory and faults in each page it touches:
/// ~3,300 faults and a third of the time for a 5 MB body on the benchmark VM.
/// A piece's pool (3 MB) is reused from call to call.
const PIECES_FROM: usize = 2 << 20;
const PIECE: usize = 256 << 10;

/// Where to cut the JSON array `data` into pieces of about `piece` bytes, each
/// of which parses on its own as `[` + piece + `]` (the last as `[` + piece:
/// it keeps the array's own `]`). A cut goes after a `}` followed by `,` and
/// then `{` (whitespace allowed), so in an array of objects it falls between
/// two records. Nothing here knows whether that `}` ends a top-level element:
/// it may sit in a string or in a nested value. A piece cut there is not JSON
/// on its own (a string or a bracket left open), so its parse fails and the
/// caller parses the rest in one go; pieces that all parse are exactly the
/// array's elements, in order. None unless `data` is an array (after
/// whitespace) with at least one cut.
fn pieces(data: &[u8], piece: usize) -> Option<Vec<std::ops::Range<usize>>> {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let open = data.iter().position(|b| !is_ws(b))?;
    if data[open] != b'[' {
        return None;
    }
    // The first non-whitespace byte at or after `at`, if it is `want`.
    let next_is = |at: usize, want: u8| {
        let i = at + data.get(at..)?.iter().position(|b| !is_ws(b))?;
        (data[i] == want).then_some(i)
    };
    let mut out = Vec::new();
    let mut start = open + 1;
    let mut from = start + piece;
    while from < data.len() {
        let Some(close) = data[from..]
            .iter()
            .position(|&b| b == b'}')
            .map(|i| from + i)
        else {
            break;
        };
        match next_is(close + 1, b',').and_then(|comma| next_is(comma + 1, b'{')) {
            Some(next) => {
                out.push(start..close + 1);
                start = next;
                from = next + piece;
            }
            None => from = close + 1,
        }
    }
    if out.is_empty() {
        return None;
    }
    out.push(start..data.len());
    Some(out)
}

/// `orjson.loads` (`f`) of the array `data`, piece by piece (see `pieces`),
/// the pieces' lists joined into the first. None when `data` is not cut into
/// pieces, or when the pieces cannot be parsed (bad JSON, or what orjson
/// refuses): the caller then parses the whole as usual, which words the error.
fn parse_in_pieces<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyAny>,
    data: &[u8],
) -> Option<Bound<'py, PyAny>> {
    let cuts = pieces(data, PIECE)?;
    let last = cuts.len() - 1;
    // `[` + text, and `]` unless the text is the array's tail.
    let parse = |text: &[u8], tail: bool| -> Option<Bound<'py, PyList>> {
        let n = text.len() + if tail { 1 } else { 2 };
        let arg = PyBytes::new_with(py, n, |b| {
            b[0] = b'[';
            b[1..=text.len()].copy_from_slice(text);
            if !tail {
                b[n - 1] = b']';
            }
            Ok(())
        })
        .ok()?;
        f.call1((arg,)).ok()?.cast_into::<PyList>().ok()
    };
    let mut out: Option<Bound<'py, PyList>> = None;
    for (i, cut) in cuts.iter().enumerate() {
        let (list, done) = match parse(&data[cut.clone()], i == last) {
            Some(list) => (list, i == last),
            // A cut inside a string or a nested value: the rest in one go.
            None if i > 0 => (parse(&data[cut.start..], true)?, true),
            None => return None,
        };
        match &out {
            None => out = Some(list),
            Some(o) => {
                o.call_method1(pyo3::intern!(py, "extend"), (list,)).ok()?;
            }
        }
        if done {
            break;
        }
    }
    out.map(Bound::into_any)
}

/// jiter reports byte offsets; json.JSONDecodeError wants character offsets.
fn char_index(data: &[u8], byte_index: usize) -> usize {
    let end = byte_index.min(data.len());
    data[..end].iter().filter(|b| (**b & 0xC0) != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::{long_digit_run, orjson_can_parse_body, pieces, Body, LONG_RUN};

    use bytes::Bytes;

    /// Cuts fall after a `}` followed by `, {`, about `piece` bytes apart, and
    /// the pieces with the text between them make up the array's inside.
    #[test]
    fn pieces_cut_between_records() {
        let rec = |i: usize| format!("{{\"id\": {i}, \"s\": \"x}}, {{y\"}}");
        let items: Vec<String> = (0..200).map(rec).collect();
        let data = format!(" \n[{}]\n", items.join(",\n "));
        let data = data.as_bytes();
        let cuts = pieces(data, 300).unwrap_or_default();
        assert!(cuts.len() > 5, "{} cuts", cuts.len());
        let mut rebuilt = Vec::new();
        for (i, c) in cuts.iter().enumerate() {
            if i > 0 {
                rebuilt.extend_from_slice(&data[cuts[i - 1].end..c.start]);
                assert_eq!(data[c.start], b'{');
            }
            rebuilt.extend_from_slice(&data[c.clone()]);
            if i + 1 < cuts.len() {
                assert_eq!(data[c.end - 1], b'}');
                assert!(c.len() >= 300);
            }
        }
        assert_eq!(rebuilt, &data[3..]);
        // The string's "}, {" is a candidate too: some cuts land inside it
        // (the parse of such a piece fails; see `parse_in_pieces`).
        assert!(cuts.iter().any(|c| data[c.start + 1] == b'y'));
        // Not an array, or too short to cut: no pieces.
        assert_eq!(pieces(b"{\"a\": [{}, {}]}", 1), None);
        assert_eq!(pieces(b"[{}, {}]", 100), None);
        assert_eq!(pieces(b"", 1), None);
        assert_eq!(pieces(b"  ", 1), None);
        assert_eq!(pieces(b"[1, 2, 3, 4]", 1), None);
        assert_eq!(pieces(b"[{}, {}, {}]", 1), Some(vec![1..3, 5..7, 9..12]));
    }

    /// The block-wise scan against the obvious byte-by-byte one.
    #[test]
    fn long_digit_run_agrees_with_a_plain_scan() {
        fn plain(data: &[u8]) -> bool {
            let mut run = 0;
            data.iter().any(|b| {
                run = if b.is_ascii_digit() { run + 1 } else { 0 };
                run >= LONG_RUN
            })
        }
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"1".to_vec()];
        for len in [17, 18, 19, 20, 37, 38, 39, 40] {
            for pad in 0..45 {
                for tail in 0..3 {
                    let mut v = vec![b' '; pad];
                    v.extend(std::iter::repeat_n(b'7', len));
                    v.extend(std::iter::repeat_n(b',', tail));
                    cases.push(v);
                }
            }
        }
        // Runs of 18 separated by one non-digit, at every offset: never 19.
        for pad in 0..45 {
            let mut v = vec![b'['; pad];
            for _ in 0..5 {
                v.extend_from_slice(b"123456789012345678,");
            }
            cases.push(v);
        }
        // Runs of 18 and 19 at every offset of bodies longer than a group
        // (64 bytes), so runs cross groups, blocks and the tail.
        for len in [14, 15, 16, 18, 19, 23, 24] {
            for pad in 0..140 {
                let mut v = vec![b' '; pad];
                v.extend(std::iter::repeat_n(b'5', len));
                v.extend_from_slice(&[b','; 70]);
                cases.push(v.clone());
                v.truncate(pad + len);
                cases.push(v);
            }
        }
        // Number-heavy text (a deterministic LCG picks digits, dots, commas).
        let mut seed: u64 = 7;
        for _ in 0..400 {
            let n = (seed >> 33) as usize % 700;
            let v: Vec<u8> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    match (seed >> 40) % 23 {
                        0 => b'.',
                        1 => b',',
                        d => b'0' + (d % 10) as u8,
                    }
                })
                .collect();
            cases.push(v);
        }
        // Split in two or three chunks anywhere, runs cross the splits.
        for case in cases.iter().filter(|c| c.len() < 120) {
            for i in 0..=case.len() {
                for j in (i..=case.len()).step_by(7) {
                    let parts = [&case[..i], &case[i..j], &case[j..]];
                    let body = Body::from_chunks(parts.iter().map(|p| Bytes::copy_from_slice(p)));
                    assert_eq!(
                        orjson_can_parse_body(&body),
                        !plain(case),
                        "{:?} split at {i}, {j}",
                        String::from_utf8_lossy(case)
                    );
                }
            }
        }
        let found = cases.iter().filter(|c| plain(c)).count();
        assert!(found > 100 && found < cases.len() - 100, "{found}");
        for case in &cases {
            assert_eq!(
                long_digit_run(case),
                plain(case),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        assert!(long_digit_run(b"[12345678901234567890]"));
        // Beyond i64::MIN: orjson would make it a float.
        assert!(long_digit_run(b"[-9223372036854775809]"));
        assert!(!long_digit_run(b"[123456789012345678]"));
    }
}
