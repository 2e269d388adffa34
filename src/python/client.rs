//! Python glue for the client core: `Session`, `RawResponse`, blocking waits
//! that release the GIL and still answer Ctrl-C.

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::bridge::{self, TaskHandle};
use super::errors::{internal, to_py};
use super::frames::{parse_page, FrameBuilder, Page};
use super::json;
use crate::http::proxy::ProxyEnv;
use crate::http::request::{headers_from_pairs, parse_method};
use crate::http::retry::{Attempt, RetryPolicy};
use crate::http::tls::{ClientCert, Verify};
use crate::http::{Body, BodyStream, Error, Pool, RequestSpec, Response, Session, Timeouts};
use crate::runtime;

/// How long the waiting thread sleeps between checks for Ctrl-C.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// Bodies from this size up are copied into their Python `bytes` with the GIL
/// released (other threads run meanwhile; below it, releasing costs more).
const DETACH_COPY_MIN: usize = 256 << 10;

/// Run `fut` to completion with the GIL released, checking for signals
/// between short slices (on the main thread); on KeyboardInterrupt the future
/// is dropped (its connection closed) and the exception propagates. Also
/// returns where it ran: true for the current-thread runtime, whose
/// connections only a thread inside its `block_on` drives (a streamed body
/// read later must be waited for there too: [`wait_on`]).
///
/// Where it runs:
/// - the main thread, and any thread that waits alone: on the current-thread
///   runtime, driven by the waiting thread itself (see `runtime::blocking`);
///   no hand-off to a worker thread and back, and the reply is polled for
///   before the thread sleeps (`runtime::start_wait`);
/// - another thread while other threads wait too (a thread pool sharing a
///   session): the calling thread polls its own request and the multi-thread
///   runtime's workers drive the connections. On the current-thread runtime
///   the waiting threads took turns driving the I/O for all, and each turn
///   changed hands through its scheduler's lock: ~1.6 voluntary and ~0.9
///   involuntary context switches per request against ~1.25 and ~0.2 this way
///   (32 threads on one CPU; numbers in benchmarks/README.md).
///
/// `PETRO_BLOCKING_RUNTIME=current` keeps every blocking wait on the
/// current-thread runtime (the behaviour before session 10).
pub fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<(T, bool)>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    wait_for(py, fut, true)
}

/// [`wait`]; `spin`: false for a wait known to be long (a batch), which then
/// does not poll for its reply first (`runtime::start_wait`).
fn wait_for<T, F>(py: Python<'_>, fut: F, spin: bool) -> PyResult<(T, bool)>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    // Boxed once: a request's future is kilobytes, moved by pointer from here on.
    let fut = Box::pin(fut);
    let rt = blocking_runtime()?;
    let waiter = runtime::Waiter::enter();
    let waiter = if spin { waiter } else { waiter.without_spin() };
    let main = handles_signals(py, &rt);
    if !main && !waiter.alone() && workers_for_threads() {
        // Still counted as waiting (the waiter lives until the return).
        return on_workers(py, fut, false).map(|out| (out, false));
    }
    on_calling_thread(py, fut, &rt, &waiter, main).map(|out| (out, true))
}

/// [`wait`] on a given runtime: `blocking` (the current-thread one) or the
/// multi-thread one. For the body of a response fetched there.
pub fn wait_on<T, F>(py: Python<'_>, fut: F, blocking: bool) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    let fut = Box::pin(fut);
    let rt = blocking_runtime()?;
    let main = handles_signals(py, &rt);
    if !blocking {
        return on_workers(py, fut, main);
    }
    let waiter = runtime::Waiter::enter();
    on_calling_thread(py, fut, &rt, &waiter, main)
}

/// The current-thread runtime, for a blocking wait (refused inside a runtime).
fn blocking_runtime() -> PyResult<Arc<tokio::runtime::Runtime>> {
    if runtime::inside_runtime() {
        return Err(internal(
            "petro's blocking API was called from inside its own async runtime; use the async API there",
        ));
    }
    runtime::blocking().map_err(|e| internal(format!("cannot start petro's I/O runtime: {e}")))
}

/// False when `PETRO_BLOCKING_RUNTIME=current` keeps threads on the
/// current-thread runtime.
fn workers_for_threads() -> bool {
    static WORKERS: OnceLock<bool> = OnceLock::new();
    *WORKERS.get_or_init(|| {
        std::env::var("PETRO_BLOCKING_RUNTIME")
            .map(|v| !v.trim().eq_ignore_ascii_case("current"))
            .unwrap_or(true)
    })
}

/// Poll `fut` on this thread while the multi-thread runtime's workers drive
/// the I/O; in slices that check for signals when `signals`.
fn on_workers<T, F>(py: Python<'_>, fut: Pin<Box<F>>, signals: bool) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    let rt =
        runtime::get().map_err(|e| internal(format!("cannot start petro's I/O runtime: {e}")))?;
    if !signals {
        return py.detach(|| rt.block_on(fut)).map_err(|e| to_py(py, e));
    }
    in_slices(py, &rt, fut, None)
}

