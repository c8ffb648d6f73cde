//! Sync at scale: idempotent upsert by 1C GUID, multi-field replace, bulk upsert at the portal's
//! rate ceiling, and full export by ID cursor.

use crate::batch::{self, BatchOutcome, Command, BATCH_LIMIT};
use crate::client::{Client, Repeat};
use crate::crm::{self, Entity, WriteRequest};
use crate::error::{Error, ErrorKind};
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// GUID claims: two upserts of one GUID in one process must not both decide "absent, add".

type ClaimKey = (String, Entity, String);

static CLAIMS: Lazy<(Mutex<HashSet<ClaimKey>>, Condvar)> =
    Lazy::new(|| (Mutex::new(HashSet::new()), Condvar::new()));
const CLAIM_WAIT: Duration = Duration::from_secs(300);

/// GUIDs this thread is working on; released on drop.
struct Claim {
    keys: Vec<ClaimKey>,
}

impl Claim {
    /// Waits until none of `keys` is claimed elsewhere, then claims them all at once (all at
    /// once, so two claimers of overlapping sets cannot deadlock).
    fn take(keys: Vec<ClaimKey>) -> Result<Claim, Error> {
        let (lock, cv) = &*CLAIMS;
        let deadline = Instant::now() + CLAIM_WAIT;
        let mut held = lock.lock().unwrap_or_else(|p| p.into_inner());
        while keys.iter().any(|k| held.contains(k)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "GUID_BUSY",
                    "another upsert of the same GUID did not finish in time",
                ));
            }
            held = cv
                .wait_timeout(held, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        held.extend(keys.iter().cloned());
        Ok(Claim { keys })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let (lock, cv) = &*CLAIMS;
        let mut held = lock.lock().unwrap_or_else(|p| p.into_inner());
        for k in &self.keys {
            held.remove(k);
        }
        cv.notify_all();
    }
}

