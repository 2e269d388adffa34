//! The emulator's HTTP server: configuration, shared state, the axum router
//! and its layers (faults, v4 error quirks, authentication, rate limits), and
//! the [`Emulator`] handle that starts it on the shared tokio runtime and
//! stops it cleanly.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::auth::{Auth, Principal, JWT_LIFETIME_SECS};
use super::clock::Clock;
use super::error::{ApiError, EmulatorError, ErrorMark};
use super::faults::Faults;
use super::petra::{self, PetraData, DEFAULT_ORG};
use super::ratelimit::{RateLimits, Rule};
use super::sample::{self, SampleSize};
use super::store::Store;
use super::{admin, petro};

/// Shape of `/api/data/query` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseShape {
    /// A bare JSON list (default).
    #[default]
    List,
    /// `{"data": [...], "count": n}`.
    Envelope,
}

impl std::str::FromStr for ResponseShape {
    type Err = EmulatorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "list" => Ok(Self::List),
            "envelope" => Ok(Self::Envelope),
            other => Err(EmulatorError::Config(format!(
                "response_shape must be 'list' or 'envelope', not '{other}'"
            ))),
        }
    }
}

/// How Petro.ai failures are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// Real status codes with `{"error", "message"}` (default).
    #[default]
    Strict,
    /// The v4 quirk: every failure is `200` with `{"message"}`.
    V4,
}

impl std::str::FromStr for ErrorMode {
    type Err = EmulatorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" => Ok(Self::Strict),
            "v4" => Ok(Self::V4),
            other => Err(EmulatorError::Config(format!(
                "errors must be 'strict' or 'v4', not '{other}'"
            ))),
        }
    }
}

/// Default request body limit: 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 << 20;

/// Emulator options.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (default `127.0.0.1`).
    pub host: String,
    /// Port (0 = a free one).
    pub port: u16,
    /// Directory for the SQLite file; `None` keeps data in memory.
    pub data_dir: Option<PathBuf>,
    /// Load the seeded sample data into an empty store.
    pub sample_data: bool,
    /// How much sample data.
    pub sample_size: SampleSize,
    /// Seed for sample data.
    pub seed: u64,
    /// Shape of query answers.
    pub response_shape: ResponseShape,
    /// Error reporting mode.
    pub errors: ErrorMode,
    /// Rate limit for every route: `(requests, per seconds)`; `None` = off.
    pub rate_limit: Option<(u32, f64)>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: None,
            sample_data: true,
            sample_size: SampleSize::default(),
            seed: 42,
            response_shape: ResponseShape::List,
            errors: ErrorMode::Strict,
            rate_limit: None,
            max_body_bytes: DEFAULT_MAX_BODY,
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Options in force.
    pub config: Config,
    /// The Petro.ai records.
    pub store: Arc<Store>,
    /// Credentials.
    pub auth: Auth,
    /// The movable clock.
    pub clock: Clock,
    /// Petra's data.
    pub petra: PetraData,
    /// Rate limits.
    pub limits: RateLimits,
    /// Injected faults.
    pub faults: Faults,
    /// Set to true when the emulator starts stopping (cuts trickled bodies).
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// Set (or with `limit == 0` remove) a rate limit.
    pub fn set_rate_limit(
        &self,
        limit: u32,
        per_seconds: f64,
        route: Option<String>,
    ) -> Result<(), String> {
        if !(per_seconds.is_finite() && per_seconds > 0.0) {
            return Err("per_seconds must be a positive number".into());
        }
        self.limits.set(Rule {
            route,
            limit,
            per_ms: (per_seconds * 1000.0).round().max(1.0) as i64,
        });
        Ok(())
    }

    /// Issue a JWT (default lifetime four hours).
    pub fn issue_jwt(&self, expires_in: Option<i64>) -> String {
        self.auth.issue_jwt(
            self.clock.now_secs(),
            expires_in.unwrap_or(JWT_LIFETIME_SECS),
        )
    }
}

