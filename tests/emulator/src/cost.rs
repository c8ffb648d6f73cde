//! Test knobs for server time: the per-call processing cost (`EmulatorConfig::call_cost`) and the
//! request clock that enforces the 60 s cut-off (docs `settings/performance/limits.md` "Request
//! Execution Time Limit") on everything a request spends: an injected `Delay` and every call's
//! cost, a batch's sub-calls added up.

use crate::Shared;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Processing time every executed method call takes (`EmulatorConfig::call_cost`): a top-level
/// call and each batch sub-call really sleep this long before they run, so the time shows in
/// `time.processing` and is billed to the operating limit like any processing time. A `batch`
/// has no cost of its own: its processing is the sum of its sub-calls. A test knob: the portal's
/// real cost depends on the method, the data and the load, and is not in the source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallCost {
    /// Cost of a method not listed in `per_method`.
    pub default: Duration,
    /// Lower-case method name → its cost.
    pub per_method: HashMap<String, Duration>,
}

impl CallCost {
    /// The same cost for every method.
    pub fn uniform(cost: Duration) -> CallCost {
        CallCost {
            default: cost,
            per_method: HashMap::new(),
        }
    }

    /// This cost for one method (name matched in lower case), the others unchanged.
    pub fn with(mut self, method: &str, cost: Duration) -> CallCost {
        self.per_method.insert(method.to_lowercase(), cost);
        self
    }

    /// The cost of a call of `method` (lower-case).
    pub fn of(&self, method: &str) -> Duration {
        self.per_method.get(method).copied().unwrap_or(self.default)
    }
}

/// The request was cut at the execution limit: nothing after the cut ran.
pub(crate) struct Cut;

/// One request's processing clock: from the start of processing to the execution limit.
pub(crate) struct Clock<'a> {
    sh: &'a Shared,
    deadline: Option<Instant>,
}

impl<'a> Clock<'a> {
    /// Processing starts now; the cut-off (if any) is `execution_limit` later.
    pub fn start(sh: &'a Shared) -> Clock<'a> {
        Clock {
            sh,
            deadline: sh.cfg.execution_limit.map(|l| Instant::now() + l),
        }
    }

    /// Spends `d` of processing, or, when that would pass the cut-off, sleeps only up to it and
    /// reports the cut (the request is killed there, so what would have followed never runs).
    pub fn spend(&self, d: Duration) -> Result<(), Cut> {
        match self.deadline {
            Some(end) if Instant::now() + d > end => {
                sleep_checked(self.sh, end.saturating_duration_since(Instant::now()));
                Err(Cut)
            }
            _ => {
                sleep_checked(self.sh, d);
                Ok(())
            }
        }
    }

    /// Spends the configured cost of one call of `method` (lower-case); none without a model.
    pub fn call(&self, method: &str) -> Result<(), Cut> {
        match &self.sh.cfg.call_cost {
            Some(c) => self.spend(c.of(method)),
            None => Ok(()),
        }
    }
}

/// Sleeps `d`, waking early when the emulator shuts down (so `Drop` is never held up).
pub(crate) fn sleep_checked(sh: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while !sh.shutdown.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}
