//! Record storage: SQLite (bundled, JSON1 built in), in memory by default or
//! in `<data_dir>/petro-emulator.sqlite3` so data survives a restart.
//!
//! One table holds every record: `records(rid, type, id, doc)`, where `type`
//! is the lower-cased type name (type names are case-insensitive), `id` the
//! record id, and `doc` the record as JSON text, key order as inserted.
//! Queries are compiled by [`super::query`] into `json_extract` expressions
//! with bound parameters; expression indexes cover the commonly queried
//! fields. One connection behind a mutex serialises writers, so concurrent
//! writes never lose records; callers run these blocking methods off the
//! async workers (`spawn_blocking`).
//!
//! Deep pages of queries in insertion order are served from checkpoints
//! ([`Cursors`]) rather than by an `OFFSET` over every skipped record.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use regex::Regex;
use rusqlite::functions::FunctionFlags;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::auth::random_hex;
use super::error::{ApiError, EmulatorError};
use super::query::{Clause, Options};

/// Fields with an expression index (besides `id`).
pub const INDEXED_FIELDS: &[&str] = &["wellId", "basinName", "operatorName"];

/// The record store.
pub struct Store {
    db: Mutex<Db>,
}

/// What the store's mutex guards: the connection, and the checkpoints of
/// the queries served through it (kept under the same lock, so they can
/// never be read or recorded while a write is in progress).
struct Db {
    conn: Connection,
    cursors: Cursors,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store { .. }")
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn add_regexp(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re: Arc<Regex> = ctx.get_or_create_aux(0, |vr| -> Result<_, BoxError> {
                Ok(Regex::new(vr.as_str()?)?)
            })?;
            Ok(match ctx.get_raw(1).as_str() {
                Ok(text) => re.is_match(text),
                Err(_) => false,
            })
        },
    )
}

/// The key a type name is stored under.
pub fn type_key(name: &str) -> String {
    name.to_lowercase()
}

impl Store {
    /// Open an in-memory store (`dir = None`) or the file in `dir`.
    pub fn open(dir: Option<&Path>) -> Result<Self, EmulatorError> {
        let conn = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                let conn = Connection::open(dir.join("petro-emulator.sqlite3"))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        add_regexp(&conn)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS types (key TEXT PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS records (
                 rid INTEGER PRIMARY KEY,
                 type TEXT NOT NULL,
                 id TEXT NOT NULL,
                 doc TEXT NOT NULL
             );
             CREATE UNIQUE INDEX IF NOT EXISTS records_type_id ON records (type, id);
             -- Pages of one type in insertion order (ORDER BY rid) walk this
             -- index instead of sorting the whole type for every page.
             CREATE INDEX IF NOT EXISTS records_type_rid ON records (type, rid);",
        )?;
        Ok(Self {
            db: Mutex::new(Db {
                conn,
                cursors: Cursors::default(),
            }),
        })
    }

