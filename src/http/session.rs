//! Sessions and connection pools: sending a request, following redirects,
//! keeping cookies.
//!
//! A [`Pool`] holds one client per combination of transport options
//! (TLS verification, client certificate, proxy, timeouts): each has its own
//! keep-alive connections. Plain HTTP without a proxy goes through
//! [`super::direct`] (hyper without reqwest's layers); TLS and proxies through
//! reqwest. Pools notice a `fork()` (the pid changes) and start
//! over, leaking the parent's clients, whose sockets belong to the parent's
//! runtime. A [`Session`] adds a cookie jar; many sessions can share one pool.
//! Redirects are followed here, not by reqwest, so that requests' method
//! rules and credential stripping apply and every hop lands in `history`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cookie_store::CookieStore;
use http::header::{HeaderValue, CONTENT_LENGTH, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, Method};
use url::Url;

use super::direct::{BodyFailure, Direct, SendFailure};
use super::error::{chain_any, chain_has_tls, source_chain, Error, ErrorKind, Result};
use super::request::{RequestSpec, Timeouts};
use super::response::{BodyStream, Response, SentRequest};
use super::retry::{self, Attempt, RetryAfter, RetryPolicy};
use super::tls::{self, ClientCert, Verify};
use super::{proxy, redirect, url_util};

/// Most clients one pool keeps (distinct option combinations).
const MAX_CLIENTS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    verify: Verify,
    cert: Option<ClientCert>,
    proxy: Option<String>,
    timeouts: Timeouts,
    /// Opened on the current-thread (blocking) runtime: its connections are
    /// driven only there, so it never serves the multi-thread runtime.
    blocking: bool,
    /// May need TLS (an https URL, or any proxy). A plain-HTTP client skips
    /// loading the trust store and CA bundles (milliseconds on the first
    /// request), and, as in requests, `verify` and `cert` do not apply to it.
    tls: bool,
}

/// One pooled client: reqwest's, or the direct plain-HTTP one.
#[derive(Clone)]
enum Transport {
    Reqwest(reqwest::Client),
    Direct(Arc<Direct>),
}

struct PoolInner {
    pid: u32,
    clients: HashMap<ClientKey, Transport>,
    /// The client found last, looked at first: a batch asks for the same one
    /// for every request (a key compare, not a SipHash of the key each time).
    last: Option<(ClientKey, Transport)>,
}

/// Keep-alive connections, shared by any number of sessions.
pub struct Pool {
    inner: Mutex<PoolInner>,
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

impl Pool {
    pub fn new() -> Self {
        Pool {
            inner: Mutex::new(PoolInner {
                pid: std::process::id(),
                clients: HashMap::new(),
                last: None,
            }),
        }
    }

    /// Drop every idle connection.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clients.clear();
        inner.last = None;
    }

    fn client(&self, key: &ClientKey) -> Result<Transport> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Recorded by the runtime lookup that preceded this request's wait or
        // spawn: no `getpid` per request.
        let pid = crate::runtime::pid();
        if inner.pid != pid {
            // Forked: the parent's connections are not ours to use or close.
            let old = std::mem::take(&mut inner.clients);
            std::mem::forget(old);
            std::mem::forget(inner.last.take());
            inner.pid = pid;
        }
        if let Some((k, client)) = &inner.last {
            if k == key {
                return Ok(client.clone());
            }
        }
        let client = match inner.clients.get(key) {
            Some(client) => client.clone(),
            None => {
                let client = build_client(key)?;
                if inner.clients.len() >= MAX_CLIENTS {
                    inner.clients.clear();
                }
                inner.clients.insert(key.clone(), client.clone());
                client
            }
        };
        inner.last = Some((key.clone(), client.clone()));
        Ok(client)
    }
}

/// `PETRO_TRANSPORT=reqwest` sends plain HTTP through reqwest too (the
/// transport before session 10; for comparisons and as a way back).
fn direct_allowed() -> bool {
    static ALLOWED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ALLOWED.get_or_init(|| {
        std::env::var("PETRO_TRANSPORT")
            .map(|v| !v.trim().eq_ignore_ascii_case("reqwest"))
            .unwrap_or(true)
    })
}

fn build_client(key: &ClientKey) -> Result<Transport> {
    if !key.tls && key.proxy.is_none() && direct_allowed() {
        return Ok(Transport::Direct(Arc::new(Direct::new(key.timeouts))));
    }
    build_reqwest(key).map(Transport::Reqwest)
}

