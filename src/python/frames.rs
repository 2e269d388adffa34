//! Pages of JSON records straight into DataFrame columns (`PetroAI.data.query_df`).
//!
//! `pandas.DataFrame(records)` needs a dict per record first: 100,000 records of
//! 20 fields are 100,000 dicts and two million Python objects, built and then
//! taken apart again. Here each page is parsed (GIL released) into per-field
//! cells, pages are appended in order, and `finish` hands Python one buffer per
//! numeric or date column (for `numpy.frombuffer`) and one list per text column
//! (repeated strings shared). `_frames.from_columns` assembles the DataFrame
//! with the same dtypes `_frames.to_pandas(records)` gives.

use std::collections::HashMap;

use ahash::AHashMap;
use std::sync::Mutex;

use bytes::Bytes;
use jiter::{Jiter, JiterResult, NumberAny, NumberInt, Peek};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString};

use super::client::PyRawResponse;

/// One field of one record.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    /// The record has no such field (pandas shows NaN in an object column).
    Missing,
    /// An explicit JSON null (pandas shows None in an object column).
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Box<str>),
    /// Any other JSON value (object, array, an int beyond 64 bits), as its text.
    Raw(Box<[u8]>),
}

#[derive(Debug)]
struct Column {
    name: Box<str>,
    cells: Vec<Cell>,
}

/// Columns in order of first appearance (pandas' order for a list of dicts).
#[derive(Default, Debug)]
struct Columns {
    cols: Vec<Column>,
    index: HashMap<Box<str>, usize>,
    rows: usize,
}

impl Columns {
    /// The column called `name`; `hint` is where it sat in the previous record.
    fn col(&mut self, name: &str, hint: usize) -> usize {
        if self.cols.get(hint).is_some_and(|c| &*c.name == name) {
            return hint;
        }
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.cols.len();
        self.cols.push(Column {
            name: name.into(),
            cells: vec![Cell::Missing; self.rows],
        });
        self.index.insert(name.into(), i);
        i
    }

    /// Set a cell of the current row (a repeated key: the last one wins, as in a dict).
    fn set(&mut self, i: usize, cell: Cell) {
        let rows = self.rows;
        let c = &mut self.cols[i];
        if c.cells.len() > rows {
            if let Some(last) = c.cells.last_mut() {
                *last = cell;
            }
        } else {
            c.cells.push(cell);
        }
    }

    fn end_row(&mut self) {
        self.rows += 1;
        let rows = self.rows;
        for c in &mut self.cols {
            if c.cells.len() < rows {
                c.cells.push(Cell::Missing);
            }
        }
    }

    /// Append `other`'s rows below ours.
    fn append(&mut self, other: Columns) {
        let before = self.rows;
        for col in other.cols {
            let i = self.col(&col.name, usize::MAX);
            self.cols[i].cells.extend(col.cells);
        }
        self.rows = before + other.rows;
        let rows = self.rows;
        for c in &mut self.cols {
            c.cells.resize(rows, Cell::Missing);
        }
    }
}

/// Why a page cannot go the columnar way (the caller falls back to `.json()`).
#[derive(Debug)]
enum NotColumnar {
    Json,
    Shape,
}

impl From<jiter::JiterError> for NotColumnar {
    fn from(_: jiter::JiterError) -> Self {
        NotColumnar::Json
    }
}

fn cell(j: &mut Jiter<'_>, peek: Peek) -> JiterResult<Cell> {
    Ok(match peek {
        Peek::Null => {
            j.known_null()?;
            Cell::Null
        }
        Peek::True | Peek::False => Cell::Bool(j.known_bool(peek)?),
        Peek::String => Cell::Str(j.known_str()?.into()),
        Peek::Array | Peek::Object => {
            let start = j.current_index();
            j.known_skip(peek)?;
            Cell::Raw(j.slice_to_current(start).into())
        }
        _ => {
            let start = j.current_index();
            match j.known_number(peek)? {
                NumberAny::Int(NumberInt::Int(i)) => Cell::Int(i),
                NumberAny::Float(f) => Cell::Float(f),
                #[allow(unreachable_patterns)]
                _ => Cell::Raw(j.slice_to_current(start).into()),
            }
        }
    })
}

