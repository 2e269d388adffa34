//! The Petra Security API: its seeded organisations, tenants, users and
//! incidents, and the handlers for `usage`, `billable-users`, `incidents`,
//! `tenants` and `usage-xlsx`, each served under `/beta/` and `/v1/`.
//!
//! Petra's data is read-only and always present (it is small); the
//! `sample_data` option only concerns the Petro.ai store.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::auth::PetraKey;
use super::dates::{
    days_in_month, format_date, format_datetime, parse_date, parse_date_or_datetime,
};
use super::error::ApiError;
use super::sample::Rng;
use super::server::AppState;

/// The organisation the emulator's default Petra keys belong to.
pub const DEFAULT_ORG: &str = "org_emulated_msp";
/// A second organisation, so "tenant of another organisation" can be tested.
pub const OTHER_ORG: &str = "org_northwind";

const SKUS: &[&str] = &[
    "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
    "05e9a617-0261-4cee-bb44-138d3ef5d965",
    "3b555118-da6a-4418-894f-7df1e2096870",
];

/// A Petra organisation (an MSP).
#[derive(Debug, Clone)]
pub struct Org {
    /// Organisation id.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
}

/// A customer tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    petra_id: String,
    ms_id: String,
    name: String,
    org_id: &'static str,
    onboarding: i64,
    first_billable: i64,
    paused: bool,
    service: &'static str,
    users: Vec<User>,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    display_name: String,
    upn: String,
    enabled: bool,
    skus: Vec<&'static str>,
    deleted: bool,
    last_password_change: i64,
}

#[derive(Debug, Clone)]
struct Incident {
    id: String,
    tenant: usize,
    user: usize,
    created: i64,
    occurred: i64,
    status: &'static str,
    live: bool,
    dwell_minutes: i64,
}

/// All of Petra's seeded data.
#[derive(Debug, Clone)]
pub struct PetraData {
    orgs: Vec<Org>,
    tenants: Vec<Tenant>,
    /// Newest first.
    incidents: Vec<Incident>,
}

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

const FIRST: &[&str] = &[
    "Alex", "Jordan", "Sam", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
    "Maria", "Wei", "Priya", "Omar", "Elena", "Kenji", "Fatima", "Lucas", "Ana", "David",
];
const LAST: &[&str] = &[
    "Smith", "Garcia", "Chen", "Patel", "Johnson", "Nguyen", "Kim", "Lopez", "Brown", "Davis",
    "Martinez", "Wilson", "Khan", "Silva", "Müller", "Rossi", "Ito", "Okafor", "Novak", "Evans",
];

impl PetraData {
    /// Generate the data for `seed`.
    pub fn generate(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x0050_4554_5241);
        let orgs = vec![
            Org {
                id: DEFAULT_ORG,
                name: "Emulated MSP",
            },
            Org {
                id: OTHER_ORG,
                name: "Northwind MSP",
            },
        ];
        let names: &[(&str, &'static str)] = &[
            ("Juniper Accounting", DEFAULT_ORG),
            ("Acme Logistics", DEFAULT_ORG),
            ("Harbor View Hotels", DEFAULT_ORG),
            ("Blue Ridge Dental", DEFAULT_ORG),
            ("Granite Peak Builders", DEFAULT_ORG),
            ("Cedar Creek Schools", DEFAULT_ORG),
            ("Evergreen Law Group", DEFAULT_ORG),
            ("Fairview Clinic", DEFAULT_ORG),
            ("Ironwood Manufacturing", DEFAULT_ORG),
            ("Delta Freight Co", DEFAULT_ORG),
            ("Northwind Traders", OTHER_ORG),
            ("Oakridge Realty", OTHER_ORG),
        ];
        let mut tenants = Vec::new();
        for (i, (name, org)) in names.iter().enumerate() {
            let onboarding = parse_date("2023-01-10").unwrap_or(0) + rng.int(0, 700);
            let domain: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            let n_users = rng.int(6, 30) as usize;
            let mut users = Vec::with_capacity(n_users);
            for _ in 0..n_users {
                let f = *rng.pick(FIRST);
                let l = *rng.pick(LAST);
                let upn = format!(
                    "{}.{}{}@{domain}.onmicrosoft.com",
                    f.to_lowercase(),
                    l.to_lowercase(),
                    rng.int(1, 99)
                );
                let licensed = rng.unit() < 0.8;
                let skus = if licensed {
                    let mut s = vec![*rng.pick(SKUS)];
                    if rng.unit() < 0.2 {
                        s.push(SKUS[2]);
                    }
                    s.dedup();
                    s
                } else {
                    vec![]
                };
                users.push(User {
                    id: uuid(&mut rng),
                    display_name: format!("{f} {l}"),
                    upn,
                    enabled: rng.unit() < 0.93,
                    skus,
                    deleted: rng.unit() < 0.05,
                    last_password_change: onboarding * 86_400 + rng.int(0, 500 * 86_400),
                });
            }
            tenants.push(Tenant {
                petra_id: format!("ten_{}", &rng.hex_id()[..16]),
                ms_id: uuid(&mut rng),
                name: (*name).to_owned(),
                org_id: org,
                onboarding,
                first_billable: onboarding + 30,
                paused: i == 6,
                service: if rng.unit() < 0.7 {
                    "Petra Protect"
                } else {
                    "Petra Protect Plus"
                },
                users,
            });
        }
        let start = parse_date("2024-06-01").unwrap_or(0) * 86_400;
        let end = parse_date("2026-01-01").unwrap_or(0) * 86_400;
        let statuses = [
            "remediated",
            "remediated",
            "remediated",
            "in_progress",
            "pending",
            "dismissed",
        ];
        let mut incidents = Vec::new();
        for (ti, t) in tenants.iter().enumerate() {
            let n = rng.int(5, 40);
            for _ in 0..n {
                let created = rng.int(start, end - 1);
                let dwell = rng.int(1, 600);
                let status = *rng.pick(&statuses);
                incidents.push(Incident {
                    id: format!("inc_{}", rng.hex_id()),
                    tenant: ti,
                    user: rng.int(0, t.users.len() as i64 - 1) as usize,
                    created,
                    occurred: created - dwell * 60,
                    status,
                    live: status == "pending" || status == "in_progress",
                    dwell_minutes: dwell,
                });
            }
        }
        incidents.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Self {
            orgs,
            tenants,
            incidents,
        }
    }