fn build_reqwest(key: &ClientKey) -> Result<reqwest::Client> {
    let tls = match key.tls {
        true => tls::client_config(&key.verify, key.cert.as_ref())?,
        false => tls::plain_config()?,
    };
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .http1_title_case_headers()
        .tls_backend_preconfigured(tls);
    if !key.tls {
        // reqwest retries HTTP/2 protocol NACKs (GOAWAY, REFUSED_STREAM), and to
        // be able to, copies every request's headers first. Plain HTTP here is
        // always HTTP/1.1, where there is nothing to retry: no copy. (petro's
        // own retries are in `Session::execute`.)
        builder = builder.retry(reqwest::retry::never().max_retries_per_request(0));
    }
    if let Some(proxy) = &key.proxy {
        let p = reqwest::Proxy::all(proxy.as_str()).map_err(|_| {
            Error::new(
                ErrorKind::Proxy,
                format!("Invalid proxy URL '{}'", url_util::redact_str(proxy)),
            )
        })?;
        builder = builder.proxy(p);
    }
    if let Some(t) = key.timeouts.connect {
        builder = builder.connect_timeout(t);
    }
    if let Some(t) = key.timeouts.read {
        builder = builder.read_timeout(t);
    }
    builder.build().map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("Could not build the HTTP client: {}", source_chain(&e)),
        )
    })
}

/// A cookie jar plus a (possibly shared) pool.
pub struct Session {
    pool: Arc<Pool>,
    jar: Mutex<CookieStore>,
    /// Cookies set without a domain: sent to every host, as in requests.
    any_domain: Mutex<Vec<(String, String)>>,
}

/// One stored cookie, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieInfo {
    pub name: String,
    pub value: String,
    pub domain: String,
    pub path: String,
}

impl Session {
    pub fn new(pool: Arc<Pool>) -> Self {
        Session {
            pool,
            jar: Mutex::new(CookieStore::default()),
            any_domain: Mutex::new(Vec::new()),
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Every cookie in the jar.
    pub fn cookies(&self) -> Vec<CookieInfo> {
        let mut out: Vec<CookieInfo> = self
            .any_domain
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, v)| CookieInfo {
                name: n.clone(),
                value: v.clone(),
                domain: String::new(),
                path: "/".to_string(),
            })
            .collect();
        let jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
        for c in jar.iter_unexpired() {
            let domain = match &c.domain {
                cookie_store::CookieDomain::HostOnly(d) | cookie_store::CookieDomain::Suffix(d) => {
                    d.clone()
                }
                _ => String::new(),
            };
            out.push(CookieInfo {
                name: c.name().to_string(),
                value: c.value().to_string(),
                domain,
                path: String::from(&c.path),
            });
        }
        out
    }

