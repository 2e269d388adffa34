//! The Petro.ai query language, translated to SQL over the stored JSON.
//!
//! A filter is a JSON object of `field: condition`. A condition is
//! - a plain value: equality (`{"basinName": "Permian"}`);
//! - a JSON array: any of its values (`{"basinName": ["Permian", "Delaware"]}`);
//! - an object of operators, written **without** `$`: `eq, ne, gt, gte, lt,
//!   lte, in, nin, exists, regex` (`{"fracStages": {"gte": 30, "lt": 50}}`).
//!
//! Fields may be dotted paths into nested objects (`"location.lat"`). Field
//! names are checked against a safe alphabet and become literal JSON paths
//! (so SQLite's expression indexes apply); every value is a bound parameter.
//!
//! `options` holds `limit`, `skip`, `sort` (`{"field": 1 | -1}`) and `fields`
//! (a list of fields to return; `id` always comes back).

use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

use super::error::ApiError;

/// A compiled WHERE clause and its parameters.
#[derive(Debug, Default)]
pub struct Clause {
    /// SQL text with `?` placeholders.
    pub sql: String,
    /// Bound parameters, in order.
    pub params: Vec<Sql>,
}

/// Paging, ordering and projection of a query.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Maximum number of records (`None` = all).
    pub limit: Option<i64>,
    /// Records to skip first.
    pub skip: i64,
    /// `(sql expression, descending)` pairs.
    pub sort: Vec<(String, bool)>,
    /// Fields to return (`None` = whole records).
    pub fields: Option<Vec<String>>,
}

/// The SQL expression reading `field` from a stored record.
///
/// `id` reads the indexed column; other names read `json_extract(doc, ...)`.
pub fn field_expr(field: &str) -> Result<String, ApiError> {
    if field == "id" {
        return Ok("id".to_owned());
    }
    Ok(format!("json_extract(doc, '{}')", json_path(field)?))
}

fn json_path(field: &str) -> Result<String, ApiError> {
    if field.starts_with('$') {
        return Err(ApiError::bad_request(format!(
            "invalid field name '{field}': operators are written without '$' \
             and field names cannot start with '$'"
        )));
    }
    let mut path = String::from("$");
    for seg in field.split('.') {
        let ok = !seg.is_empty()
            && seg.len() <= 128
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ' ');
        if !ok {
            return Err(ApiError::bad_request(format!(
                "invalid field name '{field}' (letters, digits, '_', '-', ' ' and '.' only)"
            )));
        }
        let plain = seg
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            path.push('.');
            path.push_str(seg);
        } else {
            path.push_str(".\"");
            path.push_str(seg);
            path.push('"');
        }
    }
    Ok(path)
}

fn type_expr(field: &str) -> Result<String, ApiError> {
    if field == "id" {
        return Ok("'text'".to_owned());
    }
    Ok(format!("json_type(doc, '{}')", json_path(field)?))
}

/// Compile a filter (`null` or an object) into a WHERE clause (`1` if empty).
pub fn compile_filter(filter: Option<&Value>) -> Result<Clause, ApiError> {
    let mut out = Clause::default();
    let obj = match filter {
        None | Some(Value::Null) => {
            return Ok(Clause {
                sql: "1".into(),
                params: vec![],
            })
        }
        Some(Value::Object(o)) => o,
        Some(_) => return Err(ApiError::bad_request("'query' must be a JSON object")),
    };
    let mut parts = Vec::new();
    for (field, cond) in obj {
        parts.push(compile_condition(field, cond, &mut out.params)?);
    }
    out.sql = if parts.is_empty() {
        "1".to_owned()
    } else {
        parts.join(" AND ")
    };
    Ok(out)
}

