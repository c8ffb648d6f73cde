//! Bulk upsert: many records by GUID through `batch`, lookups pipelined with writes.
//!
//! What each record's result promises: written (`id`) means it is on the portal once; a failure
//! means nothing of it was written; OUTCOME_UNKNOWN means it may have been written and was not
//! sent again. A write that may have run is looked up again only once it can no longer be
//! running (see `settle`); a value the portal would rewrite inside a batch goes as a JSON call.

mod apply;
mod lookup;
mod plan;
mod send;

use super::guid::{guid_field, guid_of, store_normalised, Claim};
use super::settle::MARGIN;
use super::Upserted;
use crate::batch::{self, BATCH_LIMIT};
use crate::client::Client;
use crate::crm::{self, Entity, WriteKind, WriteRequest};
use crate::error::Error;
use apply::{Fate, Hints, Ledger, Write};
use lookup::lookup_segments;
use plan::Planner;
use send::{send, Work};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

/// Settings of a bulk upsert.
#[derive(Debug, Clone, Copy)]
pub struct BulkOptions {
    /// Batch requests in flight at once (pacing still comes from the shared bucket).
    pub concurrency: usize,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions { concurrency: 4 }
    }
}

/// Rounds for records whose outcome was unknown or whose GUID repeated in the input.
const MAX_ROUNDS: usize = 8;
/// How many execution limits a bulk upsert may spend, in all, waiting for writes that may still
/// be running; records that would need more are reported without waiting.
const SETTLE_WAITS: u32 = 2;

#[derive(Debug)]
struct Record {
    guid: String,
    req: WriteRequest,
    /// Its values hold text the portal expands inside a batch (`$result[...]`...): it must go as
    /// a JSON call.
    json_only: bool,
}

/// Per-record result: `{"guid","id","created"}` or `{"guid","error":{...}}`.
type Outcome = Result<Upserted, Error>;

/// Each record's GUID (when it has one) and outcome, once decided.
type Results = Vec<Option<(Option<String>, Outcome)>>;

/// What the pipeline threads tell the calling thread.
enum Msg {
    /// A record's outcome, decided without a write (ambiguous GUID, a found lost add, a failed
    /// lookup, a write that may still be running).
    Decided(usize, Outcome),
    /// A lookup proved a doubtful add absent.
    Cleared(usize),
    /// Writes came back.
    Wrote(Vec<(Write, Fate)>),
}

/// Upserts many records (each a fields object, or `{"fields","params"}`, carrying its GUID):
/// looks the GUIDs up with a few `@`-filtered list commands per batch, then writes in batches
/// of 50 commands, `concurrency` batches in flight, paced by the shared bucket. Results come back
/// in input order. A batch that partly failed is not re-sent: failed commands are reported, and
/// only commands that did not run, or whose outcome is unknown, go round again (an unknown write
/// is first looked up by its GUID, once it can no longer be running). `progress(done, total)` is
/// called on the calling thread.
pub fn bulk_upsert(
    client: &Client,
    entity: Entity,
    records: &[Value],
    options: BulkOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Value>, Vec<String>), Error> {
    let field = guid_field(client, entity).to_string();
    let total = records.len();
    let (parsed, results, union) = parse_records(entity, &field, records);
    let warnings = check_fields(client, entity, &union)?;
    let guids = parsed.iter().map(|r| r.as_ref().map(|r| r.guid.clone()));
    let mut ledger = Ledger::new(results, guids.collect());
    progress(ledger.done(), total);
    // Work list: indices still to upsert. A GUID repeated in the input is applied in input order,
    // one occurrence per round.
    let mut todo: Vec<usize> = (0..total).filter(|i| parsed[*i].is_some()).collect();
    let mut allowance = (client.config().execution_limit + MARGIN) * SETTLE_WAITS;
    let round = Round {
        client,
        entity,
        field: &field,
        parsed: &parsed,
        workers: options.concurrency.clamp(1, 16),
    };
    for _round in 0..MAX_ROUNDS {
        if todo.is_empty() {
            break;
        }
        let mut seen = HashSet::new();
        let (now, later): (Vec<usize>, Vec<usize>) = todo
            .iter()
            .partition(|i| seen.insert(parsed[**i].as_ref().map(|r| r.guid.clone())));
        let mut again = later;
        round.run(now, &mut ledger, &mut again, &mut allowance, &mut |l| {
            progress(l.done(), total)
        })?;
        again.sort_unstable();
        todo = again;
    }
    let results = ledger.finish(&todo);
    progress(total, total);
    Ok((rows(results), warnings))
}

/// The union of the records' field keys: of plain records, and of records in import mode.
#[derive(Default)]
struct Unions {
    plain: Map<String, Value>,
    import: Map<String, Value>,
}