    /// Set a cookie; an empty domain means "every host".
    pub fn set_cookie(&self, name: &str, value: &str, domain: &str, path: &str) -> Result<()> {
        if domain.is_empty() {
            let mut any = self.any_domain.lock().unwrap_or_else(|e| e.into_inner());
            any.retain(|(n, _)| n != name);
            any.push((name.to_string(), value.to_string()));
            return Ok(());
        }
        let url = Url::parse(&format!(
            "http://{}{}",
            domain.trim_start_matches('.'),
            path
        ))
        .map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!("Invalid cookie domain {domain:?}: {e}"),
            )
        })?;
        let raw = cookie::Cookie::build((name.to_string(), value.to_string()))
            .domain(domain.to_string())
            .path(path.to_string())
            .build();
        let mut jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
        jar.insert_raw(&raw, &url).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!("Cookie {name:?} was refused: {e}"),
            )
        })?;
        Ok(())
    }

    /// Remove cookies by name (all domains when `domain` is None).
    pub fn remove_cookie(&self, name: &str, domain: Option<&str>) {
        self.any_domain
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(n, _)| n != name);
        let mut jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
        let matches: Vec<(String, String)> = jar
            .iter_unexpired()
            .filter(|c| c.name() == name)
            .filter_map(|c| match &c.domain {
                cookie_store::CookieDomain::HostOnly(d) | cookie_store::CookieDomain::Suffix(d) => {
                    Some((d.clone(), String::from(&c.path)))
                }
                _ => None,
            })
            .filter(|(d, _)| {
                domain
                    .map(|want| want.trim_start_matches('.') == d)
                    .unwrap_or(true)
            })
            .collect();
        for (d, p) in matches {
            jar.remove(&d, &p, name);
        }
    }

    pub fn clear_cookies(&self) {
        self.jar.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.any_domain
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn cookie_header(&self, url: &Url, per_request: &[(String, String)]) -> Option<String> {
        let mut pairs: Vec<(String, String)> = self
            .any_domain
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        {
            let jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
            for (n, v) in jar.get_request_values(url) {
                pairs.retain(|(k, _)| k != n);
                pairs.push((n.to_string(), v.to_string()));
            }
        }
        for (n, v) in per_request {
            pairs.retain(|(k, _)| k != n);
            pairs.push((n.clone(), v.clone()));
        }
        if pairs.is_empty() {
            return None;
        }
        Some(
            pairs
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    fn store_cookies(&self, url: &Url, headers: &HeaderMap) {
        let cookies: Vec<cookie::Cookie<'static>> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|s| cookie::Cookie::parse(s.to_string()).ok())
            .collect();
        if cookies.is_empty() {
            return;
        }
        let mut jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
        jar.store_response_cookies(cookies.into_iter(), url);
    }

    /// Send a request, retrying as its policy says, following redirects as
    /// requests does.
    pub async fn execute(&self, spec: RequestSpec) -> Result<Response> {
        let policy = spec.retry.clone().filter(|p| p.max_retries > 0);
        let allowed = spec
            .idempotent
            .unwrap_or_else(|| retry::is_idempotent(&spec.method));
        let Some(policy) = policy.filter(|_| allowed) else {
            let started = Instant::now();
            let mut resp = self.send(spec).await?;
            resp.attempts.push(Attempt {
                status: Some(resp.status),
                error: None,
                elapsed: started.elapsed(),
                wait: Duration::ZERO,
            });
            return Ok(resp);
        };
        // Boxed: the retry loop's state stays out of every plain request's future.
        Box::pin(self.execute_retrying(spec, policy)).await
    }

    /// [`Session::execute`] with retries.
    async fn execute_retrying(&self, spec: RequestSpec, policy: RetryPolicy) -> Result<Response> {
        let first = Instant::now();
        let mut attempts: Vec<Attempt> = Vec::new();
        loop {
            let started = Instant::now();
            let result = self.send(spec.clone()).await;
            let elapsed = started.elapsed();
            let n = attempts.len() as u32 + 1;
            let wait = match &result {
                Ok(resp) if policy.statuses.contains(&resp.status) => {
                    match policy.retry_after(&resp.headers) {
                        RetryAfter::Wait(w) => Some(w),
                        RetryAfter::Absent => Some(policy.backoff(n)),
                        RetryAfter::TooLong => None,
                    }
                }
                Err(e) if retry::is_retryable_error(e.kind) => Some(policy.backoff(n)),
                _ => None,
            };
            let wait = wait.filter(|_| n <= policy.max_retries).filter(|w| {
                policy
                    .deadline
                    .map(|d| first.elapsed() + *w < d)
                    .unwrap_or(true)
            });
            attempts.push(Attempt {
                status: result.as_ref().ok().map(|r| r.status),
                error: result.as_ref().err().map(|e| e.message.clone()),
                elapsed,
                wait: wait.unwrap_or(Duration::ZERO),
            });
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => {
                    return match result {
                        Ok(mut r) => {
                            r.attempts = attempts;
                            Ok(r)
                        }
                        Err(mut e) => {
                            if attempts.len() > 1 {
                                e.message =
                                    format!("{} (after {} attempts)", e.message, attempts.len());
                            }
                            Err(e)
                        }
                    }
                }
            }
        }
    }

    /// One attempt: send, following redirects.
    async fn send(&self, spec: RequestSpec) -> Result<Response> {
        let RequestSpec {
            method,
            url,
            mut headers,
            body,
            timeouts,
            allow_redirects,
            max_redirects,
            verify,
            cert,
            proxies,
            trust_env,
            stream,
            mut cookies,
            credential_headers,
            retry: _,
            idempotent: _,
            proxy_env,
        } = spec;
        let mut url = url_util::parse(&url)?;
        let mut method = method;
        let mut body = match body {
            None if method != Method::GET && method != Method::HEAD => Some(Bytes::new()),
            other => other,
        };
        let explicit_cookie = headers.contains_key(COOKIE);
        let mut history: Vec<Response> = Vec::new();
        loop {
            let proxy = proxy::resolve(&url, &proxies, trust_env, proxy_env.as_deref());
            let via_proxy = proxy.is_some();
            let tls = url.scheme() != "http" || via_proxy;
            let key = ClientKey {
                // Plain HTTP: no TLS options, so one client serves them all.
                verify: if tls { verify.clone() } else { Verify::Default },
                cert: if tls { cert.clone() } else { None },
                proxy,
                tls,
                timeouts,
                blocking: crate::runtime::on_blocking_runtime(),
            };
            let client = self.pool.client(&key)?;
            // This hop's headers are the request's (shared, copied only to be
            // changed; a redirect puts them back), plus the session's cookies
            // and a zero length where petro adds them.
            let mut sent = Arc::clone(&headers);
            let mut added_cookie = false;
            if !explicit_cookie {
                if let Some(value) = self.cookie_header(&url, &cookies) {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        Arc::make_mut(&mut sent).insert(COOKIE, v);
                        added_cookie = true;
                    }
                }
            }
            let added_length = body.as_ref().map(Bytes::is_empty).unwrap_or(false)
                && !sent.contains_key(CONTENT_LENGTH);
            if added_length {
                // requests sends an explicit zero length for body-less POST/PUT/...
                Arc::make_mut(&mut sent).insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            }
            let started = Instant::now();
            let (mut response, mut raw) = match &client {
                Transport::Reqwest(client) => {
                    // The request is built whole (the builder would re-insert every header).
                    let mut request = reqwest::Request::new(method.clone(), url.clone());
                    *request.headers_mut() = HeaderMap::clone(&sent);
                    *request.body_mut() = body.clone().map(reqwest::Body::from);
                    // Boxed: TLS and proxies only; plain requests' futures stay small.
                    let resp = Box::pin(client.execute(request))
                        .await
                        .map_err(|e| classify_send_error(&e, &url, via_proxy, timeouts))?;
                    let head = head_of(
                        resp.status(),
                        resp.version(),
                        resp.headers().clone(),
                        resp.extensions(),
                        &url,
                        started.elapsed(),
                        &method,
                        sent,
                    );
                    (head, BodyStream::new(resp))
                }
                Transport::Direct(client) => {
                    let (parts, body) = client
                        .send(method.clone(), &url, HeaderMap::clone(&sent), body.clone())
                        .await
                        .map_err(|e| classify_direct_send_error(e, &url, timeouts))?;
                    let head = head_of(
                        parts.status,
                        parts.version,
                        parts.headers,
                        &parts.extensions,
                        &url,
                        started.elapsed(),
                        &method,
                        sent,
                    );
                    (head, BodyStream::direct(body))
                }
            };
            self.store_cookies(&url, &response.headers);
            let status = response.status;
            let location = response.headers.get(LOCATION).and_then(|v| {
                v.to_str()
                    .ok()
                    .map(str::to_string)
                    .or_else(|| Some(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            });
            let follow = allow_redirects && redirect::is_redirect(status) && location.is_some();
            if !follow {
                if stream {
                    response.stream = Some(raw);
                } else {
                    response.body = Some(raw.read_to_end().await?);
                }
                response.history = history;
                return Ok(response);
            }
            // Read (and keep) the redirect's own body; failures there don't matter.
            response.body = Some(raw.read_to_end().await.unwrap_or_default());
            if history.len() >= max_redirects {
                return Err(Error::new(
                    ErrorKind::TooManyRedirects,
                    format!("Exceeded {max_redirects} redirects."),
                ));
            }
            let location = location.unwrap_or_default();
            let next = url.join(&location).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidUrl,
                    format!(
                        "Invalid redirect location {:?}: {e}",
                        url_util::redact_str(&location)
                    ),
                )
            })?;
            let next = url_util::parse(next.as_str())?;
            headers = Arc::clone(&response.request.headers);
            if added_cookie {
                Arc::make_mut(&mut headers).remove(COOKIE);
            }
            if added_length {
                Arc::make_mut(&mut headers).remove(CONTENT_LENGTH);
            }
            let new_method = redirect::next_method(status, &method);
            if status != 307 && status != 308 {
                // requests drops the body (and its headers) on every other redirect.
                body = None;
                redirect::drop_body_headers(Arc::make_mut(&mut headers));
            }
            method = new_method;
            if redirect::should_strip_auth(&url, &next) {
                redirect::strip_credentials(Arc::make_mut(&mut headers), &credential_headers);
                cookies.clear();
            }
            history.push(response);
            url = next;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn head_of(
    status: http::StatusCode,
    version: http::Version,
    headers: HeaderMap,
    extensions: &http::Extensions,
    url: &Url,
    elapsed: Duration,
    method: &Method,
    sent: Arc<HeaderMap>,
) -> Response {
    let reason = extensions
        .get::<hyper_reason::ReasonPhrase>()
        .and_then(|r| std::str::from_utf8(r.as_bytes()).ok())
        .map(|r| Cow::Owned(r.to_owned()))
        .or_else(|| status.canonical_reason().map(Cow::Borrowed))
        .unwrap_or_default();
    let version = match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    };
    Response {
        status: status.as_u16(),
        reason,
        version,
        headers: owned_headers(headers),
        // A standard method is copied without an allocation.
        request: SentRequest {
            method: method.clone(),
            headers: sent,
        },
        // `as_str().to_owned()`: one copy (`to_string` goes through `Display`).
        url: url.as_str().to_owned(),
        elapsed,
        body: None,
        stream: None,
        history: Vec::new(),
        attempts: Vec::new(),
    }
}

/// The headers with their values copied out of the connection's read buffer.
/// hyper hands out values as slices of that buffer, and the same buffer (up to
/// ~400 KiB on a busy connection) holds the first part of the body: a kept
/// response would keep it all alive. One allocation for all the values, put
/// in place in the map (its structure is kept: no name hashed again).
fn owned_headers(mut h: HeaderMap) -> HeaderMap {
    let mut all = bytes::BytesMut::with_capacity(h.values().map(HeaderValue::len).sum());
    for v in h.values() {
        all.extend_from_slice(v.as_bytes());
    }
    let all = all.freeze();
    // Each value replaced by its copy: `values_mut` visits them in `values`' order.
    let mut at = 0;
    for v in h.values_mut() {
        let end = at + v.len();
        if let Ok(mut copy) = HeaderValue::from_maybe_shared(all.slice(at..end)) {
            copy.set_sensitive(v.is_sensitive());
            *v = copy;
        }
        at = end;
    }
    h
}

mod hyper_reason {
    /// hyper keeps a non-canonical reason phrase as this extension.
    pub type ReasonPhrase = hyper::ext::ReasonPhrase;
}

fn describe_timeout(t: Option<Duration>) -> String {
    match t {
        Some(d) => format!("{}s", d.as_secs_f64()),
        None => "none".to_string(),
    }
}

/// Map a failure to send (before any response) to requests' classes.
fn classify_send_error(e: &reqwest::Error, url: &Url, via_proxy: bool, t: Timeouts) -> Error {
    let shown = url_util::redact(url);
    let detail = source_chain(e);
    if e.is_timeout() {
        if e.is_connect() {
            return connect_timed_out(&shown, t, &detail);
        }
        return read_timed_out(&shown, t);
    }
    if chain_has_tls(e) {
        return Error::new(
            ErrorKind::Ssl,
            format!(
                "TLS error talking to {shown}: {detail}. If the server uses a private CA, pass verify=\"/path/to/ca.pem\" or set REQUESTS_CA_BUNDLE."
            ),
        );
    }
    if e.is_connect() {
        if via_proxy {
            return Error::new(
                ErrorKind::Proxy,
                format!("Cannot connect to proxy for {shown}: {detail}"),
            );
        }
        return connect_failed(&shown, &detail);
    }
    if e.is_builder() {
        return invalid_request(&shown, &detail);
    }
    aborted(&shown, &detail)
}

fn connect_timed_out(shown: &str, t: Timeouts, detail: &str) -> Error {
    Error::new(
        ErrorKind::ConnectTimeout,
        format!(
            "Connection to {shown} timed out (connect timeout={}): {detail}",
            describe_timeout(t.connect)
        ),
    )
}

fn read_timed_out(shown: &str, t: Timeouts) -> Error {
    Error::new(
        ErrorKind::ReadTimeout,
        format!(
            "Read timed out waiting for {shown} (read timeout={})",
            describe_timeout(t.read)
        ),
    )
}

fn connect_failed(shown: &str, detail: &str) -> Error {
    Error::new(
        ErrorKind::Connection,
        format!("Failed to connect to {shown}: {detail}"),
    )
}

fn invalid_request(shown: &str, detail: &str) -> Error {
    Error::new(
        ErrorKind::InvalidUrl,
        format!("Invalid request to {shown}: {detail}"),
    )
}

fn aborted(shown: &str, detail: &str) -> Error {
    Error::new(
        ErrorKind::Connection,
        format!("Connection aborted talking to {shown}: {detail}"),
    )
}

/// `err`'s own message and its sources', as reqwest's sources would read.
fn whole_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let below = source_chain(err);
    let top = err.to_string();
    if below.is_empty() || below == top {
        top
    } else {
        format!("{top}: {below}")
    }
}

