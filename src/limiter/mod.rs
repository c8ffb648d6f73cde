//! Client-side pacing that mirrors the portal's leaky bucket, shared by every client that talks
//! to the same portal: in the process (1C runs many sessions in one process) and, through a
//! small file under the temp directory, by every process of the host (1C's server runs several
//! worker processes, and the portal counts them all against one bucket per portal and IP).
//!
//! The in-process mutex orders this process's clients; the file ([`shared`]) is the truth
//! across processes. When the file cannot be used for a call, that call paces by the process's
//! own state, as if it were the only process: never an error, never a wait beyond a few ms.

mod shared;

use crate::config::RateLimit;
use once_cell::sync::Lazy;
use shared::{Record, SharedBucket};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The portal's bucket as this process sees it.
#[derive(Debug)]
struct State {
    /// When the bucket would be empty again given every request admitted so far ("theoretical
    /// arrival time" of the GCRA form of a leaky bucket): the process's own view, kept in step
    /// with the shared file whenever that is used, and paced by alone when it is not.
    tat: Instant,
    /// The host-wide bucket file (`None` for a private limiter).
    shared: Option<SharedBucket>,
}

type Portal = Arc<Mutex<State>>;

static PORTALS: Lazy<Mutex<HashMap<String, Portal>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// One client's pacing against its portal's shared bucket. The bucket state is shared by every
/// client of the portal on the host; the shape is the client's own, so a client configured
/// slower than others paces only its own requests (each reserves 1 / `per_second` of the bucket)
/// and can never stretch another session's waits beyond that.
#[derive(Debug, Clone)]
pub struct Limiter {
    portal: Portal,
    shape: RateLimit,
    /// Whether this client uses the host-wide file (config `share_limits_across_processes`).
    across_processes: bool,
}

impl Limiter {
    /// A limiter on the host-wide bucket of the portal at `origin` (`scheme://host[:port]`).
    pub fn for_portal(origin: &str, shape: RateLimit) -> Limiter {
        let mut all = PORTALS.lock().unwrap_or_else(|p| p.into_inner());
        let portal = all
            .entry(origin.to_string())
            .or_insert_with(|| {
                Arc::new(Mutex::new(State {
                    tat: Instant::now(),
                    shared: Some(SharedBucket::for_origin(origin)),
                }))
            })
            .clone();
        Limiter {
            portal,
            shape,
            across_processes: true,
        }
    }

    /// A private limiter (tests, benchmarks): shared with no one.
    pub fn new(shape: RateLimit) -> Limiter {
        Limiter {
            portal: Arc::new(Mutex::new(State {
                tat: Instant::now(),
                shared: None,
            })),
            shape,
            across_processes: false,
        }
    }

    /// The same limiter with the host-wide file used or not (`false`: only this process's
    /// clients share the bucket).
    pub fn across_processes(mut self, on: bool) -> Limiter {
        self.across_processes = on;
        self
    }