/// True when a filter selects everything (absent, null or `{}`).
pub fn is_empty_filter(filter: Option<&Value>) -> bool {
    match filter {
        None | Some(Value::Null) => true,
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

fn compile_condition(field: &str, cond: &Value, params: &mut Vec<Sql>) -> Result<String, ApiError> {
    match cond {
        Value::Array(items) => any_of(field, items, params),
        Value::Object(ops) if !ops.is_empty() => {
            let mut parts = Vec::new();
            for (op, arg) in ops {
                parts.push(compile_op(field, op, arg, params)?);
            }
            Ok(format!("({})", parts.join(" AND ")))
        }
        other => eq(field, other, params),
    }
}

fn compile_op(
    field: &str,
    op: &str,
    arg: &Value,
    params: &mut Vec<Sql>,
) -> Result<String, ApiError> {
    match op {
        "eq" => eq(field, arg, params),
        "ne" => {
            let inner = eq(field, arg, params)?;
            if arg.is_null() {
                Ok(format!("NOT ({inner})"))
            } else {
                Ok(format!("({} IS NULL OR NOT ({inner}))", field_expr(field)?))
            }
        }
        "gt" | "gte" | "lt" | "lte" => range(field, op, arg, params),
        "in" | "nin" => {
            let Value::Array(items) = arg else {
                return Err(ApiError::bad_request(format!(
                    "operator '{op}' on field '{field}' needs a JSON array"
                )));
            };
            let inner = any_of(field, items, params)?;
            if op == "in" {
                Ok(inner)
            } else if items.iter().any(Value::is_null) {
                Ok(format!("NOT {inner}"))
            } else {
                Ok(format!("({} IS NULL OR NOT {inner})", field_expr(field)?))
            }
        }
        "exists" => {
            let want = match arg {
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "operator 'exists' on field '{field}' needs true or false"
                    )))
                }
            };
            let t = type_expr(field)?;
            Ok(if want {
                format!("{t} IS NOT NULL")
            } else {
                format!("{t} IS NULL")
            })
        }
        "regex" => {
            let Value::String(pattern) = arg else {
                return Err(ApiError::bad_request(format!(
                    "operator 'regex' on field '{field}' needs a string pattern"
                )));
            };
            regex::Regex::new(pattern).map_err(|e| {
                ApiError::bad_request(format!("invalid regex for field '{field}': {e}"))
            })?;
            params.push(Sql::Text(pattern.clone()));
            Ok(format!("regexp(?, {})", field_expr(field)?))
        }
        other => {
            let hint = if other.starts_with('$') {
                " (operators are written without '$')"
            } else {
                " (known: eq, ne, gt, gte, lt, lte, in, nin, exists, regex)"
            };
            Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "unknown_operator",
                format!("unknown operator '{other}' on field '{field}'{hint}"),
            ))
        }
    }
}

fn scalar(v: &Value) -> Option<Sql> {
    match v {
        Value::String(s) => Some(Sql::Text(s.clone())),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(Sql::Integer(i)),
            None => n.as_f64().map(Sql::Real),
        },
        _ => None,
    }
}

fn eq(field: &str, v: &Value, params: &mut Vec<Sql>) -> Result<String, ApiError> {
    let e = field_expr(field)?;
    match v {
        Value::Null => Ok(format!("{e} IS NULL")),
        Value::Bool(b) => Ok(format!(
            "{} = '{}'",
            type_expr(field)?,
            if *b { "true" } else { "false" }
        )),
        Value::Array(_) | Value::Object(_) => {
            params.push(Sql::Text(v.to_string()));
            Ok(format!(
                "({} IN ('array','object') AND {e} = json(?))",
                type_expr(field)?
            ))
        }
        other => {
            // `scalar` is Some for strings and numbers, the only cases left.
            params.push(scalar(other).unwrap_or(Sql::Null));
            Ok(format!("{e} = ?"))
        }
    }
}

fn any_of(field: &str, items: &[Value], params: &mut Vec<Sql>) -> Result<String, ApiError> {
    let e = field_expr(field)?;
    let mut scalars = Vec::new();
    let mut others = Vec::new();
    for item in items {
        match scalar(item) {
            Some(s) => scalars.push(s),
            None => others.push(item),
        }
    }
    let mut parts = Vec::new();
    if !scalars.is_empty() {
        let marks = vec!["?"; scalars.len()].join(", ");
        params.extend(scalars);
        parts.push(format!("{e} IN ({marks})"));
    }
    for item in others {
        parts.push(eq(field, item, params)?);
    }
    if parts.is_empty() {
        return Ok("(0)".to_owned());
    }
    Ok(format!("({})", parts.join(" OR ")))
}

fn range(field: &str, op: &str, arg: &Value, params: &mut Vec<Sql>) -> Result<String, ApiError> {
    let e = field_expr(field)?;
    let sym = match op {
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        _ => "<=",
    };
    let guard = match arg {
        Value::Number(_) => "typeof({e}) IN ('integer', 'real')",
        Value::String(_) => "typeof({e}) = 'text'",
        _ => {
            return Err(ApiError::bad_request(format!(
                "operator '{op}' on field '{field}' needs a number or a string"
            )))
        }
    };
    params.push(scalar(arg).unwrap_or(Sql::Null));
    Ok(format!("({} AND {e} {sym} ?)", guard.replace("{e}", &e)))
}

