//! The job's first request: the field list, when the cache does not hold it, travels with the
//! first lookup segment. Asked for apart it would cost a request of the bucket, half a second
//! at the cloud's drain rate, before anything could be written.

use super::lookup::{first_segment, lookup_many_with};
use super::round::Primed;
use super::Record;
use crate::batch::{self, Command};
use crate::client::Client;
use crate::crm::{self, Entity, FieldMap};
use crate::error::Error;
use crate::sync::guid::Claim;
use std::collections::HashSet;

/// Claims the first round's GUIDs and looks its first segment up in one batch with the field
/// list. `None` when the first segment has no GUID a batch may carry (or is empty: the GUIDs
/// fill whole requests, and the field list would need one of its own anyway), or when that
/// request failed: then the field list is asked for apart and the round looks its GUIDs up itself
/// (the claim is let go; the round takes its own).
pub(super) fn prime(
    client: &Client,
    entity: Entity,
    field: &str,
    parsed: &[Option<Record>],
    todo: &[usize],
) -> Result<Option<(Primed, FieldMap)>, Error> {
    let rec = |i: &usize| parsed[*i].as_ref();
    // The first round takes each GUID's first occurrence (see `bulk_upsert`).
    let mut seen = HashSet::new();
    let first: Vec<usize> = todo
        .iter()
        .copied()
        .filter(|i| rec(i).is_some_and(|r| seen.insert(r.guid.clone())))
        .collect();
    let segment = first_segment(&first, 1);
    // As the planner would look them up: by GUID in a batch, unless the record has a known ID or
    // a GUID a batch would rewrite.
    let guids: Vec<String> = segment
        .iter()
        .filter_map(rec)
        .filter(|r| r.known_id.is_none() && !batch::is_reference(&r.guid))
        .map(|r| r.guid.clone())
        .collect();
    if guids.is_empty() {
        return Ok(None);
    }
    let claim = Claim::take(
        client,
        entity,
        first.iter().filter_map(rec).map(|r| &r.guid),
    )?;
    let method = entity.method("fields");
    let cmd = Command {
        name: "fields".into(),
        text: method.clone(),
        method,
    };
    let Ok((mut found, Some(Ok(answer)))) =
        lookup_many_with(client, entity, field, &guids, Some(&cmd))
    else {
        return Ok(None);
    };
    let Ok(fields) = crm::remember_field_list(client, entity, answer) else {
        return Ok(None);
    };
    // A GUID looked up and not found is known absent too.
    for g in guids {
        found.entry(g).or_default();
    }
    Ok(Some((Primed { claim, found }, fields)))
}