/// Wait for `fut` on `rt` in slices of [`SIGNAL_SLICE`], running Python's
/// signal handlers between them (Ctrl-C raises `KeyboardInterrupt` and drops
/// the request). With `start`, the first slice begins with
/// `runtime::start_wait` (settle and spin) and arms its timer only if that did
/// not finish the request.
fn in_slices<T, F>(
    py: Python<'_>,
    rt: &tokio::runtime::Runtime,
    mut fut: Pin<Box<F>>,
    mut start: Option<&runtime::Waiter>,
) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    loop {
        // The timer must be made inside the runtime, hence the async block.
        let sliced = py.detach(|| {
            rt.block_on(async {
                if let Some(waiter) = start.take() {
                    // A nearby server answers before a timer is worth arming.
                    if let Some(out) = runtime::start_wait(&mut fut, waiter).await {
                        return Ok(out);
                    }
                }
                tokio::time::timeout(SIGNAL_SLICE, fut.as_mut()).await
            })
        });
        match sliced {
            Ok(result) => return result.map_err(|e| to_py(py, e)),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Drive the current-thread runtime from this thread until `fut` is done.
fn on_calling_thread<T, F>(
    py: Python<'_>,
    mut fut: Pin<Box<F>>,
    rt: &Arc<tokio::runtime::Runtime>,
    waiter: &runtime::Waiter,
    signals: bool,
) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send,
    T: Send,
{
    if !signals {
        // Python runs signal handlers only in the main thread: another thread
        // has no Ctrl-C to check for, so it waits without arming a timer
        // (arming one per request costs a wake-up write and a lock shared by
        // every waiting thread).
        return py
            .detach(|| {
                rt.block_on(async {
                    match runtime::start_wait(&mut fut, waiter).await {
                        Some(out) => out,
                        None => fut.await,
                    }
                })
            })
            .map_err(|e| to_py(py, e));
    }
    in_slices(py, rt, fut, Some(waiter))
}

/// True on the thread where Python runs signal handlers (the main thread of
/// the main interpreter). Asked of `threading` once per thread and process (a
/// fork from another thread makes that thread the child's main thread). The
/// process is told apart by its blocking runtime, `rt`, which is new after a
/// fork (the parent's is leaked, so its address is never reused): no second
/// `getpid` per wait beside the one `runtime::blocking` makes.
fn handles_signals(py: Python<'_>, rt: &Arc<tokio::runtime::Runtime>) -> bool {
    thread_local! {
        static MAIN: std::cell::Cell<Option<(usize, bool)>> = const { std::cell::Cell::new(None) };
    }
    let rt_id = Arc::as_ptr(rt) as usize;
    if let Some((id, main)) = MAIN.get() {
        if id == rt_id {
            return main;
        }
    }
    let main = (|| -> PyResult<bool> {
        let threading = py.import("threading")?;
        let current = threading.call_method0("current_thread")?;
        Ok(current.is(&threading.call_method0("main_thread")?))
    })()
    // Unknown: check for signals, as before.
    .unwrap_or(true);
    MAIN.set(Some((rt_id, main)));
    main
}

fn shared_pool() -> Arc<Pool> {
    static POOL: OnceLock<Arc<Pool>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(Pool::new())).clone()
}

/// A header value from Python: `str` (Latin-1 when it fits, else UTF-8) or bytes.
fn header_bytes(v: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = v.cast::<PyString>() {
        let s = s.to_cow()?;
        if s.is_ascii() {
            return Ok(s.as_bytes().to_vec());
        }
        if s.chars().all(|c| (c as u32) < 256) {
            return Ok(s.chars().map(|c| c as u8).collect());
        }
        return Ok(s.as_bytes().to_vec());
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(super::errors::new_error(
        v.py(),
        "InvalidHeader",
        (format!(
            "Header values must be str or bytes, not {}",
            v.get_type().name()?
        ),),
    ))
}

/// The header pairs of the last request made on this thread and their map.
/// A session sends the same headers call after call (its defaults, the
/// content type, the cached `Authorization` value), and building the map (name
/// and value checks, hashing, one allocation each) was ~11,000 instructions a
/// request, a twentieth of a threaded request's; comparing the pairs with the
/// last ones is a few hundred. Plain Rust values, so nothing here needs the GIL
/// when a thread exits.
struct HeaderCache {
    pairs: Vec<(String, Vec<u8>)>,
    map: Arc<http::HeaderMap>,
}

thread_local! {
    static LAST_HEADERS: std::cell::RefCell<Option<HeaderCache>> = const { std::cell::RefCell::new(None) };
}

/// True when a `(name, value)` tuple holds the same text as `cached`.
fn same_pair(item: &Bound<'_, PyAny>, cached: &(String, Vec<u8>)) -> bool {
    let Ok(t) = item.cast::<PyTuple>() else {
        return false;
    };
    let (Ok(name), Ok(value)) = (t.get_item(0), t.get_item(1)) else {
        return false;
    };
    let name_same = match name.cast::<PyString>() {
        Ok(n) => n.to_str().is_ok_and(|n| n == cached.0),
        Err(_) => false,
    };
    if !name_same {
        return false;
    }
    if let Ok(s) = value.cast::<PyString>() {
        match s.to_str() {
            // ASCII text is its own Latin-1 encoding: compared in place.
            Ok(text) if text.is_ascii() => text.as_bytes() == cached.1.as_slice(),
            _ => header_bytes(&value).is_ok_and(|b| b == cached.1),
        }
    } else if let Ok(b) = value.cast::<PyBytes>() {
        b.as_bytes() == cached.1.as_slice()
    } else {
        false
    }
}

/// The header map of a list of `(name, value)` pairs: this thread's last map
/// when the pairs are the same text as last time, else a new one.
fn header_map(py: Python<'_>, headers: &Bound<'_, PyList>) -> PyResult<Arc<http::HeaderMap>> {
    // `try_with` / `try_borrow`: nothing here runs Python code that could come
    // back into this function, but a cache that cannot be reached is simply
    // not used (never a panic across the FFI boundary).
    let hit = LAST_HEADERS
        .try_with(|last| {
            let last = last.try_borrow().ok()?;
            let cache = last.as_ref()?;
            (cache.pairs.len() == headers.len()
                && headers
                    .iter()
                    .zip(&cache.pairs)
                    .all(|(item, cached)| same_pair(&item, cached)))
            .then(|| Arc::clone(&cache.map))
        })
        .ok()
        .flatten();
    if let Some(map) = hit {
        return Ok(map);
    }
    let mut pairs = Vec::with_capacity(headers.len());
    for item in headers.iter() {
        let t = item.cast::<PyTuple>()?;
        let name: String = t.get_item(0)?.extract()?;
        let value = header_bytes(&t.get_item(1)?)?;
        pairs.push((name, value));
    }
    let map =
        Arc::new(headers_from_pairs(pairs.iter().map(|(n, v)| (n, v))).map_err(|e| to_py(py, e))?);
    // Not kept while the thread's locals are being torn down.
    let _ = LAST_HEADERS.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Some(HeaderCache {
                pairs,
                map: Arc::clone(&map),
            });
        }
    });
    Ok(map)
}

fn duration(secs: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match secs {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|_| PyValueError::new_err(format!("{what} timeout {s} is too large"))),
        Some(s) => Err(PyValueError::new_err(format!(
            "{what} timeout must be a positive number of seconds or None, not {s}"
        ))),
    }
}

fn verify_from(v: &Bound<'_, PyAny>) -> PyResult<Verify> {
    if let Ok(b) = v.extract::<bool>() {
        return Ok(if b { Verify::Default } else { Verify::Off });
    }
    if let Ok(p) = v.extract::<PathBuf>() {
        return Ok(Verify::Bundle(p));
    }
    Err(PyTypeError::new_err(
        "verify must be True, False or a path to a CA bundle",
    ))
}

fn cert_from(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ClientCert>> {
    let Some(v) = v else { return Ok(None) };
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(p) = v.extract::<PathBuf>() {
        return Ok(Some(ClientCert { cert: p, key: None }));
    }
    if let Ok((c, k)) = v.extract::<(PathBuf, PathBuf)>() {
        return Ok(Some(ClientCert {
            cert: c,
            key: Some(k),
        }));
    }
    Err(PyTypeError::new_err(
        "cert must be a path or a (cert, key) tuple of paths",
    ))
}

/// (max_retries, backoff_base, backoff_max, retry_after_max, statuses, deadline), seconds.
type RetryArgs = (u32, f64, f64, f64, Vec<u16>, Option<f64>);

fn retry_policy(args: RetryArgs) -> PyResult<RetryPolicy> {
    let (max_retries, base, max, after_max, statuses, deadline) = args;
    let secs = |v: f64, what: &str| -> PyResult<Duration> {
        if v.is_finite() && v >= 0.0 {
            Duration::try_from_secs_f64(v)
                .map_err(|_| PyValueError::new_err(format!("retry {what} {v} is too large")))
        } else {
            Err(PyValueError::new_err(format!(
                "retry {what} must be a non-negative number, not {v}"
            )))
        }
    };
    Ok(RetryPolicy {
        max_retries,
        backoff_base: secs(base, "backoff_factor")?,
        backoff_max: secs(max, "backoff_max")?,
        retry_after_max: secs(after_max, "retry_after_max")?,
        statuses,
        deadline: deadline.map(|d| secs(d, "deadline")).transpose()?,
    })
}

/// The native `request` arguments as one tuple (`petro.sessions._Call.args`).
pub struct CallArgs<'py>(
    String,
    String,
    Bound<'py, PyList>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    Option<f64>,
    Option<f64>,
    bool,
    usize,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    Option<Vec<(String, String)>>,
    bool,
    bool,
    Option<Vec<(String, String)>>,
    Option<Vec<String>>,
    Option<RetryArgs>,
    Option<bool>,
);

