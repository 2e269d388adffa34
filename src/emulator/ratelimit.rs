//! Per-route, per-credential rate limits (sliding window on the emulator
//! clock, so `advance_clock` empties a window). Off unless configured; a
//! refused request gets `429` with `Retry-After` in whole seconds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// One limit: `limit` requests per `per_ms` for a route (or all routes).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Exact path (`/v1/usage`), a prefix ending in `*`, or `None` for every route.
    pub route: Option<String>,
    /// Requests allowed per window.
    pub limit: u32,
    /// Window length in milliseconds.
    pub per_ms: i64,
}

impl Rule {
    fn matches(&self, path: &str) -> bool {
        match &self.route {
            None => true,
            Some(r) => match r.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => r == path,
            },
        }
    }
}

/// The configured rules and the recent hits per (route, principal).
#[derive(Debug, Default)]
pub struct RateLimits {
    rules: Mutex<Vec<Rule>>,
    hits: Mutex<HashMap<(String, String), VecDeque<i64>>>,
}

impl RateLimits {
    /// Add or replace the rule for `rule.route`; a zero limit removes it
    /// (and with no route, removes every rule).
    pub fn set(&self, rule: Rule) {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        if rule.limit == 0 {
            if rule.route.is_none() {
                rules.clear();
            } else {
                rules.retain(|r| r.route != rule.route);
            }
        } else {
            rules.retain(|r| r.route != rule.route);
            rules.push(rule);
        }
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Count a request; `Err(seconds)` when it must be refused.
    pub fn check(&self, path: &str, principal: &str, now_ms: i64) -> Result<(), u64> {
        let rule = {
            let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
            // A route-specific rule wins over the catch-all one.
            rules
                .iter()
                .filter(|r| r.matches(path))
                .max_by_key(|r| r.route.as_ref().map(|s| s.len() + 1).unwrap_or(0))
                .cloned()
        };
        let Some(rule) = rule else { return Ok(()) };
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        let q = hits
            .entry((path.to_owned(), principal.to_owned()))
            .or_default();
        while q.front().is_some_and(|t| *t <= now_ms - rule.per_ms) {
            q.pop_front();
        }
        if q.len() >= rule.limit as usize {
            let oldest = q.front().copied().unwrap_or(now_ms);
            let wait_ms = (oldest + rule.per_ms - now_ms).max(1);
            return Err(((wait_ms + 999) / 1000) as u64);
        }
        q.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window() {
        let r = RateLimits::default();
        assert!(r.check("/a", "k", 0).is_ok());
        r.set(Rule {
            route: None,
            limit: 2,
            per_ms: 60_000,
        });
        assert!(r.check("/a", "k", 0).is_ok());
        assert!(r.check("/a", "k", 1000).is_ok());
        assert_eq!(r.check("/a", "k", 2000), Err(58));
        assert!(r.check("/b", "k", 2000).is_ok());
        assert!(r.check("/a", "other", 2000).is_ok());
        assert!(r.check("/a", "k", 60_001).is_ok());
        r.set(Rule {
            route: None,
            limit: 0,
            per_ms: 1,
        });
        for _ in 0..10 {
            assert!(r.check("/a", "k", 60_001).is_ok());
        }
    }
}
