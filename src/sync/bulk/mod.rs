//! Bulk upsert: many records by GUID through `batch`, lookups pipelined with writes.

mod apply;
mod lookup;
mod plan;

use super::guid::{guid_field, guid_of, Claim};
use super::Upserted;
use crate::batch::{self, BatchOutcome, Command, BATCH_LIMIT};
use crate::client::Client;
use crate::crm::{self, Entity, WriteRequest};
use crate::error::{Error, ErrorKind};
use apply::{apply_batch, Next};
use lookup::lookup_segments;
use plan::{plan_writes, Write};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::{mpsc, Mutex};

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

#[derive(Debug)]
struct Record {
    guid: String,
    req: WriteRequest,
}

/// Per-record result: `{"guid","id","created"}` or `{"guid","error":{...}}`.
type Outcome = Result<Upserted, Error>;

/// Each record's GUID (when it has one) and outcome, once decided.
type Results = Vec<Option<(Option<String>, Outcome)>>;

/// What the pipeline threads tell the calling thread.
enum Msg {
    /// A record's outcome, decided without a write (ambiguous GUID, a found lost add, a failed
    /// lookup).
    Decided(usize, Outcome),
    /// A write batch came back (or failed as a whole).
    Batch(Vec<Write>, Result<BatchOutcome, Error>),
}

/// Upserts many records (each a fields object, or `{"fields","params"}`, carrying its GUID):
/// looks the GUIDs up with a few `@`-filtered list commands per batch, then writes in batches
/// of 50 commands, `concurrency` batches in flight, paced by the shared bucket. Results come back
/// in input order. A batch that partly failed is not re-sent: failed commands are reported, and
/// only commands that did not run, or whose outcome is unknown, go round again (an unknown add is
/// first looked up by its GUID). `progress(done, total)` is called on the calling thread.
pub fn bulk_upsert(
    client: &Client,
    entity: Entity,
    records: &[Value],
    options: BulkOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Value>, Vec<String>), Error> {
    let field = guid_field(client, entity).to_string();
    let total = records.len();
    let (parsed, mut results, union) = parse_records(entity, &field, records);
    let warnings = check_fields(client, entity, &union)?;
    progress(done(&results), total);
    // Work list: indices still to upsert. A GUID repeated in the input is applied in input order,
    // one occurrence per round.
    let mut todo: Vec<usize> = (0..total).filter(|i| parsed[*i].is_some()).collect();
    // Records whose add may have run (its answer was lost): the next lookup tells.
    let mut maybe_created: HashSet<usize> = HashSet::new();
    for _round in 0..MAX_ROUNDS {
        if todo.is_empty() {
            break;
        }
        let mut seen = HashSet::new();
        let (now, later): (Vec<usize>, Vec<usize>) = todo
            .iter()
            .partition(|i| seen.insert(parsed[**i].as_ref().map(|r| r.guid.clone())));
        let round = Round {
            client,
            entity,
            field: &field,
            parsed: &parsed,
            workers: options.concurrency.clamp(1, 16),
        };
        let mut again = later;
        let unknown_adds = round.run(&now, &maybe_created, &mut results, &mut again, &mut |r| {
            progress(done(r), total)
        })?;
        maybe_created.extend(unknown_adds);
        again.sort_unstable();
        todo = again;
    }
    for i in todo {
        let guid = parsed[i].as_ref().map(|r| r.guid.clone());
        let e = Error::new(
            ErrorKind::Server,
            "NOT_COMPLETED",
            "the record could not be written within the retry rounds",
        );
        results[i] = Some((guid, Err(e)));
    }
    progress(total, total);
    Ok((rows(results), warnings))
}

fn done(results: &Results) -> usize {
    results.iter().filter(|r| r.is_some()).count()
}

