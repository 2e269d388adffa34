//! The Petro.ai data API handlers: `/api/data` (insert, upsert, patch,
//! delete), `/api/data/query`, `/api/data/schema`, `/api/data/types` and
//! the legacy `GET /api/<Collection>`.
//!
//! Every handler reads its JSON body under the configured size limit,
//! validates it into a clear `400`, and runs the SQLite work on the blocking
//! pool.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::query::{compile_filter, is_empty_filter, parse_options, Options};
use super::server::{AppState, ResponseShape};
use super::store::Store;

/// Run store work on the blocking pool.
async fn blocking<T, F>(st: &AppState, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let store = st.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
}

/// Most bytes read and thrown away to answer an oversized upload cleanly.
const DRAIN_CAP: usize = 1 << 30;

/// Read and discard a body (up to `cap` bytes). Answering before the client has
/// finished sending makes the kernel reset the connection, and the client then
/// sees a broken pipe instead of the 413.
async fn drain(body: Body, cap: usize) {
    drain_rest(&mut body.into_data_stream(), 0, cap).await;
}

async fn drain_rest(stream: &mut axum::body::BodyDataStream, mut seen: usize, cap: usize) {
    use futures_util::StreamExt;
    while let Some(Ok(chunk)) = stream.next().await {
        seen = seen.saturating_add(chunk.len());
        if seen > cap {
            break;
        }
    }
}

/// The whole body if it fits in `limit` bytes; else drain it and answer 413.
async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("could not read the body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            drain_rest(&mut stream, buf.len() + chunk.len(), DRAIN_CAP).await;
            return Err(ApiError::too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(bytes::Bytes::from(buf))
}

/// Read and parse a JSON object body under the size limit.
async fn read_json(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    let limit = st.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body, DRAIN_CAP).await;
        return Err(ApiError::too_large(limit));
    }
    let bytes = read_limited(body, limit).await?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "request body is empty; a JSON object is required",
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON body: {e}"))),
    }
}

fn type_name(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("type") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(_) => Err(ApiError::bad_request("'type' must be a non-empty string")),
        None => Err(ApiError::bad_request(
            "missing 'type' (the record type, e.g. \"Well\")",
        )),
    }
}

/// The stored spelling of an existing type, or a 400 naming it.
async fn existing_type(st: &AppState, name: String) -> Result<String, ApiError> {
    let n = name.clone();
    blocking(st, move |s| s.resolve_type(&n))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_type",
                format!("unknown type '{name}'"),
            )
        })
}

fn write_answer(records: Vec<Value>) -> Response {
    Json(json!({"count": records.len(), "data": records})).into_response()
}

fn records_of(body: &mut Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    match body.remove("data") {
        Some(Value::Array(items)) => Ok(items),
        Some(obj @ Value::Object(_)) => Ok(vec![obj]),
        Some(_) => Err(ApiError::bad_request(
            "'data' must be a list of JSON objects",
        )),
        None => Err(ApiError::bad_request("missing 'data' (a list of records)")),
    }
}

/// `POST /api/data`: insert.
pub async fn insert(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    write(st, headers, body, false).await
}

/// `PUT /api/data`: replace by id, else insert.
pub async fn upsert(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    write(st, headers, body, true).await
}

async fn write(
    st: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
    upsert: bool,
) -> Result<Response, ApiError> {
    let mut body = read_json(&st, &headers, body).await?;
    let t = type_name(&body)?;
    let records = records_of(&mut body)?;
    // A new type takes the spelling of its first write; later writes in any
    // case reuse it.
    let written = blocking(&st, move |s| {
        let name = s.resolve_type(&t)?.unwrap_or(t);
        s.write(&name, records, upsert)
    })
    .await?;
    Ok(write_answer(written))
}

/// `PATCH /api/data`: set `body`'s fields on every match.
pub async fn patch(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_json(&st, &headers, body).await?;
    let t = existing_type(&st, type_name(&body)?).await?;
    let clause = compile_filter(body.get("query"))?;
    let fields = match body.get("body") {
        Some(Value::Object(m)) if !m.is_empty() => m.clone(),
        Some(Value::Object(_)) => return Err(ApiError::bad_request("'body' has no fields to set")),
        Some(_) => {
            return Err(ApiError::bad_request(
                "'body' must be a JSON object of fields to set",
            ))
        }
        None => return Err(ApiError::bad_request("missing 'body' (the fields to set)")),
    };
    let updated = blocking(&st, move |s| s.update(&t, &clause, &fields)).await?;
    Ok(write_answer(updated))
}

