//! The candidate rows of one rule for many records, in few requests: `@`-filtered list commands
//! of 50 values (a list page holds 50 rows; a command whose `total` says more is paged through),
//! `crm.duplicate.findbycomm` commands of 20 values (the portal ignores values past 20), then
//! the found IDs read back 50 per `@ID` command, all 50 commands per batch.

use super::{codes, multi_values, text, Key, Rule};
use crate::batch::{self, Command};
use crate::client::Client;
use crate::crm::Entity;
use crate::error::Error;
use crate::sync::guid::{guid_of, id_of, list_rows, row_id};
use serde_json::{json, Map, Value};

/// Values per list command: as many as a page holds rows.
const PER_LIST: usize = 50;
/// Values per findbycomm command: the portal searches the first 20 distinct ones only
/// (`CCrmDuplicateRestProxy`: `if($qty >= 20) break;`).
const PER_FIND: usize = 20;
/// Rows per page of a legacy list (fixed by Bitrix).
const PAGE: u64 = 50;

/// A candidate entity: its ID, its GUID (normal form; `None` when empty) and its values for the
/// rule (per field for field rules, every code for a comm rule).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: i64,
    pub guid: Option<String>,
    pub codes: Vec<String>,
}

/// The entities that may match any of `keys` under `rule`.
pub(crate) fn candidates(
    client: &Client,
    entity: Entity,
    guid_field: &str,
    rule: &Rule,
    keys: &[&Key],
) -> Result<Vec<Row>, Error> {
    match rule {
        Rule::Field(f) => by_fields(client, entity, guid_field, std::slice::from_ref(f), keys),
        Rule::Fields(fs) => by_fields(client, entity, guid_field, fs, keys),
        Rule::Comm(c) => by_comm(client, entity, guid_field, *c, keys),
    }
}

/// Field rules: one `@F` filter per field over 50 records (several fields give a superset,
/// attributed per record afterwards).
fn by_fields(
    client: &Client,
    entity: Entity,
    guid_field: &str,
    fields: &[String],
    keys: &[&Key],
) -> Result<Vec<Row>, Error> {
    let calls: Vec<Value> = keys
        .chunks(PER_LIST)
        .map(|chunk| {
            let mut filter = Map::new();
            for (j, f) in fields.iter().enumerate() {
                let mut vals: Vec<&String> = chunk.iter().map(|k| &k.query[j]).collect();
                vals.sort();
                vals.dedup();
                filter.insert(format!("@{f}"), json!(vals));
            }
            let mut select = vec!["ID".to_string(), guid_field.to_string()];
            select.extend(fields.iter().cloned());
            json!({"filter": filter, "select": select, "order": {"ID": "ASC"}, "start": 0})
        })
        .collect();
    let method = entity.method("list");
    let of = |row: &Value| {
        fields
            .iter()
            .map(|f| text(row.get(f)).unwrap_or_default())
            .collect()
    };
    let mut rows = Vec::new();
    for (params, (result, total)) in calls.iter().zip(run_all(client, &method, &calls)?) {
        let page = parse_rows(&result, guid_field, &of)?;
        let seen = page.len() as u64;
        rows.extend(page);
        if total.unwrap_or(seen) > seen {
            rows.extend(page_through(
                client,
                &method,
                params,
                total.unwrap_or(0),
                guid_field,
                &of,
            )?);
        }
    }
    Ok(rows)
}

/// The pages after the first of a command that matched more rows than a page holds.
fn page_through(
    client: &Client,
    method: &str,
    params: &Value,
    total: u64,
    guid_field: &str,
    of: &dyn Fn(&Value) -> Vec<String>,
) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    // Bounded by the row count the portal reported.
    for page in 1..total.div_ceil(PAGE).min(1000) {
        let mut p = params.clone();
        p["start"] = json!(page * PAGE);
        let got = parse_rows(&client.call(method, &p)?.value()?, guid_field, of)?;
        if got.is_empty() {
            break;
        }
        rows.extend(got);
    }
    Ok(rows)
}

/// Comm rules: findbycomm over the records' values, then the found entities' GUIDs and phones
/// (or e-mails), to attribute them to records by code.
fn by_comm(
    client: &Client,
    entity: Entity,
    guid_field: &str,
    comm: super::Comm,
    keys: &[&Key],
) -> Result<Vec<Row>, Error> {
    let mut values: Vec<&String> = keys.iter().flat_map(|k| k.query.iter()).collect();
    values.sort();
    values.dedup();
    let kind = entity.name().to_uppercase();
    let finds: Vec<Value> = values
        .chunks(PER_FIND)
        .map(|c| json!({"entity_type": kind, "type": comm.name(), "values": c}))
        .collect();
    let mut ids: Vec<i64> = Vec::new();
    for (result, _) in run_all(client, "crm.duplicate.findbycomm", &finds)? {
        let found = result.get(&kind).and_then(Value::as_array);
        ids.extend(found.into_iter().flatten().filter_map(id_of));
    }
    ids.sort_unstable();
    ids.dedup();
    let reads: Vec<Value> = ids
        .chunks(PER_LIST)
        .map(|c| json!({"filter": {"@ID": c}, "select": ["ID", guid_field, comm.name()], "start": -1}))
        .collect();
    let of = |row: &Value| {
        let vals = multi_values(row.get(comm.name()));
        vals.iter().filter_map(|v| codes::code(comm, v)).collect()
    };
    let mut rows = Vec::new();
    for (result, _) in run_all(client, &entity.method("list"), &reads)? {
        rows.extend(parse_rows(&result, guid_field, &of)?);
    }
    Ok(rows)
}

fn parse_rows(
    result: &Value,
    guid_field: &str,
    of: &dyn Fn(&Value) -> Vec<String>,
) -> Result<Vec<Row>, Error> {
    list_rows(result)?
        .iter()
        .map(|r| {
            Ok(Row {
                id: row_id(r)?,
                guid: guid_of(r.get(guid_field)),
                codes: of(r),
            })
        })
        .collect()
}

/// Runs the calls of one method: in batches of 50 commands, except calls whose values the
/// portal would rewrite inside a batch (`$result[...]`-like text), which go as JSON calls.
/// Returns each call's result and `total`, in order; the first failure fails them all.
fn run_all(
    client: &Client,
    method: &str,
    calls: &[Value],
) -> Result<Vec<(Value, Option<u64>)>, Error> {
    let mut out: Vec<Option<(Value, Option<u64>)>> = vec![None; calls.len()];
    let mut cmds = Vec::new();
    for (n, params) in calls.iter().enumerate() {
        if batch::references_in(params).is_some() {
            let resp = client.call(method, params)?;
            out[n] = Some((resp.value()?, resp.total));
            continue;
        }
        cmds.push(Command {
            name: format!("m{n}"),
            method: method.to_string(),
            text: format!("{method}?{}", batch::php_query(params)),
        });
    }
    if !cmds.is_empty() {
        let answer = batch::run(client, &cmds, false)?;
        for c in &cmds {
            if let Some(e) = answer.error_of(&c.name) {
                return Err(e);
            }
            let n: usize = c.name[1..].parse().expect("named m<index> above");
            let result = answer
                .results()
                .get(&c.name)
                .cloned()
                .unwrap_or(Value::Null);
            out[n] = Some((result, answer.total_of(&c.name)));
        }
    }
    Ok(out
        .into_iter()
        .map(|o| o.expect("every call answered"))
        .collect())
}