/// The records of a JSON array (the iterator sits just before it).
fn records(j: &mut Jiter<'_>) -> Result<Columns, NotColumnar> {
    let mut out = Columns::default();
    let mut next = j.known_array()?;
    while let Some(peek) = next {
        if peek != Peek::Object {
            return Err(NotColumnar::Shape);
        }
        let mut pos = 0;
        let mut key = j.known_object()?.map(|k| out.col(k, pos));
        while let Some(i) = key {
            let vpeek = j.peek()?;
            let c = cell(j, vpeek)?;
            out.set(i, c);
            pos = i + 1;
            key = j.next_key()?.map(|k| out.col(k, pos));
        }
        out.end_row();
        next = j.array_step()?;
    }
    Ok(out)
}

/// A page: a bare list of records, or an envelope `{"data": [...], "count": n}`
/// (also `records` / `items` / `results`, and `total`), as `petroai._records` reads it.
fn parse_page(data: &[u8]) -> Result<(Columns, Option<i64>), NotColumnar> {
    const LIST_KEYS: [&str; 4] = ["data", "records", "items", "results"];
    let mut j = Jiter::new(data);
    let peek = j.peek()?;
    let result = if peek == Peek::Array {
        (records(&mut j)?, None)
    } else if peek == Peek::Object {
        // (priority, records) of the best list key seen; count and total as found.
        let mut best: Option<(usize, Columns)> = None;
        let mut count: Option<Option<i64>> = None;
        let mut total: Option<Option<i64>> = None;
        let mut key = j.known_object()?.map(str::to_owned);
        while let Some(k) = key {
            let vpeek = j.peek()?;
            match LIST_KEYS.iter().position(|l| *l == k) {
                Some(rank) if vpeek == Peek::Array => {
                    let cols = records(&mut j)?;
                    if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                        best = Some((rank, cols));
                    }
                }
                _ if k == "count" || k == "total" => {
                    let v = match cell(&mut j, vpeek)? {
                        Cell::Int(i) => Some(i),
                        _ => None,
                    };
                    if k == "count" {
                        count = Some(v);
                    } else {
                        total = Some(v);
                    }
                }
                _ => j.known_skip(vpeek)?,
            }
            key = j.next_key()?.map(str::to_owned);
        }
        let Some((_, cols)) = best else {
            return Err(NotColumnar::Shape);
        };
        (cols, count.or(total).flatten())
    } else {
        return Err(NotColumnar::Shape);
    };
    j.finish()?;
    Ok(result)
}

/// One parsed page of records (see `parse_page`).
#[pyclass(name = "RecordPage", module = "petro._core", frozen)]
pub struct RecordPage {
    columns: Mutex<Option<Columns>>,
    rows: usize,
    /// The envelope's `count` (or `total`), when it is an int.
    #[pyo3(get)]
    count: Option<i64>,
}

#[pymethods]
impl RecordPage {
    fn __len__(&self) -> usize {
        self.rows
    }
}

/// Parse a page of records (a `RawResponse`'s body, or bytes) into columns with
/// the GIL released; None when the body is not a list of objects or an envelope
/// of one (the caller then uses `.json()`, which also reports the error).
#[pyfunction]
pub fn parse_records(py: Python<'_>, body: &Bound<'_, PyAny>) -> PyResult<Option<RecordPage>> {
    let bytes: Bytes = if let Ok(raw) = body.cast::<PyRawResponse>() {
        raw.get().full_body(py)?
    } else if let Ok(b) = body.cast::<PyBytes>() {
        Bytes::copy_from_slice(b.as_bytes())
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "parse_records() takes a RawResponse or bytes",
        ));
    };
    let parsed = py.detach(|| parse_page(&bytes));
    Ok(parsed.ok().map(|(cols, count)| RecordPage {
        rows: cols.rows,
        columns: Mutex::new(Some(cols)),
        count,
    }))
}

