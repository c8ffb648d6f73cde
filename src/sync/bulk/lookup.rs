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

/// GUID → the IDs of the entities holding it.
pub(super) type Found = HashMap<String, Vec<i64>>;

/// Splits the records into lookup segments of one request (2,500 GUIDs) each, the first taking
/// the part that does not fill one: as few requests as the GUIDs need, and the first answer, the
/// one the writers wait for, is the smallest. 3,000 GUIDs are 500 + 2,500.
pub(super) fn lookup_segments(records: &[usize]) -> Vec<&[usize]> {
    let head = first_segment(records, 0);
    let mut out = vec![head];
    out.extend(records[head.len()..].chunks(GUIDS_PER_LOOKUP * BATCH_LIMIT));
    out.retain(|s| !s.is_empty());
    out
}

/// The first segment of [`lookup_segments`], with `reserve` commands of its request kept for
/// others: empty when the others would need a request of their own anyway (the GUIDs fill
/// whole requests).
pub(super) fn first_segment(records: &[usize], reserve: usize) -> &[usize] {
    let full = GUIDS_PER_LOOKUP * BATCH_LIMIT;
    let slots = records.len() + reserve * GUIDS_PER_LOOKUP;
    let requests = slots.div_ceil(full).max(1);
    &records[..records.len().saturating_sub(full * (requests - 1))]
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

/// [`lookup_many`], with `extra` sent in the first batch (which has room for it when the GUIDs
/// are a [`first_segment`] with one command reserved); returns `extra`'s own result or error
/// beside the lookup's, or `None` when nothing was sent (no GUIDs).
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

/// The GUIDs (normal form) that the entities with these IDs carry now. An ID absent from the
/// answer is gone.
pub(super) fn guids_of_ids(
    client: &Client,
    entity: Entity,
    field: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Option<String>>, Error> {
    let rows = rows_by_ids(client, entity, ids, &["ID".to_string(), field.to_string()])?;
    Ok(rows
        .into_iter()
        .map(|(id, row)| (id, guid_of(row.get(field))))
        .collect())
}

/// The rows (`select`ed fields) of the entities with these IDs: `@ID`-filtered list commands of
/// 50 IDs (one page: IDs are unique), 50 commands per batch, 2,500 entities per request. An ID
/// absent from the answer is gone.
pub(super) fn rows_by_ids(
    client: &Client,
    entity: Entity,
    ids: &[i64],
    select: &[String],
) -> Result<HashMap<i64, Value>, Error> {
    let mut out = HashMap::new();
    let groups: Vec<&[i64]> = ids.chunks(GUIDS_PER_LOOKUP).collect();
    let method = entity.method("list");
    for batch_groups in groups.chunks(BATCH_LIMIT) {
        let cmds: Vec<Command> = batch_groups
            .iter()
            .enumerate()
            .map(|(n, g)| {
                let p = json!({"filter": {"@ID": g}, "select": select, "start": -1});
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
                    out.insert(id, row.clone());
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
        assert_eq!(sizes(10_000), [2500, 2500, 2500, 2500]);
        assert_eq!(sizes(1000), [1000]);
        assert_eq!(sizes(100), [100]);
        assert_eq!(sizes(2500), [2500]);
        assert!(sizes(0).is_empty());
        // With a command kept for the field list: it rides along when there is room.
        let first = |n: usize| -> usize {
            let v: Vec<usize> = (0..n).collect();
            first_segment(&v, 1).len()
        };
        assert_eq!(first(3000), 500);
        assert_eq!(first(1000), 1000);
        assert_eq!(first(2450), 2450);
        // 50 commands and the field list need two requests whatever is done: it goes apart.
        assert_eq!(first(2460), 0);
        assert_eq!(first(10_000), 0);
    }
}