fn claim_key(client: &Client, entity: Entity, guid: &str) -> ClaimKey {
    (
        client.config().webhook.origin.clone(),
        entity,
        guid.to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// Lookup by GUID.

fn guid_field(client: &Client, entity: Entity) -> &str {
    match entity {
        Entity::Contact => &client.config().guid_fields.contact,
        Entity::Company => &client.config().guid_fields.company,
    }
}

fn guid_of(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn id_of(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|id| *id > 0)
}

/// Rows of a GUID lookup → GUID → IDs, verifying each row really carries one of the GUIDs
/// asked for (the portal ignores filters on fields it does not know and returns everything).
fn collect_matches(
    rows: &Value,
    field: &str,
    asked: &HashSet<String>,
    out: &mut HashMap<String, Vec<i64>>,
) -> Result<usize, Error> {
    let rows = match rows {
        Value::Array(a) => a.as_slice(),
        Value::Object(m) if m.is_empty() => &[],
        _ => {
            return Err(Error::new(
                ErrorKind::Protocol,
                "INVALID_RESPONSE",
                "a list method did not return a list",
            ))
        }
    };
    for row in rows {
        let g = guid_of(row.get(field));
        match g {
            Some(g) if asked.contains(&g) => {
                let id = row.get("ID").and_then(id_of).ok_or_else(|| Error::new(ErrorKind::Protocol, "INVALID_RESPONSE", "a listed row has no ID"))?;
                out.entry(g).or_default().push(id);
            }
            _ => {
                return Err(Error::invalid_input(
                    "GUID_FIELD_NOT_FILTERABLE",
                    format!("the portal ignored the filter on {field} (is the field code right?), so entities cannot be found by GUID"),
                ))
            }
        }
    }
    Ok(rows.len())
}

/// The IDs of the entities whose GUID field equals `guid` exactly.
pub fn find_by_guid(client: &Client, entity: Entity, guid: &str) -> Result<Vec<i64>, Error> {
    let field = guid_field(client, entity);
    let params = json!({
        "filter": { format!("={field}"): guid },
        "select": ["ID", field],
        "order": { "ID": "ASC" },
        "start": -1,
    });
    let resp = client.call(&entity.method("list"), &params)?;
    let mut out = HashMap::new();
    collect_matches(
        &resp.value()?,
        field,
        &HashSet::from([guid.to_string()]),
        &mut out,
    )?;
    Ok(out.remove(guid).unwrap_or_default())
}

fn ambiguous(field: &str, guid: &str, ids: &[i64]) -> Error {
    Error::new(
        ErrorKind::Conflict,
        "AMBIGUOUS_GUID",
        format!("{} entities have {field} = {guid:?}: {ids:?}", ids.len()),
    )
    .with_details(json!({ "ids": ids }))
}

// ---------------------------------------------------------------------------------------------
// Single upsert.

/// The outcome of an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// The entity's ID.
    pub id: i64,
    /// True when the entity was created, false when it was updated.
    pub created: bool,
}

/// Finds the entity by the GUID in `req`'s fields; updates it if found, adds it if not.
/// Concurrent upserts of one GUID in this process are serialised. An add whose outcome is
/// unknown is resolved by looking the GUID up again, not by sending it again blindly.
pub fn upsert(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
) -> Result<(Upserted, Vec<String>), Error> {
    let field = guid_field(client, entity).to_string();
    let guid = guid_of(req.fields.get(&field)).ok_or_else(|| {
        Error::invalid_input(
            "MISSING_GUID",
            format!("the fields must carry the 1C GUID in {field}"),
        )
    })?;
    let _claim = Claim::take(vec![claim_key(client, entity, &guid)])?;
    let ids = find_by_guid(client, entity, &guid)?;
    match ids.as_slice() {
        [id] => {
            let (_, warnings) = crm::update(client, entity, *id, req)?;
            Ok((
                Upserted {
                    id: *id,
                    created: false,
                },
                warnings,
            ))
        }
        [] => match crm::create(client, entity, req) {
            Ok((id, warnings)) => Ok((Upserted { id, created: true }, warnings)),
            Err(e) if e.code == "OUTCOME_UNKNOWN" => {
                let id = resolve_unknown_add(client, entity, req, &guid)?;
                Ok((Upserted { id, created: true }, vec![]))
            }
            Err(e) => Err(e),
        },
        many => Err(ambiguous(&field, &guid, many)),
    }
}

/// After an add whose answer was lost: look the GUID up a few times (the add may still be
/// running); only when it is surely absent, add again.
fn resolve_unknown_add(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    guid: &str,
) -> Result<i64, Error> {
    for attempt in 0..3u32 {
        std::thread::sleep(Duration::from_millis(200 << attempt));
        let ids = find_by_guid(client, entity, guid)?;
        match ids.as_slice() {
            [id] => return Ok(*id),
            [] => continue,
            many => return Err(ambiguous(guid_field(client, entity), guid, many)),
        }
    }
    Ok(crm::create(client, entity, req)?.0)
}

// ---------------------------------------------------------------------------------------------
// Multi-field replace.

/// The multi-fields whose items carry IDs.
pub const MULTI_FIELDS: [&str; 5] = ["PHONE", "EMAIL", "WEB", "IM", "LINK"];

/// What a replace did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replaced {
    /// Items kept as they were.
    pub kept: usize,
    /// Items overwritten in place (by ID).
    pub changed: usize,
    /// Items added.
    pub added: usize,
    /// Items deleted.
    pub deleted: usize,
}