/// True when the chain holds an I/O timeout (hyper-util's connect timeout).
fn chain_has_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    chain_any(err, |e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}

/// [`classify_send_error`] for the direct transport (no TLS, no proxy).
fn classify_direct_send_error(e: SendFailure, url: &Url, t: Timeouts) -> Error {
    let shown = url_util::redact(url);
    match e {
        SendFailure::Timeout => read_timed_out(&shown, t),
        SendFailure::Uri(e) => invalid_request(&shown, &whole_chain(&e)),
        SendFailure::Hyper(e) => {
            let detail = whole_chain(&e);
            match (e.is_connect(), chain_has_timeout(&e)) {
                (true, true) => connect_timed_out(&shown, t, &detail),
                (true, false) => connect_failed(&shown, &detail),
                _ => aborted(&shown, &detail),
            }
        }
    }
}

/// [`classify_body_error`] for the direct transport.
pub(crate) fn classify_direct_body_error(e: BodyFailure) -> Error {
    match e {
        BodyFailure::Timeout => Error::new(
            ErrorKind::ReadTimeout,
            "Read timed out while reading the body".to_string(),
        ),
        BodyFailure::Read(e) => {
            let detail = whole_chain(&*e);
            if chain_has_hyper(&*e) {
                Error::new(
                    ErrorKind::ChunkedEncoding,
                    format!("Connection broken while reading the body: {detail}"),
                )
            } else {
                Error::new(
                    ErrorKind::ContentDecoding,
                    format!("Failed to decode the response body: {detail}"),
                )
            }
        }
    }
}

