//! The process-wide tokio runtimes.
//!
//! Two of them, both created lazily on first use:
//! - [`get`]: a multi-thread runtime for asyncio callers (`AsyncSession`), the
//!   emulator, anything spawned to run on its own, and the blocking waits of
//!   threads that wait while other threads wait too (the waiting thread polls
//!   its own request; the workers drive the connections);
//! - [`blocking`]: a current-thread runtime that the blocking API drives from
//!   the calling thread with `block_on` (the main thread, or a thread waiting
//!   alone). A synchronous request then runs start to finish on the thread
//!   that asked for it: no hand-off to a worker thread and back, which on a
//!   busy or pinned CPU costs two context switches per request (measured in
//!   benchmarks/README.md). When several threads `block_on` it at once, one of
//!   them drives the I/O for all, as tokio documents for the current-thread
//!   scheduler (see `python::client::wait` for why a thread pool uses [`get`]).
//!
//! Connections belong to the runtime they were opened on, so the pool keeps
//! separate clients for each flavour (see `http::session::ClientKey`).
//! After `fork()` the child process cannot use the
//! parent's runtime (its worker threads do not exist in the child), so the
//! runtime remembers the pid it was made in and a new one is built when the pid
//! changes. The old one is leaked on purpose: dropping it would try to join
//! threads that are not there.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Runtime};

struct Shared {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);
/// The pid seen by the latest runtime lookup ([`get`], [`blocking`]), 0 before
/// any: see [`pid`].
static PID: AtomicU32 = AtomicU32::new(0);
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

/// This process's id without a `getpid` call, for code that runs inside a
/// runtime (the connection pool's fork check, once per request): every wait
/// and every task spawn looks its runtime up first, and that lookup records
/// the pid. Before any lookup it asks the kernel.
pub fn pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => std::process::id(),
        pid => pid,
    }
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
    PID.store(pid, Ordering::Relaxed);
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

/// How long a lone blocking wait polls for its reply before it sleeps.
const SPIN_DEFAULT: Duration = Duration::from_micros(200);

/// The spin window: `PETRO_SPIN_US` (0 turns spinning off; at most 10 ms),
/// else [`SPIN_DEFAULT`].
fn spin_window() -> Duration {
    static SPIN: OnceLock<Duration> = OnceLock::new();
    *SPIN.get_or_init(|| {
        std::env::var("PETRO_SPIN_US")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|us| Duration::from_micros(us.min(10_000)))
            .unwrap_or(SPIN_DEFAULT)
    })
}

/// Threads inside a blocking wait (`python::client::wait`) right now.
static WAITERS: AtomicUsize = AtomicUsize::new(0);

/// Counts a thread in a blocking wait for as long as it lives.
pub struct Waiter {
    alone: bool,
    /// Whether the wait may [`spin`]: not for a batch, which outlasts any
    /// window (and would count as a miss against the waits after it).
    spin: bool,
}

impl Waiter {
    /// Register a waiting thread; `alone` when no other thread is waiting.
    pub fn enter() -> Waiter {
        Waiter {
            alone: WAITERS.fetch_add(1, Ordering::AcqRel) == 0,
            spin: true,
        }
    }

    /// This wait does not spin, and leaves the spin backoff as it is.
    pub fn without_spin(mut self) -> Waiter {
        self.spin = false;
        self
    }

    /// No other thread was waiting when this one started to.
    pub fn alone(&self) -> bool {
        self.alone
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        WAITERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Poll `fut` on the current-thread runtime for up to the spin window,
/// checking the I/O driver without sleeping in between; `None` when it is
/// still pending then (the caller goes on to wait for it the ordinary way).
///
/// A request to a nearby server (loopback, the emulator, a LAN service) is
/// answered within tens of microseconds. A thread that went to sleep for it
/// pays a context switch and, on a VM, a wake-up that costs more than the
/// wait, and the server pays an inter-processor interrupt to wake it; polling
/// (`yield_now` makes tokio check the driver with a zero timeout) avoids both.
/// Only a thread that waits alone spins: with several waiting threads, one of
/// them drives the I/O and a spinning one would take its CPU; each turn of the
/// loop also lets any other runnable thread on this CPU go first. A spin costs
/// at most the window (200 us) of CPU. No timer is armed
/// while spinning (arming one costs a wake-up write per request), so a
/// Ctrl-C is seen after the window at the latest.
///
/// A spin that ran out of its window makes the thread skip the next ones
/// ([`Backoff`]): a far server, or a stretch when this machine's other CPU is
/// busy, costs a spin on one wait in 65 rather than on each, and the first
/// spin that gets its reply in time starts over.
async fn spin<F: Future + Unpin>(fut: &mut F, waiter: &Waiter) -> Option<F::Output> {
    let window = spin_window();
    if !waiter.alone || !waiter.spin || window.is_zero() {
        return None;
    }
    let go = BACKOFF.with(|b| {
        let mut state = b.get();
        let go = state.should_spin();
        b.set(state);
        go
    });
    if !go {
        return None;
    }
    let out = spin_for(fut, window).await;
    BACKOFF.with(|b| {
        let mut state = b.get();
        state.record(out.is_some());
        b.set(state);
    });
    out
}

thread_local! {
    /// This thread's [`Backoff`].
    static BACKOFF: std::cell::Cell<Backoff> = const { std::cell::Cell::new(Backoff::new()) };
}

/// When to spin again after spins that ran out of their window: skip the next
/// 1, 2, 4, ... [`Backoff::MAX_SKIP`] waits after each miss in a row; a spin
/// that got its reply starts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    /// Waits still to skip.
    skip: u32,
    /// Waits to skip after the next miss (0: none missed in a row).
    penalty: u32,
}

impl Backoff {
    const MAX_SKIP: u32 = 64;

