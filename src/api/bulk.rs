//! Bulk upsert: the records object and the summary.

use super::crm_ops::guid_field_of;
use super::{masked, parse_json, Entity, Progress, Reply, Success};
use crate::client::Client;
use crate::error::Error;
use crate::sync::{self, BulkOptions, Cancel, MatchOptions};
use serde_json::{json, Map, Value};

/// Options that the records object of a bulk upsert may give once for every record (a record
/// that gives its own keeps it).
const SHARED_RECORD_KEYS: [&str; 3] = ["create_only", "exact", "exact_clears"];

/// The records of a bulk upsert: a JSON array, or `{"records": [...], "create_only": [keys],
/// "exact": [multi-fields], "exact_clears": bool, "match": [rules], "dry_run": bool}`, whose
/// record options apply to every record that does not give its own; and the match options (the
/// client's default rules without `"match"`).
fn bulk_records(
    client: &Client,
    entity: Entity,
    text: &str,
) -> Result<(Vec<Value>, MatchOptions), Error> {
    let not_records = || {
        Error::invalid_input(
            "INVALID_RECORDS",
            "records must be a JSON array, or {\"records\": [...], \"create_only\": [...], \"exact\": [...], \"exact_clears\": false, \"match\": [...], \"dry_run\": false}",
        )
    };
    let rules = client.config().match_rules.of(entity);
    let mut o = match parse_json("records", text)? {
        Value::Array(a) => {
            let default = MatchOptions {
                rules: rules.to_vec(),
                dry_run: false,
            };
            return Ok((a, default));
        }
        Value::Object(o) => o,
        _ => return Err(not_records()),
    };
    let options = MatchOptions::take(&mut o, guid_field_of(client, entity), rules)?;
    let Some(Value::Array(records)) = o.remove("records") else {
        return Err(not_records());
    };
    let shared: Map<String, Value> = SHARED_RECORD_KEYS
        .iter()
        .filter_map(|k| o.remove(*k).map(|v| (k.to_string(), v)))
        .collect();
    if !o.is_empty() {
        return Err(not_records());
    }
    if shared.is_empty() {
        return Ok((records, options));
    }
    let records = records
        .into_iter()
        .map(|r| {
            let mut o = match r {
                Value::Object(o) if o.contains_key("fields") => o,
                fields => Map::from_iter([("fields".to_string(), fields)]),
            };
            for (k, v) in &shared {
                o.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Value::Object(o)
        })
        .collect();
    Ok((records, options))
}

/// Upserts a JSON array of records by 1C GUID; `result` holds one entry per record in input
/// order (`{"guid","id","created"}` or `{"guid","error":{...}}`), `summary` the counts.
pub fn bulk_upsert(
    client: &Client,
    entity: Entity,
    records_json: &str,
    progress: &mut dyn FnMut(&Progress),
) -> Reply {
    bulk_upsert_with(client, entity, records_json, progress, &Cancel::new())
}

/// [`bulk_upsert`] that `cancel` can stop from another thread: records not sent by then are
/// reported `CANCELLED` (not written), and counted under `summary.cancelled`.
pub fn bulk_upsert_with(
    client: &Client,
    entity: Entity,
    records_json: &str,
    progress: &mut dyn FnMut(&Progress),
    cancel: &Cancel,
) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let (records, matching) = bulk_records(client, entity, records_json)?;
            let (dry_run, matches) = (matching.dry_run, !matching.rules.is_empty());
            let options = BulkOptions {
                concurrency: client.config().bulk_concurrency,
                matching,
                cancel: cancel.clone(),
            };
            let (rows, warnings) = sync::bulk_upsert(client, entity, &records, options, progress)?;
            let count = |f: &dyn Fn(&Value) -> bool| rows.iter().filter(|r| f(r)).count();
            let mut summary = match dry_run {
                true => dry_summary(&rows),
                false => json!({
                    "created": count(&|r| r["created"] == json!(true)),
                    "updated": count(&|r| r["created"] == json!(false)),
                    // A record whose write may have run is not "failed": it may be on the portal.
                    "failed": count(&|r| r.get("error").is_some() && r["error"]["code"] != json!("OUTCOME_UNKNOWN")),
                    "unknown": count(&|r| r["error"]["code"] == json!("OUTCOME_UNKNOWN")),
                }),
            };
            if cancel.is_set() {
                // Among `failed`: the records the cancel kept from being sent.
                summary["cancelled"] = json!(count(&|r| r["error"]["code"] == json!("CANCELLED")));
            }
            if matches && !dry_run {
                // Among `updated`: the entities a match rule found and the GUID was written to.
                summary["adopted"] = json!(count(&|r| r["adopted"] == json!(true)));
            }
            let mut extra = Map::new();
            extra.insert("summary".into(), summary);
            Ok(Success {
                result: Value::Array(rows).into(),
                warnings,
                extra,
                ..Success::default()
            })
        })(),
    )
}

/// The summary of a dry run: how many records would be created, updated, adopted, how many
/// conflict, and how many failed (their lookup, or their input).
fn dry_summary(rows: &[Value]) -> Value {
    let count = |a: &str| rows.iter().filter(|r| r["action"] == json!(a)).count();
    json!({
        "create": count("create"),
        "update": count("update"),
        "adopt": count("adopt"),
        "conflict": count("conflict"),
        "failed": rows.iter().filter(|r| r.get("error").is_some()).count(),
    })
}