/// Parses every record; the ones that cannot be upserted get their error now. Also returns the
/// unions of the field keys.
fn parse_records(
    entity: Entity,
    field: &str,
    records: &[Value],
) -> (Vec<Option<Record>>, Results, Unions) {
    let mut results: Results = (0..records.len()).map(|_| None).collect();
    let mut parsed: Vec<Option<Record>> = Vec::with_capacity(records.len());
    let mut union = Unions::default();
    for (i, v) in records.iter().enumerate() {
        let rec = WriteRequest::parse(entity, v.clone()).and_then(|mut req| {
            if !req.files.is_empty() {
                return Err(Error::invalid_input(
                    "INVALID_FILE",
                    "filePath is supported by single writes, not by bulk upsert",
                ));
            }
            match guid_of(req.fields.get(field)) {
                Some(guid) => {
                    store_normalised(&mut req.fields, field, &guid);
                    let json_only = batch::references_in(&req.to_params(None)).is_some();
                    Ok(Record {
                        guid,
                        req,
                        json_only,
                    })
                }
                None => Err(Error::invalid_input(
                    "MISSING_GUID",
                    format!("record {i} has no GUID in {field}"),
                )),
            }
        });
        match rec {
            Ok(rec) => {
                let keys = match rec.req.is_import() {
                    true => &mut union.import,
                    false => &mut union.plain,
                };
                for k in rec.req.fields.keys() {
                    keys.insert(k.clone(), Value::Null);
                }
                parsed.push(Some(rec));
            }
            Err(e) => {
                results[i] = Some((None, Err(e)));
                parsed.push(None);
            }
        }
    }
    (parsed, results, union)
}

/// Field names are checked once for the union of all keys (as adds: whether a record is an
/// update is known only after its lookup); an import record's keys are checked as an import add.
fn check_fields(client: &Client, entity: Entity, union: &Unions) -> Result<Vec<String>, Error> {
    let check = |known: &Map<String, Value>| {
        let plain = crm::dropped_keys(known, &union.plain, WriteKind::Add { import: false });
        let import = crm::dropped_keys(known, &union.import, WriteKind::Add { import: true });
        let fresh: Vec<String> = import.into_iter().filter(|w| !plain.contains(w)).collect();
        let mut all = plain;
        all.extend(fresh);
        all
    };
    let warnings = match crm::field_list(client, entity) {
        Ok(known) => check(&known),
        Err(e) => vec![format!(
            "field names were not checked: {}",
            e.last_error_text()
        )],
    };
    if client.config().strict_fields && !warnings.is_empty() {
        return Err(Error::invalid_input("UNKNOWN_FIELDS", warnings.join("; "))
            .with_details(json!({ "fields": warnings })));
    }
    Ok(warnings)
}

/// The per-record JSON rows, in input order.
fn rows(results: Results) -> Vec<Value> {
    results
        .into_iter()
        .map(|r| {
            let (guid, outcome) = r.expect("every record has an outcome");
            match outcome {
                Ok(u) => json!({"guid": guid, "id": u.id, "created": u.created}),
                Err(e) => json!({"guid": guid, "error": e.to_json()}),
            }
        })
        .collect()
}

/// What one round needs.
struct Round<'a> {
    client: &'a Client,
    entity: Entity,
    field: &'a str,
    parsed: &'a [Option<Record>],
    workers: usize,
}

impl Round<'_> {
    /// One round over `now` (no GUID twice). A pipeline: one thread looks the GUIDs up, 2,500
    /// (one request) at a time, and queues the writes; `workers` threads send them; this thread
    /// applies every outcome. Writing starts after the first lookup, so the portal's time on the
    /// lookups overlaps the bucket's pacing instead of adding to it.
    fn run(
        &self,
        mut now: Vec<usize>,
        ledger: &mut Ledger,
        again: &mut Vec<usize>,
        allowance: &mut Duration,
        progress: &mut dyn FnMut(&Ledger),
    ) -> Result<(), Error> {
        let guids = now
            .iter()
            .filter_map(|i| self.parsed[*i].as_ref().map(|r| &r.guid));
        let _claim = Claim::take(self.client, self.entity, guids)?;
        let hints = ledger.hints(&now);
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
            for msg in msg_rx {
                match msg {
                    Msg::Decided(i, outcome) => ledger.decide(i, outcome),
                    Msg::Cleared(i) => ledger.clear(i),
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
        };
        for segment in lookup_segments(now) {
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
            for m in msgs {
                let _ = msg_tx.send(m);
            }
            let batches = plan
                .batched
                .chunks(BATCH_LIMIT)
                .map(|c| Work::Batch(c.to_vec()));
            let singles = plan.single.into_iter().map(Work::Single);
            for w in batches.chain(singles) {
                if work_tx.send(w).is_err() {
                    return;
                }
            }
        }
    }

    /// A writer thread: sends queued work until the queue closes.
    fn write_all(&self, work_rx: &Mutex<mpsc::Receiver<Work>>, msg_tx: &mpsc::Sender<Msg>) {
        // Bounded by the queue: the lookup thread closes it when it is done.
        loop {
            let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(work) = next else { break };
            let fates = send(self.client, self.entity, self.parsed, work);
            if msg_tx.send(Msg::Wrote(fates)).is_err() {
                break;
            }
        }
    }
}