    const fn new() -> Backoff {
        Backoff {
            skip: 0,
            penalty: 0,
        }
    }

    /// Whether this wait spins (counts down a skip when not).
    fn should_spin(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// A spin ended: with its reply (`hit`) or at the end of its window.
    fn record(&mut self, hit: bool) {
        if hit {
            *self = Backoff::new();
        } else {
            self.penalty = (self.penalty * 2).clamp(1, Self::MAX_SKIP);
            self.skip = self.penalty;
        }
    }
}

/// The start of a blocking wait: settle the runtime, then [`spin`].
///
/// Nobody drives the current-thread runtime between calls when one thread
/// uses it alone, so a pooled connection the server closed meanwhile has not
/// noticed yet. Yielding twice lets tokio poll the I/O driver and run the
/// connection tasks first: a closed one leaves the pool instead of failing
/// the request sent on it. With other threads waiting, one of them is driving
/// the runtime already, and the two polls of the driver are skipped.
pub async fn start_wait<F: Future + Unpin>(fut: &mut F, waiter: &Waiter) -> Option<F::Output> {
    if waiter.alone {
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
    }
    spin(fut, waiter).await
}

/// [`spin`] with a given window (zero: no polling at all).
async fn spin_for<F: Future + Unpin>(fut: &mut F, window: Duration) -> Option<F::Output> {
    if window.is_zero() {
        return None;
    }
    let mut until: Option<Instant> = None;
    loop {
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await;
        if let Poll::Ready(out) = polled {
            return Some(out);
        }
        let now = Instant::now();
        if now >= *until.get_or_insert(now + window) {
            return None;
        }
        // Any other runnable thread on this CPU (the server's, when it shares
        // the CPU, or the thread holding the GIL) goes first.
        std::thread::yield_now();
        tokio::task::yield_now().await;
    }
}

/// True when the calling thread is inside a tokio runtime, where blocking
/// waits are not allowed.
pub fn inside_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn spinning_drives_the_io_and_gives_up_after_its_window() {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| unreachable!("{e}"));
        rt.block_on(async {
            // A loopback echo served by a task on the same runtime: the reply
            // arrives only if the spin lets tokio poll the driver and run it.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| unreachable!("{e}"));
            let addr = listener
                .local_addr()
                .unwrap_or_else(|e| unreachable!("{e}"));
            tokio::spawn(async move {
                if let Ok((mut sock, _)) = listener.accept().await {
                    let mut buf = [0u8; 4];
                    if sock.read_exact(&mut buf).await.is_ok() {
                        let _ = sock.write_all(&buf).await;
                    }
                }
            });
            let mut exchange = Box::pin(async move {
                let mut sock = tokio::net::TcpStream::connect(addr).await?;
                sock.write_all(b"ping").await?;
                let mut buf = [0u8; 4];
                sock.read_exact(&mut buf).await?;
                Ok::<_, std::io::Error>(buf)
            });
            let got = spin_for(&mut exchange, Duration::from_secs(30)).await;
            assert_eq!(got.map(|r| r.ok()), Some(Some(*b"ping")));

            // Still pending when the window closes: None, and the future can
            // still be awaited the ordinary way.
            let mut slow = Box::pin(tokio::time::sleep(Duration::from_secs(600)));
            assert!(spin_for(&mut slow, Duration::from_millis(2))
                .await
                .is_none());
            let mut soon = Box::pin(tokio::time::sleep(Duration::from_millis(5)));
            assert!(spin_for(&mut soon, Duration::from_micros(1))
                .await
                .is_none());
            soon.await;

            // A zero window (or a thread not waiting alone) does not poll at all.
            let mut never = Box::pin(std::future::pending::<()>());
            assert!(spin_for(&mut never, Duration::ZERO).await.is_none());
            let not_alone = Waiter {
                alone: false,
                spin: true,
            };
            assert!(spin(&mut never, &not_alone).await.is_none());

            // A batch's wait (`without_spin`) neither polls nor counts as a
            // miss; a lone ordinary wait polls, and its miss is counted.
            let polls = std::cell::Cell::new(0u32);
            let mut counted = Box::pin(std::future::poll_fn(|_| {
                polls.set(polls.get() + 1);
                std::task::Poll::<()>::Pending
            }));
            BACKOFF.with(|b| b.set(Backoff::new()));
            let batch = Waiter {
                alone: true,
                spin: false,
            };
            assert!(spin(&mut counted, &batch).await.is_none());
            assert_eq!(polls.get(), 0);
            assert_eq!(BACKOFF.with(|b| b.get()), Backoff::new());
            let lone = Waiter {
                alone: true,
                spin: true,
            };
            if !spin_window().is_zero() {
                assert!(spin(&mut counted, &lone).await.is_none());
                assert!(polls.get() > 0);
                assert_ne!(BACKOFF.with(|b| b.get()), Backoff::new());
            }
        });
    }

    #[test]
    fn missed_spins_back_off_and_a_hit_starts_over() {
        let mut b = Backoff::new();
        // Spins that hit never skip.
        for _ in 0..10 {
            assert!(b.should_spin());
            b.record(true);
        }
        // Each miss in a row doubles the waits skipped, up to MAX_SKIP.
        let mut skipped_runs = Vec::new();
        for _ in 0..9 {
            assert!(b.should_spin());
            b.record(false);
            let mut skipped = 0;
            while !b.should_spin() {
                skipped += 1;
            }
            skipped_runs.push(skipped);
            // should_spin said yes: that wait spins (and misses, next turn).
            b.skip = 0;
        }
        assert_eq!(skipped_runs, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
        // One hit: back to spinning every time.
        b.record(true);
        assert_eq!(b, Backoff::new());
        assert!(b.should_spin());
    }

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