    fn org_name(&self, id: &str) -> &str {
        self.orgs
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.name)
            .unwrap_or("")
    }

    fn tenants_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = (usize, &'a Tenant)> + 'a {
        self.tenants
            .iter()
            .enumerate()
            .filter(move |(_, t)| t.org_id == org)
    }

    /// A tenant of `org` by Petra or Microsoft id.
    fn find_tenant<'a>(&'a self, org: &'a str, id: &str) -> Option<(usize, &'a Tenant)> {
        self.tenants_of(org)
            .find(|(_, t)| t.petra_id == id || t.ms_id.eq_ignore_ascii_case(id))
    }
}

impl User {
    fn billable(&self) -> bool {
        !self.skus.is_empty() && !self.deleted
    }
}

type Params = Query<HashMap<String, String>>;

fn is_v1(uri: &OriginalUri) -> bool {
    uri.path().starts_with("/v1/")
}

fn as_of(st: &AppState, params: &HashMap<String, String>) -> Result<i64, ApiError> {
    match params.get("asOf") {
        None => Ok(st.clock.now_secs().div_euclid(86_400)),
        Some(s) if s.is_empty() => Ok(st.clock.now_secs().div_euclid(86_400)),
        Some(s) => parse_date(s)
            .ok_or_else(|| ApiError::bad_request("asOf must be a date in the form YYYY-MM-DD")),
    }
}

struct UsageRow {
    tenant: Value,
    cells: Vec<Value>,
}

fn usage_rows(st: &AppState, org: &str, day: i64) -> Vec<UsageRow> {
    let (y, m, d) = super::dates::civil_from_days(day);
    let dim = days_in_month(y, m) as f64;
    let month_start = day - (d as i64 - 1);
    let mut rows = Vec::new();
    for (_, t) in st.petra.tenants_of(org) {
        if t.onboarding > day {
            continue;
        }
        let status = if t.paused {
            "paused"
        } else if t.first_billable > day {
            "trial"
        } else {
            "billable"
        };
        let licensed = t
            .users
            .iter()
            .filter(|u| !u.skus.is_empty() && !u.deleted)
            .count();
        let billable = if status == "billable" {
            t.users.iter().filter(|u| u.billable()).count()
        } else {
            0
        };
        let prorating = if status != "billable" {
            0.0
        } else if t.first_billable >= month_start {
            let (_, _, fd) = super::dates::civil_from_days(t.first_billable);
            ((dim - fd as f64 + 1.0) / dim * 10_000.0).round() / 100.0
        } else {
            100.0
        };
        let tenant = json!({
            "petraTenantId": t.petra_id,
            "microsoftTenantId": t.ms_id,
            "onboardingDate": format_date(t.onboarding),
            "displayName": t.name,
            "service": t.service,
            "isPaused": t.paused,
            "firstBillableDate": format_date(t.first_billable),
            "billableStatus": status,
            "totalLicensedUsers": licensed,
            "billableUsersThisMonth": billable,
            "proratingPercentageThisMonth": prorating,
        });
        let cells = tenant
            .as_object()
            .map(|o| o.values().cloned().collect())
            .unwrap_or_default();
        rows.push(UsageRow { tenant, cells });
    }
    rows
}