/// Pages appended in order, then turned into columns for pandas.
#[pyclass(name = "FrameBuilder", module = "petro._core", frozen)]
#[derive(Default)]
pub struct FrameBuilder {
    columns: Mutex<Columns>,
}

#[pymethods]
impl FrameBuilder {
    #[new]
    fn new() -> Self {
        FrameBuilder::default()
    }

    /// Append a page's records (each page can be appended once).
    fn append(&self, page: &RecordPage) -> PyResult<()> {
        let cols = page
            .columns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err("this page was already appended")
            })?;
        self.columns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(cols);
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.columns.lock().unwrap_or_else(|e| e.into_inner()).rows
    }

    /// Each column as `(name, kind, data, missing, utc)`:
    /// - `"int"`: `data` little-endian int64 (a bytearray), `missing` a bool
    ///   bytearray or None;
    /// - `"float"`: float64 with NaN for missing; `"bool"`: one byte each;
    /// - `"datetime"`: int64 nanoseconds since the epoch (missing: NaT), `utc`
    ///   True when the text carried a time zone (values converted to UTC);
    /// - `"object"`: a list of Python values (str shared when repeated).
    fn finish(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let columns = std::mem::take(&mut *self.columns.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = Vec::with_capacity(columns.cols.len());
        // Column by column, each column's cells freed as soon as Python has it,
        // so the cells and the Python values never both exist in full (peak memory).
        for col in columns.cols {
            out.push(column_to_py(py, &col)?);
        }
        Ok(out)
    }
}

#[derive(Default)]
struct Kinds {
    null: usize,
    int: usize,
    float: usize,
    bool: usize,
    str: usize,
    raw: usize,
}

fn kinds(cells: &[Cell]) -> Kinds {
    let mut k = Kinds::default();
    for c in cells {
        match c {
            Cell::Missing | Cell::Null => k.null += 1,
            Cell::Int(_) => k.int += 1,
            Cell::Float(_) => k.float += 1,
            Cell::Bool(_) => k.bool += 1,
            Cell::Str(_) => k.str += 1,
            Cell::Raw(_) => k.raw += 1,
        }
    }
    k
}

