//! The portal's operating-time limit as a budget per (portal, method).
//!
//! The portal bills the server time each method spends, in a sliding 10-minute window, and
//! blocks the method once it passes the budget (`OPERATION_TIME_LIMIT`; docs
//! `settings/performance/limits.md`, `rest/lib/engine/access/loadlimiter.php`). Every answer says
//! how much of it is used (`time.operating`) and when its oldest minute leaves the window
//! (`time.operating_reset_at`); inside a batch each sub-call says so in `result_time`. This
//! module remembers those figures, process-wide, and turns them into two decisions:
//!
//! - [`pace`]: from 80 % of the budget, calls of the method are spread so that it spends no more
//!   than the window refills (budget / 600 s), as the official JS SDK slows down from 80 %;
//! - [`reset_wait`]: once the method is blocked, how long until its oldest minute leaves.

use once_cell::sync::Lazy;
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The share of the budget from which calls are spread out.
const SLOW_FROM: f64 = 0.8;
/// Methods remembered per process at most (a bound, whatever the caller calls).
const MAX_METHODS: usize = 1024;
/// The longest wait this module ever asks for: the window itself.
const MAX_WAIT: Duration = Duration::from_secs(600);

/// What the last answers said about one method.
#[derive(Debug, Clone, Copy)]
struct State {
    /// Seconds of the window used, as the portal last said.
    used: f64,
    /// When the oldest billed minute leaves the window (Unix seconds), if said.
    reset_at: Option<f64>,
    /// Server seconds one call of the method takes (moving average).
    cost: f64,
    /// The earliest instant the next paced call may go (spreads concurrent callers).
    next_at: Instant,
    /// The method was refused for the limit, and not answered since.
    blocked: bool,
}

type Key = (String, String);
static STATES: Lazy<Mutex<HashMap<Key, State>>> = Lazy::new(|| Mutex::new(HashMap::new()));

fn key(origin: &str, method: &str) -> Key {
    (origin.to_string(), method.to_ascii_lowercase())
}

fn states() -> std::sync::MutexGuard<'static, HashMap<Key, State>> {
    STATES.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The figures of Bitrix's `time` object that the library reads. Read straight from the answer,
/// the other keys skipped: building the whole object as a map cost several thousand
/// instructions a call. A key may hold any JSON; what is not a usable number is ignored.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Time {
    /// Seconds of the method's budget used in the window.
    pub operating: Value,
    /// When the oldest billed minute leaves the window (Unix seconds).
    pub operating_reset_at: Value,
    /// Server seconds this call took.
    pub processing: Value,
    /// Wall seconds this call took on the server (older portals send no `processing`).
    pub duration: Value,
    /// When the server started the call (ISO 8601 with offset).
    pub date_start: Value,
}

impl Time {
    /// The figures of a `time` object already parsed (a batch's `result_time` entry).
    pub fn of(v: &Value) -> Time {
        let get = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
        Time {
            operating: get("operating"),
            operating_reset_at: get("operating_reset_at"),
            processing: get("processing"),
            duration: get("duration"),
            date_start: get("date_start"),
        }
    }
}

/// A number the portal sent, as seconds: finite and non-negative, else ignored.
fn seconds(v: Option<&Value>) -> Option<f64> {
    let x = v?.as_f64().or_else(|| v?.as_str()?.trim().parse().ok())?;
    (x.is_finite() && x >= 0.0).then_some(x)
}

/// The method's state, made fresh if unknown (the map is emptied first when full: a bound, and
/// figures are re-learnt from the next answers).
fn entry<'a>(all: &'a mut HashMap<Key, State>, origin: &str, method: &str) -> &'a mut State {
    if all.len() >= MAX_METHODS && !all.contains_key(&key(origin, method)) {
        all.clear();
    }
    all.entry(key(origin, method)).or_insert(State {
        used: 0.0,
        reset_at: None,
        cost: 0.0,
        next_at: Instant::now(),
        blocked: false,
    })
}

/// Takes in one answer's `time` object (a whole request's, or a batch sub-call's
/// `result_time` entry) for `method`.
pub fn note(origin: &str, method: &str, time: &Time) {
    let used = seconds(Some(&time.operating));
    let reset_at = seconds(Some(&time.operating_reset_at));
    let processing = seconds(Some(&time.processing)).or(seconds(Some(&time.duration)));
    if used.is_none() && reset_at.is_none() {
        return;
    }
    let mut all = states();
    let s = entry(&mut all, origin, method);
    s.used = used.unwrap_or(s.used);
    s.reset_at = reset_at.or(s.reset_at);
    if let Some(p) = processing.filter(|p| *p < MAX_WAIT.as_secs_f64()) {
        s.cost = if s.cost == 0.0 {
            p
        } else {
            0.8 * s.cost + 0.2 * p
        };
    }
    s.blocked = false;
}

/// The method was refused for the limit (a 429, or a sub-call's `OPERATION_TIME_LIMIT`); the
/// figures stay as the portal last gave them.
pub fn note_blocked(origin: &str, method: &str) {
    let mut all = states();
    entry(&mut all, origin, method).blocked = true;
}

/// The portal's budget: `limit` seconds of server time per method in a sliding `window` (480 s
/// per 600 s on the cloud).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Seconds per window.
    pub limit: f64,
    /// The window, in seconds.
    pub window: f64,
}