impl<'py> CallArgs<'py> {
    /// Read the 18-item tuple `request` takes positionally.
    fn from_tuple(t: &Bound<'py, PyTuple>) -> PyResult<Self> {
        if t.len() != 18 {
            return Err(PyTypeError::new_err(format!(
                "request arguments must be an 18-item tuple, not {} items",
                t.len()
            )));
        }
        let opt = |i: usize| -> PyResult<Option<Bound<'py, PyAny>>> {
            let v = t.get_item(i)?;
            Ok(if v.is_none() { None } else { Some(v) })
        };
        Ok(CallArgs(
            t.get_item(0)?.extract()?,
            t.get_item(1)?.extract()?,
            t.get_item(2)?.cast_into::<PyList>()?,
            opt(3)?,
            opt(4)?,
            t.get_item(5)?.extract()?,
            t.get_item(6)?.extract()?,
            t.get_item(7)?.extract()?,
            t.get_item(8)?.extract()?,
            opt(9)?,
            opt(10)?,
            t.get_item(11)?.extract()?,
            t.get_item(12)?.extract()?,
            t.get_item(13)?.extract()?,
            t.get_item(14)?.extract()?,
            t.get_item(15)?.extract()?,
            t.get_item(16)?.extract()?,
            t.get_item(17)?.extract()?,
        ))
    }

    /// Convert to the core's request (the GIL is held; no I/O).
    fn into_spec(self, py: Python<'_>) -> PyResult<RequestSpec> {
        self.into_spec_reusing(py, &mut None)
    }

    /// `into_spec`, reusing the header map made for the previous request of a
    /// batch when this one's header list is the same list object (a batch of
    /// simple items shares one: see `Session._batch_template`). Every item's
    /// list stays alive for the whole batch (the call tuples hold them), so
    /// equal addresses mean the same list; and no Python code runs between
    /// the items (the arguments are plain str, float, bool and list values by
    /// then), so it cannot have changed.
    fn into_spec_reusing(
        self,
        py: Python<'_>,
        last: &mut Option<(usize, Arc<http::HeaderMap>)>,
    ) -> PyResult<RequestSpec> {
        let CallArgs(
            method,
            url,
            headers,
            body,
            json,
            connect_timeout,
            read_timeout,
            allow_redirects,
            max_redirects,
            verify,
            cert,
            proxies,
            trust_env,
            stream,
            cookies,
            credential_headers,
            retry,
            idempotent,
        ) = self;
        let list_id = headers.as_ptr() as usize;
        let header_map = match last.as_ref() {
            Some((id, map)) if *id == list_id => map.clone(),
            _ => {
                let map = header_map(py, &headers)?;
                *last = Some((list_id, Arc::clone(&map)));
                map
            }
        };
        let body: Option<Bytes> = match (body.filter(|b| !b.is_none()), json) {
            (Some(b), _) => {
                if let Ok(bytes) = b.cast::<PyBytes>() {
                    Some(Bytes::copy_from_slice(bytes.as_bytes()))
                } else if let Ok(s) = b.cast::<PyString>() {
                    Some(Bytes::copy_from_slice(s.to_cow()?.as_bytes()))
                } else {
                    return Err(PyTypeError::new_err("body must be bytes or str"));
                }
            }
            (_, Some(j)) => Some(Bytes::from(json::dumps(py, &j)?)),
            _ => None,
        };
        Ok(RequestSpec {
            method: parse_method(&method).map_err(|e| PyValueError::new_err(e.message))?,
            url,
            headers: header_map,
            body,
            timeouts: Timeouts {
                connect: duration(connect_timeout, "connect")?,
                read: duration(read_timeout, "read")?,
            },
            allow_redirects,
            max_redirects,
            verify: match verify {
                Some(v) if !v.is_none() => verify_from(&v)?,
                _ => Verify::Default,
            },
            cert: cert_from(cert.as_ref())?,
            proxies: proxies.unwrap_or_default(),
            trust_env,
            stream,
            cookies: cookies.unwrap_or_default(),
            credential_headers: credential_headers.unwrap_or_default(),
            retry: retry.map(retry_policy).transpose()?,
            idempotent,
            proxy_env: None,
        })
    }
}

/// A batch's requests. The environment's proxy variables are read once for
/// the whole batch, and a header list shared by its items is converted once.
fn specs_of(py: Python<'_>, calls: Vec<Bound<'_, PyTuple>>) -> PyResult<Vec<RequestSpec>> {
    let mut env: Option<Arc<ProxyEnv>> = None;
    let mut last_headers = None;
    calls
        .iter()
        .map(|c| {
            let mut spec = CallArgs::from_tuple(c)?.into_spec_reusing(py, &mut last_headers)?;
            if spec.trust_env {
                let env = env.get_or_insert_with(|| Arc::new(ProxyEnv::read()));
                spec.proxy_env = Some(env.clone());
            }
            Ok(spec)
        })
        .collect()
}

