//! The asyncio bridge: run a core future on petro's tokio runtime and hand its
//! result to an asyncio event loop, without a second event loop and without
//! ever making a tokio worker wait for the GIL.
//!
//! A finished task sends a small job over a channel to ONE dispatcher thread per
//! process. The dispatcher takes the GIL, turns the result into Python objects
//! and calls `loop.call_soon_threadsafe(on_done, ok, value)`; `on_done` (Python)
//! settles the asyncio future unless it was cancelled meanwhile. The dispatcher
//! is recreated after `fork()` (the parent's thread does not exist in a child),
//! like the runtime itself.
//!
//! Cancelling the asyncio future calls [`TaskHandle::abort`], which drops the
//! core future and so closes its connection.

use std::future::Future;
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use pyo3::prelude::*;

use super::errors::{internal, to_py};
use crate::http::Error;
use crate::runtime;

/// What a finished task hands its loop: `(loop, on_done, ok, value)`.
type Delivery = (Py<PyAny>, Py<PyAny>, bool, Py<PyAny>);

/// One loop's share of a burst: `(on_done, ok, value)` each.
type Results = Vec<(Py<PyAny>, bool, Py<PyAny>)>;

/// Work for the dispatcher: runs with the GIL held.
type Job = Box<dyn FnOnce(Python<'_>) -> Delivery + Send>;

struct Dispatcher {
    pid: u32,
    tx: Sender<Job>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    dispatcher: Option<Dispatcher>,
    /// The process whose interpreter is exiting (`shutdown` ran): no new thread.
    closed: Option<u32>,
}

static STATE: Mutex<State> = Mutex::new(State {
    dispatcher: None,
    closed: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    /// Install `d`. A dispatcher inherited through `fork()` is forgotten, not
    /// dropped: its thread does not exist in this process, so its handle must
    /// not be detached.
    fn install(&mut self, d: Dispatcher) {
        if let Some(old) = self.dispatcher.replace(d) {
            if old.pid != std::process::id() {
                std::mem::forget(old);
            }
        }
    }
}

/// Start the dispatcher thread for this process.
fn start() -> std::io::Result<Dispatcher> {
    let (tx, rx) = channel::<Job>();
    let thread = std::thread::Builder::new()
        .name("petro-asyncio".into())
        .spawn(move || {
            // Blocks without the GIL; takes it once per burst of finished tasks
            // and wakes each loop once per burst. Ends when `shutdown` closes the
            // channel (after delivering what was queued).
            while let Ok(job) = rx.recv() {
                let attached = Python::try_attach(|py| {
                    let mut burst = vec![job(py)];
                    while let Ok(more) = rx.try_recv() {
                        burst.push(more(py));
                    }
                    deliver(py, burst);
                });
                if attached.is_none() {
                    break; // the interpreter is shutting down
                }
            }
        })?;
    Ok(Dispatcher {
        pid: std::process::id(),
        tx,
        thread: Some(thread),
    })
}

/// Hand finished results to their loops: one `call_soon_threadsafe` per loop
/// per burst (each call writes to the loop's self-pipe and wakes it).
fn deliver(py: Python<'_>, burst: Vec<Delivery>) {
    let mut groups: Vec<(Py<PyAny>, Results)> = Vec::new();
    for (event_loop, on_done, ok, value) in burst {
        match groups
            .iter_mut()
            .find(|(l, _)| l.as_ptr() == event_loop.as_ptr())
        {
            Some((_, items)) => items.push((on_done, ok, value)),
            None => groups.push((event_loop, vec![(on_done, ok, value)])),
        }
    }
    for (event_loop, mut items) in groups {
        let event_loop = event_loop.bind(py);
        // A closed loop refuses the call: nobody is waiting any more.
        let _ = if items.len() == 1 {
            let (on_done, ok, value) = items.remove(0);
            event_loop.call_method1("call_soon_threadsafe", (on_done, ok, value))
        } else {
            resolve_all(py)
                .and_then(|f| event_loop.call_method1("call_soon_threadsafe", (f, items)))
        };
    }
}

/// `petro._bridge._resolve_all`: calls each `on_done(ok, value)` in turn.
fn resolve_all(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("petro._bridge")?.getattr("_resolve_all")
}

/// Queue `job` for the dispatcher (starting it, or a new one after a fork).
fn dispatch(job: Job) {
    let pid = std::process::id();
    let mut state = state();
    if state.closed == Some(pid) {
        return; // exiting: nobody will await it (its objects are released later)
    }
    let mut job = job;
    for _ in 0..2 {
        if let Some(d) = state.dispatcher.as_ref().filter(|d| d.pid == pid) {
            match d.tx.send(job) {
                Ok(()) => return,
                // The thread ended (interpreter shutdown): try a fresh one once.
                Err(e) => job = e.0,
            }
        }
        match start() {
            Ok(d) => state.install(d),
            Err(_) => return, // no thread can be made: the awaiting side is left pending
        }
    }
}

/// Make sure this process's dispatcher exists before any task can need it.
pub fn ensure_dispatcher() -> PyResult<()> {
    let pid = std::process::id();
    let mut state = state();
    if state.closed == Some(pid) {
        return Err(internal(
            "the interpreter is exiting: no new asyncio requests",
        ));
    }
    if state.dispatcher.as_ref().is_some_and(|d| d.pid == pid) {
        return Ok(());
    }
    let d = start().map_err(|e| internal(format!("cannot start petro's asyncio thread: {e}")))?;
    state.install(d);
    Ok(())
}

/// Stop the dispatcher and wait for it (registered with `atexit`). A thread
/// that takes the GIL once the interpreter is finalizing is stopped in the
/// middle of its call, which crashes the process; so the dispatcher must be
/// done before then.
#[pyfunction]
pub fn shutdown_dispatcher(py: Python<'_>) {
    let pid = std::process::id();
    let thread = {
        let mut state = state();
        state.closed = Some(pid);
        match state.dispatcher.take() {
            // Dropping the sender closes the channel: the thread delivers what is
            // queued, then ends.
            Some(mut d) if d.pid == pid => d.thread.take(),
            // A forked child's copy of the parent's (that thread is not here).
            Some(d) => {
                std::mem::forget(d);
                None
            }
            None => None,
        }
    };
    if let Some(t) = thread {
        // Without the GIL, which the thread may need to finish its burst.
        py.detach(|| {
            let _ = t.join();
        });
    }
}

/// A running core task; `abort()` cancels it and closes its connection.
#[pyclass(name = "TaskHandle", module = "petro._core", frozen)]
pub struct TaskHandle {
    handle: tokio::task::AbortHandle,
}

#[pymethods]
impl TaskHandle {
    /// Cancel the task (a no-op once it has finished).
    fn abort(&self) {
        self.handle.abort()
    }

    /// True once the task has finished or been aborted.
    fn done(&self) -> bool {
        self.handle.is_finished()
    }
}

/// Spawn `fut` on petro's runtime; when it ends, `convert` builds its Python
/// value on the dispatcher thread and `loop.call_soon_threadsafe(on_done, ok,
/// value)` delivers it (`ok` is False and `value` an exception on failure).
pub fn spawn<T, F, C>(
    event_loop: Py<PyAny>,
    on_done: Py<PyAny>,
    fut: F,
    convert: C,
) -> PyResult<TaskHandle>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let rt =
        runtime::get().map_err(|e| internal(format!("cannot start petro's I/O runtime: {e}")))?;
    ensure_dispatcher()?;
    let task = rt.spawn(async move {
        let result = fut.await;
        // Only a channel send here: the worker never waits for the GIL.
        dispatch(Box::new(move |py: Python<'_>| {
            let (ok, value) = match result
                .map_err(|e| to_py(py, e))
                .and_then(|v| convert(py, v))
            {
                Ok(v) => (true, v),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            (event_loop, on_done, ok, value)
        }));
    });
    Ok(TaskHandle {
        handle: task.abort_handle(),
    })
}
