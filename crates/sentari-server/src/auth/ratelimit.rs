//! A small in-memory sliding-window limiter keyed by client address, for login attempts.
//!
//! It is per process: behind a load balancer each `api` replica limits on its own, which still
//! bounds guessing per replica; the per-account lockout, kept in the database, is the global
//! bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `limit` events per `window` per address.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl RateLimiter {
    /// A limiter allowing `limit` events per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an attempt from `ip`; `Err(retry_after)` when over the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut seen) = self.seen.lock() else {
            // A poisoned lock means another thread panicked mid-update; failing open would
            // disable the limit silently, so refuse for one window instead.
            return Err(self.window);
        };
        if seen.len() > 10_000 {
            // Bound memory under a spray of addresses: forget windows that have passed.
            seen.retain(|_, v| {
                v.last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let v = seen.entry(ip).or_default();
        v.retain(|t| now.duration_since(*t) < self.window);
        if v.len() as u32 >= self.limit {
            let oldest = v.first().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        v.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_per_address() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.check(a).is_ok());
        assert!(l.check(a).is_ok());
        assert!(l.check(a).is_err());
        assert!(l.check(b).is_ok());
    }
}