/// The requests of a batch of simple items (see `request_many_simple`), or
/// None when an item is not one. The templates are converted once; each item
/// changes only the method, the URL and the body.
fn simple_specs(
    py: Python<'_>,
    items: &Bound<'_, PyList>,
    templates: &(Bound<'_, PyTuple>, Bound<'_, PyTuple>),
) -> PyResult<Option<Vec<RequestSpec>>> {
    let mut bare = CallArgs::from_tuple(&templates.0)?.into_spec(py)?;
    let mut with_body = CallArgs::from_tuple(&templates.1)?.into_spec(py)?;
    for spec in [&mut bare, &mut with_body] {
        spec.body = None;
        // Each item's own URL replaces the template's: not copied for each.
        spec.url = String::new();
        if spec.trust_env {
            spec.proxy_env = Some(Arc::new(ProxyEnv::read()));
        }
    }
    let keys = [
        pyo3::intern!(py, "method"),
        pyo3::intern!(py, "url"),
        pyo3::intern!(py, "json"),
    ];
    let mut specs = Vec::with_capacity(items.len());
    // The last method seen, as sent (most batches use one).
    let mut last_method: Option<(String, http::Method)> = None;
    for item in items.iter() {
        let Ok(d) = item.cast::<PyDict>() else {
            return Ok(None);
        };
        let (Some(method), Some(url)) = (d.get_item(keys[0])?, d.get_item(keys[1])?) else {
            return Ok(None);
        };
        let json = d.get_item(keys[2])?;
        let (Ok(method), Ok(url)) = (method.cast::<PyString>(), url.cast::<PyString>()) else {
            return Ok(None);
        };
        if d.len() != 2 + usize::from(json.is_some()) {
            return Ok(None); // another key
        }
        let json = json.filter(|j| !j.is_none());
        let mut spec = if json.is_some() {
            with_body.clone()
        } else {
            bare.clone()
        };
        let method = method.to_cow()?;
        spec.method = match &last_method {
            Some((text, m)) if *text == *method => m.clone(),
            _ => {
                let m = parse_method(&method).map_err(|e| PyValueError::new_err(e.message))?;
                last_method = Some((method.into_owned(), m.clone()));
                m
            }
        };
        spec.url = url.to_cow()?.into_owned();
        if let Some(j) = json {
            spec.body = Some(Bytes::from(json::dumps(py, &j)?));
        }
        specs.push(spec);
    }
    Ok(Some(specs))
}

/// A `request_many` result: a response, its body as a page of records when
/// asked for (inner None: the body is not one), and whether orjson may parse
/// its body (`json::orjson_can_parse`). None: not sent (see `run_many`).
/// Boxed: a result is moved several times on its way to its slot (a ~650-byte
/// memcpy each time, unboxed).
type ManyResult = Option<Box<(Result<Response, Error>, Option<Option<Page>>, bool)>>;

/// `session.execute(spec)`, then (still off the GIL) whether orjson may parse
/// the body: `.json()` then need not scan it.
async fn execute_checked(
    session: Arc<Session>,
    spec: RequestSpec,
) -> Result<(Response, bool), Error> {
    // Boxed: the request's future is large, and callers move theirs around.
    let resp = Box::pin(session.execute(spec)).await?;
    let ok = resp.body.as_ref().is_some_and(json::orjson_can_parse_body);
    Ok((resp, ok))
}

/// Run every request, at most `concurrency` in flight, results in input order.
/// With `parse_records`, each successful body is parsed into a page of records
/// as it arrives (`query_df`: parsing overlaps the server's work on the others),
/// and makes its str objects then if `frames` wants them.
/// `page_rows`: how many records each page should hold. A page with fewer is
/// the end of the data, so the requests after it are not sent (their results
/// are None); those already in flight finish.
/// `in_batch`: turn results into Python objects as they arrive (see
/// [`InBatch`]); without it they all stay native for [`slots_to_py`].
async fn run_many(
    session: Arc<Session>,
    specs: Vec<RequestSpec>,
    concurrency: usize,
    parse_records: bool,
    frames: Option<Py<FrameBuilder>>,
    page_rows: Option<Vec<usize>>,
    mut in_batch: Option<InBatch>,
) -> Vec<Slot> {
    let frames = frames.map(Arc::new);
    let rows = page_rows.unwrap_or_default();
    // The index of the first short page seen.
    let end = Arc::new(AtomicUsize::new(usize::MAX));
    // One buffer to join each multi-chunk body in before it is parsed, reused
    // (a fresh ~0.5 MB one per page cost ~130 page faults each).
    let scratch = Arc::new(std::sync::Mutex::new(Vec::new()));
    let n = specs.len();
    futures_util::stream::iter(specs.into_iter().enumerate())
        .map(|(i, spec)| {
            let session = session.clone();
            let want = rows.get(i).copied();
            let end = end.clone();
            let frames = frames.clone();
            let scratch = scratch.clone();
            let one = async move {
                if i > end.load(Ordering::Relaxed) {
                    return None;
                }
                if parse_records {
                    let mut resp = Box::pin(session.execute(spec)).await;
                    let page = match &mut resp {
                        Ok(r) if (200..300).contains(&r.status) => r.body.take().map(|b| {
                            // The page keeps nothing of the body. The response keeps
                            // it only when it is not a page (`.json()` then reports
                            // it); a page's response (internal to `query_df`) is left
                            // empty, or a step's bodies would all stay alive until
                            // its last page arrives.
                            let mut page = {
                                let mut scratch = scratch.lock().unwrap_or_else(|e| e.into_inner());
                                parse_page(b.join_into(&mut scratch))
                            };
                            if let (Some(p), Some(f)) = (&mut page, &frames) {
                                f.get().text_objects(p);
                            }
                            r.body = Some(match page {
                                None => b,
                                Some(_) => Body::default(),
                            });
                            page
                        }),
                        _ => None,
                    };
                    if let (Some(want), Some(Some(p))) = (want, &page) {
                        if p.rows() < want {
                            end.fetch_min(i, Ordering::Relaxed);
                        }
                    }
                    return Some(Box::new((resp, page, false)));
                }
                Some(Box::new(match execute_checked(session, spec).await {
                    Ok((resp, ok)) => (Ok(resp), None, ok),
                    Err(e) => (Err(e), None, false),
                }))
            };
            async move { (i, one.await) }
        })
        // Unordered: a slow reply does not hold back the requests after it (an
        // ordered buffer counts finished replies waiting their turn as in flight,
        // and the server sits idle). Each result goes straight to its place as
        // it arrives: no collecting and sorting of ~600-byte results. Results
        // that are ready together are handled together (one GIL turn).
        .buffer_unordered(concurrency.max(1))
        .ready_chunks(concurrency.max(1))
        .fold(
            std::iter::repeat_with(|| Slot::Native(None))
                .take(n)
                .collect::<Vec<Slot>>(),
            move |mut slots, chunk| {
                match in_batch.as_mut().filter(|b| b.on) {
                    Some(b) => b.convert(chunk, &mut slots),
                    None => {
                        for (i, r) in chunk {
                            if let Some(slot) = slots.get_mut(i) {
                                *slot = Slot::Native(r);
                            }
                        }
                    }
                }
                std::future::ready(slots)
            },
        )
        .await
}

/// `(f, extra)`: how a batch's responses become `petro.Response` (see [`InBatch`]).
type Wrap = (Py<PyAny>, Option<Vec<Py<PyAny>>>);

/// A `request_many` result in its place: still native, or already the
/// Python object it becomes.
enum Slot {
    Native(ManyResult),
    Python(PyResult<Py<PyAny>>),
}