/// The credentials an emulator starts with.
#[derive(Clone)]
pub struct Credentials {
    /// Petro.ai App ID.
    pub app_id: String,
    /// Petro.ai Secret Key.
    pub secret_key: String,
    /// Petra organisation key (`petra_...`).
    pub petra_api_key: String,
    /// Petra Multi-MSP key (`petra_var_...`).
    pub petra_var_api_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

struct Running {
    shutdown: tokio::sync::oneshot::Sender<()>,
    done: std::sync::mpsc::Receiver<()>,
    task: tokio::task::JoinHandle<()>,
}

/// A running emulator. Dropping it stops it.
pub struct Emulator {
    state: Arc<AppState>,
    addr: SocketAddr,
    credentials: Credentials,
    running: Option<Running>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.url())
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Open the store (loading sample data if asked), bind the socket and
    /// start serving on the shared runtime.
    pub fn start(config: Config) -> Result<Self, EmulatorError> {
        let store = Store::open(config.data_dir.as_deref())?;
        if config.sample_data && store.total()? == 0 {
            sample::load(&store, config.seed, config.sample_size)?;
        }
        store.ensure_indexes()?;
        let auth = Auth::new();
        let (app_id, secret_key) = auth.create_api_key();
        let credentials = Credentials {
            app_id,
            secret_key,
            petra_api_key: auth.create_petra_key(DEFAULT_ORG, false),
            petra_var_api_key: auth.create_petra_key(DEFAULT_ORG, true),
        };
        let state = Arc::new(AppState {
            petra: PetraData::generate(config.seed),
            store: Arc::new(store),
            auth,
            clock: Clock::default(),
            limits: RateLimits::default(),
            faults: Faults::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            config: config.clone(),
        });
        if let Some((limit, per)) = config.rate_limit {
            state
                .set_rate_limit(limit, per, None)
                .map_err(EmulatorError::Config)?;
        }

        let listener = StdListener::bind((config.host.as_str(), config.port))?;
        listener.set_nonblocking(true)?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let rt = crate::runtime::get()?;
        let _enter = rt.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = router(state.clone());
        let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let task = rt.spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            });
            let _ = serve.await;
            let _ = done_tx.send(());
        });
        Ok(Self {
            state,
            addr,
            credentials,
            running: Some(Running {
                shutdown,
                done,
                task,
            }),
        })
    }

    /// Base URL serving both services, e.g. `http://127.0.0.1:8123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The starting credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The shared state (for the admin operations).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// True until [`Emulator::stop`].
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Stop serving: stop accepting, let requests in flight finish (at most
    /// `grace`), then cut what is left. Idempotent. Blocks the calling
    /// thread, so call it from outside the runtime.
    pub fn stop_with_grace(&mut self, grace: Duration) {
        if let Some(r) = self.running.take() {
            self.state.stopping.send_replace(true);
            let _ = r.shutdown.send(());
            if r.done.recv_timeout(grace).is_err() {
                r.task.abort();
                let _ = r.done.recv_timeout(Duration::from_secs(1));
            }
        }
    }

    /// [`Emulator::stop_with_grace`] with a 3-second grace period.
    pub fn stop(&mut self) {
        self.stop_with_grace(Duration::from_secs(3));
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Build the router for `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let not_allowed = || async {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route",
        )
    };
    let petro = Router::new()
        .route(
            "/api/data",
            post(petro::insert)
                .put(petro::upsert)
                .patch(petro::patch)
                .delete(petro::delete)
                .fallback(not_allowed),
        )
        .route("/api/data/query", post(petro::query).fallback(not_allowed))
        .route("/api/data/schema", get(petro::schema).fallback(not_allowed))
        .route("/api/data/types", get(petro::types).fallback(not_allowed))
        .route(
            "/api/{collection}",
            get(petro::legacy_collection).fallback(not_allowed),
        )
        .route_layer(from_fn_with_state(state.clone(), petro_auth));
    let mut petra_routes = Router::new();
    for prefix in ["/beta", "/v1"] {
        petra_routes = petra_routes
            .route(
                &format!("{prefix}/usage"),
                get(petra::usage).fallback(not_allowed),
            )
            .route(
                &format!("{prefix}/billable-users"),
                get(petra::billable_users).fallback(not_allowed),
            )
            .route(
                &format!("{prefix}/incidents"),
                get(petra::incidents).fallback(not_allowed),
            )
            .route(
                &format!("{prefix}/tenants"),
                get(petra::tenants).fallback(not_allowed),
            )
            .route(
                &format!("{prefix}/usage-xlsx"),
                get(petra::usage_xlsx).fallback(not_allowed),
            );
    }
    let petra_routes = petra_routes.route_layer(from_fn_with_state(state.clone(), petra_auth));
    Router::new()
        .merge(petro)
        .merge(petra_routes)
        .merge(admin::router(state.clone()))
        .fallback(|req: Request| async move {
            ApiError::not_found(format!(
                "no route for {} {}",
                req.method(),
                req.uri().path()
            ))
        })
        .layer(from_fn_with_state(state.clone(), v4_quirks))
        .layer(from_fn_with_state(state.clone(), inject_faults))
        .with_state(state)
}

fn authorization(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

fn rate_check(st: &AppState, req: &Request, who: &Principal) -> Result<(), ApiError> {
    st.limits
        .check(req.uri().path(), &who.0, st.clock.now_ms())
        .map_err(ApiError::rate_limited)
}

async fn petro_auth(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let who = match st
        .auth
        .check_petro(authorization(&req), st.clock.now_secs())
    {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = rate_check(&st, &req, &who) {
        return e.into_response();
    }
    req.extensions_mut().insert(who);
    next.run(req).await
}

async fn petra_auth(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let (who, key) = match st.auth.check_petra(authorization(&req)) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = rate_check(&st, &req, &who) {
        return e.into_response();
    }
    req.extensions_mut().insert(key);
    next.run(req).await
}

async fn v4_quirks(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let petro_route = req.uri().path().starts_with("/api/") || req.uri().path() == "/api";
    let resp = next.run(req).await;
    if st.config.errors != ErrorMode::V4 || !petro_route {
        return resp;
    }
    match resp.extensions().get::<ErrorMark>() {
        Some(mark) => (StatusCode::OK, Json(json!({"message": mark.message}))).into_response(),
        None => resp,
    }
}

async fn inject_faults(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_admin") {
        return next.run(req).await;
    }
    let Some(kind) = st.faults.take(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    if let super::faults::FaultKind::Delay { delay_ms } = kind {
        let mut stopping = st.stopping.subscribe();
        if !super::faults::sleep_unless_stopping(Duration::from_millis(delay_ms), &mut stopping)
            .await
        {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                "emulator stopping",
            )
            .into_response();
        }
        return next.run(req).await;
    }
    if let Some(resp) = super::faults::answer_alone(&kind) {
        // Read the request body first: closing a socket with unread input
        // makes the kernel reset the connection, cutting our own answer.
        let _ = axum::body::to_bytes(req.into_body(), st.config.max_body_bytes).await;
        return resp;
    }
    let resp = next.run(req).await;
    super::faults::wrap(&kind, resp, st.stopping.subscribe()).await
}

/// Parse and add a fault from JSON.
pub fn add_fault_json(st: &AppState, spec: &str) -> Result<u64, String> {
    st.faults.add(super::faults::parse_spec(spec)?)
}
