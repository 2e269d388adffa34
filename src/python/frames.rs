//! Pages of JSON records straight into DataFrame columns (`PetroAI.data.query_df`).
//!
//! `pandas.DataFrame(records)` needs a dict per record first: 100,000 records of
//! 20 fields are 100,000 dicts and two million Python objects, built and then
//! taken apart again. Here each page is parsed (GIL released, by `request_many`
//! as each body arrives when asked) into typed columns: ints, floats and bools
//! in plain vectors, text copied into one buffer per column (with dates already
//! read when the text looks like dates), anything else as cells. The body is
//! not kept. `finish` then joins each column's pages (mostly copies of whole
//! buffers) and hands Python one buffer per numeric or date column (for
//! `numpy.frombuffer`), Arrow buffers or a list of str per text column.
//! `_frames.from_columns` assembles the DataFrame with the same dtypes
//! `_frames.to_pandas(records)` gives.

use std::collections::HashMap;

use ahash::AHashMap;
use std::sync::Mutex;

use jiter::{Jiter, NumberAny, NumberInt, Peek};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyString};

use super::client::PyRawResponse;

/// Where a text (or raw JSON) cell's bytes are in its column's `chars`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start: u32,
    len: u32,
}

/// One field of one record, for columns whose values are of mixed kinds.
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

/// A value as the parser hands it over (text still in the body).
#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// UTF-8 (checked by whichever reader made it).
    Str(&'a [u8]),
    Raw(&'a [u8]),
}

/// A row's state in a column: a value, an explicit null, or no such field.
const PRESENT: u8 = 0;
const NULL: u8 = 1;
const MISSING: u8 = 2;

/// One column's values over a page, stored by what they have been so far.
/// Rows without a value hold a placeholder (0, NaN, empty text).
#[derive(Debug, Default)]
enum Vals {
    /// Only nulls and missing fields so far.
    #[default]
    Empty,
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<u8>),
    /// Where each row's text ends in `chars`.
    Text(Vec<u32>),
    /// A parsed `Text` column whose rows are now the str objects in `objs`:
    /// its text and ends were let go (each row reads as empty text).
    Strs,
    /// Kinds mixed (or raw JSON values): one cell per row.
    Mixed(Vec<Cell>),
}

/// A text column's values read as ISO dates (i64::MIN where a row is not one).
#[derive(Debug)]
struct PageDates {
    ns: Vec<i64>,
    /// Some value carried a time zone offset (or `Z`).
    offset: bool,
}

#[derive(Debug, Default)]
struct Column {
    name: Box<str>,
    vals: Vals,
    /// Each row's PRESENT / NULL / MISSING; empty while every row is PRESENT.
    state: Vec<u8>,
    len: usize,
    /// The text of `Text` rows and of `Mixed`'s Str and Raw cells (only ever
    /// appended from `&str`, and raw JSON, which is UTF-8 too).
    chars: Vec<u8>,
    /// Set after the page is parsed, for a `Text` column that reads as dates.
    dates: Option<PageDates>,
    /// The name as `fast_page` compares it.
    key: KeyWords,
    /// For a `Text` column, each row as a Python object (str, None, NaN), made
    /// as the page arrived for a FrameBuilder that wants str objects; empty
    /// otherwise. When no value is date-like, `chars` is then emptied and
    /// `vals` becomes `Strs` (each row reads as empty text).
    objs: Vec<Py<PyAny>>,
}

/// A key of up to 15 bytes and its closing quote as two little-endian words,
/// with masks for the bytes that count: `fast_page` then matches a key in the
/// body with two compares, not a call to `memcmp`. `len` 0: longer keys.
#[derive(Debug, Default, Clone, Copy)]
struct KeyWords {
    words: [u64; 2],
    masks: [u64; 2],
    len: usize,
}

impl KeyWords {
    fn new(name: &[u8]) -> Self {
        let len = name.len() + 1;
        let (mut text, mut mask) = ([0u8; 16], [0u8; 16]);
        let (Some(t), Some(m)) = (text.get_mut(..len), mask.get_mut(..len)) else {
            return KeyWords::default();
        };
        t[..name.len()].copy_from_slice(name);
        t[name.len()] = b'"';
        m.fill(0xff);
        KeyWords {
            words: [word(&text[..8]), word(&text[8..])],
            masks: [word(&mask[..8]), word(&mask[8..])],
            len,
        }
    }

    /// Whether `b` starts with the key and its closing quote (None: cannot
    /// tell this way, `b` or the key too short).
    fn matches(&self, b: &[u8]) -> Option<bool> {
        let block = b.get(..16).filter(|_| self.len > 0)?;
        Some(
            word(&block[..8]) & self.masks[0] == self.words[0]
                && word(&block[8..]) & self.masks[1] == self.words[1],
        )
    }
}

/// The first 8 bytes of `b` (zero-padded) as a little-endian word.
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    w[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(w)
}

impl Column {
    /// A new column in a page whose first `rows` records lack it.
    fn new(name: &str, rows: usize) -> Self {
        Column {
            name: name.into(),
            state: vec![MISSING; rows],
            len: rows,
            key: KeyWords::new(name.as_bytes()),
            ..Column::default()
        }
    }

    /// Room for `rows` rows in all, judged from the rows so far (text: at most
    /// `text` more bytes).
    fn reserve(&mut self, rows: usize, text: usize) {
        let more = rows.saturating_sub(self.len);
        match &mut self.vals {
            Vals::Empty => {}
            Vals::Int(x) => x.reserve(more),
            Vals::Float(x) => x.reserve(more),
            Vals::Bool(x) => x.reserve(more),
            Vals::Text(x) => x.reserve(more),
            Vals::Mixed(x) => x.reserve(more),
            Vals::Strs => {}
        }
        // The text so far per row, with an eighth more for longer values.
        if let Some(per_row) = self.chars.len().checked_div(self.len) {
            self.chars
                .reserve((per_row.saturating_mul(more) / 8 * 9).min(text));
        }
    }

    fn state(&self, i: usize) -> u8 {
        self.state.get(i).copied().unwrap_or(PRESENT)
    }

    /// The end of `chars`, as a text end or a span start (a page's column
    /// holds at most 4 GiB of text).
    fn end(&self) -> Result<u32, NotColumnar> {
        u32::try_from(self.chars.len()).map_err(|_| NotColumnar::Shape)
    }

    /// `bytes` appended to `chars`, as a span.
    fn keep(&mut self, bytes: &[u8]) -> Result<Span, NotColumnar> {
        let start = self.end()?;
        self.chars.extend_from_slice(bytes);
        let len = u32::try_from(bytes.len()).map_err(|_| NotColumnar::Shape)?;
        self.end()?;
        Ok(Span { start, len })
    }

    /// A row with no value (NULL or MISSING).
    fn push_absent(&mut self, st: u8) {
        if self.state.is_empty() {
            self.state.resize(self.len, PRESENT);
        }
        self.state.push(st);
        let end = self.chars.len() as u32; // `keep` checked it fits
        match &mut self.vals {
            Vals::Empty | Vals::Strs => {}
            Vals::Int(x) => x.push(0),
            Vals::Float(x) => x.push(f64::NAN),
            Vals::Bool(x) => x.push(0),
            Vals::Text(ends) => ends.push(end),
            Vals::Mixed(cells) => cells.push(if st == NULL {
                Cell::Null
            } else {
                Cell::Missing
            }),
        }
        self.len += 1;
    }