/// `GET usage?asOf=YYYY-MM-DD`.
pub async fn usage(
    State(st): State<Arc<AppState>>,
    Extension(key): Extension<PetraKey>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let day = as_of(&st, &params)?;
    let rows = usage_rows(&st, &key.org_id, day);
    Ok(Json(json!({
        "asOf": format_date(day),
        "reportGeneratedAt": format_datetime(st.clock.now_secs()),
        "organizationName": st.petra.org_name(&key.org_id),
        "totalTenants": rows.len(),
        "tenants": rows.into_iter().map(|r| r.tenant).collect::<Vec<_>>(),
    }))
    .into_response())
}

fn required_tenant<'a>(
    st: &'a AppState,
    key: &'a PetraKey,
    params: &HashMap<String, String>,
) -> Result<Option<(usize, &'a Tenant)>, ApiError> {
    match params.get("tenantId").map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(id) => st
            .petra
            .find_tenant(&key.org_id, id)
            .map(Some)
            .ok_or_else(|| ApiError::not_found("tenant not found (tenantId)")),
    }
}

/// `GET billable-users?tenantId=...`.
pub async fn billable_users(
    State(st): State<Arc<AppState>>,
    Extension(key): Extension<PetraKey>,
    uri: OriginalUri,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let Some((_, t)) = required_tenant(&st, &key, &params)? else {
        return Err(ApiError::bad_request("the tenantId parameter is required"));
    };
    let users: Vec<Value> = t
        .users
        .iter()
        .filter(|u| u.billable())
        .map(|u| {
            json!({
                "id": u.id,
                "displayName": u.display_name,
                "userPrincipalName": u.upn,
                "mail": u.upn.replace(".onmicrosoft.com", ".com"),
                "accountEnabled": u.enabled,
                "assignedLicenseSkuIds": u.skus,
            })
        })
        .collect();
    let mut body = serde_json::Map::new();
    body.insert("tenantId".into(), json!(t.petra_id));
    body.insert("tenantDisplayName".into(), json!(t.name));
    body.insert("microsoftTenantId".into(), json!(t.ms_id));
    body.insert(
        "reportGeneratedAt".into(),
        json!(format_datetime(st.clock.now_secs())),
    );
    body.insert("totalBillableUsers".into(), json!(users.len()));
    if is_v1(&uri) {
        let units = if t.paused { 0 } else { users.len() };
        body.insert("projectedBillableUnitsThisMonth".into(), json!(units));
    }
    body.insert("users".into(), Value::Array(users));
    Ok(Json(Value::Object(body)).into_response())
}

/// `GET incidents?tenantId=&startDate=&limit=` (newest first).
pub async fn incidents(
    State(st): State<Arc<AppState>>,
    Extension(key): Extension<PetraKey>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let tenant = required_tenant(&st, &key, &params)?.map(|(i, _)| i);
    let start = match params.get("startDate").map(|s| s.trim()) {
        None | Some("") => None,
        Some(s) => Some(parse_date_or_datetime(s).ok_or_else(|| {
            ApiError::bad_request("startDate must be a date (YYYY-MM-DD) or an ISO 8601 date-time")
        })?),
    };
    let limit = match params.get("limit").map(|s| s.trim()) {
        None | Some("") => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n as usize,
            _ => {
                return Err(ApiError::bad_request(
                    "limit must be an integer from 1 to 500",
                ))
            }
        },
    };
    let out: Vec<Value> = st
        .petra
        .incidents
        .iter()
        .filter(|i| st.petra.tenants[i.tenant].org_id == key.org_id)
        .filter(|i| tenant.is_none_or(|t| t == i.tenant))
        .filter(|i| start.is_none_or(|s| i.created >= s))
        .take(limit)
        .map(|i| {
            let t = &st.petra.tenants[i.tenant];
            let u = t.users.get(i.user);
            json!({
                "id": i.id,
                "url": format!("https://app.petrasecurity.com/incidents/{}", i.id),
                "createdAt": format_datetime(i.created),
                "occurredAt": format_datetime(i.occurred),
                "remediationStatus": i.status,
                "isLive": i.live,
                "dwellTimeMinutes": i.dwell_minutes,
                "tenant": {
                    "petraTenantId": t.petra_id,
                    "name": t.name,
                    "microsoftTenantId": t.ms_id,
                },
                "user": u.map(|u| json!({
                    "id": u.id,
                    "userPrincipalName": u.upn,
                    "mail": u.upn.replace(".onmicrosoft.com", ".com"),
                    "displayName": u.display_name,
                    "accountEnabled": u.enabled,
                    "lastPasswordChangeDateTime": format_datetime(u.last_password_change),
                })),
            })
        })
        .collect();
    Ok(Json(json!({ "incidents": out })).into_response())
}

