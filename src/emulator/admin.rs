//! The admin surface, `/_admin/...`: key management, JWTs, the clock, rate
//! limits and faults, for tests and the CLI. Reachable only from loopback
//! and only with the per-start admin token in `X-Petro-Admin-Token`.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /_admin/health` | | `{"ok": true}` |
//! | `POST /_admin/api-keys` | | `{"app_id", "secret_key"}` |
//! | `POST /_admin/api-keys/{app_id}/disable` / `enable` | | `{"ok": true}` (404 if unknown) |
//! | `DELETE /_admin/api-keys/{app_id}` | | `{"ok": true}` (404 if unknown) |
//! | `POST /_admin/petra-keys` | `{"kind": "org" \| "var", "org": id?}` | `{"api_key"}` |
//! | `POST /_admin/petra-keys/delete` | `{"api_key"}` | `{"ok": true}` (404 if unknown) |
//! | `POST /_admin/jwt` | `{"expires_in": seconds?}` | `{"token"}` |
//! | `POST /_admin/clock/advance` | `{"seconds": n}` | `{"now": unix seconds}` |
//! | `POST /_admin/rate-limit` | `{"limit": n \| 0, "per_seconds": 60, "route": path?}` | `{"ok": true}` |
//! | `POST /_admin/faults` | a fault spec (see [`super::faults`]) | `{"id": n}` |
//! | `DELETE /_admin/faults` | | `{"ok": true}` |

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::petra::DEFAULT_ORG;
use super::server::{add_fault_json, AppState};

/// Header carrying the admin token.
pub const ADMIN_TOKEN_HEADER: &str = "x-petro-admin-token";

/// The admin routes, guarded.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/_admin/health",
            get(|| async { Json(json!({"ok": true})) }),
        )
        .route("/_admin/api-keys", post(create_api_key))
        .route(
            "/_admin/api-keys/{app_id}",
            axum::routing::delete(delete_api_key),
        )
        .route("/_admin/api-keys/{app_id}/{action}", post(toggle_api_key))
        .route("/_admin/petra-keys", post(create_petra_key))
        .route("/_admin/petra-keys/delete", post(delete_petra_key))
        .route("/_admin/jwt", post(issue_jwt))
        .route("/_admin/clock/advance", post(advance_clock))
        .route("/_admin/rate-limit", post(rate_limit))
        .route("/_admin/faults", post(add_fault).delete(clear_faults))
        .route_layer(from_fn_with_state(state, guard))
}

async fn guard(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if !peer.ip().is_loopback() {
        return ApiError::forbidden("the admin surface is reachable from loopback only")
            .into_response();
    }
    let token = req
        .headers()
        .get(ADMIN_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = st.auth.admin_token.as_bytes();
    let same = token.len() == expected.len()
        && token
            .bytes()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return ApiError::unauthorized("missing or wrong admin token").into_response();
    }
    next.run(req).await
}

async fn body_json(body: Body) -> Result<Map<String, Value>, ApiError> {
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|_| ApiError::too_large(1 << 20))?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON body: {e}"))),
    }
}

fn ok() -> Response {
    Json(json!({"ok": true})).into_response()
}

async fn create_api_key(State(st): State<Arc<AppState>>) -> Response {
    let (app_id, secret_key) = st.auth.create_api_key();
    Json(json!({"app_id": app_id, "secret_key": secret_key})).into_response()
}

async fn delete_api_key(
    State(st): State<Arc<AppState>>,
    Path(app_id): Path<String>,
) -> Result<Response, ApiError> {
    if st.auth.delete_api_key(&app_id) {
        Ok(ok())
    } else {
        Err(ApiError::not_found("no such App ID"))
    }
}

async fn toggle_api_key(
    State(st): State<Arc<AppState>>,
    Path((app_id, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let enabled = match action.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(ApiError::not_found("action must be enable or disable")),
    };
    if st.auth.set_api_key_enabled(&app_id, enabled) {
        Ok(ok())
    } else {
        Err(ApiError::not_found("no such App ID"))
    }
}

async fn create_petra_key(
    State(st): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body_json(body).await?;
    let multi = match b.get("kind").and_then(Value::as_str).unwrap_or("org") {
        "org" => false,
        "var" => true,
        _ => return Err(ApiError::bad_request("kind must be 'org' or 'var'")),
    };
    let org = b.get("org").and_then(Value::as_str).unwrap_or(DEFAULT_ORG);
    Ok(Json(json!({"api_key": st.auth.create_petra_key(org, multi)})).into_response())
}

async fn delete_petra_key(
    State(st): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body_json(body).await?;
    let key = b
        .get("api_key")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("missing 'api_key'"))?;
    if st.auth.delete_petra_key(key) {
        Ok(ok())
    } else {
        Err(ApiError::not_found("no such API key"))
    }
}

async fn issue_jwt(State(st): State<Arc<AppState>>, body: Body) -> Result<Response, ApiError> {
    let b = body_json(body).await?;
    let expires_in = match b.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| ApiError::bad_request("expires_in must be a number of seconds"))?
                as i64,
        ),
    };
    Ok(Json(json!({"token": st.issue_jwt(expires_in)})).into_response())
}

async fn advance_clock(State(st): State<Arc<AppState>>, body: Body) -> Result<Response, ApiError> {
    let b = body_json(body).await?;
    let secs = b
        .get("seconds")
        .and_then(Value::as_f64)
        .ok_or_else(|| ApiError::bad_request("missing 'seconds' (a number)"))?;
    st.clock.advance(secs);
    Ok(Json(json!({"now": st.clock.now_secs()})).into_response())
}

async fn rate_limit(State(st): State<Arc<AppState>>, body: Body) -> Result<Response, ApiError> {
    let b = body_json(body).await?;
    let limit = match b.get("limit") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= u32::MAX as u64)
            .ok_or_else(|| ApiError::bad_request("limit must be a non-negative integer"))?
            as u32,
    };
    let per = match b.get("per_seconds") {
        None | Some(Value::Null) => 60.0,
        Some(v) => v
            .as_f64()
            .ok_or_else(|| ApiError::bad_request("per_seconds must be a number"))?,
    };
    let route = b.get("route").and_then(Value::as_str).map(str::to_owned);
    st.set_rate_limit(limit, per, route)
        .map_err(ApiError::bad_request)?;
    Ok(ok())
}

async fn add_fault(State(st): State<Arc<AppState>>, body: Body) -> Result<Response, ApiError> {
    let b = body_json(body).await?;
    let id = add_fault_json(&st, &Value::Object(b).to_string()).map_err(ApiError::bad_request)?;
    Ok(Json(json!({"id": id})).into_response())
}

async fn clear_faults(State(st): State<Arc<AppState>>) -> Response {
    st.faults.clear();
    ok()
}