/// Parse the `options` object of a query.
pub fn parse_options(options: Option<&Value>) -> Result<Options, ApiError> {
    let mut out = Options::default();
    let obj = match options {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(ApiError::bad_request("'options' must be a JSON object")),
    };
    for (key, v) in obj {
        match key.as_str() {
            "limit" => {
                let n = non_negative(v, "options.limit")?;
                out.limit = if n == 0 { None } else { Some(n) };
            }
            "skip" => out.skip = non_negative(v, "options.skip")?,
            "sort" => out.sort = parse_sort(v)?,
            "fields" => {
                let Value::Array(items) = v else {
                    return Err(ApiError::bad_request(
                        "options.fields must be a list of field names",
                    ));
                };
                let mut fields = Vec::new();
                for item in items {
                    let Value::String(f) = item else {
                        return Err(ApiError::bad_request(
                            "options.fields must be a list of field names",
                        ));
                    };
                    json_path(f)?;
                    fields.push(f.clone());
                }
                out.fields = Some(fields);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown option '{other}' (known: limit, skip, sort, fields)"
                )))
            }
        }
    }
    Ok(out)
}

fn non_negative(v: &Value, name: &str) -> Result<i64, ApiError> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9e15)
                .map(|f| f as i64)
        }),
        _ => None,
    };
    n.filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("{name} must be a non-negative integer")))
}

fn parse_sort(v: &Value) -> Result<Vec<(String, bool)>, ApiError> {
    let Value::Object(o) = v else {
        return Err(ApiError::bad_request(
            "options.sort must be an object like {\"field\": 1} or {\"field\": -1}",
        ));
    };
    let mut out = Vec::new();
    for (field, dir) in o {
        let desc = match dir {
            Value::Number(n) if n.as_f64() == Some(1.0) => false,
            Value::Number(n) if n.as_f64() == Some(-1.0) => true,
            Value::String(s) if s.eq_ignore_ascii_case("asc") => false,
            Value::String(s) if s.eq_ignore_ascii_case("desc") => true,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "options.sort: direction for '{field}' must be 1 or -1"
                )))
            }
        };
        out.push((field_expr(field)?, desc));
    }
    Ok(out)
}

/// Keep only `fields` (plus `id`) of a record, in the record's own key order.
pub fn project(doc: Value, fields: &[String]) -> Value {
    let Value::Object(map) = doc else { return doc };
    let paths: Vec<Vec<&str>> = fields.iter().map(|f| f.split('.').collect()).collect();
    Value::Object(project_map(map, &paths, true))
}

fn project_map(map: Map<String, Value>, paths: &[Vec<&str>], top: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in map {
        if top && k == "id" {
            out.insert(k, v);
            continue;
        }
        let whole = paths.iter().any(|p| p.len() == 1 && p[0] == k);
        if whole {
            out.insert(k, v);
            continue;
        }
        let sub: Vec<Vec<&str>> = paths
            .iter()
            .filter(|p| p.len() > 1 && p[0] == k)
            .map(|p| p[1..].to_vec())
            .collect();
        if !sub.is_empty() {
            if let Value::Object(inner) = v {
                out.insert(k, Value::Object(project_map(inner, &sub, false)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_safe() {
        assert_eq!(
            field_expr("wellId").ok(),
            Some("json_extract(doc, '$.wellId')".into())
        );
        assert_eq!(
            field_expr("loc.lat").ok(),
            Some("json_extract(doc, '$.loc.lat')".into())
        );
        assert!(field_expr("a'b").is_err());
        assert!(field_expr("a\"b").is_err());
        assert!(field_expr("$where").is_err());
        assert!(field_expr("a..b").is_err());
    }

    #[test]
    fn unknown_operator_named() {
        let e = compile_filter(Some(&json!({"x": {"foo": 1}}))).err();
        assert!(e.is_some_and(|e| e.message.contains("'foo'") && e.status == 400));
        let e = compile_filter(Some(&json!({"x": {"$gt": 1}}))).err();
        assert!(e.is_some_and(|e| e.message.contains("without '$'")));
    }

    #[test]
    fn values_are_bound() {
        let c = compile_filter(Some(&json!({"name": "x'); DROP TABLE records; --"})))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!c.sql.contains("DROP"));
        assert_eq!(c.params.len(), 1);
    }

    #[test]
    fn projection_keeps_order() {
        let doc = json!({"id": "1", "a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        let p = project(doc, &["e".into(), "b.d".into()]);
        assert_eq!(p.to_string(), r#"{"id":"1","b":{"d":3},"e":4}"#);
    }
}
