//! Pages of JSON records straight into DataFrame columns (`PetroAI.data.query_df`).
//!
//! `pandas.DataFrame(records)` needs a dict per record first: 100,000 records of
//! 20 fields are 100,000 dicts and two million Python objects, built and then
//! taken apart again. Here each page is parsed (GIL released, by `request_many`
//! as each body arrives when asked) into per-field cells that point into the
//! page's body (no allocation per string), pages are kept in order, and `finish`
//! hands Python one buffer per numeric or date column (for `numpy.frombuffer`)
//! and one list per text column (repeated strings shared).
//! `_frames.from_columns` assembles the DataFrame with the same dtypes
//! `_frames.to_pandas(records)` gives.

use std::collections::HashMap;

use ahash::AHashMap;
use std::sync::Mutex;

use bytes::Bytes;
use jiter::{Jiter, NumberAny, NumberInt, Peek};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString};

use super::client::PyRawResponse;

/// Where a text (or raw JSON) cell's bytes are: `src` 0 is the page's body, 1
/// the page's buffer of unescaped strings.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    src: u32,
    start: u32,
    len: u32,
}

/// One field of one record (16 bytes; text stays in the page's body).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    /// The record has no such field (pandas shows NaN in an object column).
    Missing,
    /// An explicit JSON null (pandas shows None in an object column).
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Span),
    /// Any other JSON value (object, array, an int beyond 64 bits), as its text.
    Raw(Span),
}

#[derive(Debug)]
struct Column {
    name: Box<str>,
    cells: Vec<Cell>,
}

/// One page's records as columns, in order of first appearance (pandas' order
/// for a list of dicts), with the bytes their text cells point into.
#[derive(Default, Debug)]
pub(crate) struct Page {
    cols: Vec<Column>,
    index: HashMap<Box<str>, usize>,
    rows: usize,
    /// `[body, unescaped strings]`.
    sources: Vec<Bytes>,
    /// The envelope's `count` (or `total`), when it is an int.
    count: Option<i64>,
}

impl Page {
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

/// The parser plus the buffer that unescaped strings are copied to.
struct Reader<'a> {
    j: Jiter<'a>,
    data: &'a [u8],
    unescaped: Vec<u8>,
}

impl Reader<'_> {
    fn cell(&mut self, peek: Peek) -> Result<Cell, NotColumnar> {
        let j = &mut self.j;
        Ok(match peek {
            Peek::Null => {
                j.known_null()?;
                Cell::Null
            }
            Peek::True | Peek::False => Cell::Bool(j.known_bool(peek)?),
            Peek::String => {
                let s = j.known_str()?.as_bytes();
                // Without escapes jiter hands back the text inside the body.
                let offset = (s.as_ptr() as usize).wrapping_sub(self.data.as_ptr() as usize);
                if offset <= self.data.len() && s.len() <= self.data.len() - offset {
                    Cell::Str(span(0, offset, s.len())?)
                } else {
                    let start = self.unescaped.len();
                    self.unescaped.extend_from_slice(s);
                    Cell::Str(span(1, start, s.len())?)
                }
            }
            Peek::Array | Peek::Object => {
                let start = j.current_index();
                j.known_skip(peek)?;
                Cell::Raw(span(0, start, j.current_index() - start)?)
            }
            _ => {
                let start = j.current_index();
                match j.known_number(peek)? {
                    NumberAny::Int(NumberInt::Int(i)) => Cell::Int(i),
                    NumberAny::Float(f) => Cell::Float(f),
                    #[allow(unreachable_patterns)]
                    _ => Cell::Raw(span(0, start, j.current_index() - start)?),
                }
            }
        })
    }

    /// The records of a JSON array (the parser sits just before it).
    fn records(&mut self) -> Result<Page, NotColumnar> {
        let mut out = Page::default();
        let mut next = self.j.known_array()?;
        while let Some(peek) = next {
            if peek != Peek::Object {
                return Err(NotColumnar::Shape);
            }
            let mut pos = 0;
            let mut key = self.j.known_object()?.map(|k| out.col(k, pos));
            while let Some(i) = key {
                let vpeek = self.j.peek()?;
                let c = self.cell(vpeek)?;
                out.set(i, c);
                pos = i + 1;
                key = self.j.next_key()?.map(|k| out.col(k, pos));
            }
            out.end_row();
            next = self.j.array_step()?;
        }
        Ok(out)
    }
}

