//! One round of a bulk upsert: a lookup thread plans, writer threads send, the calling thread
//! applies every outcome.

use super::apply::{Hints, Ledger};
use super::lookup::{lookup_segments, Found};
use super::matching::Matcher;
use super::plan::Planner;
use super::send::{send, Work};
use super::{Msg, Record};
use crate::batch::BATCH_LIMIT;
use crate::client::operating::CallerWaits;
use crate::client::Client;
use crate::crm::Entity;
use crate::error::Error;
use crate::sync::guid::Claim;
use crate::sync::Cancel;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// The job's first lookup, sent together with the field list, and the claim it was made under.
pub(super) struct Primed {
    pub claim: Claim,
    pub found: Found,
}

/// What one round needs.
pub(super) struct Round<'a> {
    pub client: &'a Client,
    pub entity: Entity,
    pub field: &'a str,
    pub parsed: &'a [Option<Record>],
    pub workers: usize,
    /// The bulk job's deadline: segments not planned by then go back unsent.
    pub deadline: Option<Instant>,
    /// Match rules for records whose GUID is not found.
    pub matcher: Option<&'a Matcher>,
    /// Once set, nothing more is sent: the rest come back unsent.
    pub cancel: &'a Cancel,
}

impl Round<'_> {
    /// One round over `now` (no GUID twice). A pipeline: one thread looks the GUIDs up, 2,500
    /// (one request) at a time, and queues the writes; `workers` threads send them; this thread
    /// applies every outcome. Writing starts after the first lookup, so the portal's time on the
    /// lookups overlaps the bucket's pacing instead of adding to it. `primed`: the job's first
    /// lookup, made under a claim of these GUIDs that is still held.
    pub fn run(
        &self,
        mut now: Vec<usize>,
        ledger: &mut Ledger,
        again: &mut Vec<usize>,
        allowance: &mut Duration,
        progress: &mut dyn FnMut(&Ledger),
        primed: Option<Primed>,
    ) -> Result<(), Error> {
        let mut hints = ledger.hints(&now);
        let _claim = match primed {
            Some(p) => {
                hints.prefound = p.found;
                p.claim
            }
            None => self.claim(&now)?,
        };
        // Records whose writes may still be running go last, so the others need not wait.
        let settles = |i: &usize| {
            let g = self.parsed[*i].as_ref().map(|r| &r.guid);
            g.and_then(|g| hints.settles.get(g).copied())
        };
        now.sort_by_key(|i| (settles(i), *i)); // None (settled) first
        let (work_tx, work_rx) = mpsc::channel::<Work>();
        let work_rx = Mutex::new(work_rx);
        let (msg_tx, msg_rx) = mpsc::channel::<Msg>();
        std::thread::scope(|s| {
            let (tx, now, hints) = (msg_tx.clone(), &now, &hints);
            s.spawn(move || self.plan_all(now, hints, allowance, &tx, &work_tx));
            for _ in 0..self.workers {
                let (tx, work_rx) = (msg_tx.clone(), &work_rx);
                s.spawn(move || self.write_all(work_rx, &tx));
            }
            drop(msg_tx);
            // Outcomes are applied and progress reported here, on the calling thread (1C's
            // status line may only be touched from it).
            // Bounded: the senders close the channel when their threads end. Progress also
            // fires once a second while nothing comes back (writers paced by the limits).
            loop {
                let msg = match msg_rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(m) => m,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        progress(ledger);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                match msg {
                    Msg::Decided(i, outcome) => ledger.decide(i, outcome),
                    Msg::Cleared(i) => ledger.clear(i),
                    Msg::Postponed(i, retry) => ledger.postpone(i, retry, again),
                    Msg::Wrote(fates) => {
                        for (w, fate) in fates {
                            ledger.apply(&w, fate, again);
                        }
                    }
                }
                progress(ledger);
            }
        });
        Ok(())
    }

    /// Claims the GUIDs of `records` (see [`Claim::take`]).
    pub fn claim(&self, records: &[usize]) -> Result<Claim, Error> {
        let guids = records
            .iter()
            .filter_map(|i| self.parsed[*i].as_ref().map(|r| &r.guid));
        Claim::take(self.client, self.entity, guids)
    }

    /// The lookup thread: plans each segment and queues its writes.
    fn plan_all(
        &self,
        now: &[usize],
        hints: &Hints,
        allowance: &mut Duration,
        msg_tx: &mpsc::Sender<Msg>,
        work_tx: &mpsc::Sender<Work>,
    ) {
        let planner = Planner {
            client: self.client,
            entity: self.entity,
            field: self.field,
            parsed: self.parsed,
            hints,
            matcher: self.matcher,
        };
        // The GUIDs the job's first request looked up make a segment of their own: it needs no
        // request, so the writers start at once.
        let (pre, rest): (Vec<usize>, Vec<usize>) = now.iter().partition(|&&i| {
            let guid = self.parsed[i].as_ref().map(|r| &r.guid);
            guid.is_some_and(|g| hints.prefound.contains_key(g))
        });
        let mut segments: Vec<&[usize]> = vec![&pre];
        segments.extend(lookup_segments(&rest));
        segments.retain(|s| !s.is_empty());
        for (n, segment) in segments.iter().enumerate() {
            if self.deadline.is_some_and(|d| Instant::now() >= d) || self.cancel.is_set() {
                // Past the job's deadline (or once cancelled) nothing new goes out; the rest
                // come back unsent.
                for i in segments[n..].iter().flat_map(|s| s.iter()) {
                    let _ = msg_tx.send(Msg::Postponed(*i, None));
                }
                return;
            }
            let plan = match planner.plan(segment, allowance) {
                Ok(p) => p,
                Err(e) => {
                    // A lookup failed in a way every lookup would (access, a field the portal
                    // ignores...): nothing more can be decided safely.
                    let left = now.iter().skip_while(|i| !segment.contains(i));
                    for i in left {
                        let _ = msg_tx.send(Msg::Decided(*i, Err(e.clone())));
                    }
                    return;
                }
            };
            let msgs = plan.decided.into_iter().map(|(i, o)| Msg::Decided(i, o));
            let msgs = msgs.chain(plan.cleared.into_iter().map(Msg::Cleared));
            let postponed = plan.postponed.into_iter();
            let msgs = msgs.chain(postponed.map(|(i, r)| Msg::Postponed(i, r)));
            for m in msgs {
                let _ = msg_tx.send(m);
            }
            let batches = plan
                .batched
                .chunks(self.batch_size())
                .map(|c| Work::Batch(c.to_vec()));
            let singles = plan.single.into_iter().map(Work::Single);
            for w in batches.chain(singles) {
                if work_tx.send(w).is_err() {
                    return;
                }
            }
        }
    }

    /// Commands per write batch: 50, or fewer when the portal's `result_time` says writes are
    /// slow, so that one batch stays within `batch_target_secs` of server time (a batch runs
    /// its commands one after another, and the cloud cuts a request at 60 s, losing the
    /// answer of the commands already committed).
    fn batch_size(&self) -> usize {
        let target = self.client.config().batch_target.as_secs_f64();
        let cost = ["add", "update"]
            .iter()
            .filter_map(|v| self.client.operating_cost(&self.entity.method(v)))
            .fold(0.0_f64, f64::max);
        if cost <= 0.0 {
            return BATCH_LIMIT;
        }
        ((target / cost).floor() as usize).clamp(1, BATCH_LIMIT)
    }

    /// A writer thread: sends queued work until the queue closes.
    fn write_all(&self, work_rx: &Mutex<mpsc::Receiver<Work>>, msg_tx: &mpsc::Sender<Msg>) {
        // A write refused for the operating limit comes back at once; the job waits for it
        // between rounds, with progress.
        let _waits = CallerWaits::start();
        // Bounded by the queue: the lookup thread closes it when it is done.
        loop {
            let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(work) = next else { break };
            if self.cancel.is_set() {
                // Queued but not sent: back to the job, which reports them CANCELLED.
                for w in work.writes() {
                    let _ = msg_tx.send(Msg::Postponed(w.index, None));
                }
                continue;
            }
            let fates = send(self.client, self.entity, self.parsed, work);
            if msg_tx.send(Msg::Wrote(fates)).is_err() {
                break;
            }
        }
    }
}