/// `DELETE /api/data`: delete matches (an empty query is refused).
pub async fn delete(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_json(&st, &headers, body).await?;
    let t = existing_type(&st, type_name(&body)?).await?;
    if is_empty_filter(body.get("query")) {
        return Err(ApiError::bad_request(
            "refusing to delete with an empty query (it would delete every record of the type)",
        ));
    }
    let clause = compile_filter(body.get("query"))?;
    let deleted = blocking(&st, move |s| s.delete(&t, &clause)).await?;
    Ok(write_answer(deleted))
}

fn shaped(st: &AppState, records: Vec<String>) -> Response {
    match st.config.response_shape {
        ResponseShape::List => json_array_response(&records, false),
        ResponseShape::Envelope => json_array_response(&records, true),
    }
}

/// A JSON array of already-serialised records, bare or as `{"data": [...], "count": n}`.
fn json_array_response(records: &[String], envelope: bool) -> Response {
    let size: usize = records.iter().map(|r| r.len() + 1).sum::<usize>() + 32;
    let mut out = String::with_capacity(size);
    if envelope {
        out.push_str("{\"data\":");
    }
    out.push('[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r);
    }
    out.push(']');
    if envelope {
        out.push_str(",\"count\":");
        out.push_str(&records.len().to_string());
        out.push('}');
    }
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// `POST /api/data/query`.
pub async fn query(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_json(&st, &headers, body).await?;
    for k in body.keys() {
        if !matches!(k.as_str(), "type" | "query" | "options") {
            return Err(ApiError::bad_request(format!(
                "unknown field '{k}' in the query body (expected type, query, options)"
            )));
        }
    }
    let t = existing_type(&st, type_name(&body)?).await?;
    let clause = compile_filter(body.get("query"))?;
    let options = parse_options(body.get("options"))?;
    let records = blocking(&st, move |s| s.query_json(&t, &clause, &options)).await?;
    Ok(shaped(&st, records))
}

/// `GET /api/data/schema?type=T`: an example record of the type.
pub async fn schema(
    State(st): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = params
        .get("type")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("the 'type' parameter is required"))?;
    let t = existing_type(&st, name.trim().to_owned()).await?;
    let tt = t.clone();
    match blocking(&st, move |s| s.example(&tt)).await? {
        Some(doc) => Ok(Json(doc).into_response()),
        None => Err(ApiError::not_found(format!(
            "type '{t}' has no records to show"
        ))),
    }
}

/// `GET /api/data/types`: the type names.
pub async fn types(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let names = blocking(&st, |s| s.types()).await?;
    Ok(Json(names).into_response())
}

/// `GET /api/<Collection>?Ids=&Limit=&Skip=&SortBy=&SortOrder=`.
pub async fn legacy_collection(
    State(st): State<Arc<AppState>>,
    Path(collection): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let c = collection.clone();
    let t = blocking(&st, move |s| s.resolve_collection(&c))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown collection '{collection}'")))?;
    let mut ids: Vec<Value> = Vec::new();
    let mut options = Options::default();
    let mut sort_by: Option<String> = None;
    let mut desc = false;
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.to_ascii_lowercase().as_str() {
            "ids" | "id" => ids.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned())),
            ),
            "limit" => {
                let n =
                    v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                        ApiError::bad_request("Limit must be a non-negative integer")
                    })?;
                options.limit = (n > 0).then_some(n);
            }
            "skip" => {
                options.skip =
                    v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                        ApiError::bad_request("Skip must be a non-negative integer")
                    })?;
            }
            "sortby" => sort_by = Some(v.into_owned()),
            "sortorder" => {
                desc = match v.to_ascii_lowercase().as_str() {
                    "ascending" | "asc" => false,
                    "descending" | "desc" => true,
                    _ => {
                        return Err(ApiError::bad_request(
                            "SortOrder must be Ascending or Descending",
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(f) = sort_by {
        options.sort = vec![(super::query::field_expr(&f)?, desc)];
    } else if desc {
        options.sort = vec![("rid".to_owned(), true)];
    }
    let filter = if ids.is_empty() {
        Value::Object(Map::new())
    } else {
        json!({"id": ids})
    };
    let clause = compile_filter(Some(&filter))?;
    let records = blocking(&st, move |s| s.query_json(&t, &clause, &options)).await?;
    Ok(json_array_response(&records, true))
}
