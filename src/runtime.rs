//! The process-wide tokio runtime shared by the client and the emulator.
//!
//! Created lazily on first use. After `fork()` the child process cannot use the
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

/// The runtime for this process (a new one after a fork).
pub fn get() -> std::io::Result<Arc<Runtime>> {
    let pid = std::process::id();
    let mut guard = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = guard.as_ref() {
        if shared.pid == pid {
            return Ok(shared.runtime.clone());
        }
    }
    let runtime = Arc::new(
        Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("petro-io")
            .enable_all()
            .build()?,
    );
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
    }
}