/// A span of at most 4 GiB (a bigger page goes the `.json()` way).
fn span(src: u32, start: usize, len: usize) -> Result<Span, NotColumnar> {
    let (Ok(start), Ok(len)) = (u32::try_from(start), u32::try_from(len)) else {
        return Err(NotColumnar::Shape);
    };
    if start.checked_add(len).is_none() {
        return Err(NotColumnar::Shape);
    }
    Ok(Span { src, start, len })
}

/// A page: a bare list of records, or an envelope `{"data": [...], "count": n}`
/// (also `records` / `items` / `results`, and `total`), as `petroai._records`
/// reads it. None when the body is anything else.
pub(crate) fn parse_page(body: Bytes) -> Option<Page> {
    parse(&body).ok().map(|(mut page, unescaped)| {
        page.sources = vec![body, Bytes::from(unescaped)];
        page
    })
}

fn parse(data: &[u8]) -> Result<(Page, Vec<u8>), NotColumnar> {
    const LIST_KEYS: [&str; 4] = ["data", "records", "items", "results"];
    let mut r = Reader {
        j: Jiter::new(data),
        data,
        unescaped: Vec::new(),
    };
    let peek = r.j.peek()?;
    let page = if peek == Peek::Array {
        r.records()?
    } else if peek == Peek::Object {
        // (priority, records) of the best list key seen; count and total as found.
        let mut best: Option<(usize, Page)> = None;
        let mut count: Option<Option<i64>> = None;
        let mut total: Option<Option<i64>> = None;
        let mut key = r.j.known_object()?.map(str::to_owned);
        while let Some(k) = key {
            let vpeek = r.j.peek()?;
            match LIST_KEYS.iter().position(|l| *l == k) {
                Some(rank) if vpeek == Peek::Array => {
                    let page = r.records()?;
                    if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                        best = Some((rank, page));
                    }
                }
                _ if k == "count" || k == "total" => {
                    let v = match r.cell(vpeek)? {
                        Cell::Int(i) => Some(i),
                        _ => None,
                    };
                    if k == "count" {
                        count = Some(v);
                    } else {
                        total = Some(v);
                    }
                }
                _ => r.j.known_skip(vpeek)?,
            }
            key = r.j.next_key()?.map(str::to_owned);
        }
        let Some((_, mut page)) = best else {
            return Err(NotColumnar::Shape);
        };
        page.count = count.or(total).flatten();
        page
    } else {
        return Err(NotColumnar::Shape);
    };
    r.j.finish()?;
    Ok((page, r.unescaped))
}

/// One parsed page of records (see `parse_page`).
#[pyclass(name = "RecordPage", module = "petro._core", frozen)]
pub struct RecordPage {
    page: Mutex<Option<Page>>,
    rows: usize,
    /// The envelope's `count` (or `total`), when it is an int.
    #[pyo3(get)]
    count: Option<i64>,
}

impl RecordPage {
    pub(crate) fn new(page: Page) -> Self {
        RecordPage {
            rows: page.rows,
            count: page.count,
            page: Mutex::new(Some(page)),
        }
    }
}

#[pymethods]
impl RecordPage {
    fn __len__(&self) -> usize {
        self.rows
    }
}