/// A blocking batch's results made Python objects as they arrive, while the
/// other requests are still on their way: the RawResponse, and for a small
/// JSON body its parsed value, which the first `.json()` then hands over. On a
/// nearby server this is work the client did after the last reply, with the
/// server idle; done in the batch, it fills the client's waits for replies.
///
/// It needs the GIL in the middle of the batch: a turn that had to wait more
/// than [`GIL_WAIT_MAX`] for it (another thread busy in Python) stops the
/// conversions for the rest of the batch, which then end as before, after the
/// last reply.
struct InBatch {
    /// The connections live on the current-thread runtime (see `wait`).
    blocking: bool,
    /// Each response `r` of call `i` becomes `f(r, extra[i], parsed)` (None
    /// without `extra`; `parsed`: the body's value parsed ahead, or None; `f`
    /// is `petro.Response._from_raw`); one that raises stays `r`.
    wrap: Option<Wrap>,
    /// Body bytes that may still be parsed ahead ([`PREPARSE_BUDGET`]).
    budget: usize,
    on: bool,
}

/// The most body bytes of one batch parsed before `.json()` asks: a parsed
/// value takes several times its JSON's memory, held until `.json()` takes it
/// or the response goes, and a caller may never ask.
const PREPARSE_BUDGET: usize = 8 << 20;
/// Bodies larger than this are left for `.json()` to parse.
const PREPARSE_MAX: usize = 256 << 10;
/// A wait for the GIL longer than this stops a batch's in-batch conversions.
const GIL_WAIT_MAX: Duration = Duration::from_millis(1);

impl InBatch {
    /// For a batch polled on this thread's runtime (call inside it).
    fn here(wrap: Option<Wrap>) -> InBatch {
        InBatch {
            blocking: runtime::on_blocking_runtime(),
            wrap,
            budget: PREPARSE_BUDGET,
            on: true,
        }
    }

    fn convert(&mut self, chunk: Vec<(usize, ManyResult)>, slots: &mut [Slot]) {
        let asked = std::time::Instant::now();
        Python::attach(|py| {
            if asked.elapsed() > GIL_WAIT_MAX {
                self.on = false;
            }
            let blocking = self.blocking;
            for (i, r) in chunk {
                let v = one_to_py(py, r, blocking, |raw| self.finish(py, i, raw));
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Slot::Python(v);
                }
            }
        });
    }

    /// Call `i`'s response, made in the batch: its small JSON body parsed
    /// ahead while the budget lasts, and with `wrap` made a `petro.Response`
    /// that keeps the parsed value (`.json()` then hands it over without
    /// touching the RawResponse); without `wrap` the RawResponse keeps it.
    fn finish(&mut self, py: Python<'_>, i: usize, mut raw: PyRawResponse) -> PyResult<Py<PyAny>> {
        let parsed = raw.parse_ahead(py, &mut self.budget);
        let wrap = match &self.wrap {
            Some((f, Some(values))) => values.get(i).map(|x| (f, x.clone_ref(py))),
            Some((f, None)) => Some((f, py.None())),
            None => None,
        };
        let Some((f, x)) = wrap else {
            *raw.parsed.get_mut().unwrap_or_else(|e| e.into_inner()) = parsed;
            return Ok(Py::new(py, raw)?.into_any());
        };
        let raw = Py::new(py, raw)?;
        let parsed = parsed.unwrap_or_else(|| py.None());
        // A wrapper that raises leaves the RawResponse (without the value).
        Ok(f.call1(py, (raw.clone_ref(py), x, parsed))
            .unwrap_or_else(|_| raw.into_any()))
    }
}

/// Each result as a RawResponse, or the exception it maps to.
fn slots_to_py(py: Python<'_>, slots: Vec<Slot>, blocking: bool) -> PyResult<Vec<Py<PyAny>>> {
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Native(r) => one_to_py(py, r, blocking, |raw| Ok(Py::new(py, raw)?.into_any())),
            Slot::Python(v) => v,
        })
        .collect()
}

/// One result as Python sees it: None (not sent), the exception a failure
/// maps to, or for a response what `make` makes of its RawResponse.
fn one_to_py(
    py: Python<'_>,
    r: ManyResult,
    blocking: bool,
    make: impl FnOnce(PyRawResponse) -> PyResult<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    match r.map(|b| *b) {
        None => Ok(py.None()),
        Some((Ok(resp), page, orjson_ok)) => {
            // A parsed page points into the Rust body: no second copy then.
            let mut raw =
                PyRawResponse::with_body(py, resp, blocking, orjson_ok && page.is_none())?;
            *raw.records.get_mut().unwrap_or_else(|e| e.into_inner()) = page.map(Box::new);
            make(raw)
        }
        Some((Err(e), _, _)) => Ok(to_py(py, e).into_value(py).into_any()),
    }
}

/// A connection pool and cookie jar (`petro.Session` wraps it).
#[pyclass(name = "Session", module = "petro._core", frozen)]
pub struct PySession {
    inner: Arc<Session>,
}

#[pymethods]
impl PySession {
    /// `shared=True` uses the process-wide pool (module-level calls do).
    #[new]
    #[pyo3(signature = (shared = false))]
    fn new(shared: bool) -> Self {
        let pool = if shared {
            shared_pool()
        } else {
            Arc::new(Pool::new())
        };
        PySession {
            inner: Arc::new(Session::new(pool)),
        }
    }

