//! The process-wide tokio runtimes.
//!
//! Two of them, both created lazily on first use:
//! - [`get`]: a multi-thread runtime for asyncio callers (`AsyncSession`), the
//!   emulator and anything spawned to run on its own;
//! - [`blocking`]: a current-thread runtime that the blocking API drives from
//!   the calling thread with `block_on`. A synchronous request then runs start
//!   to finish on the thread that asked for it: no hand-off to a worker thread
//!   and back, which on a busy or pinned CPU costs two context switches per
//!   request (measured in benchmarks/README.md). Several Python threads may
//!   `block_on` it at once: one of them drives the I/O for all, as tokio
//!   documents for the current-thread scheduler.
//!
//! Connections belong to the runtime they were opened on, so the pool keeps
//! separate clients for each flavour (see `http::session::ClientKey`).
//! After `fork()` the child process cannot use the
//! parent's runtime (its worker threads do not exist in the child), so the
//! runtime remembers the pid it was made in and a new one is built when the pid
//! changes. The old one is leaked on purpose: dropping it would try to join
//! threads that are not there.

use std::sync::{Arc, Mutex};

use tokio::runtime::{Builder, Runtime};

struct Shared {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);
static BLOCKING: Mutex<Option<Shared>> = Mutex::new(None);

/// Number of worker threads: enough to keep I/O moving while Python threads
/// wait, without taking over a small machine.
fn worker_threads() -> usize {
    std::env::var("PETRO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .clamp(2, 8)
        })
}

/// The multi-thread runtime for this process (a new one after a fork).
pub fn get() -> std::io::Result<Arc<Runtime>> {
    per_process(&RUNTIME, || {
        Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("petro-io")
            .enable_all()
            .build()
    })
}

/// The current-thread runtime the blocking API drives with `block_on`
/// (a new one after a fork).
pub fn blocking() -> std::io::Result<Arc<Runtime>> {
    per_process(&BLOCKING, || {
        Builder::new_current_thread()
            .thread_name("petro-blocking")
            .enable_all()
            .build()
    })
}

/// True when futures polled here run on the current-thread runtime.
pub fn on_blocking_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
        .unwrap_or(false)
}

fn per_process(
    slot: &Mutex<Option<Shared>>,
    build: impl FnOnce() -> std::io::Result<Runtime>,
) -> std::io::Result<Arc<Runtime>> {
    let pid = std::process::id();
    let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = guard.as_ref() {
        if shared.pid == pid {
            return Ok(shared.runtime.clone());
        }
    }
    let runtime = Arc::new(build()?);
    if let Some(old) = guard.take() {
        // Forked child: the parent's runtime threads do not exist here.
        std::mem::forget(old);
    }
    *guard = Some(Shared {
        pid,
        runtime: runtime.clone(),
    });
    Ok(runtime)
}

/// True when the calling thread is inside a tokio runtime, where blocking
/// waits are not allowed.
pub fn inside_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_runtime_in_same_process() {
        let a = get().unwrap_or_else(|e| unreachable!("{e}"));
        let b = get().unwrap_or_else(|e| unreachable!("{e}"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!inside_runtime());
        assert!(a.block_on(async { inside_runtime() }));
        assert!(!a.block_on(async { on_blocking_runtime() }));
        let c = blocking().unwrap_or_else(|e| unreachable!("{e}"));
        let d = blocking().unwrap_or_else(|e| unreachable!("{e}"));
        assert!(Arc::ptr_eq(&c, &d));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(c.block_on(async { on_blocking_runtime() }));
    }
}
