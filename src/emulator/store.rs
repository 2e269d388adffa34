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
    conn: Mutex<Connection>,
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
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Create the expression indexes (idempotent; done after a bulk load
    /// because filling indexed tables is slower).
    pub fn ensure_indexes(&self) -> Result<(), EmulatorError> {
        let conn = self.lock();
        for f in INDEXED_FIELDS {
            conn.execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS records_{f} ON records (type, json_extract(doc, '$.{f}'));"
            ))?;
        }
        Ok(())
    }

    /// Number of records of every type.
    pub fn total(&self) -> Result<i64, EmulatorError> {
        Ok(self
            .lock()
            .query_row("SELECT count(*) FROM records", [], |r| r.get(0))?)
    }

    /// Insert already-serialised records in one transaction (sample data).
    pub fn bulk_load<I>(&self, type_name: &str, rows: I) -> Result<(), EmulatorError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
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
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT name FROM types ORDER BY key")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The first record of a type, as an example of its shape.
    pub fn example(&self, type_name: &str) -> Result<Option<Value>, ApiError> {
        let doc: Option<String> = self
            .lock()
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
        let mut conn = self.lock();
        let tx = conn.transaction()?;
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
        let mut sql = format!(
            "SELECT doc FROM records WHERE type = ? AND ({}) ORDER BY ",
            clause.sql
        );
        for (expr, desc) in &options.sort {
            sql.push_str(expr);
            sql.push_str(if *desc { " DESC, " } else { " ASC, " });
        }
        sql.push_str("rid LIMIT ? OFFSET ?");
        let mut params = Vec::with_capacity(clause.params.len() + 3);
        params.push(rusqlite::types::Value::Text(type_key(type_name)));
        params.extend(clause.params.iter().cloned());
        params.push(rusqlite::types::Value::Integer(options.limit.unwrap_or(-1)));
        params.push(rusqlite::types::Value::Integer(options.skip));
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row?;
            out.push(match &options.fields {
                Some(f) => super::query::project(parse_doc(&text)?, f).to_string(),
                None => text,
            });
        }
        Ok(out)
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
        let mut conn = self.lock();
        let tx = conn.transaction()?;
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
        let mut conn = self.lock();
        let tx = conn.transaction()?;
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

    /// Indexed lookups stay fast as the table grows. Small in CI; run
    /// `PETRO_BENCH_RECORDS=1000000 cargo test --release store::tests::indexed -- --nocapture`
    /// for the one-million-record figure.
    #[test]
    fn indexed_query_is_fast() {
        let n: usize = std::env::var("PETRO_BENCH_RECORDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let s = Store::open(None).unwrap();
        let t0 = std::time::Instant::now();
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
            .query_row(
                "EXPLAIN QUERY PLAN SELECT doc FROM records WHERE type = 'production' \
                 AND json_extract(doc, '$.wellId') = 'x'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("records_wellId"), "{plan}");
        assert!(took < std::time::Duration::from_secs(2));
    }
}