/// Makes `field` (PHONE, EMAIL, ...) of the entity exactly `values`: strings, or
/// `{"VALUE": ..., "VALUE_TYPE": ...}` objects (VALUE_TYPE defaults to WORK, OTHER for IM).
/// One get, then one update that overwrites, adds and deletes items by ID; none when nothing
/// changes. Duplicate values in `values` are collapsed (the portal would merge them anyway).
pub fn replace_multifield(
    client: &Client,
    entity: Entity,
    id: i64,
    field: &str,
    values: &Value,
) -> Result<Replaced, Error> {
    crm::check_id(id)?;
    let field = field.trim().to_ascii_uppercase();
    if !MULTI_FIELDS.contains(&field.as_str()) {
        return Err(Error::invalid_input(
            "INVALID_FIELD",
            format!(
                "{field:?} is not a multi-field ({})",
                MULTI_FIELDS.join(", ")
            ),
        ));
    }
    let default_type = if field == "IM" { "OTHER" } else { "WORK" };
    let Value::Array(items) = values else {
        return Err(Error::invalid_input(
            "INVALID_VALUES",
            "values must be a JSON array",
        ));
    };
    let mut desired: Vec<(String, String)> = Vec::new();
    for item in items {
        let (value, vtype) = match item {
            Value::String(s) => (s.trim().to_string(), default_type.to_string()),
            Value::Object(o) => (
                o.get("VALUE")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                o.get("VALUE_TYPE")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .unwrap_or(default_type)
                    .to_ascii_uppercase(),
            ),
            _ => {
                return Err(Error::invalid_input(
                    "INVALID_VALUES",
                    "each value must be a string or {\"VALUE\",\"VALUE_TYPE\"}",
                ))
            }
        };
        if value.is_empty() {
            return Err(Error::invalid_input(
                "INVALID_VALUES",
                "values must not be empty",
            ));
        }
        if !desired.contains(&(value.clone(), vtype.clone())) {
            desired.push((value, vtype));
        }
    }
    let current = crm::by_id(client, entity, "get", id)?.value()?;
    let current: Vec<(Value, String, String)> = current
        .get(&field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|it| {
                    (
                        it.get("ID").cloned().unwrap_or(Value::Null),
                        it.get("VALUE")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        it.get("VALUE_TYPE")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut used = vec![false; current.len()];
    let mut pending: Vec<&(String, String)> = Vec::new();
    let mut out = Replaced::default();
    for d in &desired {
        match current
            .iter()
            .enumerate()
            .position(|(i, c)| !used[i] && c.1 == d.0 && c.2.eq_ignore_ascii_case(&d.1))
        {
            Some(i) => {
                used[i] = true;
                out.kept += 1;
            }
            None => pending.push(d),
        }
    }
    let mut ops = Vec::new();
    let mut free = current
        .iter()
        .enumerate()
        .filter(|(i, _)| !used[*i])
        .map(|(_, c)| c);
    for d in pending {
        match free.next() {
            Some(c) => {
                ops.push(json!({"ID": c.0, "VALUE": d.0, "VALUE_TYPE": d.1}));
                out.changed += 1;
            }
            None => {
                ops.push(json!({"VALUE": d.0, "VALUE_TYPE": d.1}));
                out.added += 1;
            }
        }
    }
    for c in free {
        ops.push(json!({"ID": c.0, "VALUE": ""}));
        out.deleted += 1;
    }
    if !ops.is_empty() {
        client.call(
            &entity.method("update"),
            &json!({"id": id, "fields": { field: ops }}),
        )?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Bulk upsert.

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

/// GUIDs per lookup command: as many as a list page holds rows. A command whose `total` says
/// more rows exist (a GUID with duplicates) is paged through on its own.
const GUIDS_PER_LOOKUP: usize = 50;
/// Rows per page of a legacy list method (fixed by Bitrix).
const PAGE_SIZE: u64 = 50;
/// Rounds for records whose outcome was unknown or whose GUID repeated in the input.
const MAX_ROUNDS: usize = 8;

#[derive(Debug)]
struct Record {
    guid: String,
    req: WriteRequest,
}

/// Per-record result: `{"guid","id","created"}` or `{"guid","error":{...}}`.
type Outcome = Result<Upserted, Error>;

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
    let mut results: Vec<Option<(Option<String>, Outcome)>> = (0..total).map(|_| None).collect();
    let mut parsed: Vec<Option<Record>> = Vec::with_capacity(total);
    let mut union = Map::new();
    for (i, v) in records.iter().enumerate() {
        match WriteRequest::parse(entity, v.clone()) {
            Ok(req) if !req.files.is_empty() => {
                results[i] = Some((
                    None,
                    Err(Error::invalid_input(
                        "INVALID_FILE",
                        "filePath is supported by single writes, not by bulk upsert",
                    )),
                ));
                parsed.push(None);
            }
            Ok(req) => match guid_of(req.fields.get(&field)) {
                Some(guid) => {
                    for k in req.fields.keys() {
                        union.insert(k.clone(), Value::Null);
                    }
                    parsed.push(Some(Record { guid, req }));
                }
                None => {
                    results[i] = Some((
                        None,
                        Err(Error::invalid_input(
                            "MISSING_GUID",
                            format!("record {i} has no GUID in {field}"),
                        )),
                    ));
                    parsed.push(None);
                }
            },
            Err(e) => {
                results[i] = Some((None, Err(e)));
                parsed.push(None);
            }
        }
    }
    // Field names are checked once for the union of all keys.
    let warnings = match crm::field_list(client, entity) {
        Ok(known) => crm::dropped_keys(&known, &union, false),
        Err(e) => vec![format!(
            "field names were not checked: {}",
            e.last_error_text()
        )],
    };
    if client.config().strict_fields && !warnings.is_empty() {
        return Err(Error::invalid_input("UNKNOWN_FIELDS", warnings.join("; "))
            .with_details(json!({ "fields": warnings })));
    }

    let mut done = results.iter().filter(|r| r.is_some()).count();
    progress(done, total);
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
        let guids: Vec<String> = now
            .iter()
            .filter_map(|i| parsed[*i].as_ref().map(|r| r.guid.clone()))
            .collect();
        let _claim = Claim::take(guids.iter().map(|g| claim_key(client, entity, g)).collect())?;
        let mut again = later;
        let mut unknown_adds: Vec<usize> = Vec::new();
        let workers = options.concurrency.clamp(1, 16);
        // A pipeline: one thread looks the GUIDs up, 2,500 (one request) at a time, and queues
        // the writes; `workers` threads send the write batches; this thread applies every
        // outcome. Writing starts after the first lookup, so the portal's time on the lookups
        // overlaps the bucket's pacing instead of adding to it.
        let (work_tx, work_rx) = mpsc::channel::<Vec<Write>>();
        let work_rx = Mutex::new(work_rx);
        let (msg_tx, msg_rx) = mpsc::channel::<Msg>();
        std::thread::scope(|s| {
            {
                let (msg_tx, parsed, maybe_created, now, field) =
                    (msg_tx.clone(), &parsed, &maybe_created, &now, &field);
                s.spawn(move || {
                    for segment in lookup_segments(now) {
                        let plan =
                            plan_writes(client, entity, field, parsed, maybe_created, segment);
                        let (decided, writes) = match plan {
                            Ok(p) => p,
                            Err(e) => {
                                // The lookup failed (access, a field the portal ignores...):
                                // nothing more can be decided safely.
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
                });
            }
            for _ in 0..workers {
                let (msg_tx, work_rx) = (msg_tx.clone(), &work_rx);
                s.spawn(move || loop {
                    let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(chunk) = next else { break };
                    let cmds: Vec<Command> = chunk.iter().map(|w| w.cmd.clone()).collect();
                    let outcome = batch::run(client, &cmds, false);
                    if msg_tx.send(Msg::Batch(chunk, outcome)).is_err() {
                        break;
                    }
                });
            }
            drop(msg_tx);
            // Outcomes are applied and progress reported here, on the calling thread (1C's
            // status line may only be touched from it).
            for msg in msg_rx {
                match msg {
                    Msg::Decided(i, outcome) => {
                        let guid = parsed[i].as_ref().map(|r| r.guid.clone());
                        results[i] = Some((guid, outcome));
                    }
                    Msg::Batch(chunk, outcome) => apply_batch(
                        &chunk,
                        outcome,
                        &parsed,
                        &mut results,
                        &mut again,
                        &mut unknown_adds,
                    ),
                }
                done = results.iter().filter(|r| r.is_some()).count();
                progress(done, total);
            }
        });
        maybe_created.extend(unknown_adds);
        again.sort_unstable();
        todo = again;
    }
    for i in todo {
        let guid = parsed[i].as_ref().map(|r| r.guid.clone());
        results[i] = Some((
            guid,
            Err(Error::new(
                ErrorKind::Server,
                "NOT_COMPLETED",
                "the record could not be written within the retry rounds",
            )),
        ));
    }
    progress(total, total);
    let out = results
        .into_iter()
        .map(|r| {
            let (guid, outcome) = r.expect("every record has an outcome");
            match outcome {
                Ok(u) => json!({"guid": guid, "id": u.id, "created": u.created}),
                Err(e) => json!({"guid": guid, "error": e.to_json()}),
            }
        })
        .collect();
    Ok((out, warnings))
}

/// Splits the records into lookup segments: a small first one, so the writers start after a
/// quick first answer, then one full request (2,500 GUIDs) each.
fn lookup_segments(records: &[usize]) -> Vec<&[usize]> {
    let first = (GUIDS_PER_LOOKUP * 5).min(records.len());
    let (head, tail) = records.split_at(first);
    let mut out = vec![head];
    out.extend(tail.chunks(GUIDS_PER_LOOKUP * BATCH_LIMIT));
    out.retain(|s| !s.is_empty());
    out
}

/// What the pipeline threads tell the calling thread.
enum Msg {
    /// A record's outcome, decided without a write (ambiguous GUID, a found lost add, a failed
    /// lookup).
    Decided(usize, Outcome),
    /// A write batch came back (or failed as a whole).
    Batch(Vec<Write>, Result<BatchOutcome, Error>),
}

/// Outcomes decided without a write, and the writes to send.
type Plan = (Vec<(usize, Outcome)>, Vec<Write>);

/// Looks up one segment's GUIDs and decides, per record, add, update or an outcome without a
/// write.
fn plan_writes(
    client: &Client,
    entity: Entity,
    field: &str,
    parsed: &[Option<Record>],
    maybe_created: &HashSet<usize>,
    segment: &[usize],
) -> Result<Plan, Error> {
    let guids: Vec<String> = segment
        .iter()
        .filter_map(|i| parsed[*i].as_ref().map(|r| r.guid.clone()))
        .collect();
    let found = lookup_many(client, entity, field, &guids)?;
    let mut decided = Vec::new();
    let mut writes = Vec::new();
    for &i in segment {
        let Some(rec) = parsed[i].as_ref() else {
            continue;
        };
        let ids = found.get(&rec.guid).map(Vec::as_slice).unwrap_or(&[]);
        let (verb, update_id) = match ids {
            [id] if maybe_created.contains(&i) => {
                // An earlier add of this record lost its answer, and it did run.
                decided.push((
                    i,
                    Ok(Upserted {
                        id: *id,
                        created: true,
                    }),
                ));
                continue;
            }
            [id] => ("update", Some(*id)),
            [] => ("add", None),
            many => {
                decided.push((i, Err(ambiguous(field, &rec.guid, many))));
                continue;
            }
        };
        let method = entity.method(verb);
        let text = format!(
            "{method}?{}",
            batch::php_query(&rec.req.to_params(update_id))
        );
        writes.push(Write {
            index: i,
            cmd: Command {
                name: format!("r{i}"),
                method,
                text,
            },
            update_id,
        });
    }
    Ok((decided, writes))
}

/// One write command of a bulk upsert.
#[derive(Debug, Clone)]
struct Write {
    index: usize,
    cmd: Command,
    /// The entity being updated; `None` for an add.
    update_id: Option<i64>,
}

fn apply_batch(
    chunk: &[Write],
    outcome: Result<BatchOutcome, Error>,
    parsed: &[Option<Record>],
    results: &mut [Option<(Option<String>, Outcome)>],
    again: &mut Vec<usize>,
    unknown_adds: &mut Vec<usize>,
) {
    let out = match outcome {
        Ok(o) => o,
        Err(e) => {
            // The whole request failed. If it may have run (lost answer, 5xx), every record goes
            // round again: the next lookup tells which adds happened. Otherwise it failed for all.
            let unknown = matches!(
                e.kind,
                ErrorKind::Transport
                    | ErrorKind::Server
                    | ErrorKind::Timeout
                    | ErrorKind::RateLimited
                    | ErrorKind::TimeLimited
            );
            for w in chunk {
                let i = w.index;
                if unknown {
                    if w.update_id.is_none() {
                        unknown_adds.push(i);
                    }
                    again.push(i);
                } else {
                    results[i] = Some((parsed[i].as_ref().map(|r| r.guid.clone()), Err(e.clone())));
                }
            }
            return;
        }
    };
    let res = out.results();
    for w in chunk {
        let i = &w.index;
        let c = &w.cmd;
        let guid = parsed[*i].as_ref().map(|r| r.guid.clone());
        if let Some(v) = res.get(&c.name) {
            let is_add = w.update_id.is_none();
            let id = if is_add { id_of(v) } else { w.update_id };
            results[*i] = Some(match id {
                Some(id) => (
                    guid,
                    Ok(Upserted {
                        id,
                        created: is_add,
                    }),
                ),
                None => (
                    guid,
                    Err(Error::new(
                        ErrorKind::Protocol,
                        "INVALID_RESPONSE",
                        format!("unexpected result {v}"),
                    )),
                ),
            });
        } else if let Some(err) = out.error_of(&c.name) {
            // Refused before running: safe to send again in the next round.
            let not_run = [
                "QUERY_LIMIT_EXCEEDED",
                "OPERATION_TIME_LIMIT",
                "ERROR_BATCH_LENGTH_EXCEEDED",
            ]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&err.code));
            if not_run {
                again.push(*i);
            } else {
                results[*i] = Some((guid, Err(err)));
            }
        } else {
            again.push(*i); // did not run
        }
    }
}

/// Looks many GUIDs up: `@`-filtered list commands of 50 GUIDs, 50 commands per batch (2,500
/// GUIDs per request). The commands count their rows (`total`), so a GUID held by several
/// entities cannot hide behind the 50-row page: such a command is paged through afterwards.
fn lookup_many(
    client: &Client,
    entity: Entity,
    field: &str,
    guids: &[String],
) -> Result<HashMap<String, Vec<i64>>, Error> {
    let mut found: HashMap<String, Vec<i64>> = HashMap::new();
    let groups: Vec<&[String]> = guids.chunks(GUIDS_PER_LOOKUP).collect();
    let mut overflow: Vec<(&[String], u64)> = Vec::new();
    for batch_groups in groups.chunks(BATCH_LIMIT) {
        let cmds: Vec<Command> = batch_groups
            .iter()
            .enumerate()
            .map(|(n, g)| lookup_command(entity, field, &format!("g{n}"), g, 0))
            .collect();
        let out = batch::run(client, &cmds, false)?;
        if let Some(e) = out.first_error() {
            return Err(e);
        }
        for (n, g) in batch_groups.iter().enumerate() {
            let name = format!("g{n}");
            let rows = out
                .results()
                .get(&name)
                .cloned()
                .unwrap_or(Value::Array(vec![]));
            let asked: HashSet<String> = g.iter().cloned().collect();
            let seen = collect_matches(&rows, field, &asked, &mut found)? as u64;
            let total = out.total_of(&name).unwrap_or(seen);
            if total > seen {
                overflow.push((g, total));
            }
        }
    }
    for (g, total) in overflow {
        let asked: HashSet<String> = g.iter().cloned().collect();
        // Bounded by the row count the portal reported.
        for page in 1..total.div_ceil(PAGE_SIZE).min(1000) {
            let params = lookup_params(field, g, page * PAGE_SIZE);
            let resp = client.call(&entity.method("list"), &params)?;
            if collect_matches(&resp.value()?, field, &asked, &mut found)? == 0 {
                break;
            }
        }
    }
    Ok(found)
}

fn lookup_params(field: &str, guids: &[String], start: u64) -> Value {
    json!({
        "filter": { format!("@{field}"): guids },
        "select": ["ID", field],
        "order": { "ID": "ASC" },
        "start": start,
    })
}

fn lookup_command(
    entity: Entity,
    field: &str,
    name: &str,
    guids: &[String],
    start: u64,
) -> Command {
    let method = entity.method("list");
    Command {
        name: name.to_string(),
        text: format!(
            "{method}?{}",
            batch::php_query(&lookup_params(field, guids, start))
        ),
        method,
    }
}

// ---------------------------------------------------------------------------------------------
// Full export.

/// Lists every row of a `*.list` method with the ID cursor (`order ID ASC`, `filter >ID`,
/// `start=-1`: no row counting, no duplicates, no holes), `pages_per_batch` pages per request
/// (1..=50; more than one chains the pages inside a batch). Each row goes to `sink`. Returns
/// the row count.
pub fn export(
    client: &Client,
    method: &str,
    params: &Value,
    pages_per_batch: usize,
    sink: &mut dyn FnMut(Value) -> Result<(), Error>,
) -> Result<u64, Error> {
    crate::client::validate_method(method)?;
    if !method.to_ascii_lowercase().ends_with(".list") {
        return Err(Error::invalid_input(
            "INVALID_METHOD",
            "export works with *.list methods",
        ));
    }
    let mut base = match params {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(Error::invalid_input(
                "INVALID_PARAMS",
                "params must be a JSON object",
            ))
        }
    };
    let mut filter = match base.remove("filter") {
        Some(Value::Object(f)) => f,
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return Err(Error::invalid_input(
                "INVALID_PARAMS",
                "filter must be an object",
            ))
        }
    };
    let mut last: i64 = filter.remove(">ID").as_ref().and_then(id_of).unwrap_or(0);
    if let Some(Value::Array(sel)) = base.get_mut("select") {
        if !sel.iter().any(|s| s == "ID" || s == "*") {
            sel.push(json!("ID"));
        }
    }
    base.insert("order".into(), json!({"ID": "ASC"}));
    base.insert("start".into(), json!(-1));
    let pages = pages_per_batch.clamp(1, BATCH_LIMIT);
    let mut count: u64 = 0;
    // Bounded: each request must move the cursor, and the loop stops at a short page.
    for _ in 0..10_000_000u64 {
        let mut p = base.clone();
        let mut f = filter.clone();
        f.insert(">ID".into(), json!(last));
        p.insert("filter".into(), Value::Object(f));
        let page_rows: Vec<Value> = if pages == 1 {
            let r = client.call_with(method, &Value::Object(p), Repeat::Safe)?;
            let rows = as_rows(r.value()?)?;
            vec![Value::Array(rows)]
        } else {
            let first = format!("{method}?{}", batch::php_query(&Value::Object(p.clone())));
            let mut cmds = vec![Command {
                name: "p0".into(),
                method: method.into(),
                text: first,
            }];
            for k in 1..pages {
                let mut pk = p.clone();
                pk.insert("filter".into(), Value::Object(filter.clone()));
                let q = batch::php_query(&Value::Object(pk));
                // The cursor of page k is the last ID of page k-1, resolved on the portal.
                let text = format!(
                    "{method}?{q}{}filter%5B%3EID%5D=$result[p{}][49][ID]",
                    if q.is_empty() { "" } else { "&" },
                    k - 1
                );
                cmds.push(Command {
                    name: format!("p{k}"),
                    method: method.into(),
                    text,
                });
            }
            let out = batch::run(client, &cmds, true)?;
            let res = out.results();
            // A later page may fail on a cursor that did not resolve; only the first page's
            // failure is the export's.
            if let Some(e) = out.error_of("p0") {
                return Err(e);
            }
            let mut v = Vec::new();
            for k in 0..pages {
                match res.get(&format!("p{k}")) {
                    Some(r) => v.push(Value::Array(as_rows(r.clone())?)),
                    None => break,
                }
            }
            v
        };
        let before = last;
        let mut finished = false;
        for page in page_rows {
            let rows = match page {
                Value::Array(r) => r,
                _ => vec![],
            };
            let full = rows.len() >= 50;
            for row in rows {
                let id = row.get("ID").and_then(id_of).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Protocol,
                        "INVALID_RESPONSE",
                        "a listed row has no ID",
                    )
                })?;
                if id <= last {
                    continue; // a page chained on a stale cursor: already seen
                }
                last = id;
                sink(row)?;
                count += 1;
            }
            if !full {
                finished = true;
                break;
            }
        }
        if finished {
            return Ok(count);
        }
        if last == before {
            return Err(Error::new(
                ErrorKind::Protocol,
                "EXPORT_STALLED",
                "the portal returned full pages that did not advance the ID cursor",
            ));
        }
    }
    Err(Error::new(
        ErrorKind::Protocol,
        "EXPORT_STALLED",
        "export did not finish within its bound",
    ))
}

fn as_rows(v: Value) -> Result<Vec<Value>, Error> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(m) if m.is_empty() => Ok(vec![]),
        _ => Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "a list method did not return a list",
        )),
    }
}