/// Parses every record; the ones that cannot be upserted get their error now. Also returns the
/// union of all field keys.
fn parse_records(
    entity: Entity,
    field: &str,
    records: &[Value],
) -> (Vec<Option<Record>>, Results, Map<String, Value>) {
    let mut results: Results = (0..records.len()).map(|_| None).collect();
    let mut parsed: Vec<Option<Record>> = Vec::with_capacity(records.len());
    let mut union = Map::new();
    for (i, v) in records.iter().enumerate() {
        let rec = WriteRequest::parse(entity, v.clone()).and_then(|req| {
            if !req.files.is_empty() {
                return Err(Error::invalid_input(
                    "INVALID_FILE",
                    "filePath is supported by single writes, not by bulk upsert",
                ));
            }
            match guid_of(req.fields.get(field)) {
                Some(guid) => Ok(Record { guid, req }),
                None => Err(Error::invalid_input(
                    "MISSING_GUID",
                    format!("record {i} has no GUID in {field}"),
                )),
            }
        });
        match rec {
            Ok(rec) => {
                for k in rec.req.fields.keys() {
                    union.insert(k.clone(), Value::Null);
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

/// Field names are checked once for the union of all keys.
fn check_fields(
    client: &Client,
    entity: Entity,
    union: &Map<String, Value>,
) -> Result<Vec<String>, Error> {
    let warnings = match crm::field_list(client, entity) {
        Ok(known) => crm::dropped_keys(&known, union, false),
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
    /// (one request) at a time, and queues the writes; `workers` threads send the write batches;
    /// this thread applies every outcome. Writing starts after the first lookup, so the portal's
    /// time on the lookups overlaps the bucket's pacing instead of adding to it. Returns the
    /// records whose add may have run.
    fn run(
        &self,
        now: &[usize],
        maybe_created: &HashSet<usize>,
        results: &mut Results,
        again: &mut Vec<usize>,
        progress: &mut dyn FnMut(&Results),
    ) -> Result<Vec<usize>, Error> {
        let guids = now
            .iter()
            .filter_map(|i| self.parsed[*i].as_ref().map(|r| &r.guid));
        let _claim = Claim::take(self.client, self.entity, guids)?;
        let mut unknown_adds: Vec<usize> = Vec::new();
        let (work_tx, work_rx) = mpsc::channel::<Vec<Write>>();
        let work_rx = Mutex::new(work_rx);
        let (msg_tx, msg_rx) = mpsc::channel::<Msg>();
        std::thread::scope(|s| {
            let tx = msg_tx.clone();
            s.spawn(move || self.plan_all(now, maybe_created, &tx, &work_tx));
            for _ in 0..self.workers {
                let (tx, work_rx) = (msg_tx.clone(), &work_rx);
                s.spawn(move || self.write_all(work_rx, &tx));
            }
            drop(msg_tx);
            // Outcomes are applied and progress reported here, on the calling thread (1C's
            // status line may only be touched from it).
            for msg in msg_rx {
                match msg {
                    Msg::Decided(i, outcome) => {
                        let guid = self.parsed[i].as_ref().map(|r| r.guid.clone());
                        results[i] = Some((guid, outcome));
                    }
                    Msg::Batch(chunk, outcome) => {
                        let mut next = Next {
                            again,
                            unknown_adds: &mut unknown_adds,
                        };
                        apply_batch(&chunk, outcome, self.parsed, results, &mut next)
                    }
                }
                progress(results);
            }
        });
        Ok(unknown_adds)
    }

    /// The lookup thread: plans each segment and queues its write batches.
    fn plan_all(
        &self,
        now: &[usize],
        maybe_created: &HashSet<usize>,
        msg_tx: &mpsc::Sender<Msg>,
        work_tx: &mpsc::Sender<Vec<Write>>,
    ) {
        let (client, entity, field, parsed) = (self.client, self.entity, self.field, self.parsed);
        for segment in lookup_segments(now) {
            let plan = plan_writes(client, entity, field, parsed, maybe_created, segment);
            let (decided, writes) = match plan {
                Ok(p) => p,
                Err(e) => {
                    // The lookup failed (access, a field the portal ignores...): nothing more
                    // can be decided safely.
                    let left = now.iter().skip_while(|i| !segment.contains(i));
                    for i in left {
                        let _ = msg_tx.send(Msg::Decided(*i, Err(e.clone())));
                    }
                    return;
                }
            };
            for (i, outcome) in decided {
                let _ = msg_tx.send(Msg::Decided(i, outcome));
            }
            for chunk in writes.chunks(BATCH_LIMIT) {
                if work_tx.send(chunk.to_vec()).is_err() {
                    return;
                }
            }
        }
    }

    /// A writer thread: sends queued write batches until the queue closes.
    fn write_all(&self, work_rx: &Mutex<mpsc::Receiver<Vec<Write>>>, msg_tx: &mpsc::Sender<Msg>) {
        // Bounded by the queue: the lookup thread closes it when it is done.
        loop {
            let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(chunk) = next else { break };
            let cmds: Vec<Command> = chunk.iter().map(|w| w.cmd.clone()).collect();
            let outcome = batch::run(self.client, &cmds, false);
            if msg_tx.send(Msg::Batch(chunk, outcome)).is_err() {
                break;
            }
        }
    }
}
