//! Planning a lookup segment's writes: update, add, or an outcome without a write.

use super::lookup::lookup_many;
use super::{Outcome, Record};
use crate::batch::{self, Command};
use crate::client::Client;
use crate::crm::Entity;
use crate::error::Error;
use crate::sync::guid::ambiguous;
use crate::sync::Upserted;
use std::collections::HashSet;

/// One write command of a bulk upsert.
#[derive(Debug, Clone)]
pub(super) struct Write {
    pub index: usize,
    pub cmd: Command,
    /// The entity being updated; `None` for an add.
    pub update_id: Option<i64>,
}

/// Outcomes decided without a write, and the writes to send.
pub(super) type Plan = (Vec<(usize, Outcome)>, Vec<Write>);

/// Looks up one segment's GUIDs and decides, per record, add, update or an outcome without a
/// write.
pub(super) fn plan_writes(
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
                let u = Upserted {
                    id: *id,
                    created: true,
                };
                decided.push((i, Ok(u)));
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
        let cmd = Command {
            name: format!("r{i}"),
            method,
            text,
        };
        writes.push(Write {
            index: i,
            cmd,
            update_id,
        });
    }
    Ok((decided, writes))
}