    /// Send one request. Every option is resolved by the Python layer.
    #[pyo3(signature = (
        method, url, headers, body=None, json=None, connect_timeout=None, read_timeout=None,
        allow_redirects=true, max_redirects=30, verify=None, cert=None, proxies=None,
        trust_env=true, stream=false, cookies=None, credential_headers=None, retry=None,
        idempotent=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: String,
        url: String,
        headers: Bound<'py, PyList>,
        body: Option<Bound<'py, PyAny>>,
        json: Option<Bound<'py, PyAny>>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        allow_redirects: bool,
        max_redirects: usize,
        verify: Option<Bound<'py, PyAny>>,
        cert: Option<Bound<'py, PyAny>>,
        proxies: Option<Vec<(String, String)>>,
        trust_env: bool,
        stream: bool,
        cookies: Option<Vec<(String, String)>>,
        credential_headers: Option<Vec<String>>,
        retry: Option<RetryArgs>,
        idempotent: Option<bool>,
    ) -> PyResult<PyRawResponse> {
        let spec = CallArgs(
            method,
            url,
            headers,
            body,
            json,
            connect_timeout,
            read_timeout,
            allow_redirects,
            max_redirects,
            verify,
            cert,
            proxies,
            trust_env,
            stream,
            cookies,
            credential_headers,
            retry,
            idempotent,
        )
        .into_spec(py)?;
        let session = self.inner.clone();
        let ((resp, orjson_ok), blocking) = wait(py, execute_checked(session, spec))?;
        PyRawResponse::with_body(py, resp, blocking, orjson_ok)
    }

    /// Start one request for asyncio; `args` is the tuple `request` takes.
    /// Its result reaches `loop.call_soon_threadsafe(on_done, ok, value)`.
    fn request_async(
        &self,
        py: Python<'_>,
        args: Bound<'_, PyTuple>,
        event_loop: Py<PyAny>,
        on_done: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        let spec = CallArgs::from_tuple(&args)?.into_spec(py)?;
        let session = self.inner.clone();
        bridge::spawn(
            event_loop,
            on_done,
            execute_checked(session, spec),
            |py, (resp, orjson_ok)| {
                let raw = PyRawResponse::with_body(py, resp, false, orjson_ok)?;
                Ok(Py::new(py, raw)?.into_any())
            },
        )
    }

    /// Send many requests, at most `concurrency` at a time, with the GIL
    /// released; returns a RawResponse or an exception for each, in order.
    /// `parse_records`: parse each 2xx body into a page of records on arrival
    /// (handed over by `parse_records(response)`). `page_rows`: the records each
    /// page should hold; after a page with fewer (the end of the data) the
    /// remaining requests are not sent, and their results are None. `frames`:
    /// the FrameBuilder the pages are for; when it makes str objects, each
    /// page's text becomes str as the page arrives (while other responses are
    /// still on their way), not all at the end.
    #[pyo3(signature = (calls, concurrency, parse_records = false, page_rows = None, frames = None, wrap = None))]
    #[allow(clippy::too_many_arguments)]
    fn request_many(
        &self,
        py: Python<'_>,
        calls: Vec<Bound<'_, PyTuple>>,
        concurrency: usize,
        parse_records: bool,
        page_rows: Option<Vec<usize>>,
        frames: Option<Py<FrameBuilder>>,
        wrap: Option<(Py<PyAny>, Vec<Py<PyAny>>)>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        if let Some((_, extra)) = &wrap {
            if extra.len() != calls.len() {
                return Err(PyValueError::new_err(format!(
                    "wrap needs one value per call ({} calls, {} values)",
                    calls.len(),
                    extra.len()
                )));
            }
        }
        let specs = specs_of(py, calls)?;
        let wrap = wrap.map(|(f, extra)| (f, Some(extra)));
        self.batch(
            py,
            specs,
            concurrency,
            parse_records,
            page_rows,
            frames,
            wrap,
        )
    }

    /// `request_many` for a batch of simple items, dicts with only the keys
    /// "method" and "url" (str) and maybe "json": each is sent as `templates`
    /// say, the call tuples `Session._prepare` gives such an item without and
    /// with a body, its own method, URL and JSON body put in. The items are
    /// read here, with no tuple per item made in Python. Returns None, having
    /// sent nothing, when an item is not simple. `wrap`: as for `request_many`,
    /// with None as each call's value.
    #[pyo3(signature = (items, templates, concurrency, wrap = None))]
    fn request_many_simple(
        &self,
        py: Python<'_>,
        items: Bound<'_, PyList>,
        templates: (Bound<'_, PyTuple>, Bound<'_, PyTuple>),
        concurrency: usize,
        wrap: Option<Py<PyAny>>,
    ) -> PyResult<Option<Vec<Py<PyAny>>>> {
        let Some(specs) = simple_specs(py, &items, &templates)? else {
            return Ok(None);
        };
        let wrap = wrap.map(|f| (f, None));
        self.batch(py, specs, concurrency, false, None, None, wrap)
            .map(Some)
    }

    /// `request_many` for asyncio: the list reaches `on_done` like `request_async`.
    fn request_many_async(
        &self,
        py: Python<'_>,
        calls: Vec<Bound<'_, PyTuple>>,
        concurrency: usize,
        event_loop: Py<PyAny>,
        on_done: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        let specs = specs_of(py, calls)?;
        let session = self.inner.clone();
        bridge::spawn(
            event_loop,
            on_done,
            // Not converted in the batch: a worker thread must not wait for the GIL.
            async move { Ok(run_many(session, specs, concurrency, false, None, None, None).await) },
            |py, results| {
                Ok(PyList::new(py, slots_to_py(py, results, false)?)?
                    .into_any()
                    .unbind())
            },
        )
    }

    /// Every cookie in the jar as (name, value, domain, path).
    fn cookies(&self) -> Vec<(String, String, String, String)> {
        self.inner
            .cookies()
            .into_iter()
            .map(|c| (c.name, c.value, c.domain, c.path))
            .collect()
    }

    #[pyo3(signature = (name, value, domain = "", path = "/"))]
    fn set_cookie(
        &self,
        py: Python<'_>,
        name: &str,
        value: &str,
        domain: &str,
        path: &str,
    ) -> PyResult<()> {
        self.inner
            .set_cookie(name, value, domain, path)
            .map_err(|e| to_py(py, e))
    }

    #[pyo3(signature = (name, domain = None))]
    fn remove_cookie(&self, name: &str, domain: Option<&str>) {
        self.inner.remove_cookie(name, domain)
    }

    fn clear_cookies(&self) {
        self.inner.clear_cookies()
    }

    /// Close idle connections (the pool is rebuilt on next use).
    fn close(&self) {
        self.inner.pool().clear()
    }
}

type SharedStream = Arc<tokio::sync::Mutex<Option<BodyStream>>>;

impl PySession {
    /// Run a batch's requests (see `request_many`).
    #[allow(clippy::too_many_arguments)]
    fn batch(
        &self,
        py: Python<'_>,
        specs: Vec<RequestSpec>,
        concurrency: usize,
        parse_records: bool,
        page_rows: Option<Vec<usize>>,
        frames: Option<Py<FrameBuilder>>,
        wrap: Option<Wrap>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let session = self.inner.clone();
        // A batch of several outlasts the spin window: it waits without spinning.
        let spin = specs.len() <= 1;
        let (results, blocking) = wait_for(
            py,
            async move {
                // query_df's pages are parsed in the batch already.
                let in_batch = (!parse_records).then(|| InBatch::here(wrap));
                Ok(run_many(
                    session,
                    specs,
                    concurrency,
                    parse_records,
                    frames,
                    page_rows,
                    in_batch,
                )
                .await)
            },
            spin,
        )?;
        slots_to_py(py, results, blocking)
    }
}

/// The core's response as Python sees it (`petro.Response` wraps it).
#[pyclass(name = "RawResponse", module = "petro._core", frozen)]
pub struct PyRawResponse {
    #[pyo3(get)]
    status: u16,
    reason: std::borrow::Cow<'static, str>,
    #[pyo3(get)]
    http_version: &'static str,
    #[pyo3(get)]
    url: String,
    /// Seconds from sending to the response headers.
    #[pyo3(get)]
    elapsed: f64,
    // Kept as the core's maps; turned into Python pairs only when asked for.
    headers: http::HeaderMap,
    request_method: http::Method,
    request_headers: Arc<http::HeaderMap>,
    body: std::sync::Mutex<Option<Bytes>>,
    stream: SharedStream,
    history: Vec<Py<PyRawResponse>>,
    attempts: Vec<Attempt>,
    /// Fetched by the blocking API: its connection lives on the current-thread
    /// runtime, which only a thread inside its `block_on` drives.
    blocking: bool,
    /// The body as a page of records, when `request_many` was asked to parse it
    /// (inner None: it is not one).
    /// Boxed: a RawResponse stays under 512 bytes, the largest object
    /// CPython's own allocator serves (above, every response was a `malloc`).
    records: std::sync::Mutex<Option<Box<Option<Page>>>>,
    /// The body as a Python bytes object, when it was made one on arrival (see
    /// `with_body`); `body` then shares its memory.
    py_body: Option<Py<PyBytes>>,
    /// True when `Response.json()` may parse the body as UTF-8 straight away:
    /// the Content-Type names no charset, or a UTF-8 one (`Response.encoding`'s
    /// rules, without building the header dict). Decided on arrival: asked of
    /// every reply of a batch, a getter that read the headers cost ~0.7 us.
    #[pyo3(get)]
    utf8_json: bool,
    /// The Content-Type names JSON (`application/json`, `...+json`): a body
    /// `request_many` may parse ahead. Decided on arrival, with `utf8_json`.
    json_type: bool,
    /// The body parsed while the rest of its batch was on its way (see
    /// `InBatch`); the first `json()` takes it, later ones parse again.
    parsed: std::sync::Mutex<Option<Py<PyAny>>>,
}

