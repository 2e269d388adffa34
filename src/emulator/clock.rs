//! The emulator's clock: wall time plus an offset that tests move forward
//! (`advance_clock`) to expire JWTs and empty rate-limit windows without
//! sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall clock with a movable offset, in milliseconds since the Unix epoch.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Milliseconds since the epoch, offset included.
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Whole seconds since the epoch, offset included.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Move the clock forward (or back, with a negative value) by `seconds`.
    pub fn advance(&self, seconds: f64) {
        let ms = (seconds * 1000.0).round();
        let ms = if ms.is_finite() { ms as i64 } else { 0 };
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_time() {
        let c = Clock::default();
        let a = c.now_secs();
        c.advance(3600.0);
        assert!(c.now_secs() >= a + 3600);
    }
}
