//! Client-side pacing that mirrors the portal's leaky bucket, shared by every client in the
//! process that talks to the same portal (1C runs many sessions in one process, and the portal
//! counts them all against one bucket).

use crate::config::RateLimit;
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The portal's bucket as this process sees it: when it would be empty again given every
/// request admitted so far ("theoretical arrival time" of the GCRA form of a leaky bucket).
type Tat = Arc<Mutex<Instant>>;

static PORTALS: Lazy<Mutex<HashMap<String, Tat>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// One client's pacing against its portal's shared bucket. The bucket state is shared by every
/// client of the portal in the process; the shape is the client's own, so a client configured
/// slower than others paces only its own requests (each reserves 1 / `per_second` of the bucket)
/// and can never stretch another session's waits beyond that.
#[derive(Debug, Clone)]
pub struct Limiter {
    tat: Tat,
    shape: RateLimit,
}

impl Limiter {
    /// A limiter on the process-wide bucket of the portal at `origin`.
    pub fn for_portal(origin: &str, shape: RateLimit) -> Limiter {
        let mut all = PORTALS.lock().unwrap_or_else(|p| p.into_inner());
        let tat = all
            .entry(origin.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Instant::now())))
            .clone();
        Limiter { tat, shape }
    }

    /// A private limiter (tests, benchmarks).
    pub fn new(shape: RateLimit) -> Limiter {
        Limiter {
            tat: Arc::new(Mutex::new(Instant::now())),
            shape,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.tat.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves one request slot and returns how long the caller must wait before sending.
    /// Reserving under the lock and sleeping outside it keeps concurrent callers fair and exact.
    pub fn reserve(&self) -> Duration {
        self.reserve_until(None).unwrap_or_default()
    }

    /// Reserves a slot only if it comes before `until`; `None` (nothing reserved) otherwise.
    fn reserve_until(&self, until: Option<Instant>) -> Option<Duration> {
        let (interval, tolerance) = self.steps();
        let mut shared = self.lock();
        let now = Instant::now();
        let tat = (*shared).max(now);
        let admit_at = tat.checked_sub(tolerance).unwrap_or(now).max(now);
        if until.is_some_and(|u| admit_at > u) {
            return None;
        }
        *shared = tat + interval;
        Some(admit_at - now)
    }

    /// Waits for a slot.
    pub fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Waits for a slot that comes before `until`; false (no wait, nothing reserved) when the
    /// next slot is later, so pacing never holds a call past its deadline.
    pub fn acquire_until(&self, until: Instant) -> bool {
        match self.reserve_until(Some(until)) {
            Some(wait) => {
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                true
            }
            None => false,
        }
    }

    /// The portal refused a request as over the limit: its bucket is full whatever we computed
    /// (another program may share it), so treat ours as full too.
    pub fn on_refused(&self) {
        let (interval, tolerance) = self.steps();
        let full = tolerance + interval;
        let mut shared = self.lock();
        let now = Instant::now();
        *shared = (*shared).max(now + full);
    }

    /// One request's share of the bucket, and the burst's: from a validated shape (config
    /// bounds it), and still never a panic for any other.
    fn steps(&self) -> (Duration, Duration) {
        let interval = Duration::try_from_secs_f64(1.0 / self.shape.per_second)
            .unwrap_or(Duration::from_secs(2))
            .min(Duration::from_secs(60));
        let tolerance =
            interval.mul_f64((effective_burst(self.shape.burst) - 1.0).clamp(0.0, 10_000.0));
        (interval, tolerance)
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
