//! Client-side pacing that mirrors the portal's leaky bucket, shared by every client in the
//! process that talks to the same portal (1C runs many sessions in one process, and the portal
//! counts them all against one bucket).

use crate::config::RateLimit;
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static LIMITERS: Lazy<Mutex<HashMap<String, Arc<Limiter>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

/// A leaky bucket in its "theoretical arrival time" form (GCRA): `tat` is when the bucket would
/// be empty again given every request admitted so far.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tat: Instant,
    shape: RateLimit,
}

impl Limiter {
    /// The process-wide limiter of the portal at `origin`. A later client with another shape
    /// updates it (last configuration wins): there is only one bucket on the portal side.
    pub fn for_portal(origin: &str, shape: RateLimit) -> Arc<Limiter> {
        let mut all = LIMITERS.lock().unwrap_or_else(|p| p.into_inner());
        let l = all
            .entry(origin.to_string())
            .or_insert_with(|| Arc::new(Limiter::new(shape)))
            .clone();
        l.lock().shape = shape;
        l
    }

    /// A private limiter (tests, benchmarks).
    pub fn new(shape: RateLimit) -> Limiter {
        Limiter {
            state: Mutex::new(State {
                tat: Instant::now(),
                shape,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves one request slot and returns how long the caller must wait before sending.
    /// Reserving under the lock and sleeping outside it keeps concurrent callers fair and exact.
    pub fn reserve(&self) -> Duration {
        let mut s = self.lock();
        let now = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / s.shape.per_second);
        let tolerance = interval.mul_f64(effective_burst(s.shape.burst) - 1.0);
        let tat = s.tat.max(now);
        let admit_at = tat.checked_sub(tolerance).unwrap_or(now).max(now);
        s.tat = tat + interval;
        admit_at - now
    }

    /// Waits for a slot.
    pub fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// The portal refused a request as over the limit: its bucket is full whatever we computed
    /// (another program may share it), so treat ours as full too.
    pub fn on_refused(&self) {
        let mut s = self.lock();
        let full = Duration::from_secs_f64(effective_burst(s.shape.burst) / s.shape.per_second);
        let now = Instant::now();
        s.tat = s.tat.max(now + full);
    }
}

/// One request of headroom below the portal's size. The portal counts a request when it
/// arrives, which is never before we admit it, so admitting at most `burst + rate·t` requests
/// keeps its bucket within bounds; the one request spare absorbs clock and rounding differences.
fn effective_burst(burst: f64) -> f64 {
    (burst - 1.0).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let l = Limiter::new(RateLimit {
            burst: 10.0,
            per_second: 100.0,
        });
        let waits: Vec<Duration> = (0..20).map(|_| l.reserve()).collect();
        // effective burst 9: nine free, then one every 10 ms.
        assert!(waits[..9].iter().all(|w| w.is_zero()), "{waits:?}");
        let last = waits[19].as_secs_f64();
        assert!((0.10..0.12).contains(&last), "{last}");
    }

    #[test]
    fn refusal_fills_the_bucket() {
        let l = Limiter::new(RateLimit {
            burst: 50.0,
            per_second: 2.0,
        });
        l.on_refused();
        let w = l.reserve().as_secs_f64();
        assert!((0.4..0.6).contains(&w), "{w}");
    }
}
