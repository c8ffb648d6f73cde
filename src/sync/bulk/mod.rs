//! Bulk upsert: many records by GUID through `batch`, lookups pipelined with writes.
//!
//! What each record's result promises: written (`id`) means it is on the portal once; a failure
//! means nothing of it was written; OUTCOME_UNKNOWN means it may have been written and was not
//! sent again. A write that may have run is looked up again only once it can no longer be
//! running (see `settle`); a value the portal would rewrite inside a batch goes as a JSON call.

mod apply;
mod dry;
mod exact;
mod lookup;
mod matching;
mod plan;
mod prime;
mod round;
mod send;

use super::cancel::{cancelled, Cancel};
use super::guid::{guid_field, guid_of, store_normalised};
use super::matching::MatchOptions;
use super::settle::MARGIN;
use super::Upserted;
use crate::batch;
use crate::client::Client;
use crate::crm::{self, Entity, WriteKind, WriteRequest};
use crate::error::{Error, ErrorKind};
use apply::{Fate, Ledger, Write};
use round::Round;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

/// Settings of a bulk upsert.
#[derive(Debug, Clone)]
pub struct BulkOptions {
    /// Batch requests in flight at once (pacing still comes from the shared bucket).
    pub concurrency: usize,
    /// Match rules for records whose GUID is not found, and the dry run.
    pub matching: MatchOptions,
    /// Set from another thread to stop the job: what is not sent yet is `CANCELLED`.
    pub cancel: Cancel,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            concurrency: 4,
            matching: MatchOptions::default(),
            cancel: Cancel::default(),
        }
    }
}

/// Rounds for records whose outcome was unknown or whose GUID repeated in the input.
const MAX_ROUNDS: usize = 8;
/// Passes in all, waits for the limits included (a bound on the loop whatever the deadline; at
/// one pass per refusal-and-wait it is far more than any job needs).
const MAX_PASSES: usize = 100_000;
/// How many execution limits a bulk upsert may spend, in all, waiting for writes that may still
/// be running; records that would need more are reported without waiting.
const SETTLE_WAITS: u32 = 2;

#[derive(Debug)]
struct Record {
    guid: String,
    req: WriteRequest,
    /// The Bitrix ID from the last sync (`ID` among the fields): confirmed by an indexed read
    /// instead of a GUID lookup.
    known_id: Option<i64>,
    /// Its values hold text the portal expands inside a batch (`$result[...]`...): it must go as
    /// a JSON call.
    json_only: bool,
}

/// Per-record result: `{"guid","id","created"}` or `{"guid","error":{...}}`.
type Outcome = Result<Upserted, Error>;

/// Each record's GUID (when it has one) and outcome, once decided.
type Results = Vec<Option<(Option<String>, Outcome)>>;

/// Where a bulk upsert stands, for the progress callback.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Records with an outcome.
    pub done: usize,
    /// Records in all.
    pub total: usize,
    /// Set while the job waits for a portal limit to free up.
    pub waiting: Option<Waiting>,
}

/// A wait for a portal limit.
#[derive(Debug, Clone)]
pub struct Waiting {
    /// Which limit: "the portal's operating-time limit for crm.contact.add", ...
    pub reason: String,
    /// When the next attempt goes.
    pub until: SystemTime,
}

