//! What became of each write, and the ledger of every record's outcome.

use super::lookup::Found;
use super::{Outcome, Results};
use crate::crm::WriteRequest;
use crate::error::{Error, ErrorKind};
use crate::sync::guid::id_of;
use crate::sync::settle::outcome_unknown;
use crate::sync::Upserted;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// One planned write: an add (`update_id` None) or an update of one record.
#[derive(Debug, Clone)]
pub(super) struct Write {
    pub index: usize,
    pub update_id: Option<i64>,
    /// The request to send when it differs from the record's: an update's exact multi-fields
    /// resolved against the entity's current items (see `exact.rs`).
    pub resolved: Option<Arc<WriteRequest>>,
    /// The update adopts an entity a match rule found (it had no GUID).
    pub adopted: bool,
}

/// What became of one write.
#[derive(Debug, Clone)]
pub(super) enum Fate {
    /// It ran; the method's result.
    Ran(Value),
    /// The portal refused it: nothing was written.
    Refused(Error),
    /// It was refused before it ran: safe to send again, after the wait given if a limit
    /// refused it.
    NotRun(Option<Retry>),
    /// It may have run, and may still be running until the instant given.
    Unknown(Error, Instant),
}

/// When a write refused by a limit may go again, and which limit it was.
#[derive(Debug, Clone)]
pub(crate) struct Retry {
    pub at: Instant,
    pub reason: String,
}

/// Records whose last write may have run.
struct Doubt {
    cause: Error,
}

/// Every record's outcome so far, kept on the calling thread.
pub(super) struct Ledger {
    pub results: Results,
    guids: Vec<Option<String>>,
    doubt: HashMap<usize, Doubt>,
    /// Records whose doubtful write was an add: a lookup that finds the GUID resolves them.
    doubt_adds: HashSet<usize>,
    /// GUID → the instant after which none of its writes can still be running.
    settles: HashMap<String, Instant>,
    /// Records refused for a limit → when they may go again.
    not_before: HashMap<usize, Retry>,
    /// Records that went round again because a write of theirs may have run.
    pub doubtful_again: bool,
}

/// What the lookup thread may know of the ledger during a round.
#[derive(Default)]
pub(super) struct Hints {
    pub doubt_adds: HashSet<usize>,
    pub settles: HashMap<String, Instant>,
    /// GUIDs the job's first request looked up, under this round's claim (first round only).
    pub prefound: Found,
}

impl Ledger {
    pub fn new(results: Results, guids: Vec<Option<String>>) -> Ledger {
        Ledger {
            results,
            guids,
            doubt: HashMap::new(),
            doubt_adds: HashSet::new(),
            settles: HashMap::new(),
            not_before: HashMap::new(),
            doubtful_again: false,
        }
    }

    pub fn done(&self) -> usize {
        self.results.iter().filter(|r| r.is_some()).count()
    }

    /// The doubt and settle instants of the records in `now`, for one round's planning.
    pub fn hints(&self, now: &[usize]) -> Hints {
        let mut h = Hints::default();
        for &i in now {
            if self.doubt_adds.contains(&i) {
                h.doubt_adds.insert(i);
            }
            let g = self.guids[i].as_ref();
            if let Some((g, at)) = g.and_then(|g| self.settles.get(g).map(|at| (g, at))) {
                h.settles.insert(g.clone(), *at);
            }
        }
        h
    }

    /// Records an outcome. A failure of a record whose earlier write may have run is reported
    /// as OUTCOME_UNKNOWN: that write may be on the portal, whatever failed afterwards.
    pub fn decide(&mut self, i: usize, outcome: Outcome) {
        self.doubt_adds.remove(&i);
        let outcome = match (outcome, self.doubt.remove(&i)) {
            (Err(e), Some(d)) => {
                let why = format!("afterwards: {}", e.last_error_text());
                Err(outcome_unknown(&d.cause, &why))
            }
            (o, _) => o,
        };
        self.results[i] = Some((self.guids[i].clone(), outcome));
    }

    /// A lookup proved the record's doubtful add absent: it did not run.
    pub fn clear(&mut self, i: usize) {
        self.doubt.remove(&i);
        self.doubt_adds.remove(&i);
    }

    /// Applies what became of a write; `again` collects the records to go round again.
    pub fn apply(&mut self, w: &Write, fate: Fate, again: &mut Vec<usize>) {
        let i = w.index;
        let added = |id| {
            Ok(Upserted {
                id,
                created: true,
                adopted: false,
            })
        };
        let updated = |id| {
            Ok(Upserted {
                id,
                created: false,
                adopted: w.adopted,
            })
        };
        match (fate, w.update_id) {
            (Fate::Ran(_), Some(id)) => self.decide(i, updated(id)),
            (Fate::Ran(v), None) => match id_of(&v) {
                Some(id) => self.decide(i, added(id)),
                // It ran and finished, but named no ID: the next lookup tells.
                None => self.apply(w, Fate::Unknown(no_id(&v), Instant::now()), again),
            },
            (Fate::Refused(e), _) => self.decide(i, Err(e)),
            (Fate::NotRun(retry), _) => self.postpone(i, retry, again),
            (Fate::Unknown(cause, at), update_id) => {
                self.doubtful_again = true;
                self.doubt.insert(i, Doubt { cause });
                if update_id.is_none() {
                    self.doubt_adds.insert(i);
                }
                if let Some(g) = &self.guids[i] {
                    let s = self.settles.entry(g.clone()).or_insert(at);
                    *s = (*s).max(at);
                }
                again.push(i);
            }
        }
    }

    /// The record goes round again, after `retry`'s wait if a limit refused it.
    pub fn postpone(&mut self, i: usize, retry: Option<Retry>, again: &mut Vec<usize>) {
        match retry {
            Some(r) => self.not_before.insert(i, r),
            None => self.not_before.remove(&i),
        };
        again.push(i);
    }

    /// When the record may go again (a limit refused it), if it must wait.
    pub fn not_before(&self, i: usize) -> Option<&Retry> {
        self.not_before.get(&i)
    }

    /// The ledger's results, every record in `left` reported with `why` (nothing of it was
    /// written, unless an earlier write may have run: then it is OUTCOME_UNKNOWN).
    pub fn finish(mut self, left: &[usize], why: &Error) -> Results {
        for &i in left {
            self.decide(i, Err(why.clone()));
        }
        self.results
    }
}

fn no_id(v: &Value) -> Error {
    Error::new(
        ErrorKind::Protocol,
        "INVALID_RESPONSE",
        format!("add returned {v}, not an ID"),
    )
}