    /// The connection (and cursor cache), for reading.
    fn lock(&self) -> MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection, for a method that may change `records`: the query
    /// checkpoints are dropped first, as they may no longer hold.
    fn write_lock(&self) -> MutexGuard<'_, Db> {
        let mut db = self.lock();
        db.cursors.clear();
        db
    }

    /// Create the expression indexes (idempotent; done after a bulk load
    /// because filling indexed tables is slower).
    pub fn ensure_indexes(&self) -> Result<(), EmulatorError> {
        let db = self.lock();
        for f in INDEXED_FIELDS {
            db.conn.execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS records_{f} ON records (type, json_extract(doc, '$.{f}'));"
            ))?;
        }
        Ok(())
    }

    /// Number of records of every type.
    pub fn total(&self) -> Result<i64, EmulatorError> {
        Ok(self
            .lock()
            .conn
            .query_row("SELECT count(*) FROM records", [], |r| r.get(0))?)
    }

    /// Insert already-serialised records in one transaction (sample data).
    pub fn bulk_load<I>(&self, type_name: &str, rows: I) -> Result<(), EmulatorError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut db = self.write_lock();
        let tx = db.conn.transaction()?;
        let key = type_key(type_name);
        tx.execute(
            "INSERT OR IGNORE INTO types (key, name) VALUES (?, ?)",
            params![key, type_name],
        )?;
        {
            let mut stmt = tx.prepare("INSERT INTO records (type, id, doc) VALUES (?, ?, ?)")?;
            for (id, doc) in rows {
                stmt.execute(params![key, id, doc])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The stored spelling of a type, matched case-insensitively.
    pub fn resolve_type(&self, name: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .lock()
            .conn
            .query_row(
                "SELECT name FROM types WHERE key = ?",
                [type_key(name)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The type a legacy collection name (`/api/Wells`) refers to.
    ///
    /// Rule: case-insensitive; the name itself, else the name without a
    /// plural `s` / `es`, else the name with an `s` added.
    pub fn resolve_collection(&self, name: &str) -> Result<Option<String>, ApiError> {
        let lower = name.to_lowercase();
        let mut candidates = vec![lower.clone()];
        if let Some(s) = lower.strip_suffix("es") {
            candidates.push(s.to_owned());
        }
        if let Some(s) = lower.strip_suffix('s') {
            candidates.push(s.to_owned());
        }
        candidates.push(format!("{lower}s"));
        for c in candidates {
            if let Some(t) = self.resolve_type(&c)? {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// All type names, sorted case-insensitively.
    pub fn types(&self) -> Result<Vec<String>, ApiError> {
        let db = self.lock();
        let mut stmt = db.conn.prepare("SELECT name FROM types ORDER BY key")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The first record of a type, as an example of its shape.
    pub fn example(&self, type_name: &str) -> Result<Option<Value>, ApiError> {
        let doc: Option<String> = self
            .lock()
            .conn
            .query_row(
                "SELECT doc FROM records WHERE type = ? ORDER BY rid LIMIT 1",
                [type_key(type_name)],
                |r| r.get(0),
            )
            .optional()?;
        doc.map(|d| parse_doc(&d)).transpose()
    }

    /// Insert records (each gets an `id` unless it has one). With `upsert`,
    /// a record whose `id` exists replaces it; without, a known `id` is a
    /// conflict (409).
    pub fn write(
        &self,
        type_name: &str,
        records: Vec<Value>,
        upsert: bool,
    ) -> Result<Vec<Value>, ApiError> {
        let mut prepared = Vec::with_capacity(records.len());
        for (i, rec) in records.into_iter().enumerate() {
            let Value::Object(map) = rec else {
                return Err(ApiError::bad_request(format!(
                    "data[{i}] must be a JSON object"
                )));
            };
            prepared.push(with_id(map, i)?);
        }
        let key = type_key(type_name);
        let mut db = self.write_lock();
        let tx = db.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO types (key, name) VALUES (?, ?)",
            params![key, type_name],
        )?;
        {
            let mut replace = tx.prepare("UPDATE records SET doc = ? WHERE type = ? AND id = ?")?;
            let mut insert = tx.prepare("INSERT INTO records (type, id, doc) VALUES (?, ?, ?)")?;
            let mut exists = tx.prepare("SELECT 1 FROM records WHERE type = ? AND id = ?")?;
            for (id, doc) in &prepared {
                let text = doc.to_string();
                if upsert {
                    if replace.execute(params![text, key, id])? == 0 {
                        insert.execute(params![key, id, text])?;
                    }
                } else {
                    if exists.exists(params![key, id])? {
                        return Err(ApiError::new(
                            axum::http::StatusCode::CONFLICT,
                            "conflict",
                            format!("a record with id '{id}' already exists (use PUT to replace)"),
                        ));
                    }
                    insert.execute(params![key, id, text])?;
                }
            }
        }
        tx.commit()?;
        Ok(prepared.into_iter().map(|(_, d)| d).collect())
    }

    /// Records of a type matching `clause`, paged and sorted by `options`.
    pub fn query(
        &self,
        type_name: &str,
        clause: &Clause,
        options: &Options,
    ) -> Result<Vec<Value>, ApiError> {
        self.query_json(type_name, clause, options)?
            .iter()
            .map(|text| parse_doc(text))
            .collect()
    }

    /// Like [`Store::query`], but each record as JSON text: stored documents
    /// go out as they are stored, without a parse and a re-serialisation
    /// (only a `fields` projection needs the parse).
    pub fn query_json(
        &self,
        type_name: &str,
        clause: &Clause,
        options: &Options,
    ) -> Result<Vec<String>, ApiError> {
        let key = type_key(type_name);
        let limit = options.limit.unwrap_or(-1);
        // SQLite reads a negative OFFSET as 0; the checkpoints must too.
        let skip = options.skip.max(0);
        let mut db = self.lock();
        let Db { conn, cursors } = &mut *db;
        let rows = if options.sort.is_empty() {
            // Insertion order: start from the nearest checkpoint at or before
            // `skip`, and leave one where this page ends for the next.
            cursors.sync(stamp(conn)?);
            let ck = CursorKey::new(&key, clause);
            let start = cursors.start(&ck, skip);
            let rows = rid_page(conn, &key, clause, start, limit, skip)?;
            if let Some((rid, _)) = rows.last() {
                let end = i64::try_from(rows.len())
                    .ok()
                    .and_then(|n| skip.checked_add(n));
                if let Some(end) = end {
                    cursors.record(ck, end, *rid);
                }
            }
            rows
        } else {
            sorted_page(conn, &key, clause, options, limit, skip)?
        };
        // The projection needs no lock.
        drop(db);
        rows.into_iter()
            .map(|(_, text)| match &options.fields {
                Some(f) => Ok(super::query::project(parse_doc(&text)?, f).to_string()),
                None => Ok(text),
            })
            .collect()
    }

    /// Set `body`'s fields (dotted names reach into nested objects) on every
    /// match; returns the updated records.
    pub fn update(
        &self,
        type_name: &str,
        clause: &Clause,
        body: &Map<String, Value>,
    ) -> Result<Vec<Value>, ApiError> {
        if body.contains_key("id") {
            return Err(ApiError::bad_request(
                "'body' cannot change a record's 'id'",
            ));
        }
        for k in body.keys() {
            super::query::field_expr(k)?;
        }
        let mut db = self.write_lock();
        let tx = db.conn.transaction()?;
        let mut updated = Vec::new();
        {
            let sql = format!(
                "SELECT rid, doc FROM records WHERE type = ? AND ({}) ORDER BY rid",
                clause.sql
            );
            let mut params = vec![rusqlite::types::Value::Text(type_key(type_name))];
            params.extend(clause.params.iter().cloned());
            let mut stmt = tx.prepare(&sql)?;
            let rows: Vec<(i64, String)> = stmt
                .query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut write = tx.prepare("UPDATE records SET doc = ? WHERE rid = ?")?;
            for (rid, text) in rows {
                let mut doc = parse_doc(&text)?;
                for (k, v) in body {
                    set_path(&mut doc, k, v.clone());
                }
                write.execute(params![doc.to_string(), rid])?;
                updated.push(doc);
            }
        }
        tx.commit()?;
        Ok(updated)
    }

    /// Delete every match; returns the deleted records.
    pub fn delete(&self, type_name: &str, clause: &Clause) -> Result<Vec<Value>, ApiError> {
        let mut db = self.write_lock();
        let tx = db.conn.transaction()?;
        let mut params = vec![rusqlite::types::Value::Text(type_key(type_name))];
        params.extend(clause.params.iter().cloned());
        let docs: Vec<String> = {
            let sql = format!(
                "SELECT doc FROM records WHERE type = ? AND ({}) ORDER BY rid",
                clause.sql
            );
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(params.iter()), |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let sql = format!("DELETE FROM records WHERE type = ? AND ({})", clause.sql);
        tx.execute(&sql, params_from_iter(params.iter()))?;
        tx.commit()?;
        docs.iter().map(|d| parse_doc(d)).collect()
    }
}

/// A page's `(rid, doc)` rows.
type Rows = Vec<(i64, String)>;

/// A page of `clause`'s matches in insertion (rid) order: records
/// `skip .. skip + limit` (`limit` -1: all), found from `start`, a
/// checkpoint `(position, rid)` at or before `skip` (`None`: position 0).
///
/// The page's rids first, then their documents: OFFSET steps over every
/// skipped row, and stepping over (type, rid) index entries is several
/// times cheaper than over whole rows; a checkpoint turns what is left of
/// the OFFSET into a range seek on the same index (`rid > ?`).
fn rid_page(
    conn: &Connection,
    key: &str,
    clause: &Clause,
    start: Option<(i64, i64)>,
    limit: i64,
    skip: i64,
) -> Result<Rows, ApiError> {
    let sql = rid_page_sql(clause, start.is_some());
    let mut params = Vec::with_capacity(clause.params.len() + 4);
    params.push(rusqlite::types::Value::Text(key.to_owned()));
    params.extend(clause.params.iter().cloned());
    let offset = match start {
        Some((position, rid)) => {
            params.push(rusqlite::types::Value::Integer(rid));
            skip - position
        }
        None => skip,
    };
    params.push(rusqlite::types::Value::Integer(limit));
    params.push(rusqlite::types::Value::Integer(offset));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// [`rid_page`]'s statement; `after`: from a checkpoint's rid.
fn rid_page_sql(clause: &Clause, after: bool) -> String {
    let after = if after { " AND rid > ?" } else { "" };
    format!(
        "SELECT rid, doc FROM records WHERE rid IN (SELECT rid FROM records WHERE type = ? \
         AND ({}){after} ORDER BY rid LIMIT ? OFFSET ?) ORDER BY rid",
        clause.sql
    )
}

/// A page of `clause`'s matches sorted by `options.sort` (then rid), by
/// OFFSET over the page's rids as in [`rid_page`], without checkpoints.
fn sorted_page(
    conn: &Connection,
    key: &str,
    clause: &Clause,
    options: &Options,
    limit: i64,
    skip: i64,
) -> Result<Rows, ApiError> {
    let mut order = String::new();
    for (expr, desc) in &options.sort {
        order.push_str(expr);
        order.push_str(if *desc { " DESC, " } else { " ASC, " });
    }
    order.push_str("rid");
    let sql = format!(
        "SELECT rid, doc FROM records WHERE rid IN (SELECT rid FROM records WHERE type = ? \
         AND ({}) ORDER BY {order} LIMIT ? OFFSET ?) ORDER BY {order}",
        clause.sql
    );
    let mut params = Vec::with_capacity(clause.params.len() + 3);
    params.push(rusqlite::types::Value::Text(key.to_owned()));
    params.extend(clause.params.iter().cloned());
    params.push(rusqlite::types::Value::Integer(limit));
    params.push(rusqlite::types::Value::Integer(skip));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The state of the database the checkpoints were taken in: rows changed
/// through this connection, and the version SQLite bumps when another
/// connection (another process on the same file) commits. The write
/// methods drop the checkpoints themselves; this also catches any change
/// they do not see.
fn stamp(conn: &Connection) -> Result<(u64, i64), ApiError> {
    let version: i64 = conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?;
    Ok((conn.total_changes(), version))
}

/// Most queries whose checkpoints are kept; the least recently used goes.
const CURSOR_QUERIES: usize = 64;
/// Most checkpoints kept per query; when full, every other one is dropped
/// (spacing doubles, the whole result stays covered).
const CURSOR_CHECKPOINTS: usize = 2048;

/// Checkpoints of queries in insertion order: "the first `position`
/// records of this query's result end with rid `rid`", so the records from
/// `position` on are the matches with a greater rid. A page at `skip` then
/// costs an index seek plus `skip - position` steps instead of `skip`.
///
/// Only valid while `records` is unchanged: [`Store::write_lock`] clears
/// them, and [`Cursors::sync`] clears them if the database moved on anyway.
#[derive(Default)]
struct Cursors {
    /// [`stamp`] when the checkpoints were taken.
    stamp: Option<(u64, i64)>,
    /// Ticks once per lookup; orders queries by last use.
    clock: u64,
    queries: HashMap<CursorKey, Checkpoints>,
    /// Pages started from a checkpoint (for the tests).
    hits: u64,
}

/// A query, as far as its result set goes: the type and the compiled
/// clause with its parameters (`Debug` text: exact, and distinct for
/// distinct values).
#[derive(Clone, PartialEq, Eq, Hash)]
struct CursorKey {
    type_key: String,
    sql: String,
    params: String,
}

impl CursorKey {
    fn new(type_key: &str, clause: &Clause) -> Self {
        Self {
            type_key: type_key.to_owned(),
            sql: clause.sql.clone(),
            params: format!("{:?}", clause.params),
        }
    }
}

struct Checkpoints {
    /// [`Cursors::clock`] at the last use.
    used: u64,
    /// position -> rid of the record at `position - 1`.
    at: BTreeMap<i64, i64>,
}

impl Cursors {
    fn clear(&mut self) {
        self.queries.clear();
    }

    /// Drop the checkpoints if the database is not where they were taken.
    fn sync(&mut self, stamp: (u64, i64)) {
        if self.stamp != Some(stamp) {
            self.queries.clear();
            self.stamp = Some(stamp);
        }
    }

    /// The checkpoint `(position, rid)` nearest at or before `skip`.
    fn start(&mut self, key: &CursorKey, skip: i64) -> Option<(i64, i64)> {
        self.clock = self.clock.wrapping_add(1);
        let q = self.queries.get_mut(key)?;
        q.used = self.clock;
        let (&position, &rid) = q.at.range(..=skip).next_back()?;
        self.hits = self.hits.wrapping_add(1);
        Some((position, rid))
    }

    /// Remember that `key`'s first `position` records end with `rid`.
    fn record(&mut self, key: CursorKey, position: i64, rid: i64) {
        if !self.queries.contains_key(&key) && self.queries.len() >= CURSOR_QUERIES {
            let oldest = self
                .queries
                .iter()
                .min_by_key(|(_, q)| q.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.queries.remove(&k);
            }
        }
        let q = self.queries.entry(key).or_insert_with(|| Checkpoints {
            used: 0,
            at: BTreeMap::new(),
        });
        q.used = self.clock;
        if q.at.len() >= CURSOR_CHECKPOINTS && !q.at.contains_key(&position) {
            let mut keep = false;
            q.at.retain(|_, _| {
                keep = !keep;
                keep
            });
        }
        q.at.insert(position, rid);
    }
}

fn parse_doc(text: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::internal(format!("stored record unreadable: {e}")))
}

/// Give a record an `id` (first key) unless it has a usable one.
fn with_id(map: Map<String, Value>, index: usize) -> Result<(String, Value), ApiError> {
    match map.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Ok((s.clone(), Value::Object(map))),
        Some(Value::Number(n)) => {
            let id = n.to_string();
            let mut map = map;
            map.insert("id".into(), Value::String(id.clone()));
            Ok((id, Value::Object(map)))
        }
        None | Some(Value::Null) => {
            let id = random_hex(12);
            let mut out = Map::with_capacity(map.len() + 1);
            out.insert("id".into(), Value::String(id.clone()));
            for (k, v) in map {
                if k != "id" {
                    out.insert(k, v);
                }
            }
            Ok((id, Value::Object(out)))
        }
        Some(_) => Err(ApiError::bad_request(format!(
            "data[{index}].id must be a non-empty string"
        ))),
    }
}

fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut cur = doc;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else { return };
        if i + 1 == segs.len() {
            map.insert((*seg).to_owned(), value);
            return;
        }
        cur = map
            .entry((*seg).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::query::{compile_filter, parse_options};
    use super::*;
    use serde_json::json;

    fn q(store: &Store, t: &str, filter: Value, options: Value) -> Vec<Value> {
        let c = compile_filter(Some(&filter)).unwrap();
        let o = parse_options(Some(&options)).unwrap();
        store.query(t, &c, &o).unwrap()
    }

    fn ids(v: &[Value]) -> Vec<String> {
        v.iter()
            .map(|d| d["name"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    fn fixture() -> Store {
        let s = Store::open(None).unwrap();
        s.ensure_indexes().unwrap();
        s.write(
            "Thing",
            vec![
                json!({"name": "a", "n": 1, "tag": "x", "loc": {"lat": 31.5}, "ok": true}),
                json!({"name": "b", "n": 5, "tag": "y", "loc": {"lat": 40.1}}),
                json!({"name": "c", "n": 10, "tag": "x", "ok": false}),
                json!({"name": "d", "n": 2.5, "tag": null}),
            ],
            false,
        )
        .unwrap();
        s
    }

    #[test]
    fn operators() {
        let s = fixture();
        let t = "thing";
        assert_eq!(ids(&q(&s, t, json!({"tag": "x"}), json!({}))), ["a", "c"]);
        assert_eq!(
            ids(&q(&s, t, json!({"n": {"gt": 2}}), json!({}))),
            ["b", "c", "d"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"n": {"gte": 5, "lt": 10}}), json!({}))),
            ["b"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"n": {"lte": 2.5}}), json!({}))),
            ["a", "d"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"tag": {"ne": "x"}}), json!({}))),
            ["b", "d"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"tag": ["y", null]}), json!({}))),
            ["b", "d"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"name": {"in": ["a", "d"]}}), json!({}))),
            ["a", "d"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"name": {"nin": ["a", "d"]}}), json!({}))),
            ["b", "c"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"loc": {"exists": true}}), json!({}))),
            ["a", "b"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"loc": {"exists": false}}), json!({}))),
            ["c", "d"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"loc.lat": {"gt": 35}}), json!({}))),
            ["b"]
        );
        assert_eq!(
            ids(&q(&s, t, json!({"name": {"regex": "^[ab]$"}}), json!({}))),
            ["a", "b"]
        );
        assert_eq!(ids(&q(&s, t, json!({"ok": true}), json!({}))), ["a"]);
        assert_eq!(ids(&q(&s, t, json!({"ok": false}), json!({}))), ["c"]);
        assert_eq!(ids(&q(&s, t, json!({"tag": null}), json!({}))), ["d"]);
        // A number range never matches strings and vice versa.
        assert_eq!(
            ids(&q(&s, t, json!({"name": {"lt": 100}}), json!({}))).len(),
            0
        );
    }

    #[test]
    fn options_and_order() {
        let s = fixture();
        let r = q(
            &s,
            "THING",
            json!({}),
            json!({"sort": {"n": -1}, "limit": 2, "skip": 1}),
        );
        assert_eq!(ids(&r), ["b", "d"]);
        let r = q(&s, "thing", json!({"name": "b"}), json!({"fields": ["n"]}));
        assert_eq!(
            r[0].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["id", "n"]
        );
        // Key order as inserted, id first.
        let r = q(&s, "thing", json!({"name": "a"}), json!({}));
        let keys: Vec<_> = r[0].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["id", "name", "n", "tag", "loc", "ok"]);
    }

    #[test]
    fn update_delete_upsert() {
        let s = fixture();
        let c = compile_filter(Some(&json!({"tag": "x"}))).unwrap();
        let body = json!({"tag": "z", "loc.lon": -101.0})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(s.update("thing", &c, &body).unwrap().len(), 2);
        let r = q(
            &s,
            "thing",
            json!({"tag": "z", "loc.lon": -101.0}),
            json!({}),
        );
        assert_eq!(ids(&r), ["a", "c"]);
        let id = r[0]["id"].as_str().unwrap().to_owned();
        s.write(
            "thing",
            vec![json!({"id": id, "name": "a2"}), json!({"name": "e"})],
            true,
        )
        .unwrap();
        assert_eq!(q(&s, "thing", json!({}), json!({})).len(), 5);
        assert!(s.write("thing", vec![json!({"id": id})], false).is_err());
        let c = compile_filter(Some(&json!({"name": {"in": ["a2", "e"]}}))).unwrap();
        assert_eq!(s.delete("thing", &c).unwrap().len(), 2);
        assert_eq!(q(&s, "thing", json!({}), json!({})).len(), 3);
    }

    #[test]
    fn collections() {
        let s = fixture();
        s.write("Well", vec![json!({"a": 1})], false).unwrap();
        assert_eq!(
            s.resolve_collection("Wells").unwrap().as_deref(),
            Some("Well")
        );
        assert_eq!(
            s.resolve_collection("things").unwrap().as_deref(),
            Some("Thing")
        );
        assert_eq!(s.resolve_collection("nope").unwrap(), None);
        assert_eq!(s.types().unwrap(), ["Thing", "Well"]);
    }

    /// `n` records of type `Rec` (`name` r<i>, `n` i, `tag` x/y/z by i % 3),
    /// with a record of type `Other` after every second one, so the rids of
    /// `Rec` have gaps.
    fn paged_store(dir: Option<&std::path::Path>, n: usize) -> Store {
        let s = Store::open(dir).unwrap();
        for i in 0..n {
            let tag = ["x", "y", "z"][i % 3];
            let doc = format!(r#"{{"id":"r{i:06}","name":"r{i}","n":{i},"tag":"{tag}"}}"#);
            s.bulk_load("Rec", [(format!("r{i:06}"), doc)]).unwrap();
            if i % 2 == 1 {
                let doc = format!(r#"{{"id":"o{i:06}"}}"#);
                s.bulk_load("Other", [(format!("o{i:06}"), doc)]).unwrap();
            }
        }
        s.ensure_indexes().unwrap();
        s
    }

    /// The plain OFFSET query, with no checkpoints and no subquery: what
    /// every page must equal.
    fn plain(s: &Store, t: &str, c: &Clause, o: &Options) -> Vec<String> {
        let sql = format!(
            "SELECT doc FROM records WHERE type = ? AND ({}) ORDER BY rid LIMIT ? OFFSET ?",
            c.sql
        );
        let mut params = vec![rusqlite::types::Value::Text(type_key(t))];
        params.extend(c.params.iter().cloned());
        params.push(rusqlite::types::Value::Integer(o.limit.unwrap_or(-1)));
        params.push(rusqlite::types::Value::Integer(o.skip));
        let db = s.lock();
        let mut stmt = db.conn.prepare(&sql).unwrap();
        let rows = stmt
            .query_map(params_from_iter(params), |r| r.get::<_, String>(0))
            .unwrap();
        rows.map(|text| {
            let text = text.unwrap();
            match &o.fields {
                Some(f) => super::super::query::project(parse_doc(&text).unwrap(), f).to_string(),
                None => text,
            }
        })
        .collect()
    }

    fn opts(skip: i64, limit: Option<i64>, fields: &Option<Vec<String>>) -> Options {
        Options {
            limit,
            skip,
            sort: Vec::new(),
            fields: fields.clone(),
        }
    }

    /// The page at `skip` equals the plain query's; returns its length.
    fn check(
        s: &Store,
        c: &Clause,
        skip: i64,
        limit: Option<i64>,
        f: &Option<Vec<String>>,
    ) -> usize {
        let o = opts(skip, limit, f);
        let got = s.query_json("Rec", c, &o).unwrap();
        assert_eq!(got, plain(s, "Rec", c, &o), "skip {skip} limit {limit:?}");
        got.len()
    }

    fn hits(s: &Store) -> u64 {
        s.lock().cursors.hits
    }

    /// Query shapes the cursor tests run: all records, a clause, a clause
    /// on an indexed-style range, each with and without `fields`.
    fn shapes() -> Vec<(Clause, Option<Vec<String>>)> {
        let mut out = Vec::new();
        for filter in [
            json!({}),
            json!({"tag": "x"}),
            json!({"n": {"gte": 100}, "tag": {"ne": "y"}}),
        ] {
            for fields in [None, Some(vec!["n".to_owned()])] {
                out.push((compile_filter(Some(&filter)).unwrap(), fields));
            }
        }
        out
    }

    #[test]
    fn cursor_pages_match_offset() {
        let s = paged_store(None, 600);
        for (c, f) in shapes() {
            let total = plain(&s, "Rec", &c, &opts(0, None, &None)).len() as i64;
            assert!(total > 100);
            // Forward, page by page, past the end.
            let before = hits(&s);
            let mut skip = 0;
            while skip <= total + 40 {
                check(&s, &c, skip, Some(37), &f);
                skip += 37;
            }
            assert!(hits(&s) > before, "forward pages start from checkpoints");
            // Backward, and at every single skip near a checkpoint.
            for skip in (0..=total + 5).rev().step_by(13) {
                check(&s, &c, skip, Some(20), &f);
            }
            for skip in 30..80 {
                check(&s, &c, skip, Some(3), &f);
            }
            // No limit, from checkpoints and past the end.
            for skip in [0, 1, 37, 74, 75, total - 1, total, total + 1, total + 100] {
                check(&s, &c, skip, None, &f);
            }
            // Random pages.
            let mut rng = fastrand::Rng::with_seed(7);
            for _ in 0..300 {
                let skip = rng.i64(0..total + 20);
                let limit = match rng.u8(0..10) {
                    0 => None,
                    _ => Some(rng.i64(1..80)),
                };
                check(&s, &c, skip, limit, &f);
            }
        }
        // A fresh store scanned backward first (no checkpoints yet), then
        // forward from the checkpoints that left.
        let s = paged_store(None, 300);
        let c = compile_filter(Some(&json!({"tag": {"in": ["x", "z"]}}))).unwrap();
        for skip in (0..=220).rev().step_by(10) {
            check(&s, &c, skip, Some(10), &None);
        }
        for skip in 0..=220 {
            check(&s, &c, skip, Some(10), &None);
        }
        // A negative skip reads as 0, and records no bogus checkpoint.
        let o = opts(-5, Some(4), &None);
        assert_eq!(
            s.query_json("Rec", &c, &o).unwrap(),
            plain(&s, "Rec", &c, &opts(0, Some(4), &None))
        );
        check(&s, &c, 4, Some(4), &None);
    }

    #[test]
    fn cursor_sorted_queries_unchanged() {
        let s = paged_store(None, 200);
        let all = q(&s, "Rec", json!({"tag": "x"}), json!({"sort": {"n": -1}}));
        for skip in [0, 5, 30, 66, 67, 100] {
            let r = q(
                &s,
                "Rec",
                json!({"tag": "x"}),
                json!({"sort": {"n": -1}, "skip": skip, "limit": 9, "fields": ["name"]}),
            );
            let want: Vec<_> = all
                .iter()
                .skip(skip)
                .take(9)
                .map(|d| d["name"].clone())
                .collect();
            assert_eq!(
                r.iter().map(|d| d["name"].clone()).collect::<Vec<_>>(),
                want
            );
            assert_eq!(
                r.first().map(|d| d.as_object().unwrap().len()),
                want.first().map(|_| 2)
            );
        }
        assert!(
            s.lock().cursors.queries.is_empty(),
            "sorted pages keep no checkpoints"
        );
    }

    /// Every write drops the checkpoints: after each, pages equal the plain
    /// query even where the write moved records in or out of the middle.
    #[test]
    fn cursor_invalidated_by_writes() {
        let s = paged_store(None, 300);
        let c = compile_filter(Some(&json!({"tag": "x"}))).unwrap();
        let f = Some(vec!["name".to_owned()]);
        let scan = |s: &Store| {
            let mut skip = 0;
            while check(s, &c, skip, Some(8), &f) > 0 {
                skip += 8;
            }
            for skip in (0..skip).rev().step_by(5) {
                check(s, &c, skip, Some(8), &f);
            }
        };
        let page = |s: &Store| s.query_json("Rec", &c, &opts(48, Some(8), &f)).unwrap();
        scan(&s);
        let mut last = page(&s);
        let mut changed = |s: &Store, what: &str| {
            let now = page(s);
            assert_ne!(now, last, "{what} moves the page at skip 48");
            last = now;
            scan(s);
        };

        // update: an early record starts matching (inserted mid-result).
        let early = compile_filter(Some(&json!({"name": "r4"}))).unwrap();
        let body = json!({"tag": "x"}).as_object().cloned().unwrap();
        assert_eq!(s.update("Rec", &early, &body).unwrap().len(), 1);
        changed(&s, "update");
        // delete: an early match goes.
        let early = compile_filter(Some(&json!({"name": "r3"}))).unwrap();
        assert_eq!(s.delete("Rec", &early).unwrap().len(), 1);
        changed(&s, "delete");
        // upsert (write): an early match is replaced by a non-match.
        s.write("Rec", vec![json!({"id": "r000006", "tag": "y"})], true)
            .unwrap();
        changed(&s, "upsert");
        // A new record at the end, then pages past the old end.
        s.write("Rec", vec![json!({"name": "new", "tag": "x"})], false)
            .unwrap();
        let o = opts(0, None, &f);
        assert_eq!(
            s.query_json("Rec", &c, &o).unwrap(),
            plain(&s, "Rec", &c, &o)
        );
        scan(&s);
        // bulk_load, then a change no write method sees: a record put into
        // a gap of Rec's rids by hand. The change count catches it.
        s.bulk_load(
            "Rec",
            [("b1".to_owned(), r#"{"id":"b1","tag":"x"}"#.to_owned())],
        )
        .unwrap();
        scan(&s);
        let gap: i64 = s
            .lock()
            .conn
            .query_row(
                "SELECT rid FROM records WHERE type = 'other' ORDER BY rid LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        s.lock()
            .conn
            .execute(
                "UPDATE records SET type = 'rec', id = 'g1', doc = '{\"id\":\"g1\",\"tag\":\"x\"}' \
                 WHERE rid = ?",
                [gap],
            )
            .unwrap();
        assert!(!s.lock().cursors.queries.is_empty(), "no write method ran");
        changed(&s, "a hand-made change");
    }

    /// Another connection's commit (another emulator on the same file)
    /// drops the checkpoints too.
    #[test]
    fn cursor_invalidated_by_other_connection() {
        let dir = std::env::temp_dir().join(format!(
            "petro-cursor-test-{}-{}",
            std::process::id(),
            random_hex(6)
        ));
        let a = paged_store(Some(&dir), 120);
        let b = Store::open(Some(&dir)).unwrap();
        let c = compile_filter(None).unwrap();
        for skip in (0..120).step_by(10) {
            check(&a, &c, skip, Some(10), &None);
        }
        let gone = compile_filter(Some(&json!({"name": "r2"}))).unwrap();
        assert_eq!(b.delete("Rec", &gone).unwrap().len(), 1);
        for skip in (0..12).rev().map(|k| k * 10) {
            check(&a, &c, skip, Some(10), &None);
        }
        assert_eq!(check(&a, &c, 110, Some(10), &None), 9);
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cursor_concurrent_pages() {
        let s = Arc::new(paged_store(None, 400));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(t);
                    for (c, f) in shapes() {
                        for _ in 0..60 {
                            let skip = rng.i64(0..420);
                            check(&s, &c, skip, Some(rng.i64(1..50)), &f);
                        }
                        let mut skip = t as i64 * 25;
                        while check(&s, &c, skip, Some(25), &f) > 0 {
                            skip += 100;
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(hits(&s) > 0);
    }

    #[test]
    fn cursor_memory_bounded() {
        let mut cur = Cursors::default();
        let key = |i: usize| CursorKey {
            type_key: "t".into(),
            sql: format!("q{i}"),
            params: String::new(),
        };
        // Checkpoints at 10, 20, ..., 100,000: thinned, never more than the
        // cap, and the nearest one kept is still at or before the skip.
        for p in 1..=10_000i64 {
            cur.record(key(0), p * 10, p * 100);
            assert!(cur.queries[&key(0)].at.len() <= CURSOR_CHECKPOINTS);
        }
        for skip in [0, 9, 10, 15, 5_000, 99_999, 100_000, 1_000_000] {
            match cur.start(&key(0), skip) {
                Some((p, rid)) => {
                    assert!(p <= skip && p > 0 && rid == p * 10);
                }
                None => assert!(skip < 10),
            }
        }
        assert_eq!(cur.start(&key(0), 100_000), Some((100_000, 1_000_000)));
        // Queries: at most the cap, the least recently used goes first.
        for i in 1..200 {
            cur.start(&key(0), 0);
            cur.start(&key(i), 0);
            cur.record(key(i), 1, 1);
            assert!(cur.queries.len() <= CURSOR_QUERIES);
        }
        assert!(cur.queries.contains_key(&key(0)), "in use, kept");
        assert!(cur.queries.contains_key(&key(199)));
        assert!(!cur.queries.contains_key(&key(1)));
    }

    /// A page from a checkpoint seeks the (type, rid) index: no scan, no
    /// sort.
    #[test]
    fn cursor_page_plan() {
        let s = paged_store(None, 10);
        let c = compile_filter(Some(&json!({"tag": "x"}))).unwrap();
        let sql = format!("EXPLAIN QUERY PLAN {}", rid_page_sql(&c, true));
        let db = s.lock();
        let mut stmt = db.conn.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map(params!["rec", "x", 3, 10, 0], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(
            plan.contains("records_type_rid (type=? AND rid>?)"),
            "{plan}"
        );
        assert!(
            !plan.contains("SCAN") && !plan.contains("TEMP B-TREE"),
            "{plan}"
        );
    }

    /// Paging through a type the way a client does (4 pages in flight,
    /// skip 0, 1000, 2000, ...): each page equals the plain query. Run with
    /// `PETRO_BENCH_RECORDS=100000 cargo test --release store::tests::deep_pages -- --nocapture`
    /// for timings with and without the checkpoints.
    /// `PETRO_BENCH_RECORDS`, or `default` (the timing tests' table size).
    fn bench_records(default: usize) -> usize {
        std::env::var("PETRO_BENCH_RECORDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// `n` Production records: 50 per well, 7 basins, ids in order.
    fn load_production(s: &Store, n: usize) {
        s.bulk_load(
            "Production",
            (0..n).map(|i| {
                let id = format!("{i:08}");
                let doc = format!(
                    r#"{{"id":"{id}","wellId":"W{:06}","basinName":"B{}","oilVol_bbl":{}}}"#,
                    i / 50,
                    i % 7,
                    i % 1000
                );
                (id, doc)
            }),
        )
        .unwrap();
    }

    #[test]
    fn deep_pages() {
        let n = bench_records(5_000) as i64;
        let page = 1000;
        let s = Arc::new(Store::open(None).unwrap());
        load_production(&s, n as usize);
        s.ensure_indexes().unwrap();
        let c = Arc::new(compile_filter(None).unwrap());
        // One client scan: 4 threads take the next skip in turn; `offset`:
        // every page by the plain OFFSET statement (no checkpoints, as
        // before them). The store's mutex serialises the pages, so the wall
        // time is about the server time. The pages are checked afterwards.
        let scan = |offset: bool| {
            let next = Arc::new(std::sync::atomic::AtomicI64::new(0));
            let t0 = std::time::Instant::now();
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (s, c, next) = (Arc::clone(&s), Arc::clone(&c), Arc::clone(&next));
                    std::thread::spawn(move || {
                        let mut pages = Vec::new();
                        loop {
                            let skip = next.fetch_add(page, std::sync::atomic::Ordering::SeqCst);
                            if skip >= n {
                                return pages;
                            }
                            let o = opts(skip, Some(page), &None);
                            let r = if offset {
                                let db = s.lock();
                                rid_page(&db.conn, "production", &c, None, page, skip)
                                    .unwrap()
                                    .into_iter()
                                    .map(|(_, doc)| doc)
                                    .collect()
                            } else {
                                s.query_json("production", &c, &o).unwrap()
                            };
                            pages.push((o, r));
                        }
                    })
                })
                .collect();
            let pages: Vec<_> = threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            let took = t0.elapsed();
            let mut got = 0;
            for (o, r) in pages {
                assert_eq!(r, plain(&s, "production", &c, &o), "skip {}", o.skip);
                got += r.len() as i64;
            }
            assert_eq!(got, n);
            took
        };
        let plain_scan = scan(true);
        let before = hits(&s);
        let cursor_scan = scan(false);
        assert!(hits(&s) > before);
        // The deepest page alone (best of 5): from the checkpoint the scan
        // left at its start, and by OFFSET (checkpoints dropped first); and
        // the first page, for scale.
        let best = |skip: i64, drop_checkpoints: bool| {
            let o = opts(skip, Some(page), &None);
            (0..5)
                .map(|_| {
                    if drop_checkpoints {
                        s.lock().cursors.clear();
                    }
                    let t0 = std::time::Instant::now();
                    s.query_json("production", &c, &o).unwrap();
                    t0.elapsed()
                })
                .min()
                .unwrap_or_default()
        };
        let deep = (n - page).max(0);
        let deep_cursor = best(deep, false);
        let deep_plain = best(deep, true);
        let first = best(0, true);
        eprintln!(
            "{n} records in pages of {page} (each checked against the plain query): \
             scan by OFFSET {plain_scan:?}, from checkpoints {cursor_scan:?}; \
             last page by OFFSET {deep_plain:?}, from a checkpoint {deep_cursor:?}, \
             first page {first:?}"
        );
    }

    /// Indexed lookups stay fast as the table grows. Small in CI; run
    /// `PETRO_BENCH_RECORDS=1000000 cargo test --release store::tests::indexed -- --nocapture`
    /// for the one-million-record figure.
    #[test]
    fn indexed_query_is_fast() {
        let n = bench_records(20_000);
        let s = Store::open(None).unwrap();
        let t0 = std::time::Instant::now();
        load_production(&s, n);
        s.ensure_indexes().unwrap();
        let load = t0.elapsed();
        let c = compile_filter(Some(&json!({"wellId": "W000123"}))).unwrap();
        let t1 = std::time::Instant::now();
        let r = s.query("production", &c, &Options::default()).unwrap();
        let took = t1.elapsed();
        assert_eq!(r.len(), 50.min(n.saturating_sub(123 * 50)));
        eprintln!("{n} records: load+index {load:?}, indexed query {took:?}");
        let plan: String = s
            .lock()
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT doc FROM records WHERE type = 'production' \
                 AND json_extract(doc, '$.wellId') = 'x'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        // The plan, not the clock, shows the index is used.
        assert!(plan.contains("records_wellId"), "{plan}");
    }
}