/// What the pipeline threads tell the calling thread.
enum Msg {
    /// A record not sent this round: the job's deadline passed before it was planned, or a limit
    /// refused its lookup (then it waits for the limit).
    Postponed(usize, Option<apply::Retry>),
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
/// of 50 commands, `concurrency` batches in flight, paced by the shared bucket and the
/// operating budgets. Results come back in input order. A batch that partly failed is not
/// re-sent: failed commands are reported, and only commands that did not run, or whose outcome
/// is unknown, go round again (an unknown write is first looked up by its GUID, once it can no
/// longer be running). Commands a limit refused wait until it frees up, within the job's
/// deadline (`bulk_deadline_secs`); past it the rest are `TIME_LIMITED`, nothing of them
/// written. `progress` is called on the calling thread, at least once a second while waiting.
pub fn bulk_upsert(
    client: &Client,
    entity: Entity,
    records: &[Value],
    options: BulkOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Vec<Value>, Vec<String>), Error> {
    let field = guid_field(client, entity).to_string();
    let total = records.len();
    let (mut parsed, mut results, union) = parse_records(entity, &field, records);
    let mut todo: Vec<usize> = (0..total).filter(|i| parsed[*i].is_some()).collect();
    let dry_run = options.matching.dry_run;
    let (fields, mut primed) = match crm::cached_field_list(client, entity) {
        Some(f) => (Ok(f), None),
        None if dry_run => (crm::field_list(client, entity), None),
        None => match prime::prime(client, entity, &field, &parsed, &todo)? {
            Some((p, f)) => (Ok(f), Some(p)),
            None => (crm::field_list(client, entity), None),
        },
    };
    let (mut warnings, known) = check_fields(client, fields, &union)?;
    let known = known.unwrap_or_default();
    warnings.extend(map_values(client, &known, &mut parsed, &mut results));
    let matcher = matching::Matcher::new(options.matching.rules, dry_run);
    if dry_run {
        todo.retain(|i| parsed[*i].is_some());
        let planned = dry::dry_run(client, entity, &field, &parsed, &todo, results, &matcher);
        return Ok((planned, warnings));
    }
    let guids = parsed.iter().map(|r| r.as_ref().map(|r| r.guid.clone()));
    let mut ledger = Ledger::new(results, guids.collect());
    let mut report = |l: &Ledger, waiting: Option<Waiting>| {
        progress(&Progress {
            done: l.done(),
            total,
            waiting,
        })
    };
    report(&ledger, None);
    let deadline = client.config().bulk_deadline.map(|d| Instant::now() + d);
    // Work list: indices still to upsert (without those the value check failed). A GUID
    // repeated in the input is applied in input order, one occurrence per round.
    todo.retain(|i| parsed[*i].is_some());
    let mut allowance = (client.config().execution_limit + MARGIN) * SETTLE_WAITS;
    let round = Round {
        client,
        entity,
        field: &field,
        parsed: &parsed,
        workers: options.concurrency.clamp(1, 16),
        deadline,
        matcher: Some(&matcher),
        cancel: &options.cancel,
    };
    let mut doubt_rounds = 0;
    let mut why = not_completed();
    for _pass in 0..MAX_PASSES {
        if todo.is_empty() || doubt_rounds >= MAX_ROUNDS {
            break;
        }
        if options.cancel.is_set() {
            why = cancelled();
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            why = time_limited();
            break;
        }
        // Records a limit refused wait until it frees up; the others go now.
        let now = Instant::now();
        let (ready, waiting): (Vec<usize>, Vec<usize>) = todo
            .iter()
            .partition(|i| ledger.not_before(**i).is_none_or(|r| r.at <= now));
        if ready.is_empty() {
            let next = waiting
                .iter()
                .filter_map(|i| ledger.not_before(*i))
                .min_by_key(|r| r.at);
            let Some(next) = next.cloned() else { break };
            if deadline.is_some_and(|d| next.at > d) {
                why = time_limited();
                break;
            }
            let cancel = &options.cancel;
            wait_for_limit(&next.reason, next.at, cancel, &mut |w| {
                report(&ledger, Some(w))
            });
            continue;
        }
        let mut seen = HashSet::new();
        let (now, later): (Vec<usize>, Vec<usize>) = ready
            .iter()
            .partition(|i| seen.insert(parsed[**i].as_ref().map(|r| r.guid.clone())));
        let repeats = !later.is_empty();
        let mut again = later;
        again.extend(waiting);
        ledger.doubtful_again = false;
        let mut report = |l: &Ledger| report(l, None);
        round.run(
            now,
            &mut ledger,
            &mut again,
            &mut allowance,
            &mut report,
            primed.take(),
        )?;
        matcher.release();
        if repeats || ledger.doubtful_again {
            doubt_rounds += 1;
        }
        again.sort_unstable();
        todo = again;
    }
    let results = ledger.finish(&todo, &why);
    progress(&Progress {
        done: total,
        total,
        waiting: None,
    });
    Ok((rows(results, &matcher), warnings))
}

/// Sleeps until `at` (or a cancel), reporting the wait at least once a second.
fn wait_for_limit(reason: &str, at: Instant, cancel: &Cancel, report: &mut dyn FnMut(Waiting)) {
    let until = SystemTime::now() + at.saturating_duration_since(Instant::now());
    // Bounded by `at`: each step sleeps at most a second and moves towards it.
    loop {
        let left = at.saturating_duration_since(Instant::now());
        report(Waiting {
            reason: reason.to_string(),
            until,
        });
        if left.is_zero() || cancel.is_set() {
            return;
        }
        // Short steps, so a cancel is seen within a tenth of a second.
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

fn not_completed() -> Error {
    Error::new(
        ErrorKind::Server,
        "NOT_COMPLETED",
        "the record could not be written within the retry rounds",
    )
}

fn time_limited() -> Error {
    Error::new(
        ErrorKind::TimeLimited,
        "TIME_LIMITED",
        "not written: the bulk job's deadline (bulk_deadline_secs) passed while the portal's limits held it back",
    )
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
                    "filePath and fileId are supported by single writes, not by bulk upsert",
                ));
            }
            match guid_of(req.fields.get(field)) {
                Some(guid) => {
                    store_normalised(&mut req.fields, field, &guid);
                    let known_id = req.take_known_id()?;
                    let json_only = batch::references_in(&req.to_params(None)).is_some();
                    Ok(Record {
                        guid,
                        req,
                        known_id,
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
/// Maps the values given by name or by user GUID, record by record (see
/// [`crm::map_references`]: one status fetch per list type and one batch of user lookups for
/// the whole job). A problem is a warning (each once, at most [`MAX_VALUE_WARNINGS`]), or under
/// `strict_fields` that record's `INVALID_VALUE` error; a user GUID several users hold fails
/// only its record too. The others go on.
fn map_values(
    client: &Client,
    known: &Map<String, Value>,
    parsed: &mut [Option<Record>],
    results: &mut Results,
) -> Vec<String> {
    let strict = client.config().strict_fields;
    let (at, mut fields): (Vec<usize>, Vec<&mut Map<String, Value>>) = parsed
        .iter_mut()
        .enumerate()
        .filter_map(|(i, slot)| slot.as_mut().map(|r| (i, &mut r.req.fields)))
        .unzip();
    let (outcomes, mut warnings) = crm::map_references(client, known, &mut fields);
    for (i, outcome) in at.into_iter().zip(outcomes) {
        let failed = match outcome {
            Ok(problems) if strict && !problems.is_empty() => crm::invalid_values(problems),
            Ok(problems) => {
                for p in problems {
                    if warnings.len() < MAX_VALUE_WARNINGS && !warnings.contains(&p) {
                        warnings.push(p);
                    }
                }
                continue;
            }
            Err(e) => e,
        };
        let guid = parsed[i].take().map(|r| r.guid);
        results[i] = Some((guid, Err(failed)));
    }
    warnings
}

/// Distinct list-value warnings a bulk upsert reports at most.
const MAX_VALUE_WARNINGS: usize = 20;

/// Checks the union of the records' keys against the field list (or warns that it could not be
/// read); under `strict_fields` a problem fails the whole job before anything is written.
fn check_fields(
    client: &Client,
    fields: Result<crm::FieldMap, Error>,
    union: &Unions,
) -> Result<(Vec<String>, Option<crm::FieldMap>), Error> {
    let check = |known: &Map<String, Value>| {
        let plain = crm::dropped_keys(known, &union.plain, WriteKind::Add { import: false });
        let import = crm::dropped_keys(known, &union.import, WriteKind::Add { import: true });
        let fresh: Vec<String> = import.into_iter().filter(|w| !plain.contains(w)).collect();
        let mut all = plain;
        all.extend(fresh);
        all
    };
    let (warnings, known) = match fields {
        Ok(known) => (check(&known), Some(known)),
        Err(e) => {
            let w = format!("field names were not checked: {}", e.last_error_text());
            (vec![w], None)
        }
    };
    if client.config().strict_fields && !warnings.is_empty() {
        return Err(Error::invalid_input("UNKNOWN_FIELDS", warnings.join("; "))
            .with_details(json!({ "fields": warnings })));
    }
    Ok((warnings, known))
}

/// The per-record JSON rows, in input order: an adopted record says so (and by which rule);
/// matching entities left alone for another GUID are listed in `other_guid_ids`.
fn rows(results: Results, matcher: &matching::Matcher) -> Vec<Value> {
    let rule_of = matcher.rule_of.lock().unwrap_or_else(|p| p.into_inner());
    let other = matcher.other_guid.lock().unwrap_or_else(|p| p.into_inner());
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let (guid, outcome) = r.expect("every record has an outcome");
            let outcome_adopted = outcome.as_ref().ok().map(|u| u.adopted);
            let mut row = match outcome {
                Ok(u) => json!({"guid": guid, "id": u.id, "created": u.created}),
                Err(e) => json!({"guid": guid, "error": e.to_json()}),
            };
            if matches!(outcome_adopted, Some(true)) {
                row["adopted"] = json!(true);
                row["rule"] = json!(rule_of.get(&i));
            }
            if let Some(ids) = other.get(&i) {
                row["other_guid_ids"] = json!(ids);
            }
            row
        })
        .collect()
}