/// `GET tenants` (sorted by name).
pub async fn tenants(
    State(st): State<Arc<AppState>>,
    Extension(key): Extension<PetraKey>,
) -> Result<Response, ApiError> {
    let mut list: Vec<&Tenant> = st.petra.tenants_of(&key.org_id).map(|(_, t)| t).collect();
    list.sort_by_key(|t| t.name.to_lowercase());
    let tenants: Vec<Value> = list
        .iter()
        .map(|t| {
            json!({
                "petraTenantId": t.petra_id,
                "name": t.name,
                "microsoftTenantId": t.ms_id,
                "isPaused": t.paused,
                "onboardingDate": format_date(t.onboarding),
            })
        })
        .collect();
    Ok(Json(json!({"totalTenants": tenants.len(), "tenants": tenants})).into_response())
}

/// Content type of `usage-xlsx`.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `GET usage-xlsx?asOf=` (Multi-MSP `petra_var_` keys only).
pub async fn usage_xlsx(
    State(st): State<Arc<AppState>>,
    Extension(key): Extension<PetraKey>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    if !key.multi_msp {
        return Err(ApiError::forbidden(
            "usage-xlsx needs a Multi-MSP (petra_var_) API key",
        ));
    }
    let day = as_of(&st, &params)?;
    let rows = usage_rows(&st, &key.org_id, day);
    let org = st.petra.org_name(&key.org_id).to_owned();
    let bytes = tokio::task::spawn_blocking(move || usage_workbook(&org, day, &rows))
        .await
        .map_err(|e| ApiError::internal(format!("xlsx task failed: {e}")))??;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(XLSX_CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"petra-usage-{}.xlsx\"",
        format_date(day)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn usage_workbook(org: &str, day: i64, rows: &[UsageRow]) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| ApiError::internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("Usage").map_err(err)?;
    ws.write_string_with_format(0, 0, "Organization", &bold)
        .map_err(err)?;
    ws.write_string(0, 1, org).map_err(err)?;
    ws.write_string_with_format(1, 0, "As of", &bold)
        .map_err(err)?;
    ws.write_string(1, 1, format_date(day)).map_err(err)?;
    let headers = [
        "petraTenantId",
        "microsoftTenantId",
        "onboardingDate",
        "displayName",
        "service",
        "isPaused",
        "firstBillableDate",
        "billableStatus",
        "totalLicensedUsers",
        "billableUsersThisMonth",
        "proratingPercentageThisMonth",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(3, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = 4 + r as u32;
        for (c, v) in row.cells.iter().enumerate() {
            let c = c as u16;
            match v {
                Value::Number(n) => {
                    ws.write_number(r, c, n.as_f64().unwrap_or(0.0))
                        .map_err(err)?;
                }
                Value::Bool(b) => {
                    ws.write_boolean(r, c, *b).map_err(err)?;
                }
                Value::String(s) => {
                    ws.write_string(r, c, s).map_err(err)?;
                }
                other => {
                    ws.write_string(r, c, other.to_string()).map_err(err)?;
                }
            }
        }
    }
    wb.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        let a = PetraData::generate(1);
        let b = PetraData::generate(1);
        assert_eq!(a.tenants[0].petra_id, b.tenants[0].petra_id);
        assert!(a.tenants_of(DEFAULT_ORG).count() >= 5);
        assert!(a.tenants_of(OTHER_ORG).count() >= 1);
        assert!(a.incidents.windows(2).all(|w| w[0].created >= w[1].created));
    }

    #[test]
    fn workbook_is_zip() {
        let bytes = usage_workbook("Org", 20_000, &[]).unwrap_or_default();
        assert!(bytes.starts_with(b"PK"));
    }
}
