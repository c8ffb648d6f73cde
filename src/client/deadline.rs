//! One deadline for the whole of a single public operation. An operation makes several requests
//! (the field check, the write, a lookup after a lost answer), each with its own retries; without
//! one bound over all of them a call could block a 1C session for many times `timeout_secs`.
//!
//! The deadline lives in a thread-local set by [`Scope`], so the layers in between (crm, sync,
//! batch) need not pass it along; the request pipeline reads it. The outermost scope wins.
//! Threads a bulk operation spawns have none: each of their requests is bounded on its own.

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Sets the thread's deadline for as long as it lives (unless an outer scope set one already).
pub struct Scope {
    owner: bool,
}

impl Scope {
    /// A deadline `budget` from now.
    pub fn start(budget: Duration) -> Scope {
        let owner = DEADLINE.with(|d| {
            if d.get().is_some() {
                return false;
            }
            d.set(Instant::now().checked_add(budget));
            true
        });
        Scope { owner }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.owner {
            DEADLINE.with(|d| d.set(None));
        }
    }
}

/// The current thread's deadline, if an operation set one.
pub fn current() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}