/// Whether a `RawResponse` slot holds a value (a poisoned lock still holds its data).
fn is_set<T>(slot: &std::sync::Mutex<Option<T>>) -> bool {
    slot.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// A `RawResponse` slot's value, taken (handed over once).
fn take<T>(slot: &std::sync::Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Header pairs as http.client shows them (values as Latin-1).
fn header_pairs(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| (k.as_str().to_string(), latin1(v.as_bytes())))
        .collect()
}

/// The Content-Type header (joined if repeated), or None. One plain-ASCII
/// value, the usual case, is read in place (asked of every reply of a batch).
fn content_type_of(headers: &http::HeaderMap) -> Option<Cow<'_, str>> {
    let mut values = headers.get_all(http::header::CONTENT_TYPE).iter();
    let first = values.next()?;
    match (first.to_str(), values.next()) {
        (Ok(one), None) => Some(Cow::Borrowed(one)),
        _ => Some(Cow::Owned(joined(headers, &http::header::CONTENT_TYPE))),
    }
}

/// Every value of `name`, as Latin-1, joined with ", ".
fn joined(map: &http::HeaderMap, name: &http::header::HeaderName) -> String {
    let mut out = String::new();
    for (i, v) in map.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_latin1(&mut out, v.as_bytes());
    }
    out
}

/// Whether a body with this Content-Type is JSON to read as UTF-8, by the rules
/// of `Response.json()` in Python: no charset (requests' ISO-8859-1 default for
/// `text/*` does not apply to JSON), or a UTF-8 one.
fn json_as_utf8(ctype: &str) -> bool {
    let mut parts = ctype.split(';');
    let main = parts.next().unwrap_or_default();
    for param in parts {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if key.trim().eq_ignore_ascii_case("charset") {
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            return ["utf-8", "utf8", "utf_8", "u8"]
                .iter()
                .any(|u| value.eq_ignore_ascii_case(u));
        }
    }
    // A text type's default ISO-8859-1 counts as UTF-8 only with no "charset" anywhere.
    !(has_ascii_ci(main, "text") && has_ascii_ci(ctype, "charset"))
}

/// Whether `haystack` contains `needle`, ASCII case ignored (no lowercased copies).
fn has_ascii_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Header bytes as http.client shows them: Latin-1.
fn latin1(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    push_latin1(&mut out, v);
    out
}

/// Append header bytes read as Latin-1.
fn push_latin1(out: &mut String, v: &[u8]) {
    match std::str::from_utf8(v) {
        // ASCII (nearly every header) reads the same either way: one copy.
        Ok(s) if v.is_ascii() => out.push_str(s),
        _ => out.extend(v.iter().map(|b| *b as char)),
    }
}

impl PyRawResponse {
    fn from_core(resp: Response, blocking: bool) -> Self {
        let Response {
            status,
            reason,
            version,
            headers,
            url,
            elapsed,
            request,
            body,
            stream,
            history,
            attempts,
        } = resp;
        let history = if history.is_empty() {
            Vec::new()
        } else {
            Python::attach(|py| {
                history
                    .into_iter()
                    .filter_map(|h| Py::new(py, PyRawResponse::from_core(h, blocking)).ok())
                    .collect()
            })
        };
        let ctype = content_type_of(&headers);
        let utf8_json = ctype.as_deref().is_none_or(json_as_utf8);
        let json_type = ctype.as_deref().is_some_and(|c| has_ascii_ci(c, "json"));
        PyRawResponse {
            utf8_json,
            json_type,
            status,
            reason,
            http_version: version,
            url,
            elapsed: elapsed.as_secs_f64(),
            headers,
            request_method: request.method,
            request_headers: request.headers,
            body: std::sync::Mutex::new(body.map(Body::into_bytes)),
            stream: Arc::new(tokio::sync::Mutex::new(stream)),
            history,
            attempts,
            blocking,
            records: std::sync::Mutex::new(None),
            py_body: None,
            parsed: std::sync::Mutex::new(None),
        }
    }

    /// A small JSON body parsed now, while `budget` (body bytes) lasts, for
    /// the first `json()` to hand over. Only bodies `json()` would hand to
    /// orjson as they are (a JSON Content-Type, UTF-8); a body that fails to
    /// parse is left for `json()` to report.
    fn parse_ahead(&self, py: Python<'_>, budget: &mut usize) -> Option<Py<PyAny>> {
        let b = self.py_body.as_ref()?.bind(py);
        let len = b.as_bytes().len();
        if !self.utf8_json || !self.json_type || len > PREPARSE_MAX || len > *budget {
            return None;
        }
        *budget -= len;
        json::loads_from(py, b.as_bytes(), Some(b), Some(true))
            .ok()
            .map(Bound::unbind)
    }

    /// The page of records `request_many` parsed, once (None: not parsed;
    /// Some(None): the body is not a page of records).
    pub(crate) fn take_records(&self) -> Option<Option<Page>> {
        take(&self.records).map(|b| *b)
    }

    /// `from_core`, making a body that orjson will parse a Python bytes object
    /// now, while the GIL is held anyway: `.content` then hands it out and
    /// `.json()` parses it without another copy (requests also keeps the body as
    /// bytes). The chunks that arrived are copied straight into it (one copy;
    /// with the GIL released for large bodies). Larger bodies stay in Rust,
    /// where jiter parses them in place.
    ///
    /// `orjson_ok`: `json::orjson_can_parse_body(body)`, found with the GIL released.
    fn with_body(
        py: Python<'_>,
        mut resp: Response,
        blocking: bool,
        orjson_ok: bool,
    ) -> PyResult<Self> {
        let body = resp.body.take();
        let mut raw = PyRawResponse::from_core(resp, blocking);
        let rust_body = match body {
            Some(b) if orjson_ok => {
                let bytes = match b.chunks() {
                    [one] if one.len() < DETACH_COPY_MIN => PyBytes::new(py, one),
                    _ => PyBytes::new_with(py, b.len(), |buf| {
                        if b.len() >= DETACH_COPY_MIN {
                            py.detach(|| b.copy_to(buf));
                        } else {
                            b.copy_to(buf);
                        }
                        Ok(())
                    })?,
                };
                let shared = Bytes::from_owner(PyBackedBytes::from(bytes.clone()));
                raw.py_body = Some(bytes.unbind());
                Some(shared)
            }
            other => other.map(Body::into_bytes),
        };
        *raw.body.get_mut().unwrap_or_else(|e| e.into_inner()) = rust_body;
        Ok(raw)
    }