/// Parse a page of records (a `RawResponse`'s body, or bytes) into columns with
/// the GIL released; None when the body is not a list of objects or an envelope
/// of one (the caller then uses `.json()`, which also reports the error). A
/// response `request_many` already parsed hands over that page.
#[pyfunction]
pub fn parse_records(py: Python<'_>, body: &Bound<'_, PyAny>) -> PyResult<Option<RecordPage>> {
    let bytes: Bytes = if let Ok(raw) = body.cast::<PyRawResponse>() {
        let raw = raw.get();
        if let Some(parsed) = raw.take_records() {
            return Ok(parsed.map(RecordPage::new));
        }
        raw.full_body(py)?
    } else if let Ok(b) = body.cast::<PyBytes>() {
        Bytes::copy_from_slice(b.as_bytes())
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "parse_records() takes a RawResponse or bytes",
        ));
    };
    Ok(py.detach(|| parse_page(bytes)).map(RecordPage::new))
}

/// Pages kept in order, then turned into columns for pandas.
#[derive(Default)]
struct Pages {
    /// Column names in order of first appearance over all pages.
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, usize>,
    /// Each page, with where each of its columns sits in `names`.
    pages: Vec<(Page, Vec<usize>)>,
    rows: usize,
}

impl Pages {
    fn push(&mut self, page: Page) {
        let at = page
            .cols
            .iter()
            .map(|c| match self.index.get(&c.name) {
                Some(&i) => i,
                None => {
                    self.names.push(c.name.clone());
                    self.index.insert(c.name.clone(), self.names.len() - 1);
                    self.names.len() - 1
                }
            })
            .collect();
        self.rows += page.rows;
        self.pages.push((page, at));
    }

    /// For each page, where each column of `names` sits in it (None: absent).
    fn layout(&self) -> Vec<Vec<Option<usize>>> {
        self.pages
            .iter()
            .map(|(_, at)| {
                let mut slots = vec![None; self.names.len()];
                for (i, &g) in at.iter().enumerate() {
                    if let Some(s) = slots.get_mut(g) {
                        *s = Some(i);
                    }
                }
                slots
            })
            .collect()
    }
}

type Src<'a> = &'a [Bytes];

/// Page `page`'s cells of the column at `slot` (all missing when it has none).
fn part<'a>(page: &'a Page, slot: Option<usize>) -> impl Iterator<Item = (Cell, Src<'a>)> + Clone {
    let (cells, missing): (&[Cell], usize) = match slot.and_then(|i| page.cols.get(i)) {
        Some(c) => (&c.cells, 0),
        None => (&[], page.rows),
    };
    let src = &page.sources[..];
    cells
        .iter()
        .map(move |c| (*c, src))
        .chain(std::iter::repeat_n((Cell::Missing, src), missing))
}

/// Every cell of column `g`, page after page.
fn column<'a>(
    pages: &'a Pages,
    layout: &'a [Vec<Option<usize>>],
    g: usize,
) -> impl Iterator<Item = (Cell, Src<'a>)> + Clone {
    pages
        .pages
        .iter()
        .zip(layout)
        .flat_map(move |((page, _), slots)| part(page, slots.get(g).copied().flatten()))
}

fn text(src: Src<'_>, span: Span) -> &[u8] {
    src.get(span.src as usize)
        .and_then(|b| b.get(span.start as usize..(span.start as usize + span.len as usize)))
        .unwrap_or_default()
}

/// Pages appended in order, then turned into columns for pandas.
#[pyclass(name = "FrameBuilder", module = "petro._core", frozen)]
#[derive(Default)]
pub struct FrameBuilder {
    pages: Mutex<Pages>,
}

#[pymethods]
impl FrameBuilder {
    #[new]
    fn new() -> Self {
        FrameBuilder::default()
    }

