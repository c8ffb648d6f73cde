//! The dry run of a bulk upsert: the same lookups and matching as the real job (the planner,
//! segment by segment), and no write, no claim. Each record gets what the job would do:
//! `{"guid","action":"create"|"update"|"adopt","id"}`, `"conflict"` with `{"ids","rule"}`, or
//! the error the job would report (nothing written).

use super::apply::{Hints, Write};
use super::lookup::lookup_segments;
use super::matching::Matcher;
use super::plan::Planner;
use super::{Record, Results};
use crate::client::Client;
use crate::crm::Entity;
use crate::error::{Error, ErrorKind};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Plans every record of `todo` (parsed ones), first occurrences of each GUID by lookup; a GUID
/// repeated in the input is, for its later occurrences, an update of what the first one does.
pub(super) fn dry_run(
    client: &Client,
    entity: Entity,
    field: &str,
    parsed: &[Option<Record>],
    todo: &[usize],
    results: Results,
    matcher: &Matcher,
) -> Vec<Value> {
    let rec = |i: usize| parsed[i].as_ref().expect("todo holds parsed records");
    let mut seen = HashSet::new();
    let (first, repeats): (Vec<usize>, Vec<usize>) = todo
        .iter()
        .partition(|i| seen.insert(rec(**i).guid.clone()));
    let hints = Hints::default();
    let planner = Planner {
        client,
        entity,
        field,
        parsed,
        hints: &hints,
        matcher: Some(matcher),
    };
    let mut rows: HashMap<usize, Value> = HashMap::new();
    for segment in lookup_segments(&first) {
        plan_segment(&planner, segment, matcher, &mut rows);
    }
    let mut by_guid: HashMap<&str, Value> = HashMap::new();
    for &i in &first {
        by_guid.insert(&rec(i).guid, rows[&i].clone());
    }
    for i in repeats {
        let earlier = &by_guid[rec(i).guid.as_str()];
        rows.insert(i, repeated(earlier));
    }
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            Some((guid, Err(e))) => json!({"guid": guid, "error": e.to_json()}),
            _ => rows.remove(&i).expect("every parsed record is planned"),
        })
        .collect()
}

/// One segment's rows.
fn plan_segment(
    planner: &Planner,
    segment: &[usize],
    m: &Matcher,
    rows: &mut HashMap<usize, Value>,
) {
    let guid = |i: usize| planner.parsed[i].as_ref().map(|r| r.guid.clone());
    let mut no_wait = Duration::ZERO;
    let plan = match planner.plan(segment, &mut no_wait) {
        Ok(p) => p,
        Err(e) => {
            for &i in segment {
                rows.insert(i, json!({"guid": guid(i), "error": e.to_json()}));
            }
            return;
        }
    };
    for (i, outcome) in plan.decided {
        let row = match outcome {
            Err(e) if e.code == "MATCH_CONFLICT" => {
                let conflict = e.details.as_deref().cloned().unwrap_or(Value::Null);
                json!({"guid": guid(i), "action": "conflict", "conflict": conflict})
            }
            Err(e) => json!({"guid": guid(i), "error": e.to_json()}),
            Ok(u) => json!({"guid": guid(i), "action": "update", "id": u.id}),
        };
        rows.insert(i, row);
    }
    for (i, _) in plan.postponed {
        let e = Error::new(
            ErrorKind::RateLimited,
            "NOT_COMPLETED",
            "not looked up: a portal limit refused the lookup",
        );
        rows.insert(i, json!({"guid": guid(i), "error": e.to_json()}));
    }
    let other = m.other_guid.lock().unwrap_or_else(|p| p.into_inner());
    let rule_of = m.rule_of.lock().unwrap_or_else(|p| p.into_inner());
    for w in plan.batched.iter().chain(plan.single.iter()) {
        let mut row = action(w, guid(w.index));
        if w.adopted {
            row["rule"] = json!(rule_of.get(&w.index));
        }
        rows.insert(w.index, row);
    }
    for (i, ids) in other.iter().filter(|(i, _)| segment.contains(i)) {
        if let Some(row) = rows.get_mut(i) {
            row["other_guid_ids"] = json!(ids);
        }
    }
}

fn action(w: &Write, guid: Option<String>) -> Value {
    match (w.update_id, w.adopted) {
        (None, _) => json!({"guid": guid, "action": "create"}),
        (Some(id), true) => json!({"guid": guid, "action": "adopt", "id": id}),
        (Some(id), false) => json!({"guid": guid, "action": "update", "id": id}),
    }
}

/// A later occurrence of a GUID: an update of the entity the first occurrence writes (its ID
/// when known), or the same failure.
fn repeated(first: &Value) -> Value {
    match first["action"].as_str() {
        Some("create" | "update" | "adopt") => {
            let mut row = json!({"guid": first["guid"], "action": "update"});
            if let Some(id) = first.get("id") {
                row["id"] = id.clone();
            }
            row
        }
        _ => first.clone(),
    }
}