fn column_to_py(py: Python<'_>, col: &Column) -> PyResult<Py<PyAny>> {
    let n = col.cells.len();
    let k = kinds(&col.cells);
    let name = col.name.as_ref();
    let tuple = |kind: &str, data: Py<PyAny>, missing: Option<Vec<u8>>, utc: bool| {
        let missing = match missing {
            Some(m) => PyByteArray::new(py, &m).into_any().unbind(),
            None => py.None(),
        };
        (name, kind, data, missing, utc)
            .into_pyobject(py)
            .map(|t| t.into_any().unbind())
    };
    let mask = |cells: &[Cell]| -> Vec<u8> {
        cells
            .iter()
            .map(|c| u8::from(matches!(c, Cell::Null | Cell::Missing)))
            .collect()
    };
    let present = n - k.null;
    if present > 0 && k.int == present {
        let mut data = Vec::with_capacity(n * 8);
        for c in &col.cells {
            let v = if let Cell::Int(i) = c { *i } else { 0 };
            data.extend_from_slice(&v.to_le_bytes());
        }
        let missing = (k.null > 0).then(|| mask(&col.cells));
        return tuple("int", bytearray(py, &data), missing, false);
    }
    if present > 0 && k.int + k.float == present {
        let mut data = Vec::with_capacity(n * 8);
        for c in &col.cells {
            let v = match c {
                Cell::Int(i) => *i as f64,
                Cell::Float(f) => *f,
                _ => f64::NAN,
            };
            data.extend_from_slice(&v.to_le_bytes());
        }
        return tuple("float", bytearray(py, &data), None, false);
    }
    if present > 0 && k.bool == present && k.null == 0 {
        let data: Vec<u8> = col
            .cells
            .iter()
            .map(|c| u8::from(*c == Cell::Bool(true)))
            .collect();
        return tuple("bool", bytearray(py, &data), None, false);
    }
    if present > 0 && k.str == present {
        if let Some((data, utc)) = dates(&col.cells) {
            let mut bytes = Vec::with_capacity(n * 8);
            for v in data {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            return tuple("datetime", bytearray(py, &bytes), None, utc);
        }
    }
    // Text repeats a lot in well data (basin, operator, status...): one str per
    // distinct value, unless the column turns out to be mostly unique (ids).
    let mut cache: AHashMap<&str, Py<PyAny>> = AHashMap::new();
    let mut caching = true;
    let mut seen = 0usize;
    let mut values: Vec<Py<PyAny>> = Vec::with_capacity(n);
    for c in &col.cells {
        let v = match c {
            Cell::Missing => f64::NAN.into_pyobject(py)?.into_any().unbind(),
            Cell::Null => py.None(),
            Cell::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
            Cell::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
            Cell::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
            Cell::Str(s) if caching && s.len() <= 64 => {
                seen += 1;
                if seen == 4096 && cache.len() > seen / 2 {
                    caching = false;
                    cache = AHashMap::new();
                }
                match cache.get(&**s) {
                    Some(p) => p.clone_ref(py),
                    None => {
                        let p = PyString::new(py, s).into_any().unbind();
                        if caching {
                            cache.insert(&**s, p.clone_ref(py));
                        }
                        p
                    }
                }
            }
            Cell::Str(s) => PyString::new(py, s).into_any().unbind(),
            Cell::Raw(r) => super::json::loads(py, r)?.unbind(),
        };
        values.push(v);
    }
    let list = PyList::new(py, values)?;
    tuple("object", list.into_any().unbind(), None, false)
}

fn bytearray(py: Python<'_>, data: &[u8]) -> Py<PyAny> {
    PyByteArray::new(py, data).into_any().unbind()
}

/// A text column as dates, as `_frames.to_pandas` decides: the first 20
/// non-null values all ISO dates; then every value parsed (a failure is NaT, as
/// `errors="coerce"`). UTC when any of the first 50 ends in `Z` or has a `+`
/// offset. None when a value has a negative offset without UTC (pandas keeps
/// that offset; the caller's pandas path handles it).
fn dates(cells: &[Cell]) -> Option<(Vec<i64>, bool)> {
    let texts = cells.iter().filter_map(|c| match c {
        Cell::Str(s) => Some(s.as_ref()),
        _ => None,
    });
    if texts.clone().take(20).any(|t| parse_iso(t).is_none()) {
        return None;
    }
    let utc = texts
        .clone()
        .take(50)
        .any(|t| t.ends_with('Z') || t.get(10..).is_some_and(|r| r.contains('+')));
    let mut out = Vec::with_capacity(cells.len());
    for c in cells {
        let v = match c {
            Cell::Str(s) => match parse_iso(s) {
                // An offset without UTC: pandas keeps it; leave that to pandas.
                Some((_, Some(_))) if !utc => return None,
                Some((ns, _)) => ns,
                None => i64::MIN,
            },
            _ => i64::MIN,
        };
        out.push(v);
    }
    Some((out, utc))
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.f+]][Z|(+|-)HH[:]MM]]` to (ns since the epoch, in
/// UTC when an offset is given; the offset in minutes, if any).
fn parse_iso(s: &str) -> Option<(i64, Option<i64>)> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut ns = days_from_civil(y, mo, d).checked_mul(86_400_000_000_000)?;
    let mut rest = &b[10..];
    let mut offset = None;
    if !rest.is_empty() {
        if !(rest[0] == b'T' || rest[0] == b' ') || rest.len() < 6 || rest[3] != b':' {
            return None;
        }
        let (h, mi) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
        if h > 23 || mi > 59 {
            return None;
        }
        ns += (h * 3600 + mi * 60) * 1_000_000_000;
        rest = &rest[6..];
        if rest.first() == Some(&b':') {
            let sec = digits(rest.get(1..3)?)?;
            if sec > 59 {
                return None;
            }
            ns += sec * 1_000_000_000;
            rest = &rest[3..];
            if rest.first() == Some(&b'.') {
                let frac_len = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if frac_len == 0 {
                    return None;
                }
                let frac = &rest[1..1 + frac_len];
                let mut f = 0i64;
                for i in 0..9 {
                    f = f * 10 + frac.get(i).map(|d| i64::from(d - b'0')).unwrap_or(0);
                }
                ns += f;
                rest = &rest[1 + frac_len..];
            }
        }
        match rest {
            [] => {}
            [b'Z'] => offset = Some(0),
            [sign @ (b'+' | b'-'), tail @ ..] => {
                let (oh, om) = match tail {
                    [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                    _ => return None,
                };
                let minutes = (oh * 60 + om) * if *sign == b'-' { -1 } else { 1 };
                ns -= minutes * 60_000_000_000;
                offset = Some(minutes);
            }
            _ => return None,
        }
    }
    Some((ns, offset))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso("1970-01-01"), Some((0, None)));
        assert_eq!(parse_iso("1970-01-02"), Some((86_400_000_000_000, None)));
        assert_eq!(
            parse_iso("2021-03-04T05:06:07.5Z"),
            Some((1_614_834_367_500_000_000, Some(0)))
        );
        assert_eq!(
            parse_iso("2021-03-04T06:06:07.5+01:00").map(|x| x.0),
            Some(1_614_834_367_500_000_000)
        );
        assert_eq!(parse_iso("2021-02-29"), None);
        assert_eq!(parse_iso("2021-13-01"), None);
        assert_eq!(parse_iso("2021-01-01T"), None);
        assert_eq!(parse_iso("20210101"), None);
        assert_eq!(parse_iso("2021-01-01X"), None);
    }

    #[test]
    fn pages_both_shapes_and_ragged_records() {
        let (c, n) = parse_page(br#"[{"a":1,"b":"x"},{"b":"y","c":[1,2]},{"a":2.5}]"#)
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(n, None);
        assert_eq!(c.rows, 3);
        let names: Vec<&str> = c.cols.iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            c.cols[0].cells,
            [Cell::Int(1), Cell::Missing, Cell::Float(2.5)]
        );
        assert_eq!(c.cols[2].cells[1], Cell::Raw(b"[1,2]".to_vec().into()));
        let (c, n) = parse_page(br#"{"count": 7, "data": [{"a": true}], "x": {}}"#)
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!((c.rows, n), (1, Some(7)));
        assert!(parse_page(b"[1, 2]").is_err());
        assert!(parse_page(br#"{"status": 401}"#).is_err());
        assert!(parse_page(b"[{\"a\": 1}").is_err());
        assert!(parse_page(b"[] x").is_err());
    }

    #[test]
    fn append_pads_missing_columns() {
        let (mut a, _) = parse_page(br#"[{"a":1}]"#).unwrap_or_else(|e| unreachable!("{e:?}"));
        let (b, _) =
            parse_page(br#"[{"b":2},{"a":3,"a":4}]"#).unwrap_or_else(|e| unreachable!("{e:?}"));
        a.append(b);
        assert_eq!(a.rows, 3);
        assert_eq!(a.cols[0].cells, [Cell::Int(1), Cell::Missing, Cell::Int(4)]);
        assert_eq!(
            a.cols[1].cells,
            [Cell::Missing, Cell::Int(2), Cell::Missing]
        );
    }
}