    /// A limiter on a bucket file at `path` with a state of its own, as another process would
    /// have (tests).
    #[cfg(test)]
    fn with_file(path: std::path::PathBuf, shape: RateLimit) -> Limiter {
        Limiter {
            portal: Arc::new(Mutex::new(State {
                tat: Instant::now(),
                shared: Some(SharedBucket::at(path)),
            })),
            shape,
            across_processes: true,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.portal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves one request slot and returns how long the caller must wait before sending.
    /// Reserving under the lock and sleeping outside it keeps concurrent callers fair and exact.
    pub fn reserve(&self) -> Duration {
        self.reserve_until(None).unwrap_or_default()
    }

    /// Reserves a slot only if it comes before `until`; `None` (nothing reserved) otherwise.
    fn reserve_until(&self, until: Option<Instant>) -> Option<Duration> {
        let (interval, tolerance) = self.steps();
        let mut st = self.lock();
        if let Some(shared) = self.shared_reserve(&mut st, interval, tolerance, until) {
            return shared;
        }
        let now = Instant::now();
        let tat = st.tat.max(now);
        let admit_at = tat.checked_sub(tolerance).unwrap_or(now).max(now);
        if until.is_some_and(|u| admit_at > u) {
            return None;
        }
        st.tat = tat + interval;
        Some(admit_at - now)
    }

    /// [`Self::reserve_until`] on the host-wide file, in wall-clock ns; `None` when the file
    /// cannot be used for this call (the caller paces by the process's state instead).
    fn shared_reserve(
        &self,
        st: &mut State,
        interval: Duration,
        tolerance: Duration,
        until: Option<Instant>,
    ) -> Option<Option<Duration>> {
        if !self.across_processes {
            return None;
        }
        let own = st.tat;
        let max_ahead = max_ahead(interval, tolerance);
        let (interval, tolerance) = (nanos(interval), nanos(tolerance));
        let outcome = st.shared.as_mut()?.update(|stored| {
            // The clocks are read under the lock, after any other process's write.
            let now = Instant::now();
            let Some(wall) = shared::wall_now() else {
                return (None, None);
            };
            let ahead = |t: Instant| nanos(t.saturating_duration_since(now));
            // Never behind what this process admitted itself (the file may have been unusable
            // for a while), never behind now, never absurdly ahead.
            let own = wall.saturating_add(ahead(own));
            let tat = stored
                .map_or(own, |r| r.tat_at(wall, max_ahead))
                .max(own)
                .max(wall);
            let wait = tat.saturating_sub(tolerance).max(wall) - wall;
            if until.is_some_and(|u| wait > ahead(u)) {
                return (None, Some((now, None)));
            }
            let next = tat.saturating_add(interval);
            let rec = Record {
                tat: next,
                written: wall,
            };
            (Some(rec), Some((now, Some((wait, next - wall)))))
        });
        match outcome {
            Ok(Some((now, Some((wait, ahead))))) => {
                st.tat = now + Duration::from_nanos(ahead);
                Some(Some(Duration::from_nanos(wait)))
            }
            Ok(Some((_, None))) => Some(None),
            Ok(None) | Err(_) => None,
        }
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
    /// (another program may share it), so mark it full for every process of the host too.
    pub fn on_refused(&self) {
        let (interval, tolerance) = self.steps();
        let full = tolerance + interval;
        let mut st = self.lock();
        st.tat = st.tat.max(Instant::now() + full);
        if !self.across_processes {
            return;
        }
        let max_ahead = max_ahead(interval, tolerance);
        if let Some(shared) = st.shared.as_mut() {
            // Best effort: a process that cannot write it learns from its own refusal.
            let _ = shared.update(|stored| {
                let Some(wall) = shared::wall_now() else {
                    return (None, ());
                };
                let full = wall.saturating_add(nanos(full));
                let tat = stored.map_or(full, |r| r.tat_at(wall, max_ahead).max(full));
                let rec = Record { tat, written: wall };
                (Some(rec), ())
            });
        }
    }

    /// One request's share of the bucket, and the burst's: from a validated shape (config
    /// bounds it), and still never a panic for any other.
    fn steps(&self) -> (Duration, Duration) {
        let interval = Duration::try_from_secs_f64(1.0 / self.shape.per_second)
            .unwrap_or(Duration::from_secs(2))
            .min(Duration::from_secs(60));
        (interval, tolerance(interval, self.shape.burst))
    }
}

/// Requests that may be waiting for their slots at once, host-wide, beyond a full bucket: 8
/// processes with 16 bulk workers each. A stored time further ahead than that (a bug, a foreign
/// writer) is cut to it, so it can hold no one for long; a real queue longer than that only
/// has some requests sent early, which the portal refuses and the client retries.
const MAX_QUEUED: u32 = 128;

/// How far ahead of now the bucket's arrival time can legitimately be.
fn max_ahead(interval: Duration, tolerance: Duration) -> u64 {
    nanos(interval + tolerance + interval * MAX_QUEUED)
}

/// A duration in ns, saturating (every duration here is bounded far below 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Headroom below the portal's size, as time: the portal counts a request when it arrives, so a
/// request admitted first but delayed on its way (a busy host, a slower connection) arrives
/// closer to the next than they were admitted, and the portal sees the bucket fuller than we
/// did. The delay is time, whatever the rate: at the cloud's 2/s this costs a job 0.1 s (a whole
/// request of headroom would cost 0.5 s); at 10/s and above it is one request, the most it
/// takes. A refusal that gets through anyway is harmless: the request did not run, is sent
/// again, and its 503 marks the shared bucket full for every process.
const ARRIVAL_SLACK: Duration = Duration::from_millis(100);

/// The burst tolerated before requests are spaced: a full bucket less one request (the one
/// being admitted) less the slack.
fn tolerance(interval: Duration, burst: f64) -> Duration {
    let full = interval.mul_f64((burst - 1.0).clamp(0.0, 10_000.0));
    full.saturating_sub(interval.min(ARRIVAL_SLACK))
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
        // Nine free (one 10 ms slot of slack at this rate), then one every 10 ms.
        assert!(waits[..9].iter().all(|w| w.is_zero()), "{waits:?}");
        let last = waits[19].as_secs_f64();
        assert!((0.10..0.12).contains(&last), "{last}");
    }

    #[test]
    fn slow_drain_keeps_a_tenth_of_a_second_of_slack() {
        // The cloud's bucket: 49 go at once, the 50th 0.1 s later (not 0.5 s), then one per 0.5 s.
        let l = Limiter::new(RateLimit {
            burst: 50.0,
            per_second: 2.0,
        });
        let waits: Vec<f64> = (0..62).map(|_| l.reserve().as_secs_f64()).collect();
        assert!(waits[..49].iter().all(|w| *w == 0.0), "{waits:?}");
        assert!((0.09..=0.1).contains(&waits[49]), "{waits:?}");
        assert!((6.09..=6.1).contains(&waits[61]), "{waits:?}");
    }

    /// A fresh directory for one test's bucket files.
    fn test_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("b24-limiter-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    const FAST: RateLimit = RateLimit {
        burst: 10.0,
        per_second: 100.0,
    };

    #[test]
    fn two_states_on_one_file_share_the_bucket() {
        // Two limiters with states of their own, as two processes have: together they get the
        // burst of one bucket, then its rate, whoever asks.
        let dir = test_dir("share");
        let path = dir.join("p.bucket");
        let (a, b) = (
            Limiter::with_file(path.clone(), FAST),
            Limiter::with_file(path.clone(), FAST),
        );
        let waits: Vec<Duration> = (0..20)
            .map(|i| if i % 2 == 0 { a.reserve() } else { b.reserve() })
            .collect();
        assert!(waits[..9].iter().all(|w| w.is_zero()), "{waits:?}");
        assert!(!waits[9].is_zero(), "{waits:?}");
        let last = waits[19].as_secs_f64();
        assert!((0.10..0.12).contains(&last), "{last}");
        let stored = Record::decode(&std::fs::read(&path).unwrap()).unwrap();
        assert!(stored.tat > shared::wall_now().unwrap());
        // One's refusal fills an empty bucket for the other: a full bucket (90 ms) less the
        // burst it tolerates (80 ms) before the next slot.
        let path = dir.join("q.bucket");
        let (c, d) = (
            Limiter::with_file(path.clone(), FAST),
            Limiter::with_file(path, FAST),
        );
        c.on_refused();
        let w = d.reserve().as_secs_f64();
        assert!((0.005..=0.011).contains(&w), "{w}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn clock_jumps_and_absurd_times_stall_no_one() {
        let dir = test_dir("clamp");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.bucket");
        let write = |tat: u64, written: u64| {
            std::fs::write(&path, Record { tat, written }.encode()).unwrap();
        };
        let hour = 3_600_000_000_000;
        let now = shared::wall_now().unwrap();
        // Written "an hour from now" 50 ms ahead: the clock went back an hour since, and the
        // bucket is still 50 ms from empty, not an hour and 50 ms.
        write(now + hour + 50_000_000, now + hour);
        let w = Limiter::with_file(path.clone(), FAST).reserve();
        assert!(w.is_zero(), "within the burst: {w:?}");
        let stored = Record::decode(&std::fs::read(&path).unwrap()).unwrap();
        assert!(
            stored.tat < now + hour / 2,
            "rewritten on the current clock"
        );
        // An absurd time written now is cut to a full bucket plus the longest queue (10 at
        // 100/s, 128 queued: 1.37 s), so a call with a deadline still gets its answer at once.
        write(now + 100 * hour, now);
        let l = Limiter::with_file(path.clone(), FAST);
        let w = l.reserve();
        assert!(w <= Duration::from_millis(1_300), "{w:?}");
        assert!(w >= Duration::from_millis(1_200), "{w:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_paces_locally_and_is_healed() {
        let dir = test_dir("damaged");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.bucket");
        std::fs::write(&path, b"garbage that is not a bucket record at all").unwrap();
        let l = Limiter::with_file(path.clone(), FAST);
        assert!(l.reserve().is_zero());
        let text = std::fs::read(&path).unwrap();
        assert_eq!(text.len(), shared::RECORD_LEN);
        assert!(Record::decode(&text).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unusable_directory_degrades_to_process_pacing() {
        let dir = test_dir("unusable");
        std::fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let l = Limiter::with_file(blocker.join("p.bucket"), FAST);
        let t = Instant::now();
        let waits: Vec<Duration> = (0..20).map(|_| l.reserve()).collect();
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "no waiting on the file"
        );
        assert!(waits[..9].iter().all(|w| w.is_zero()), "{waits:?}");
        let last = waits[19].as_secs_f64();
        assert!((0.10..0.12).contains(&last), "{last}");
        l.on_refused();
        assert!(!l.reserve().is_zero());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sharing_off_never_touches_the_file() {
        let dir = test_dir("off");
        let l = Limiter::with_file(dir.join("p.bucket"), FAST).across_processes(false);
        assert!(l.reserve().is_zero());
        l.on_refused();
        assert!(!dir.exists());
    }

    #[test]
    fn acquire_until_reserves_nothing_past_the_deadline_on_the_file() {
        let dir = test_dir("until");
        let path = dir.join("p.bucket");
        let l = Limiter::with_file(path.clone(), FAST);
        l.on_refused();
        let before = std::fs::read(&path).unwrap();
        assert!(!l.acquire_until(Instant::now() + Duration::from_millis(1)));
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing reserved");
        let _ = std::fs::remove_dir_all(&dir);
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