/// How long to wait before sending `calls` calls of `method`, so that it keeps within the
/// budget. Zero below 80 % of it; above, the calls are spread so that the method spends at most
/// what the window gives back (`limit / window` per second). Concurrent callers are spread
/// too: each reserves its share of the time.
pub fn pace(origin: &str, method: &str, calls: usize, budget: Budget) -> Duration {
    let Budget { limit, window } = budget;
    let mut all = states();
    let Some(s) = all.get_mut(&key(origin, method)) else {
        return Duration::ZERO;
    };
    let now = Instant::now();
    let past_reset = s.reset_at.is_some_and(|r| r <= now_unix());
    if s.used < SLOW_FROM * limit || past_reset || limit <= 0.0 {
        return Duration::ZERO;
    }
    let spend = s.cost.max(0.01) * calls as f64;
    let gap = Duration::try_from_secs_f64(spend * window / limit)
        .unwrap_or(MAX_WAIT)
        .min(MAX_WAIT);
    let start = s.next_at.max(now);
    s.next_at = start + gap;
    start - now
}

/// Once `method` is blocked: how long until the portal's oldest billed minute for it leaves the
/// window (+1 s). That is trusted only when the answers seen say the method was near its budget
/// (80 % of `limit`); a refusal they do not explain (another process spent the budget, or the
/// figures are stale) is probed again after a short interval instead: a refused call costs no
/// budget. `None` when nothing is known of the method.
pub fn reset_wait(origin: &str, method: &str, limit: f64) -> Option<Duration> {
    let all = states();
    let s = all.get(&key(origin, method))?;
    if s.used >= SLOW_FROM * limit {
        Some(until_reset(s.reset_at))
    } else {
        Some(PROBE)
    }
}

/// How soon a refusal the figures do not explain is tried again.
const PROBE: Duration = Duration::from_secs(5);

/// The wait until `reset_at` (+1 s), capped at the window; 5 s when it is unknown or past (the
/// next minute may already be free, and a refused call costs no budget).
fn until_reset(reset_at: Option<f64>) -> Duration {
    let left = reset_at.map_or(0.0, |r| r - now_unix() + 1.0);
    if left > 1.0 {
        Duration::try_from_secs_f64(left).map_or(MAX_WAIT, |d| d.min(MAX_WAIT))
    } else {
        PROBE
    }
}

/// The method is known to be blocked right now.
pub fn is_blocked(origin: &str, method: &str) -> bool {
    states()
        .get(&key(origin, method))
        .is_some_and(|s| s.blocked)
}

/// The average server time one call of `method` has taken, if seen.
pub fn cost(origin: &str, method: &str) -> Option<f64> {
    states()
        .get(&key(origin, method))
        .map(|s| s.cost)
        .filter(|c| *c > 0.0)
}

thread_local! {
    static CALLER_WAITS: Cell<bool> = const { Cell::new(false) };
}

/// While it lives, a request refused for the operating limit comes back at once instead of
/// waiting for the reset inside the call: the caller (a bulk job) waits itself, with progress.
pub struct CallerWaits {
    was: bool,
}

impl CallerWaits {
    /// Starts the scope on this thread.
    pub fn start() -> CallerWaits {
        CallerWaits {
            was: CALLER_WAITS.with(|c| c.replace(true)),
        }
    }
}

impl Drop for CallerWaits {
    fn drop(&mut self) {
        CALLER_WAITS.with(|c| c.set(self.was));
    }
}

/// The caller waits for the operating limit itself (see [`CallerWaits`]).
pub fn caller_waits() -> bool {
    CALLER_WAITS.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slows_from_eighty_percent_and_waits_for_the_reset() {
        let o = "https://pace.test";
        let m = "crm.contact.add";
        let reset = now_unix() + 30.0;
        note(
            o,
            m,
            &Time::of(&json!({"operating": 10.0, "operating_reset_at": reset, "processing": 0.5})),
        );
        let b = Budget {
            limit: 60.0,
            window: 600.0,
        };
        assert_eq!(pace(o, m, 50, b), Duration::ZERO, "below 80 %");
        note(
            o,
            m,
            &Time::of(&json!({"operating": 50.0, "processing": 0.5})),
        );
        // 50 calls of ~0.5 s = 25 s of budget; at 60 s per 600 s that is 250 s apart.
        assert_eq!(pace(o, m, 50, b), Duration::ZERO, "the first goes at once");
        let second = pace(o, m, 50, b).as_secs_f64();
        assert!((240.0..=260.0).contains(&second), "{second}");
        note_blocked(o, m);
        assert!(is_blocked(o, m));
        let w = reset_wait(o, m, 60.0).unwrap().as_secs_f64();
        assert!((29.0..=32.0).contains(&w), "{w}");
        // A refusal the figures do not explain is probed again soon.
        assert_eq!(reset_wait(o, m, 600.0), Some(PROBE));
        note_blocked(o, "crm.deal.add");
        assert_eq!(reset_wait(o, "crm.deal.add", 60.0), Some(PROBE));
        // Garbage from the portal is ignored, never a panic.
        note(
            o,
            m,
            &Time::of(&json!({"operating": "x", "operating_reset_at": -5, "processing": 1e300})),
        );
        note(o, m, &Time::of(&json!({"operating": f64::MAX})));
        let tiny = Budget {
            limit: 1e-9,
            window: 600.0,
        };
        let _ = pace(o, m, usize::MAX, tiny);
        assert_eq!(until_reset(Some(1e300)), MAX_WAIT);
        assert_eq!(until_reset(None), Duration::from_secs(5));
    }
}
