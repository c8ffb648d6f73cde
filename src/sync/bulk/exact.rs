//! Exact multi-fields inside a bulk upsert: an update that makes PHONE or EMAIL exactly a list
//! needs the entity's current items. They are read for a whole segment at once: `@ID` list
//! commands selecting just those fields (50 IDs each, 50 commands per batch, so 2,500 records
//! per request), not a `get` per record.

use super::apply::Write;
use super::lookup::rows_by_ids;
use super::plan::{retried, Plan, Planner};
use crate::client::Client;
use crate::crm::Entity;
use crate::error::Error;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Resolves the exact fields of the plan's updates; the records whose items could not be read
/// fail (nothing of them is written).
pub(super) fn resolve(planner: &Planner, plan: &mut Plan) {
    let needs = |w: &Write| w.update_id.is_some() && !planner.rec(w.index).req.exact.is_empty();
    let writes = plan.batched.iter().chain(plan.single.iter());
    let wanted: Vec<(i64, Vec<String>)> = writes
        .filter(|w| needs(w))
        .filter_map(|w| {
            let names = planner.rec(w.index).req.exact.iter();
            w.update_id
                .map(|id| (id, names.map(|f| f.name.clone()).collect()))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let current = retried(|| current_items(planner.client, planner.entity, &wanted));
    for list in [&mut plan.batched, &mut plan.single] {
        let mut failed = Vec::new();
        for w in list.iter_mut().filter(|w| needs(w)) {
            match &current {
                Ok(rows) => {
                    let row = w.update_id.and_then(|id| rows.get(&id));
                    let req = &planner.rec(w.index).req;
                    let row = row.cloned().unwrap_or(Value::Null);
                    w.resolved = Some(Arc::new(req.resolve_exact(Some(&row))));
                }
                Err(e) => failed.push((w.index, Err(e.clone()))),
            }
        }
        let gone: std::collections::HashSet<usize> = failed.iter().map(|(i, _)| *i).collect();
        list.retain(|w| !gone.contains(&w.index));
        plan.decided.extend(failed);
    }
}

/// The current rows (ID and the named multi-fields) of the entities, by ID. An entity absent
/// from the answer is gone; its update then fails on its own.
fn current_items(
    client: &Client,
    entity: Entity,
    wanted: &[(i64, Vec<String>)],
) -> Result<HashMap<i64, Value>, Error> {
    let mut select: Vec<String> = vec!["ID".into()];
    for (_, names) in wanted {
        for n in names {
            if !select.contains(n) {
                select.push(n.clone());
            }
        }
    }
    let ids: Vec<i64> = wanted.iter().map(|(id, _)| *id).collect();
    rows_by_ids(client, entity, &ids, &select)
}