    /// The whole body (read now if it was streamed).
    pub(crate) fn full_body(&self, py: Python<'_>) -> PyResult<Bytes> {
        if let Some(b) = self.body.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Ok(b.clone());
        }
        let stream = self.stream.clone();
        let body = wait_on(
            py,
            async move {
                let mut guard = stream.lock().await;
                match guard.as_mut() {
                    Some(s) => {
                        let b = s.read_to_end().await;
                        *guard = None;
                        b.map(Body::into_bytes)
                    }
                    None => Err(Error::new(
                        crate::http::ErrorKind::StreamConsumed,
                        "The content for this response was already consumed",
                    )),
                }
            },
            self.blocking,
        )?;
        *self.body.lock().unwrap_or_else(|e| e.into_inner()) = Some(body.clone());
        Ok(body)
    }
}

#[pymethods]
impl PyRawResponse {
    /// Response headers as (lower-case name, value) pairs, one per name in
    /// order of first arrival; repeated headers joined with ", " (requests' rule).
    fn headers(&self) -> Vec<(String, String)> {
        self.headers
            .keys()
            .map(|name| (name.as_str().to_string(), joined(&self.headers, name)))
            .collect()
    }

    /// The Content-Type header (joined if repeated), or None.
    #[getter]
    fn content_type(&self) -> Option<String> {
        content_type_of(&self.headers).map(Cow::into_owned)
    }

    /// The status's reason phrase (`OK`).
    #[getter]
    fn reason(&self) -> &str {
        &self.reason
    }

    /// (method, url, headers) of the request as finally sent.
    fn request_info(&self) -> (String, String, Vec<(String, String)>) {
        (
            self.request_method.as_str().to_owned(),
            self.url.clone(),
            header_pairs(&self.request_headers),
        )
    }

    #[getter]
    fn history(&self, py: Python<'_>) -> Vec<Py<PyRawResponse>> {
        self.history.iter().map(|h| h.clone_ref(py)).collect()
    }

    /// Every attempt as (status or None, error or None, seconds taken, seconds waited after).
    #[getter]
    fn attempts(&self) -> Vec<(Option<u16>, Option<String>, f64, f64)> {
        self.attempts
            .iter()
            .map(|a| {
                (
                    a.status,
                    a.error.clone(),
                    a.elapsed.as_secs_f64(),
                    a.wait.as_secs_f64(),
                )
            })
            .collect()
    }

    /// True when the body has been read into memory.
    #[getter]
    fn is_read(&self) -> bool {
        is_set(&self.body)
    }

    /// The whole body as bytes (reads the rest of a stream).
    fn content<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        if let Some(b) = &self.py_body {
            return Ok(b.bind(py).clone());
        }
        let body = self.full_body(py)?;
        Ok(PyBytes::new(py, &body))
    }

    /// True while the body's value, parsed as its batch went on, waits for
    /// the first `json()`.
    #[getter]
    fn parsed_ahead(&self) -> bool {
        is_set(&self.parsed)
    }

    /// Parse the body as JSON straight from the Rust buffer (the first call
    /// after `request_many` hands over the value parsed as the batch went on).
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(v) = take(&self.parsed) {
            return Ok(v.into_bound(py));
        }
        if let Some(b) = &self.py_body {
            let b = b.bind(py);
            // Made only for bodies orjson parses exactly (checked on arrival).
            return json::loads_from(py, b.as_bytes(), Some(b), Some(true));
        }
        let body = self.full_body(py)?;
        json::loads(py, &body)
    }

    /// The next piece of a streamed body, or None at its end.
    fn read_chunk<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if let Some(b) = self.body.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // Body already in memory: hand it out once.
            return Ok(if b.is_empty() {
                None
            } else {
                Some(PyBytes::new(py, &b))
            });
        }
        let stream = self.stream.clone();
        let chunk = wait_on(
            py,
            async move {
                let mut guard = stream.lock().await;
                match guard.as_mut() {
                    Some(s) => s.next_chunk().await,
                    None => Ok(None),
                }
            },
            self.blocking,
        )?;
        Ok(chunk.map(|c| PyBytes::new(py, &c)))
    }

    /// `read_chunk` for asyncio: bytes, or None at the end, reach `on_done`
    /// through `loop.call_soon_threadsafe` (see `Session.request_async`).
    fn read_chunk_async(&self, event_loop: Py<PyAny>, on_done: Py<PyAny>) -> PyResult<TaskHandle> {
        let stream = self.stream.clone();
        let next = async move {
            let mut guard = stream.lock().await;
            match guard.as_mut() {
                Some(s) => s.next_chunk().await,
                None => Ok(None),
            }
        };
        let blocking = self.blocking;
        bridge::spawn(
            event_loop,
            on_done,
            async move {
                if !blocking {
                    return next.await;
                }
                // The connection is driven by the current-thread runtime:
                // wait for it there, on a blocking-pool thread.
                let rt = runtime::blocking().map_err(|e| {
                    Error::new(crate::http::ErrorKind::Other, format!("runtime: {e}"))
                })?;
                tokio::task::spawn_blocking(move || rt.block_on(next))
                    .await
                    .map_err(|e| Error::new(crate::http::ErrorKind::Other, e.to_string()))?
            },
            |py, chunk: Option<Bytes>| {
                Ok(match chunk {
                    Some(c) => PyBytes::new(py, &c).into_any().unbind(),
                    None => py.None(),
                })
            },
        )
    }

    /// Drop the connection of an unread streamed body.
    fn close(&self) {
        if let Ok(mut guard) = self.stream.try_lock() {
            if let Some(s) = guard.as_mut() {
                s.close();
            }
            *guard = None;
        }
    }
}

/// `json.dumps(obj)` in Rust: the body petro sends for `json=obj`.
#[pyfunction]
pub fn dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let out = json::dumps(py, obj)?;
    Ok(PyBytes::new(py, &out))
}

/// Parse JSON bytes (or str) into Python objects, like `json.loads`.
#[pyfunction]
pub fn loads<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return json::loads_from(py, b.as_bytes(), Some(b), None);
    }
    if let Ok(s) = data.cast::<PyString>() {
        return json::loads(py, s.to_cow()?.as_bytes());
    }
    Err(PyTypeError::new_err("loads() takes bytes or str"))
}

#[cfg(test)]
mod layout {
    #[test]
    fn a_raw_response_fits_cpythons_small_object_allocator() {
        // pymalloc serves objects up to 512 bytes; the object adds its 16-byte header.
        assert!(std::mem::size_of::<super::PyRawResponse>() + 16 <= 512);
    }
}