    fn push(&mut self, v: Value<'_>) -> Result<(), NotColumnar> {
        if let Value::Null = v {
            self.push_absent(NULL);
            return Ok(());
        }
        loop {
            match (&mut self.vals, v) {
                (Vals::Int(x), Value::Int(i)) => x.push(i),
                (Vals::Float(x), Value::Float(f)) => x.push(f),
                (Vals::Bool(x), Value::Bool(b)) => x.push(u8::from(b)),
                (Vals::Text(_), Value::Str(s)) => {
                    self.chars.extend_from_slice(s);
                    let end = self.end()?;
                    if let Vals::Text(ends) = &mut self.vals {
                        ends.push(end);
                    }
                }
                (Vals::Mixed(_), v) => {
                    let cell = match v {
                        Value::Null => Cell::Null,
                        Value::Int(i) => Cell::Int(i),
                        Value::Float(f) => Cell::Float(f),
                        Value::Bool(b) => Cell::Bool(b),
                        Value::Str(s) => Cell::Str(self.keep(s)?),
                        Value::Raw(r) => Cell::Raw(self.keep(r)?),
                    };
                    if let Vals::Mixed(cells) = &mut self.vals {
                        cells.push(cell);
                    }
                }
                (Vals::Empty, v) => {
                    // The first value: rows so far hold placeholders.
                    let n = self.len;
                    self.vals = match v {
                        Value::Int(_) => Vals::Int(vec![0; n]),
                        Value::Float(_) => Vals::Float(vec![f64::NAN; n]),
                        Value::Bool(_) => Vals::Bool(vec![0; n]),
                        Value::Str(_) => Vals::Text(vec![0; n]),
                        Value::Null | Value::Raw(_) => Vals::Mixed(self.cells()),
                    };
                    continue;
                }
                _ => {
                    self.vals = Vals::Mixed(self.cells());
                    continue;
                }
            }
            break;
        }
        if !self.state.is_empty() {
            self.state.push(PRESENT);
        }
        self.len += 1;
        Ok(())
    }

    /// Drop the last row (a key repeated in a record: the last one wins).
    fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        self.state.truncate(self.len);
        match &mut self.vals {
            Vals::Empty | Vals::Strs => {}
            Vals::Int(x) => x.truncate(self.len),
            Vals::Float(x) => x.truncate(self.len),
            Vals::Bool(x) => x.truncate(self.len),
            Vals::Text(ends) => {
                ends.truncate(self.len);
                let end = ends.last().copied().unwrap_or(0);
                self.chars.truncate(end as usize);
            }
            Vals::Mixed(cells) => cells.truncate(self.len),
        }
    }

    /// Row `i` as a cell (text as a span into `chars`).
    fn cell(&self, i: usize) -> Cell {
        match self.state(i) {
            NULL => return Cell::Null,
            MISSING => return Cell::Missing,
            _ => {}
        }
        let got = match &self.vals {
            Vals::Empty => None,
            Vals::Int(x) => x.get(i).map(|v| Cell::Int(*v)),
            Vals::Float(x) => x.get(i).map(|v| Cell::Float(*v)),
            Vals::Bool(x) => x.get(i).map(|v| Cell::Bool(*v != 0)),
            Vals::Text(ends) => ends.get(i).map(|&end| {
                let start = match i {
                    0 => 0,
                    _ => ends.get(i - 1).copied().unwrap_or(0),
                };
                Cell::Str(Span {
                    start,
                    len: end.saturating_sub(start),
                })
            }),
            Vals::Mixed(cells) => cells.get(i).copied(),
            Vals::Strs => Some(Cell::Str(Span { start: 0, len: 0 })),
        };
        got.unwrap_or(Cell::Missing)
    }

    /// Every row as a cell.
    fn cells(&self) -> Vec<Cell> {
        (0..self.len).map(|i| self.cell(i)).collect()
    }

    /// A `Text` column's rows as Python objects: str (shared through `strs`),
    /// None where null, `nan` where missing; the text is checked as UTF-8 once
    /// and each cell sliced from it. None when the column is not `Text` or its
    /// spans do not fit its text. `dated` is set when a value could count
    /// towards reading the column as dates.
    fn str_objects(
        &self,
        py: Python<'_>,
        strs: &mut StrCache,
        nan: &Py<PyAny>,
        mut dated: Option<&mut bool>,
    ) -> Option<Vec<Py<PyAny>>> {
        let Vals::Text(ends) = &self.vals else {
            return None;
        };
        let all = std::str::from_utf8(&self.chars).ok()?;
        // Whether any value has a `+` (for `date_like`): one pass over the text.
        let plus = dated.is_some() && self.chars.contains(&b'+');
        let mut objs = Vec::with_capacity(ends.len());
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let end = end as usize;
            let text = all.get(start..end)?;
            objs.push(match self.state(i) {
                NULL => py.None(),
                MISSING => nan.clone_ref(py),
                _ => {
                    if let Some(d) = dated.as_deref_mut().filter(|d| !**d) {
                        *d = date_like(text.as_bytes(), plus);
                    }
                    strs.get(py, text)
                }
            });
            start = end;
        }
        Some(objs)
    }

    /// For a text column whose first value reads as an ISO date: every value
    /// read as one (done as the page arrives, off the GIL; used if the whole
    /// column turns out to be dates).
    fn read_dates(&mut self) {
        let Vals::Text(_) = self.vals else { return };
        let first = (0..self.len).find(|&i| self.state(i) == PRESENT);
        let Some(Cell::Str(s)) = first.map(|i| self.cell(i)) else {
            return;
        };
        if parse_iso(text(&self.chars, s)).is_none() {
            return;
        }
        let mut offset = false;
        let ns = (0..self.len)
            .map(|i| match self.cell(i) {
                Cell::Str(s) => match parse_iso(text(&self.chars, s)) {
                    Some((ns, o)) => {
                        offset |= o.is_some();
                        ns
                    }
                    None => i64::MIN,
                },
                _ => i64::MIN,
            })
            .collect();
        self.dates = Some(PageDates { ns, offset });
    }
}

/// One page's records as columns, in order of first appearance (pandas' order
/// for a list of dicts).
#[derive(Default, Debug)]
pub(crate) struct Page {
    cols: Vec<Column>,
    index: HashMap<Box<str>, usize>,
    rows: usize,
    /// The envelope's `count` (or `total`), when it is an int.
    count: Option<i64>,
}

impl Page {
    /// How many records the page holds.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The column called `name`; `hint` is where it sat in the previous record.
    fn col(&mut self, name: &str, hint: usize) -> usize {
        if self.cols.get(hint).is_some_and(|c| &*c.name == name) {
            return hint;
        }
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.cols.len();
        self.cols.push(Column::new(name, self.rows));
        self.index.insert(name.into(), i);
        i
    }

    /// Set a field of the current row (a repeated key: the last one wins, as in a dict).
    fn set(&mut self, i: usize, v: Value<'_>) -> Result<(), NotColumnar> {
        let rows = self.rows;
        let Some(c) = self.cols.get_mut(i) else {
            return Err(NotColumnar::Shape);
        };
        if c.len > rows {
            c.pop();
        }
        c.push(v)
    }