/// Map a failure while reading a body.
pub(crate) fn classify_body_error(e: &reqwest::Error) -> Error {
    let detail = source_chain(e);
    if e.is_timeout() {
        return Error::new(
            ErrorKind::ReadTimeout,
            format!("Read timed out while reading the body: {detail}"),
        );
    }
    if e.is_decode() && !chain_has_hyper(e) {
        return Error::new(
            ErrorKind::ContentDecoding,
            format!("Failed to decode the response body: {detail}"),
        );
    }
    Error::new(
        ErrorKind::ChunkedEncoding,
        format!("Connection broken while reading the body: {detail}"),
    )
}

/// True when hyper (the connection), not a decoder, failed.
fn chain_has_hyper(err: &(dyn std::error::Error + 'static)) -> bool {
    chain_any(err, |e| e.is::<hyper::Error>())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kept_headers_do_not_hold_the_read_buffer() {
        // hyper's values are slices of the connection's read buffer.
        let buf = Bytes::from_static(b"application/json; charset=utf-8|a|b|tok");
        let slice = |a: usize, b: usize| HeaderValue::from_maybe_shared(buf.slice(a..b)).unwrap();
        let mut h = HeaderMap::new();
        h.insert("content-type", slice(0, 31));
        h.append("x-many", slice(32, 33));
        h.append("x-many", slice(34, 35));
        let mut secret = slice(36, 39);
        secret.set_sensitive(true);
        h.insert("authorization", secret);

        let out = owned_headers(h.clone());
        assert_eq!(out, h);
        let many: Vec<_> = out.get_all("x-many").iter().collect();
        assert_eq!(many, ["a", "b"]);
        assert!(out["authorization"].is_sensitive());
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        for v in out.values() {
            assert!(
                !range.contains(&(v.as_bytes().as_ptr() as usize)),
                "{v:?} still points into the buffer"
            );
        }
    }
}
