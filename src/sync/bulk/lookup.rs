//! Looking many GUIDs up at once.

use crate::batch::{self, Command, BATCH_LIMIT};
use crate::client::Client;
use crate::crm::Entity;
use crate::error::Error;
use crate::sync::guid::{collect_matches, guid_of, id_of};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// GUIDs per lookup command: as many as a list page holds rows. A command whose `total` says
/// more rows exist (a GUID with duplicates) is paged through on its own.
const GUIDS_PER_LOOKUP: usize = 50;
/// Rows per page of a legacy list method (fixed by Bitrix).
const PAGE_SIZE: u64 = 50;
/// GUIDs in a job's first segment at most (see [`lookup_segments`]): ten commands, so the first
/// batch has room for others.
pub(super) const FIRST_SEGMENT_MAX: usize = GUIDS_PER_LOOKUP * 10;

/// GUID → the IDs of the entities holding it.
pub(super) type Found = HashMap<String, Vec<i64>>;

/// Splits the records into lookup segments: a small first one, so the writers start after a
/// quick first answer, then one full request (2,500 GUIDs) each. The first takes the part that
/// would not fill a request when that is small (up to 500), so the small first answer costs no
/// extra request: 3,000 GUIDs are 500 + 2,500, two requests, not 250 + 2,500 + 250.
pub(super) fn lookup_segments(records: &[usize]) -> Vec<&[usize]> {
    let full = GUIDS_PER_LOOKUP * BATCH_LIMIT;
    let remainder = records.len() % full;
    let first = if remainder > 0 && remainder <= FIRST_SEGMENT_MAX {
        remainder
    } else {
        GUIDS_PER_LOOKUP * 5
    };
    let first = first.min(records.len());
    let (head, tail) = records.split_at(first);
    let mut out = vec![head];
    out.extend(tail.chunks(GUIDS_PER_LOOKUP * BATCH_LIMIT));
    out.retain(|s| !s.is_empty());
    out
}

/// Looks many GUIDs up: `@`-filtered list commands of 50 GUIDs, 50 commands per batch (2,500
/// GUIDs per request). The commands count their rows (`total`), so a GUID held by several
/// entities cannot hide behind the 50-row page: such a command is paged through afterwards.
pub(super) fn lookup_many(
    client: &Client,
    entity: Entity,
    field: &str,
    guids: &[String],
) -> Result<Found, Error> {
    lookup_many_with(client, entity, field, guids, None).map(|(found, _)| found)
}

/// [`lookup_many`], with `extra` sent in the first batch (it must have room: at most
/// [`FIRST_SEGMENT_MAX`] GUIDs go in the first batch of a job); returns `extra`'s own result or
/// error beside the lookup's, or `None` when nothing was sent (no GUIDs).
pub(super) fn lookup_many_with(
    client: &Client,
    entity: Entity,
    field: &str,
    guids: &[String],
    extra: Option<&Command>,
) -> Result<(Found, Option<Result<Value, Error>>), Error> {
    let mut found: Found = HashMap::new();
    let mut extra_out = None;
    let groups: Vec<&[String]> = guids.chunks(GUIDS_PER_LOOKUP).collect();
    let mut overflow: Vec<(&[String], u64)> = Vec::new();
    let per_batch = BATCH_LIMIT - usize::from(extra.is_some());
    for (b, batch_groups) in groups.chunks(per_batch).enumerate() {
        let mut cmds: Vec<Command> = batch_groups
            .iter()
            .enumerate()
            .map(|(n, g)| lookup_command(entity, field, &format!("g{n}"), g, 0))
            .collect();
        let extra = extra.filter(|_| b == 0);
        cmds.extend(extra.cloned());
        let out = batch::run(client, &cmds, false)?;
        if let Some(x) = extra {
            extra_out = Some(match out.error_of(&x.name) {
                Some(e) => Err(e),
                None => Ok(out.results().get(&x.name).cloned().unwrap_or(Value::Null)),
            });
        }
        for (n, g) in batch_groups.iter().enumerate() {
            let name = format!("g{n}");
            if let Some(e) = out.error_of(&name) {
                return Err(e);
            }
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
        page_through(client, entity, field, g, total, &mut found)?;
    }
    Ok((found, extra_out))
}

/// The pages after the first of one lookup command whose GUIDs have more rows than a page.
fn page_through(
    client: &Client,
    entity: Entity,
    field: &str,
    guids: &[String],
    total: u64,
    found: &mut Found,
) -> Result<(), Error> {
    let asked: HashSet<String> = guids.iter().cloned().collect();
    // Bounded by the row count the portal reported.
    for page in 1..total.div_ceil(PAGE_SIZE).min(1000) {
        let params = lookup_params(field, guids, page * PAGE_SIZE);
        let resp = client.call(&entity.method("list"), &params)?;
        if collect_matches(&resp.value()?, field, &asked, found)? == 0 {
            break;
        }
    }
    Ok(())
}

fn lookup_params(field: &str, guids: &[String], start: u64) -> Value {
    json!({
        "filter": { format!("@{field}"): guids },
        "select": ["ID", field],
        "order": { "ID": "ASC" },
        "start": start,
    })
}

/// The GUIDs (normal form) that the entities with these IDs carry now: `@ID`-filtered list
/// commands of 50 IDs (one page: IDs are unique), 50 commands per batch. An ID absent from the
/// answer is gone.
pub(super) fn guids_of_ids(
    client: &Client,
    entity: Entity,
    field: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Option<String>>, Error> {
    let mut out = HashMap::new();
    let groups: Vec<&[i64]> = ids.chunks(GUIDS_PER_LOOKUP).collect();
    let method = entity.method("list");
    for batch_groups in groups.chunks(BATCH_LIMIT) {
        let cmds: Vec<Command> = batch_groups
            .iter()
            .enumerate()
            .map(|(n, g)| {
                let p = json!({"filter": {"@ID": g}, "select": ["ID", field], "start": -1});
                Command {
                    name: format!("i{n}"),
                    method: method.clone(),
                    text: format!("{method}?{}", batch::php_query(&p)),
                }
            })
            .collect();
        let answer = batch::run(client, &cmds, false)?;
        if let Some(e) = answer.first_error() {
            return Err(e);
        }
        for name in cmds.iter().map(|c| &c.name) {
            let rows = answer.results().get(name).cloned().unwrap_or(Value::Null);
            for row in rows.as_array().map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(id) = row.get("ID").and_then(id_of) {
                    out.insert(id, guid_of(row.get(field)));
                }
            }
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cost_no_extra_request() {
        let sizes = |n: usize| -> Vec<usize> {
            let v: Vec<usize> = (0..n).collect();
            lookup_segments(&v).iter().map(|s| s.len()).collect()
        };
        assert_eq!(sizes(3000), [500, 2500]);
        assert_eq!(sizes(10_000), [250, 2500, 2500, 2500, 2250]);
        assert_eq!(sizes(100), [100]);
        assert_eq!(sizes(2500), [250, 2250]);
        assert!(sizes(0).is_empty());
    }
}
