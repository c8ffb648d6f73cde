//! The per-method operating-time limit (reference §4.2; `rest/lib/engine/access/loadlimiter.php`
//! `LoadLimiter`; docs `settings/performance/limits.md` "Resource Intensity Limits").
//!
//! Stored time lives in one-minute slots per method; the ten newest minutes count. During a
//! request its own finished calls are kept in a [`Tally`] and count as well when longer than
//! 0.1 s; when the request ends the tally is written to the slot of the minute the request
//! started in, if the method's total in this request exceeds 0.1 s (`LoadLimiter::finalize`).
//!
//! `EmulatorConfig::operating_window` rescales time (a test knob, not portal behaviour): the
//! slot length is a tenth of the window and the 0.1 s floor shrinks in proportion, so a
//! scenario run with a 60 s window behaves as the 600 s one, ten times faster.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Calls of at most this many seconds are not counted (`LoadLimiter::$minimalFixTime`), at the
/// source's window of [`WINDOW_SECS`].
const MIN_FIX: f64 = 0.1;
/// Slot count (`$bucketCount`); slots are 60 s long (`$bucketSize`) at the source's window.
const SLOTS: i64 = 10;
/// The source's window: ten slots of 60 s.
pub(crate) const WINDOW_SECS: f64 = 600.0;

struct Slot {
    minute: i64,
    /// First call's start + 10 minutes: the slot's `operating_reset_at`.
    expire_at: f64,
    secs: f64,
}

/// Stored operating time per method.
pub(crate) struct Operating {
    slots: HashMap<String, VecDeque<Slot>>,
    /// Slot length: a tenth of the window.
    slot_secs: f64,
    /// The 0.1 s floor, scaled with the window.
    min_fix: f64,
}

/// One request's calls (`LoadLimiter::$timeRegistered`).
pub(crate) struct Tally {
    /// Minute index of the request (`getNumBucket`, fixed at the first limiter call).
    minute: i64,
    /// Start of the first registered call: the fallback `operating_reset_at` base.
    first_start: f64,
    /// (method, start, duration) of every finished call.
    calls: Vec<(String, f64, f64)>,
}

impl Tally {
    /// A successful call of `method` (failed calls never reach `registerEnding`).
    pub fn register(&mut self, method: &str, start: f64, secs: f64) {
        self.calls.push((method.to_string(), start, secs));
    }
}

impl Operating {
    /// A limiter whose ten slots together span `window` (600 s in the source).
    pub fn new(window: Duration) -> Operating {
        let window = window.as_secs_f64().max(1e-3);
        Operating {
            slots: HashMap::new(),
            slot_secs: window / SLOTS as f64,
            min_fix: MIN_FIX * window / WINDOW_SECS,
        }
    }

    /// A request whose processing starts at `now` (epoch seconds).
    pub fn tally(&self, now: f64) -> Tally {
        Tally {
            minute: (now / self.slot_secs).floor() as i64,
            first_start: now,
            calls: Vec::new(),
        }
    }

    fn live(&mut self, method: &str, minute: i64) -> Option<&VecDeque<Slot>> {
        let q = self.slots.get_mut(method)?;
        while q.front().is_some_and(|s| s.minute <= minute - SLOTS) {
            q.pop_front();
        }
        Some(q)
    }

    /// `time.operating` and the limiter's figure (`getRestTime`): the stored slots plus this
    /// request's calls longer than 0.1 s.
    pub fn used(&mut self, t: &Tally, method: &str) -> f64 {
        let stored: f64 = self
            .live(method, t.minute)
            .map(|q| q.iter().map(|s| s.secs).sum())
            .unwrap_or(0.0);
        let this: f64 = t
            .calls
            .iter()
            .filter(|c| c.0 == method && c.2 > self.min_fix)
            .map(|c| c.2)
            .sum();
        stored + this
    }

    /// `time.operating_reset_at` (`getResetTime`): the oldest live slot's expiry, else the first
    /// call of this request + 10 minutes. Always known in the cloud.
    pub fn reset_at(&mut self, t: &Tally, method: &str) -> i64 {
        let oldest = self
            .live(method, t.minute)
            .and_then(|q| q.front().map(|s| s.expire_at));
        oldest.unwrap_or(t.first_start + self.slot_secs * SLOTS as f64) as i64
    }

    /// Store the request's calls (`finalize`): per method the sum of its calls, when above 0.1 s.
    pub fn finalize(&mut self, t: Tally) {
        let mut per: Vec<(String, f64, f64)> = Vec::new();
        for (m, start, secs) in t.calls {
            match per.iter_mut().find(|p| p.0 == m) {
                Some(p) => p.2 += secs,
                None => per.push((m, start, secs)),
            }
        }
        for (m, first, secs) in per {
            if secs <= self.min_fix {
                continue;
            }
            self.live(&m, t.minute);
            let q = self.slots.entry(m).or_default();
            match q.back_mut() {
                Some(s) if s.minute == t.minute => s.secs += secs,
                _ => q.push_back(Slot {
                    minute: t.minute,
                    expire_at: first + self.slot_secs * SLOTS as f64,
                    secs,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_slots_and_reset() {
        let mut op = Operating::new(Duration::from_secs(600));
        let mut t = op.tally(600.0);
        t.register("a", 600.0, 0.05);
        t.register("a", 600.1, 0.08);
        assert_eq!(
            op.used(&t, "a"),
            0.0,
            "calls of 0.1 s or less are not counted live"
        );
        assert_eq!(op.reset_at(&t, "a"), 1200);
        op.finalize(t);
        // 0.13 s in total is above the floor, so it is stored.
        let t = op.tally(700.0);
        assert!((op.used(&t, "a") - 0.13).abs() < 1e-9);
        assert_eq!(op.reset_at(&t, "a"), 1200);
        // Ten minutes later the slot no longer counts.
        let t = op.tally(1200.0);
        assert_eq!(op.used(&t, "a"), 0.0);
        assert_eq!(op.reset_at(&t, "a"), 1800);
    }

    #[test]
    fn a_scaled_window_scales_slots_and_floor() {
        let mut op = Operating::new(Duration::from_secs(60));
        let mut t = op.tally(60.0);
        // 0.02 s is above the scaled floor of 0.01 s, so it counts live and is stored.
        t.register("a", 60.0, 0.02);
        assert!((op.used(&t, "a") - 0.02).abs() < 1e-9);
        assert_eq!(op.reset_at(&t, "a"), 120);
        op.finalize(t);
        assert!((op.used(&op.tally(119.0), "a") - 0.02).abs() < 1e-9);
        // Ten six-second slots later it is gone.
        assert_eq!(op.used(&op.tally(120.0), "a"), 0.0);
    }
}