    fn end_row(&mut self) {
        self.rows += 1;
        let rows = self.rows;
        for c in &mut self.cols {
            if c.len < rows {
                c.push_absent(MISSING);
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

struct Reader<'a> {
    j: Jiter<'a>,
    data: &'a [u8],
}

impl Reader<'_> {
    fn value(&mut self, peek: Peek) -> Result<Value<'_>, NotColumnar> {
        let j = &mut self.j;
        Ok(match peek {
            Peek::Null => {
                j.known_null()?;
                Value::Null
            }
            Peek::True | Peek::False => Value::Bool(j.known_bool(peek)?),
            Peek::String => Value::Str(j.known_str()?.as_bytes()),
            Peek::Array | Peek::Object => {
                let start = j.current_index();
                j.known_skip(peek)?;
                Value::Raw(raw(self.data, start, j.current_index()))
            }
            _ => {
                let start = j.current_index();
                match j.known_number(peek)? {
                    NumberAny::Int(NumberInt::Int(i)) => Value::Int(i),
                    NumberAny::Float(f) => Value::Float(f),
                    #[allow(unreachable_patterns)]
                    _ => Value::Raw(raw(self.data, start, j.current_index())),
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
                let v = self.value(vpeek)?;
                out.set(i, v)?;
                pos = i + 1;
                key = self.j.next_key()?.map(|k| out.col(k, pos));
            }
            out.end_row();
            next = self.j.array_step()?;
        }
        for c in &mut out.cols {
            c.read_dates();
        }
        Ok(out)
    }
}

/// `data[start..end]`, the text of a value just skipped.
fn raw(data: &[u8], start: usize, end: usize) -> &[u8] {
    data.get(start..end).unwrap_or_default()
}

/// A page: a bare list of records, or an envelope `{"data": [...], "count": n}`
/// (also `records` / `items` / `results`, and `total`), as `petroai._records`
/// reads it. None when the body is anything else. The page keeps no reference
/// to `body`.
pub(crate) fn parse_page(body: &[u8]) -> Option<Page> {
    fast_page(body).or_else(|| parse(body).ok())
}

/// The common page, read faster than jiter can: a bare array of records whose
/// keys and text have no escapes and whose ints fit in 18 digits. Keys are
/// first matched against the column that followed the previous key (records
/// of a page mostly share one layout), so a known key is one comparison.
/// None for anything else (including bad JSON): `parse` then reads the page,
/// and decides. Values nested in a record are skipped by jiter.
fn fast_page(b: &[u8]) -> Option<Page> {
    let mut f = Fast { b, i: 0 };
    let mut out = Page::default();
    f.ws();
    let mut records = f.open(b'[', b']')?;
    while records {
        let mut fields = f.open(b'{', b'}')?;
        let mut pos = 0;
        while fields {
            f.eat(b'"')?;
            let i = f.key(&mut out, pos)?;
            f.ws();
            f.eat(b':')?;
            f.ws();
            let v = f.value()?;
            out.set(i, v).ok()?;
            pos = i + 1;
            fields = f.more(b'}')?;
        }
        out.end_row();
        if out.rows == 1 {
            // Pages mostly hold records like their first: size the columns for
            // as many as the body has room for, rather than growing each.
            let rows = (b.len() / f.i.max(1) + 1).min(1 << 16);
            for c in &mut out.cols {
                c.reserve(rows, b.len() - f.i.min(b.len()));
            }
        }
        records = f.more(b']')?;
    }
    f.ws();
    if f.i != b.len() {
        return None;
    }
    for c in &mut out.cols {
        c.read_dates();
    }
    Some(out)
}

/// `fast_page`'s position in the body.
struct Fast<'a> {
    b: &'a [u8],
    i: usize,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` below `n` (exact up to the first such
/// byte; `n` <= 128).
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH
}

impl<'a> Fast<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.eat_if(c).then_some(())
    }

    fn eat_if(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    /// An array's or object's `open` (and the whitespace after it): whether an
    /// item follows rather than `close`.
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        self.eat(open)?;
        self.ws();
        Some(!self.eat_if(close))
    }

    /// After an item: true at `,` (another item follows), false at `close`.
    fn more(&mut self, close: u8) -> Option<bool> {
        self.ws();
        if self.eat_if(close) {
            return Some(false);
        }
        self.eat(b',')?;
        self.ws();
        Some(true)
    }

    /// A string's text (the position just past its opening quote), which must
    /// have no escape and no control character; checked as UTF-8 when it has
    /// bytes beyond ASCII.
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        let rest = self.b.get(start..)?;
        let mut k = 0;
        let mut ascii = true;
        // Eight bytes at a time: stop at a quote, a backslash or a control byte.
        while let Some(block) = rest.get(k..k + 8) {
            let x = u64::from_le_bytes(block.try_into().ok()?);
            let stop = bytes_below(x ^ (ONES * u64::from(b'"')), 1)
                | bytes_below(x ^ (ONES * u64::from(b'\\')), 1)
                | bytes_below(x, 0x20);
            if stop != 0 {
                let at = (stop.trailing_zeros() / 8) as usize;
                ascii &= x & HIGH & ((1u64 << (at * 8)).wrapping_sub(1)) == 0;
                k += at;
                break;
            }
            ascii &= x & HIGH == 0;
            k += 8;
        }
        loop {
            match *rest.get(k)? {
                b'"' => break,
                b'\\' | 0..0x20 => return None,
                c => ascii &= c < 0x80,
            }
            k += 1;
        }
        let s = rest.get(..k)?;
        if !ascii {
            std::str::from_utf8(s).ok()?;
        }
        self.i = start + k + 1;
        Some(s)
    }

    /// A key's column (the position just past the key's opening quote).
    fn key(&mut self, out: &mut Page, hint: usize) -> Option<usize> {
        if let Some(c) = out.cols.get(hint) {
            let at = self.b.get(self.i..)?;
            let hit = c.key.matches(at).unwrap_or_else(|| {
                let name = c.name.as_bytes();
                at.get(..name.len()) == Some(name) && at.get(name.len()) == Some(&b'"')
            });
            if hit {
                self.i += c.name.len() + 1;
                return Some(hint);
            }
        }
        let k = std::str::from_utf8(self.string()?).ok()?;
        Some(out.col(k, hint))
    }

    fn literal(&mut self, text: &[u8], v: Value<'a>) -> Option<Value<'a>> {
        let end = self.i + text.len();
        (self.b.get(self.i..end)? == text).then(|| {
            self.i = end;
            v
        })
    }

    fn value(&mut self) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                Some(Value::Str(self.string()?))
            }
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'[' | b'{' => {
                let rest = self.b.get(self.i..)?;
                let mut j = Jiter::new(rest);
                let peek = j.peek().ok()?;
                j.known_skip(peek).ok()?;
                let raw = rest.get(..j.current_index())?;
                self.i += raw.len();
                Some(Value::Raw(raw))
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    /// A JSON number: an int of at most 18 digits, or a finite float.
    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.i;
        let neg = self.eat_if(b'-');
        let int_start = self.i;
        if self.eat_if(b'0') {
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return None;
            }
        } else if self.digits() == 0 {
            return None;
        }
        let int_end = self.i;
        let mut float = false;
        let mut frac = 0..0;
        if self.eat_if(b'.') {
            let at = self.i;
            if self.digits() == 0 {
                return None;
            }
            frac = at..self.i;
            float = true;
        }
        let mut exp = Some(0);
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            let minus = self.peek() == Some(b'-');
            self.i += usize::from(matches!(self.peek(), Some(b'-' | b'+')));
            let at = self.i;
            if self.digits() == 0 {
                return None;
            }
            exp = small_int(self.b.get(at..self.i)?).map(|e| if minus { -e } else { e });
            float = true;
        }
        if float {
            let int = self.b.get(int_start..int_end)?;
            let f = match exp.and_then(|e| exact_float(int, self.b.get(frac)?, e)) {
                Some(f) if neg => -f,
                Some(f) => f,
                None => std::str::from_utf8(self.b.get(start..self.i)?)
                    .ok()?
                    .parse::<f64>()
                    .ok()?,
            };
            return f.is_finite().then_some(Value::Float(f));
        }
        let digits = self.b.get(int_start..int_end)?;
        if digits.len() > 18 {
            return None;
        }
        let v = digits
            .iter()
            .fold(0i64, |a, d| a * 10 + i64::from(d - b'0'));
        Some(Value::Int(if neg { -v } else { v }))
    }
}

/// An exponent's digits as an int (None past 4 digits: left to the full parser).
fn small_int(d: &[u8]) -> Option<i32> {
    (d.len() <= 4).then(|| d.iter().fold(0, |a, c| a * 10 + i32::from(c - b'0')))
}

/// `int.frac` x 10^exp (digits only, no sign) when it can be computed exactly
/// the fast way (Clinger): a mantissa of at most 2^53 and a power of ten of at
/// most 22 are both exact doubles, so one multiplication or division rounds
/// once, correctly, as a full parser would. None otherwise.
fn exact_float(int: &[u8], frac: &[u8], exp: i32) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if int.len() + frac.len() > 19 {
        return None;
    }
    let m = int
        .iter()
        .chain(frac)
        .fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
    if m > 1 << 53 {
        return None;
    }
    let e = exp.checked_sub(i32::try_from(frac.len()).ok()?)?;
    let p = *POW10.get(usize::try_from(e.unsigned_abs()).ok()?)?;
    // The mantissa is below 2^53, so the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let m = m as f64;
    Some(if e >= 0 { m * p } else { m / p })
}

fn parse(data: &[u8]) -> Result<Page, NotColumnar> {
    const LIST_KEYS: [&str; 4] = ["data", "records", "items", "results"];
    let mut r = Reader {
        j: Jiter::new(data),
        data,
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
                    let v = match r.value(vpeek)? {
                        Value::Int(i) => Some(i),
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
    Ok(page)
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
    let page = if let Ok(raw) = body.cast::<PyRawResponse>() {
        let raw = raw.get();
        if let Some(parsed) = raw.take_records() {
            return Ok(parsed.map(RecordPage::new));
        }
        let bytes = raw.full_body(py)?;
        py.detach(|| parse_page(&bytes))
    } else if let Ok(b) = body.cast::<PyBytes>() {
        // bytes are immutable, and `b` keeps them alive while the GIL is released.
        let data = b.as_bytes();
        py.detach(|| parse_page(data))
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "parse_records() takes a RawResponse or bytes",
        ));
    };
    Ok(page.map(RecordPage::new))
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

    /// Column `g`'s part of every page, taken out of the pages (a page without
    /// the column gives a part of missing rows).
    fn take_column(&mut self, g: usize) -> Vec<Part> {
        self.pages
            .iter_mut()
            .map(|(page, at)| {
                let col = at
                    .iter()
                    .position(|&x| x == g)
                    .and_then(|i| page.cols.get_mut(i))
                    .map(std::mem::take);
                Part {
                    col,
                    rows: page.rows,
                }
            })
            .collect()
    }
}

/// One page's share of a column.
struct Part {
    col: Option<Column>,
    rows: usize,
}

impl Part {
    /// Each row as a cell.
    fn cells(&self) -> impl Iterator<Item = Cell> + Clone + '_ {
        (0..self.rows).map(|i| match &self.col {
            Some(c) => c.cell(i),
            None => Cell::Missing,
        })
    }

    /// What the cells' spans point into.
    fn src(&self) -> &[u8] {
        self.col.as_ref().map(|c| &c.chars[..]).unwrap_or_default()
    }

    fn count(&self, k: &mut Kinds) {
        let Some(c) = &self.col else {
            k.null += self.rows;
            k.missing += self.rows;
            return;
        };
        let (mut absent, mut missing) = (0, 0);
        for &s in &c.state {
            absent += usize::from(s != PRESENT);
            missing += usize::from(s == MISSING);
        }
        k.null += absent;
        k.missing += missing;
        let present = self.rows - absent.min(self.rows);
        match &c.vals {
            Vals::Empty => {}
            Vals::Int(_) => k.int += present,
            Vals::Float(_) => k.float += present,
            Vals::Bool(_) => k.bool += present,
            Vals::Text(_) | Vals::Strs => k.str += present,
            Vals::Mixed(cells) => {
                for cell in cells {
                    match cell {
                        Cell::Missing | Cell::Null => {}
                        Cell::Int(_) => k.int += 1,
                        Cell::Float(_) => k.float += 1,
                        Cell::Bool(_) => k.bool += 1,
                        Cell::Str(_) => k.str += 1,
                        Cell::Raw(_) => k.raw += 1,
                    }
                }
            }
        }
    }
}

type Src<'a> = &'a [u8];

/// Every cell of a column's parts, with what its spans point into.
fn column_cells(parts: &[Part]) -> impl Iterator<Item = (Cell, Src<'_>)> + Clone {
    parts.iter().flat_map(|p| {
        let src = p.src();
        p.cells().map(move |c| (c, src))
    })
}

fn text(src: Src<'_>, span: Span) -> &[u8] {
    src.get(span.start as usize..(span.start as usize + span.len as usize))
        .unwrap_or_default()
}

/// Pages appended in order, then turned into columns for pandas.
#[pyclass(name = "FrameBuilder", module = "petro._core", frozen)]
#[derive(Default)]
pub struct FrameBuilder {
    pages: Mutex<Pages>,
    /// Text will be handed over as str objects (not Arrow buffers): pages
    /// fetched by `request_many(..., frames=self)` make theirs on arrival.
    text_objects: bool,
    /// One str cache per column name, shared by every page and by `finish`.
    caches: Mutex<AHashMap<Box<str>, StrCache>>,
}

impl FrameBuilder {
    /// Make the str objects of `page`'s text columns now (taking the GIL for
    /// the while), if this builder will want them; `finish` then only moves
    /// them. Columns read as dates are left alone.
    pub(crate) fn text_objects(&self, page: &mut Page) {
        if !self.text_objects {
            return;
        }
        Python::attach(|py| {
            let nan = PyFloat::new(py, f64::NAN).into_any().unbind();
            let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
            for c in &mut page.cols {
                if c.dates.is_some() || !matches!(c.vals, Vals::Text(_)) {
                    continue;
                }
                if !caches.contains_key(&*c.name) {
                    caches.insert(c.name.clone(), StrCache::new());
                }
                let Some(strs) = caches.get_mut(&*c.name) else {
                    continue;
                };
                let mut dated = false;
                let objs = c.str_objects(py, strs, &nan, Some(&mut dated));
                if let Some(objs) = objs.filter(|o| o.len() == c.len) {
                    c.objs = objs;
                    if !dated {
                        // The text is not needed again: `finish` moves the str
                        // objects, and no date decision reads a value that is not
                        // date-like. Freed now, its memory serves the next pages.
                        c.chars = Vec::new();
                        c.vals = Vals::Strs;
                    }
                }
            }
        });
    }
}

#[pymethods]
impl FrameBuilder {
    /// `text_objects`: text will be wanted as str (``finish(arrow_text=False)``),
    /// so pages fetched with ``request_many(..., frames=builder)`` make their str
    /// objects as they arrive.
    #[new]
    #[pyo3(signature = (text_objects = false))]
    fn new(text_objects: bool) -> Self {
        FrameBuilder {
            text_objects,
            ..FrameBuilder::default()
        }
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

    /// Each column as `(name, kind, data, missing, utc)`, its buffers numpy
    /// arrays that own the memory Rust filled (no copy):
    /// - `"int"`: `data` int64, `missing` a bool array or None;
    /// - `"float"`: float64 with NaN for missing; `"bool"`: bool;
    /// - `"datetime"`: int64 nanoseconds since the epoch (missing: NaT), `utc`
    ///   True when the text carried a time zone (values converted to UTC);
    /// - `"object"`: an object array of Python values (str shared when
    ///   repeated; NaN where the record lacks the field, None where it is
    ///   null); `"str"` the same when the values are only str, null and missing;
    ///   `"null"` the same when every value is None (no inference can change it);
    /// - with `arrow_text`, such a text column is `"arrow_str"` instead: `data`
    ///   `(offsets, chars)`, Arrow `large_string` buffers (int64 offsets, UTF-8
    ///   bytes as uint8), `missing` the validity bitmap as uint8 (None: no
    ///   nulls). No Python str is made. A builder made with `text_objects=True`
    ///   may have let go of its text, so it raises ValueError for `arrow_text`.
    ///
    /// Raises ImportError when numpy is not installed.
    #[pyo3(signature = (arrow_text = false))]
    fn finish(&self, py: Python<'_>, arrow_text: bool) -> PyResult<Vec<Py<PyAny>>> {
        if arrow_text && self.text_objects {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "this FrameBuilder was made with text_objects=True: its text is handed over as str",
            ));
        }
        // numpy's C API is reached through its module: fail here, clearly, without it.
        py.import("numpy")?;
        let mut pages = std::mem::take(&mut *self.pages.lock().unwrap_or_else(|e| e.into_inner()));
        let mut caches =
            std::mem::take(&mut *self.caches.lock().unwrap_or_else(|e| e.into_inner()));
        let nan = f64::NAN.into_pyobject(py)?.into_any().unbind();
        let mut out = Vec::with_capacity(pages.names.len());
        for g in 0..pages.names.len() {
            // Column by column, each page's part freed once it is copied.
            let mut parts = pages.take_column(g);
            let mut sink = Sink::plan(&parts, pages.rows, arrow_text);
            sink.share(&mut caches, &pages.names[g]);
            for part in &mut parts {
                sink.extend(py, &nan, part)?;
            }
            if let Sink::Dates { failed: true, .. } = sink {
                // A zone pandas keeps as an offset: leave the text to pandas.
                sink = Sink::text(pages.rows, arrow_text);
                sink.share(&mut caches, &pages.names[g]);
                for part in &mut parts {
                    sink.extend(py, &nan, part)?;
                }
            }
            out.push(sink.into_py(py, &pages.names[g])?);
        }
        Ok(out)
    }
}

#[derive(Default)]
struct Kinds {
    /// Null or missing.
    null: usize,
    /// Of those, missing (the record lacks the field).
    missing: usize,
    int: usize,
    float: usize,
    bool: usize,
    str: usize,
    raw: usize,
}

/// A column being converted, by what its cells turned out to be.
enum Sink {
    Int {
        data: Vec<i64>,
        missing: Option<Vec<bool>>,
    },
    Float(Vec<f64>),
    Bool(Vec<bool>),
    Dates {
        data: Vec<i64>,
        utc: bool,
        /// A value with an offset but no UTC: pandas keeps those; redone as text.
        failed: bool,
    },
    Object {
        values: Vec<Py<PyAny>>,
        strs: StrCache,
        /// Only str, null and missing (pandas' text dtype applies).
        text: bool,
        /// Only null (None): pandas would infer nothing else.
        only_null: bool,
    },
    /// Only str, null and missing, as Arrow `large_string` buffers.
    Arrow(ArrowText),
}

/// A text column as Arrow `large_string` buffers.
struct ArrowText {
    /// n + 1 offsets into `chars`.
    offsets: Vec<i64>,
    chars: Vec<u8>,
    /// One bit per row, 1 = present (Arrow's validity bitmap, LSB first).
    valid: Vec<u8>,
    rows: usize,
    nulls: usize,
}

impl ArrowText {
    fn new(n: usize) -> Self {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        ArrowText {
            offsets,
            chars: Vec::new(),
            valid: Vec::with_capacity(n.div_ceil(8)),
            rows: 0,
            nulls: 0,
        }
    }

    /// One more row's bit in the validity bitmap.
    fn mark(&mut self, present: bool) {
        if self.rows % 8 == 0 {
            self.valid.push(0);
        }
        if present {
            if let Some(last) = self.valid.last_mut() {
                *last |= 1 << (self.rows % 8);
            }
        } else {
            self.nulls += 1;
        }
        self.rows += 1;
    }

    /// One row: its text, or None where it has none.
    fn push(&mut self, text: Option<&str>) {
        if let Some(t) = text {
            self.chars.extend_from_slice(t.as_bytes());
        }
        self.mark(text.is_some());
        self.offsets.push(self.chars.len() as i64);
    }

    /// A page's `Text` part whole: its buffer appended, its ends shifted.
    fn extend(&mut self, c: &Column, ends: &[u32]) -> PyResult<()> {
        // Checked once for the part (a failure would mean a bug here).
        text_str(&c.chars)?;
        let base = self.chars.len() as i64;
        self.chars.extend_from_slice(&c.chars);
        self.offsets
            .extend(ends.iter().map(|&e| base + i64::from(e)));
        for i in 0..c.len {
            self.mark(c.state(i) == PRESENT);
        }
        Ok(())
    }

    /// `data` `(offsets, chars)` and `missing` (the bitmap, None without nulls).
    fn into_py(self, py: Python<'_>) -> PyResult<(Py<PyAny>, Option<Py<PyAny>>)> {
        let buffers = (array(py, self.offsets), array(py, self.chars)).into_pyobject(py)?;
        let valid = (self.nulls > 0).then(|| array(py, self.valid));
        Ok((buffers.into_any().unbind(), valid))
    }
}

/// Text repeats a lot in well data (basin, operator, status...): one str per
/// distinct value, unless the column turns out mostly unique (ids).
struct StrCache {
    cache: AHashMap<Box<[u8]>, Py<PyAny>>,
    /// The first few distinct values up to 16 bytes, compared as two words and
    /// a length before the map is hashed: a column of a handful of values
    /// (status, state, operator) is served from here. Emptied for good once a
    /// column shows more distinct values than it holds (None from then on).
    few: Option<Vec<(Word2, Py<PyAny>)>>,
    caching: bool,
    /// Values looked up so far, and at the last check of how many were new.
    seen: usize,
    checked: (usize, usize),
}

/// A text of up to 16 bytes as two words and its length: equal exactly when
/// the texts are (the words' bytes cover every byte of the text; for 9-16
/// bytes the first and the last eight overlap, for 4-7 the first and last four).
type Word2 = (u64, u64, usize);

fn word2(b: &[u8]) -> Option<Word2> {
    let w8 = |s: &[u8]| {
        s.get(..8)
            .and_then(|x| <[u8; 8]>::try_from(x).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let w4 = |s: &[u8]| {
        s.get(..4)
            .and_then(|x| <[u8; 4]>::try_from(x).ok())
            .map_or(0, |a| u64::from(u32::from_le_bytes(a)))
    };
    let n = b.len();
    match n {
        0 => Some((0, 0, 0)),
        1..=3 => {
            let at = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
            Some((at(0) | at(n / 2) << 8 | at(n - 1) << 16, 0, n))
        }
        4..=7 => Some((w4(b), w4(&b[n - 4..]), n)),
        8..=16 => Some((w8(b), w8(&b[n - 8..]), n)),
        _ => None,
    }
}

impl StrCache {
    /// The first check of whether sharing pays, after this many values.
    const FIRST_CHECK: usize = 4096;
    /// Distinct values kept in `few`.
    const FEW: usize = 8;

    fn new() -> Self {
        StrCache {
            cache: AHashMap::new(),
            few: Some(Vec::new()),
            caching: true,
            seen: 0,
            checked: (0, 0),
        }
    }

    fn get(&mut self, py: Python<'_>, s: &str) -> Py<PyAny> {
        if !self.caching || s.len() > 64 {
            return PyString::new(py, s).into_any().unbind();
        }
        let key = self.few.as_ref().and_then(|_| word2(s.as_bytes()));
        if let (Some(k), Some(few)) = (key, &self.few) {
            if let Some((_, p)) = few.iter().find(|(w, _)| *w == k) {
                return p.clone_ref(py);
            }
        }
        self.seen += 1;
        if self.seen == Self::FIRST_CHECK.max(self.checked.0 * 2) {
            // Each time the count doubles: if over 90% of the values since the
            // last check were new, the column is ids (or close): stop sharing.
            let (seen, distinct) = self.checked;
            if self.cache.len().saturating_sub(distinct) * 10 > (self.seen - seen) * 9 {
                self.caching = false;
                self.cache = AHashMap::new();
            }
            self.checked = (self.seen, self.cache.len());
        }
        if let Some(p) = self.cache.get(s.as_bytes()) {
            return p.clone_ref(py);
        }
        let p = PyString::new(py, s).into_any().unbind();
        if self.caching {
            self.cache.insert(s.as_bytes().into(), p.clone_ref(py));
        }
        match (key, &mut self.few) {
            (Some(k), Some(few)) if few.len() < Self::FEW => few.push((k, p.clone_ref(py))),
            // More distinct values than `few` holds (or a long one): the map
            // alone from now on.
            (_, few) => *few = None,
        }
        p
    }
}

impl Sink {
    fn object(n: usize, text: bool, only_null: bool) -> Sink {
        Sink::Object {
            values: Vec::with_capacity(n),
            strs: StrCache::new(),
            text,
            only_null,
        }
    }

    /// A text column: Arrow buffers or a list of str.
    fn text(n: usize, arrow: bool) -> Sink {
        if !arrow {
            return Sink::object(n, true, false);
        }
        Sink::Arrow(ArrowText::new(n))
    }

    /// What a column becomes, from its cells' kinds (and, for text, whether it
    /// reads as dates the way `_frames.to_pandas` decides).
    fn plan(parts: &[Part], n: usize, arrow_text: bool) -> Sink {
        let mut k = Kinds::default();
        for p in parts {
            p.count(&mut k);
        }
        let present = n.saturating_sub(k.null);
        let words = || Vec::with_capacity(n);
        if present == 0 {
            // Only None when nothing is missing (missing cells become NaN).
            Sink::object(n, false, k.missing == 0)
        } else if k.int == present {
            Sink::Int {
                data: words(),
                missing: (k.null > 0).then(|| Vec::with_capacity(n)),
            }
        } else if k.int + k.float == present {
            Sink::Float(Vec::with_capacity(n))
        } else if k.bool == present && k.null == 0 {
            Sink::Bool(Vec::with_capacity(n))
        } else if k.str == present {
            match date_plan(column_cells(parts)) {
                Some(utc) => Sink::Dates {
                    data: words(),
                    utc,
                    failed: false,
                },
                None => {
                    let mut sink = Sink::text(n, arrow_text);
                    if let Sink::Arrow(a) = &mut sink {
                        a.chars.reserve(parts.iter().map(|p| p.src().len()).sum());
                    }
                    sink
                }
            }
        } else {
            Sink::object(n, false, false)
        }
    }

    /// Use the str cache the column's pages used, if any.
    fn share(&mut self, caches: &mut AHashMap<Box<str>, StrCache>, name: &str) {
        if let (Sink::Object { strs, .. }, Some(c)) = (self, caches.remove(name)) {
            *strs = c;
        }
    }

    /// Add a page's part of the column: whole buffers where the part's values
    /// are already what the column is, cell by cell otherwise.
    fn extend(&mut self, py: Python<'_>, nan: &Py<PyAny>, part: &mut Part) -> PyResult<()> {
        if let Some(c) = &mut part.col {
            match (&mut *self, &c.vals) {
                // Made as the page arrived: moved, not made again.
                (Sink::Object { values, .. }, Vals::Text(_) | Vals::Strs)
                    if !c.objs.is_empty() && c.objs.len() == c.len =>
                {
                    values.append(&mut c.objs);
                    return Ok(());
                }
                (Sink::Int { data, missing }, Vals::Int(x)) => {
                    data.extend_from_slice(x);
                    if let Some(m) = missing {
                        m.extend((0..c.len).map(|i| c.state(i) != PRESENT));
                    }
                    return Ok(());
                }
                // Rows without a value hold NaN already.
                (Sink::Float(data), Vals::Float(x)) => {
                    data.extend_from_slice(x);
                    return Ok(());
                }
                (Sink::Bool(data), Vals::Bool(x)) => {
                    data.extend(x.iter().map(|&b| b != 0));
                    return Ok(());
                }
                (Sink::Object { values, strs, .. }, Vals::Text(ends)) if ends.len() == c.len => {
                    let mut objs = c.str_objects(py, strs, nan, None).ok_or_else(|| {
                        pyo3::exceptions::PyValueError::new_err("bad text cell span")
                    })?;
                    values.append(&mut objs);
                    return Ok(());
                }
                (Sink::Arrow(a), Vals::Text(ends)) => return a.extend(c, ends),
                (Sink::Dates { data, utc, failed }, Vals::Text(_)) if c.dates.is_some() => {
                    if let Some(d) = &c.dates {
                        if d.offset && !*utc {
                            *failed = true;
                        } else {
                            data.extend_from_slice(&d.ns);
                        }
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        let src = part.src();
        for cell in part.cells() {
            self.push(py, nan, cell, src)?;
        }
        Ok(())
    }

    fn push(&mut self, py: Python<'_>, nan: &Py<PyAny>, cell: Cell, src: Src<'_>) -> PyResult<()> {
        match self {
            Sink::Int { data, missing } => {
                data.push(if let Cell::Int(i) = cell { i } else { 0 });
                if let Some(m) = missing {
                    m.push(matches!(cell, Cell::Null | Cell::Missing));
                }
            }
            Sink::Float(data) => {
                data.push(match cell {
                    Cell::Int(i) => i as f64,
                    Cell::Float(f) => f,
                    _ => f64::NAN,
                });
            }
            Sink::Bool(data) => data.push(cell == Cell::Bool(true)),
            Sink::Dates { failed: true, .. } => {}
            Sink::Arrow(a) => a.push(match cell {
                Cell::Str(s) => Some(text_str(text(src, s))?),
                _ => None,
            }),
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
                data.push(v);
            }
            Sink::Object { values, strs, .. } => {
                let v = match cell {
                    Cell::Missing => nan.clone_ref(py),
                    Cell::Null => py.None(),
                    Cell::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
                    Cell::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
                    Cell::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
                    Cell::Str(s) => strs.get(py, text_str(text(src, s))?),
                    Cell::Raw(r) => super::json::loads(py, text(src, r))?.unbind(),
                };
                values.push(v);
            }
        }
        Ok(())
    }

    fn into_py(self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let (kind, data, missing, utc) = match self {
            Sink::Int { data, missing } => {
                ("int", array(py, data), missing.map(|m| array(py, m)), false)
            }
            Sink::Float(data) => ("float", array(py, data), None, false),
            Sink::Bool(data) => ("bool", array(py, data), None, false),
            Sink::Dates { data, utc, .. } => ("datetime", array(py, data), None, utc),
            Sink::Object {
                values,
                text,
                only_null,
                ..
            } => (
                if text {
                    "str"
                } else if only_null {
                    "null"
                } else {
                    "object"
                },
                array(py, values),
                None,
                false,
            ),
            Sink::Arrow(a) => {
                let (buffers, valid) = a.into_py(py)?;
                ("arrow_str", buffers, valid, false)
            }
        };
        let missing = missing.unwrap_or_else(|| py.None());
        Ok((name, kind, data, missing, utc)
            .into_pyobject(py)?
            .into_any()
            .unbind())
    }
}

/// A numpy array that takes over `v`'s memory (numpy is imported by `finish`).
fn array<T: numpy::Element>(py: Python<'_>, v: Vec<T>) -> Py<PyAny> {
    numpy::PyArray1::from_vec(py, v).into_any().unbind()
}

/// A text cell's bytes as UTF-8 (jiter checked them; a failure here would mean
/// a span bug, reported rather than trusted).
fn text_str(b: &[u8]) -> PyResult<&str> {
    std::str::from_utf8(b)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("bad text cell: {e}")))
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
    Some(texts.take(50).any(marks_utc))
}

/// Whether `date_plan` reads `t` as asking for UTC: it ends in `Z` or has a
/// `+` after the date part (as `_frames._parse_dates` decides).
fn marks_utc(t: &[u8]) -> bool {
    t.ends_with(b"Z") || t.get(10..).is_some_and(|r| r.contains(&b'+'))
}

/// Whether `date_plan` could count `t` for dates or for UTC. `plus`: whether
/// the text `t` comes from has a `+` anywhere (when not, none of its values
/// needs searching for one). Most text fails the first bytes' tests at once.
#[inline]
fn date_like(t: &[u8], plus: bool) -> bool {
    (t.len() >= 10 && t[4] == b'-' && t[7] == b'-' && parse_iso(t).is_some())
        || t.ends_with(b"Z")
        || (plus && marks_utc(t))
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

    /// `word2` tells texts of up to 16 bytes apart exactly: every pair of
    /// texts over a small alphabet (zero bytes included) up to 5 bytes, and
    /// texts of 6-16 bytes differing in one byte at each position.
    #[test]
    fn word2_is_exact() {
        let alphabet = [0u8, b'a', b'b'];
        let mut texts: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=5 {
            let mut n = 0usize;
            while n < 3usize.pow(len) {
                let t = (0..len)
                    .map(|i| alphabet[n / 3usize.pow(i) % 3])
                    .collect::<Vec<u8>>();
                texts.push(t);
                n += 1;
            }
        }
        for a in &texts {
            for b in &texts {
                assert_eq!(word2(a) == word2(b), a == b, "{a:?} {b:?}");
            }
        }
        for len in 6..=16usize {
            let base: Vec<u8> = (0..len).map(|i| b'a' + i as u8).collect();
            assert_eq!(word2(&base), word2(&base.clone()));
            for i in 0..len {
                let mut t = base.clone();
                t[i] = 0;
                assert_ne!(word2(&t), word2(&base), "{len} {i}");
                assert_ne!(word2(&base[..len - 1]), word2(&base));
            }
        }
        assert_eq!(word2(&[b'x'; 17]), None);
    }

    fn page(body: &[u8]) -> Page {
        parse_page(body).unwrap_or_else(|| unreachable!("not a page"))
    }

    /// A column's rows as readable strings.
    fn rows(c: &Column) -> Vec<String> {
        c.cells()
            .into_iter()
            .map(|cell| match cell {
                Cell::Str(s) | Cell::Raw(s) => {
                    String::from_utf8_lossy(text(&c.chars, s)).into_owned()
                }
                other => format!("{other:?}"),
            })
            .collect()
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
            c.cols[0].cells(),
            [Cell::Int(1), Cell::Missing, Cell::Float(2.5)]
        );
        assert_eq!(rows(&c.cols[1]), ["x", "y", "Missing"]);
        assert_eq!(rows(&c.cols[2]), ["Missing", "[1,2]", "Missing"]);
        let c = page(br#"{"count": 7, "data": [{"a": true}], "x": {}}"#);
        assert_eq!((c.rows, c.count), (1, Some(7)));
        for bad in [
            &b"[1, 2]"[..],
            br#"{"status": 401}"#,
            b"[{\"a\": 1}",
            b"[] x",
        ] {
            assert!(parse_page(bad).is_none());
        }
    }

    #[test]
    fn typed_columns_until_kinds_mix() {
        let c = page(
            br#"[{"i":1,"f":1.5,"b":true,"s":"x","n":null},
                 {"i":null,"f":null,"b":false,"s":null},
                 {"i":3,"f":2.5,"s":"yz","n":null}]"#,
        );
        let col = |n: &str| &c.cols[c.index[n]];
        assert!(matches!(&col("i").vals, Vals::Int(x) if x == &[1, 0, 3]));
        assert_eq!(col("i").state, [PRESENT, NULL, PRESENT]);
        assert!(matches!(&col("f").vals, Vals::Float(x) if x[1].is_nan()));
        assert!(matches!(&col("b").vals, Vals::Bool(x) if x == &[1, 0, 0]));
        assert_eq!(col("b").state, [PRESENT, PRESENT, MISSING]);
        assert!(matches!(&col("s").vals, Vals::Text(e) if e == &[1, 1, 3]));
        assert_eq!(col("s").chars, b"xyz");
        assert!(matches!(col("n").vals, Vals::Empty));
        assert_eq!(col("n").state, [NULL, MISSING, NULL]);
        // A second kind turns the column into cells, earlier rows included.
        let c = page(br#"[{"v":1},{},{"v":"a"},{"v":null},{"v":2.5},{"v":{"k":[1]}}]"#);
        let v = &c.cols[0];
        assert!(matches!(v.vals, Vals::Mixed(_)));
        assert_eq!(
            rows(v),
            [
                "Int(1)",
                "Missing",
                "a",
                "Null",
                "Float(2.5)",
                r#"{"k":[1]}"#
            ]
        );
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let c = page(br#"[{"a":"long text","a":"x"},{"a":1,"b":2,"a":"y"},{"a":"z","a":null}]"#);
        assert_eq!(c.cols[0].len, 3);
        assert_eq!(rows(&c.cols[0]), ["x", "y", "Null"]);
        assert_eq!(rows(&c.cols[1]), ["Missing", "Int(2)", "Missing"]);
        let c = page(br#"[{"s":"abc","s":"d"},{"s":"e"}]"#);
        assert_eq!(c.cols[0].chars, b"de");
    }

    #[test]
    fn escaped_text_is_unescaped() {
        let c = page(br#"[{"a":"plain","b":"tab\there \u00e9 \"q\"","c":""}]"#);
        assert_eq!(rows(&c.cols[0]), ["plain"]);
        assert_eq!(rows(&c.cols[1]), ["tab\there \u{e9} \"q\""]);
        assert_eq!(rows(&c.cols[2]), [""]);
    }

    #[test]
    fn dates_are_read_with_the_page() {
        let c = page(
            br#"[{"d":"2021-01-02"},{"d":null},{"d":"nope"},{"d":"1970-01-01T00:00:00+01:00"}]"#,
        );
        let d = c.cols[0].dates.as_ref().unwrap_or_else(|| unreachable!());
        assert_eq!(
            d.ns,
            [
                18_629 * 86_400_000_000_000,
                i64::MIN,
                i64::MIN,
                -3_600_000_000_000
            ]
        );
        assert!(d.offset);
        let c = page(br#"[{"d":"x"},{"d":"2021-01-02"}]"#);
        assert!(c.cols[0].dates.is_none());
    }

    /// A page as text, to compare the two readers.
    fn dump(p: &Page) -> String {
        let mut out = format!("rows={} count={:?}\n", p.rows, p.count);
        for c in &p.cols {
            let dates = c.dates.as_ref().map(|d| (&d.ns, d.offset));
            out += &format!("{}: {:?} {:?}\n", c.name, rows(c), dates);
        }
        out
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    const KEYS: [&str; 9] = [
        "id",
        "n",
        "x",
        "name",
        "d",
        "",
        "caf\u{e9}",
        "fifteen_bytes_k",
        "a_key_of_sixteen",
    ];
    const VALUES: [&str; 38] = [
        "35.123456",
        "-106.000001",
        "0.000123",
        "123456789.123456",
        "9007199254740993.0",
        "1234567890123456789.5",
        "1e22",
        "1e23",
        "1.5e-22",
        "-2.5e+10",
        "0.30000000000000004",
        "0",
        "-0",
        "7",
        "-42",
        "123456789012345678",
        "-999999999999999999",
        "1.5",
        "-0.0",
        "1e5",
        "2.5E-3",
        "1.7976931348623157e308",
        "5e-324",
        "0.1",
        "true",
        "false",
        "null",
        "\"\"",
        "\"plain\"",
        "\"caf\u{e9} \u{2603}\"",
        "\"2021-03-04\"",
        "\"2021-03-04T05:06:07.5+01:00\"",
        "[1, [2, {\"a\": null}]]",
        "{}",
        "\"a long text of more than sixteen bytes\"",
        "\"8 bytes!\"",
        "\"seven b\"",
        "\"0123456\u{e9}89abcdef\u{2603}\"",
    ];

    #[test]
    fn exact_floats_match_the_full_parser() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut fast = 0;
        for _ in 0..200_000 {
            let digits = 1 + rng.next() % 20;
            let text: String = (0..digits)
                .map(|_| char::from(b'0' + (rng.next() % 10) as u8))
                .collect();
            let cut = (rng.next() % (digits + 1)) as usize;
            let (int, frac) = text.split_at(cut);
            let int = if int.is_empty() { "0" } else { int };
            let exp = (rng.next() % 61) as i32 - 30;
            let full = format!("{int}.{frac}e{exp}");
            let want: f64 = full.parse().unwrap_or(f64::NAN);
            if let Some(got) = exact_float(int.as_bytes(), frac.as_bytes(), exp) {
                assert_eq!(got.to_bits(), want.to_bits(), "{full}");
                fast += 1;
            }
        }
        // Most of these take the fast way; the rest are left to the full parser.
        assert!(fast > 50_000, "{fast}");
    }

    #[test]
    fn fast_reader_agrees_with_jiter() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut fast = 0;
        for round in 0..400 {
            let ws = ["", " ", "\n  ", "\t\r\n"];
            let mut body = String::from(rng.pick(&ws));
            body.push('[');
            let records = rng.next() % 6;
            for r in 0..records {
                if r > 0 {
                    body.push(',');
                }
                body += rng.pick(&ws);
                body.push('{');
                let fields = rng.next() % 5;
                for f in 0..fields {
                    if f > 0 {
                        body.push(',');
                    }
                    let (k, w) = (rng.pick(&KEYS), rng.pick(&ws));
                    body += &format!("{w}\"{k}\"{w}:{w}{}{w}", rng.pick(&VALUES));
                }
                body.push('}');
            }
            body.push(']');
            body += rng.pick(&ws);
            let want = parse(body.as_bytes())
                .map(|p| dump(&p))
                .map_err(|_| body.clone());
            let got = fast_page(body.as_bytes()).map(|p| dump(&p));
            assert_eq!(
                got.as_ref().ok_or(()),
                want.as_ref().map_err(|_| ()),
                "{round}: {body}"
            );
            fast += usize::from(got.is_some());
        }
        // Every one of these is the fast reader's kind of page.
        assert_eq!(fast, 400);
        // What it leaves to jiter: escapes, ints of 19+ digits, envelopes, bad JSON.
        for body in [
            &br#"[{"a":"tab	"}]"#[..],
            br#"[{"a"":1}]"#,
            br#"[{"a":1234567890123456789}]"#,
            br#"[{"a":123456789012345678901234}]"#,
            br#"{"data":[{"a":1}]}"#,
            br#"[{"a":01}]"#,
            br#"[{"a":1,}]"#,
            br#"[{"a":1}] x"#,
            br#"[{"a" 1}]"#,
            b"[{\"a\":\"x\x01\"}]",
            b"[{\"a\":\"\xff\"}]",
            b"[{\"a\":\"0123456789\x1f\"}]",
            b"[{\"a\":\"01234567\xc3\"}]",
            b"[{\"a\":\"0123456789abcdef\\n\"}]",
            br#"[{"a":tru}]"#,
            br#"[{"a":1.}]"#,
            br#"[{"a":-}]"#,
            br#"[{"a":1e}]"#,
            br#"[{"a":1e999}]"#,
            br#"[{a:1}]"#,
            br#"[{"a":[1,}]"#,
            br#"[{"a":NaN}]"#,
            b"[{\"a\":1}",
            b"",
        ] {
            let text = String::from_utf8_lossy(body);
            assert!(fast_page(body).is_none(), "{text}");
            // And the page reader still decides them the way jiter does.
            assert_eq!(
                parse_page(body).map(|p| dump(&p)),
                parse(body).ok().map(|p| dump(&p)),
                "{text}"
            );
        }
    }

    #[test]
    fn pages_line_up_columns_by_name() {
        let mut p = Pages::default();
        p.push(page(br#"[{"a":1}]"#));
        p.push(page(br#"[{"b":"x"},{"a":3,"a":4}]"#));
        assert_eq!(p.rows, 3);
        assert_eq!(p.names, ["a".into(), "b".into()] as [Box<str>; 2]);
        let a = p.take_column(0);
        let cells: Vec<Cell> = column_cells(&a).map(|(c, _)| c).collect();
        assert_eq!(cells, [Cell::Int(1), Cell::Missing, Cell::Int(4)]);
        let b = p.take_column(1);
        let texts: Vec<Vec<u8>> = column_cells(&b)
            .map(|(c, src)| match c {
                Cell::Str(s) => text(src, s).to_vec(),
                other => format!("{other:?}").into_bytes(),
            })
            .collect();
        assert_eq!(
            texts,
            [b"Missing".to_vec(), b"x".to_vec(), b"Missing".to_vec()]
        );
    }
}