    /// Append a page's records (each page can be appended once).
    fn append(&self, page: &RecordPage) -> PyResult<()> {
        let page = page
            .page
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err("this page was already appended")
            })?;
        self.pages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(page);
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.pages.lock().unwrap_or_else(|e| e.into_inner()).rows
    }

    /// Each column as `(name, kind, data, missing, utc)`:
    /// - `"int"`: `data` little-endian int64 (a bytearray), `missing` a bool
    ///   bytearray or None;
    /// - `"float"`: float64 with NaN for missing; `"bool"`: one byte each;
    /// - `"datetime"`: int64 nanoseconds since the epoch (missing: NaT), `utc`
    ///   True when the text carried a time zone (values converted to UTC);
    /// - `"object"`: a list of Python values (str shared when repeated; NaN
    ///   where the record lacks the field, None where it is null); `"str"` the
    ///   same when the values are only str, null and missing;
    /// - with `arrow_text`, such a text column is `"arrow_str"` instead: `data`
    ///   `(offsets, chars)`, Arrow `large_string` buffers (int64 offsets, UTF-8),
    ///   `missing` the validity bitmap (None: no nulls). No Python str is made.
    #[pyo3(signature = (arrow_text = false))]
    fn finish(&self, py: Python<'_>, arrow_text: bool) -> PyResult<Vec<Py<PyAny>>> {
        let pages = std::mem::take(&mut *self.pages.lock().unwrap_or_else(|e| e.into_inner()));
        let layout = pages.layout();
        let nan = f64::NAN.into_pyobject(py)?.into_any().unbind();
        let mut sinks: Vec<Sink> = (0..pages.names.len())
            .map(|g| Sink::plan(column(&pages, &layout, g), pages.rows, arrow_text))
            .collect();
        // Record by record, as the body lies in memory: text cells point into it,
        // and reading it in order lets the CPU stream it in (column by column, each
        // string would be a cache miss: that was half of the time).
        for ((page, _), slots) in pages.pages.iter().zip(&layout) {
            let mut parts: Vec<_> = (0..sinks.len())
                .map(|g| part(page, slots.get(g).copied().flatten()))
                .collect();
            for _ in 0..page.rows {
                for (sink, cells) in sinks.iter_mut().zip(parts.iter_mut()) {
                    if let Some((cell, src)) = cells.next() {
                        sink.push(py, &nan, cell, src)?;
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(sinks.len());
        for (g, sink) in sinks.into_iter().enumerate() {
            let sink = if let Sink::Dates { failed: true, .. } = sink {
                // A zone pandas keeps as an offset: leave the text to pandas.
                let mut obj = Sink::text(pages.rows, arrow_text);
                for (cell, src) in column(&pages, &layout, g) {
                    obj.push(py, &nan, cell, src)?;
                }
                obj
            } else {
                sink
            };
            out.push(sink.into_py(py, &pages.names[g])?);
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

/// A column being converted, by what its cells turned out to be.
enum Sink {
    Int {
        data: Vec<u8>,
        missing: Option<Vec<u8>>,
    },
    Float(Vec<u8>),
    Bool(Vec<u8>),
    Dates {
        data: Vec<u8>,
        utc: bool,
        /// A value with an offset but no UTC: pandas keeps those; redone as text.
        failed: bool,
    },
    Object {
        values: Vec<Py<PyAny>>,
        /// Text repeats a lot in well data (basin, operator, status...): one str
        /// per distinct value, unless the column turns out mostly unique (ids).
        cache: AHashMap<Box<[u8]>, Py<PyAny>>,
        caching: bool,
        seen: usize,
        /// Only str, null and missing (pandas' text dtype applies).
        text: bool,
    },
    /// Only str, null and missing, as Arrow `large_string` buffers.
    Arrow {
        /// n + 1 int64 offsets into `chars`, little-endian.
        offsets: Vec<u8>,
        chars: Vec<u8>,
        /// One bit per row, 1 = present (Arrow's validity bitmap, LSB first).
        valid: Vec<u8>,
        rows: usize,
        nulls: usize,
    },
}

impl Sink {
    fn object(n: usize, text: bool) -> Sink {
        Sink::Object {
            values: Vec::with_capacity(n),
            cache: AHashMap::new(),
            caching: true,
            seen: 0,
            text,
        }
    }

    /// A text column: Arrow buffers or a list of str.
    fn text(n: usize, arrow: bool) -> Sink {
        if !arrow {
            return Sink::object(n, true);
        }
        let mut offsets = Vec::with_capacity((n + 1) * 8);
        offsets.extend_from_slice(&0i64.to_le_bytes());
        Sink::Arrow {
            offsets,
            chars: Vec::new(),
            valid: Vec::with_capacity(n.div_ceil(8)),
            rows: 0,
            nulls: 0,
        }
    }

    /// What a column becomes, from its cells' kinds (and, for text, whether it
    /// reads as dates the way `_frames.to_pandas` decides).
    fn plan<'a>(
        cells: impl Iterator<Item = (Cell, Src<'a>)> + Clone,
        n: usize,
        arrow_text: bool,
    ) -> Sink {
        let mut k = Kinds::default();
        for (c, _) in cells.clone() {
            match c {
                Cell::Missing | Cell::Null => k.null += 1,
                Cell::Int(_) => k.int += 1,
                Cell::Float(_) => k.float += 1,
                Cell::Bool(_) => k.bool += 1,
                Cell::Str(_) => k.str += 1,
                Cell::Raw(_) => k.raw += 1,
            }
        }
        let present = n - k.null;
        let words = || Vec::with_capacity(n * 8);
        if present == 0 {
            Sink::object(n, false)
        } else if k.int == present {
            Sink::Int {
                data: words(),
                missing: (k.null > 0).then(|| Vec::with_capacity(n)),
            }
        } else if k.int + k.float == present {
            Sink::Float(words())
        } else if k.bool == present && k.null == 0 {
            Sink::Bool(Vec::with_capacity(n))
        } else if k.str == present {
            match date_plan(cells) {
                Some(utc) => Sink::Dates {
                    data: words(),
                    utc,
                    failed: false,
                },
                None => Sink::text(n, arrow_text),
            }
        } else {
            Sink::object(n, false)
        }
    }

    fn push(&mut self, py: Python<'_>, nan: &Py<PyAny>, cell: Cell, src: Src<'_>) -> PyResult<()> {
        match self {
            Sink::Int { data, missing } => {
                let v = if let Cell::Int(i) = cell { i } else { 0 };
                data.extend_from_slice(&v.to_le_bytes());
                if let Some(m) = missing {
                    m.push(u8::from(matches!(cell, Cell::Null | Cell::Missing)));
                }
            }
            Sink::Float(data) => {
                let v = match cell {
                    Cell::Int(i) => i as f64,
                    Cell::Float(f) => f,
                    _ => f64::NAN,
                };
                data.extend_from_slice(&v.to_le_bytes());
            }
            Sink::Bool(data) => data.push(u8::from(cell == Cell::Bool(true))),
            Sink::Dates { failed: true, .. } => {}
            Sink::Arrow {
                offsets,
                chars,
                valid,
                rows,
                nulls,
            } => {
                if *rows % 8 == 0 {
                    valid.push(0);
                }
                if let Cell::Str(s) = cell {
                    chars.extend_from_slice(text_str(text(src, s))?.as_bytes());
                    if let Some(last) = valid.last_mut() {
                        *last |= 1 << (*rows % 8);
                    }
                } else {
                    *nulls += 1;
                }
                *rows += 1;
                offsets.extend_from_slice(&(chars.len() as i64).to_le_bytes());
            }
            Sink::Dates { data, utc, failed } => {
                let v = match cell {
                    Cell::Str(s) => match parse_iso(text(src, s)) {
                        Some((_, Some(_))) if !*utc => {
                            *failed = true;
                            return Ok(());
                        }
                        Some((ns, _)) => ns,
                        None => i64::MIN,
                    },
                    _ => i64::MIN,
                };
                data.extend_from_slice(&v.to_le_bytes());
            }
            Sink::Object {
                values,
                cache,
                caching,
                seen,
                ..
            } => {
                let v = match cell {
                    Cell::Missing => nan.clone_ref(py),
                    Cell::Null => py.None(),
                    Cell::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
                    Cell::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
                    Cell::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
                    Cell::Str(s) if *caching && s.len <= 64 => {
                        let s = text(src, s);
                        *seen += 1;
                        if *seen == 4096 && cache.len() > *seen / 2 {
                            *caching = false;
                            *cache = AHashMap::new();
                        }
                        match cache.get(s) {
                            Some(p) => p.clone_ref(py),
                            None => {
                                let p = py_str(py, s)?.into_any().unbind();
                                if *caching {
                                    cache.insert(s.into(), p.clone_ref(py));
                                }
                                p
                            }
                        }
                    }
                    Cell::Str(s) => py_str(py, text(src, s))?.into_any().unbind(),
                    Cell::Raw(r) => super::json::loads(py, text(src, r))?.unbind(),
                };
                values.push(v);
            }
        }
        Ok(())
    }

    fn into_py(self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let bytes = |b: Vec<u8>| PyByteArray::new(py, &b).into_any().unbind();
        let (kind, data, missing, utc) = match self {
            Sink::Int { data, missing } => ("int", bytes(data), missing.map(bytes), false),
            Sink::Float(data) => ("float", bytes(data), None, false),
            Sink::Bool(data) => ("bool", bytes(data), None, false),
            Sink::Dates { data, utc, .. } => ("datetime", bytes(data), None, utc),
            Sink::Object { values, text, .. } => {
                let list = PyList::new(py, values)?.into_any().unbind();
                (if text { "str" } else { "object" }, list, None, false)
            }
            Sink::Arrow {
                offsets,
                chars,
                valid,
                nulls,
                ..
            } => {
                let buffers = (bytes(offsets), bytes(chars)).into_pyobject(py)?;
                let valid = (nulls > 0).then(|| bytes(valid));
                ("arrow_str", buffers.into_any().unbind(), valid, false)
            }
        };
        let missing = missing.unwrap_or_else(|| py.None());
        Ok((name, kind, data, missing, utc)
            .into_pyobject(py)?
            .into_any()
            .unbind())
    }
}

/// A text cell's bytes as UTF-8 (jiter checked them; a failure here would mean
/// a span bug, reported rather than trusted).
fn text_str(b: &[u8]) -> PyResult<&str> {
    std::str::from_utf8(b)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("bad text cell: {e}")))
}

/// A Python str from a text cell's bytes.
fn py_str<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyString>> {
    Ok(PyString::new(py, text_str(b)?))
}

/// Whether a text column reads as dates, as `_frames.to_pandas` decides: the
/// first 20 non-null values all ISO dates (each then parsed, a failure NaT as
/// with `errors="coerce"`); Some(utc): UTC when any of the first 50 ends in `Z`
/// or has a `+` offset.
fn date_plan<'a>(cells: impl Iterator<Item = (Cell, Src<'a>)> + Clone) -> Option<bool> {
    let texts = cells.filter_map(|(c, src)| match c {
        Cell::Str(s) => Some(text(src, s)),
        _ => None,
    });
    if texts.clone().take(20).any(|t| parse_iso(t).is_none()) {
        return None;
    }
    Some(
        texts
            .take(50)
            .any(|t| t.ends_with(b"Z") || t.get(10..).is_some_and(|r| r.contains(&b'+'))),
    )
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.f+]][Z|(+|-)HH[:]MM]]` to (ns since the epoch, in
/// UTC when an offset is given; the offset in minutes, if any).
fn parse_iso(b: &[u8]) -> Option<(i64, Option<i64>)> {
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

    fn page(body: &[u8]) -> Page {
        parse_page(Bytes::copy_from_slice(body)).unwrap_or_else(|| unreachable!("not a page"))
    }

    fn str_of(p: &Page, c: Cell) -> &[u8] {
        match c {
            Cell::Str(s) | Cell::Raw(s) => text(&p.sources, s),
            _ => unreachable!("{c:?}"),
        }
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso(b"1970-01-01"), Some((0, None)));
        assert_eq!(parse_iso(b"1970-01-02"), Some((86_400_000_000_000, None)));
        assert_eq!(
            parse_iso(b"2021-03-04T05:06:07.5Z"),
            Some((1_614_834_367_500_000_000, Some(0)))
        );
        assert_eq!(
            parse_iso(b"2021-03-04T06:06:07.5+01:00").map(|x| x.0),
            Some(1_614_834_367_500_000_000)
        );
        assert_eq!(parse_iso(b"2021-02-29"), None);
        assert_eq!(parse_iso(b"2021-13-01"), None);
        assert_eq!(parse_iso(b"2021-01-01T"), None);
        assert_eq!(parse_iso(b"20210101"), None);
        assert_eq!(parse_iso(b"2021-01-01X"), None);
    }

    #[test]
    fn pages_both_shapes_and_ragged_records() {
        let c = page(br#"[{"a":1,"b":"x"},{"b":"y","c":[1,2]},{"a":2.5}]"#);
        assert_eq!(c.count, None);
        assert_eq!(c.rows, 3);
        let names: Vec<&str> = c.cols.iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            c.cols[0].cells,
            [Cell::Int(1), Cell::Missing, Cell::Float(2.5)]
        );
        assert_eq!(str_of(&c, c.cols[1].cells[1]), b"y");
        assert_eq!(str_of(&c, c.cols[2].cells[1]), b"[1,2]");
        let c = page(br#"{"count": 7, "data": [{"a": true}], "x": {}}"#);
        assert_eq!((c.rows, c.count), (1, Some(7)));
        for bad in [
            &b"[1, 2]"[..],
            br#"{"status": 401}"#,
            b"[{\"a\": 1}",
            b"[] x",
        ] {
            assert!(parse_page(Bytes::copy_from_slice(bad)).is_none());
        }
    }

    #[test]
    fn escaped_text_is_unescaped_and_plain_text_points_into_the_body() {
        let c = page(br#"[{"a":"plain","b":"tab\there \u00e9 \"q\"","c":""}]"#);
        let cells: Vec<Cell> = c.cols.iter().map(|col| col.cells[0]).collect();
        assert!(matches!(cells[0], Cell::Str(Span { src: 0, .. })));
        assert!(matches!(cells[1], Cell::Str(Span { src: 1, .. })));
        assert_eq!(str_of(&c, cells[0]), b"plain");
        assert_eq!(str_of(&c, cells[1]), "tab\there \u{e9} \"q\"".as_bytes());
        assert_eq!(str_of(&c, cells[2]), b"");
    }

    #[test]
    fn pages_line_up_columns_by_name() {
        let mut p = Pages::default();
        p.push(page(br#"[{"a":1}]"#));
        p.push(page(br#"[{"b":"x"},{"a":3,"a":4}]"#));
        assert_eq!(p.rows, 3);
        assert_eq!(p.names, ["a".into(), "b".into()] as [Box<str>; 2]);
        let layout = p.layout();
        let a: Vec<Cell> = column(&p, &layout, 0).map(|(c, _)| c).collect();
        assert_eq!(a, [Cell::Int(1), Cell::Missing, Cell::Int(4)]);
        let b: Vec<Vec<u8>> = column(&p, &layout, 1)
            .map(|(c, src)| match c {
                Cell::Str(s) => text(src, s).to_vec(),
                other => format!("{other:?}").into_bytes(),
            })
            .collect();
        assert_eq!(b, [b"Missing".to_vec(), b"x".to_vec(), b"Missing".to_vec()]);
    }
}
