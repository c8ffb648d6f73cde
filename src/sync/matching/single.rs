//! Matching for one upsert: adopting the matched entity under a claim, and the dry run.

use super::{match_all, other_guid_warning, Decision, Matched, Rule};
use crate::client::Client;
use crate::crm::{self, Entity, WriteRequest};
use crate::error::{Error, ErrorKind};
use crate::sync::guid::{ambiguous, find_by_guid, guid_field, guid_of, Claim};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The claim key of an entity being adopted. Two upserts of different GUIDs may match one
/// entity; claimed by its ID, only one of them writes its GUID there, and the other sees that
/// GUID when it reads the entity under the claim. (A control character: no GUID holds one.)
pub(crate) fn entity_key(id: i64) -> String {
    format!("\u{1}id:{id}")
}

/// Matches one record whose GUID was not found.
pub(crate) fn match_one(
    client: &Client,
    entity: Entity,
    guid: &str,
    req: &WriteRequest,
    rules: &[Rule],
) -> Result<Matched, Error> {
    let field = guid_field(client, entity).to_string();
    let mut taken = HashMap::new();
    let mut out = match_all(
        client,
        entity,
        &field,
        rules,
        &[(0, guid, &req.fields)],
        &mut taken,
    )?;
    Ok(out.remove(&0).expect("every record gets a decision"))
}

/// Adopts entity `id` for `guid`: under the entity's claim, reads it and updates it with the
/// record's fields (the GUID among them) if its GUID field is still empty or already `guid`.
/// `Ok(None)` when it is gone or another upsert gave it another GUID meanwhile: nothing written.
pub(crate) fn adopt(
    client: &Client,
    entity: Entity,
    id: i64,
    guid: &str,
    req: &WriteRequest,
) -> Result<Option<Vec<String>>, Error> {
    let _claim = Claim::take(client, entity, [&entity_key(id)])?;
    let current = match crm::by_id(client, entity, "get", id) {
        Ok(resp) => resp.value()?,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match guid_of(current.get(guid_field(client, entity))) {
        Some(g) if g != guid => return Ok(None),
        _ => {}
    }
    let (_, warnings) = crm::update(client, entity, id, req)?;
    Ok(Some(warnings))
}

/// What an upsert would do, without writing: `{"guid","action","id"}` with action `update`
/// (found by ID or GUID), `adopt` (found by a rule; `rule` names it), `create`, or `conflict`
/// (`conflict`: `{"ids","rule"}`); `other_guid_ids` lists matching entities that carry another
/// GUID. `known`: the ID of the last sync, as the upsert would confirm it.
pub(crate) fn plan_one(
    client: &Client,
    entity: Entity,
    guid: &str,
    known: Option<i64>,
    req: &WriteRequest,
    rules: &[Rule],
) -> Result<Value, Error> {
    let field = guid_field(client, entity);
    if let Some(id) = known {
        match crm::by_id(client, entity, "get", id) {
            Ok(resp) if guid_of(resp.value()?.get(field)).as_deref() == Some(guid) => {
                return Ok(json!({"guid": guid, "action": "update", "id": id}));
            }
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    match find_by_guid(client, entity, guid)?.as_slice() {
        [id] => Ok(json!({"guid": guid, "action": "update", "id": id})),
        [] => {
            let m = match_one(client, entity, guid, req, rules)?;
            Ok(planned_row(guid, &m))
        }
        many => Err(ambiguous(field, guid, many)),
    }
}

/// A dry run's row for a record matching decided.
pub(crate) fn planned_row(guid: &str, m: &Matched) -> Value {
    let mut row = match &m.decision {
        Decision::Adopt { id, rule } => {
            json!({"guid": guid, "action": "adopt", "id": id, "rule": rule})
        }
        Decision::Conflict { ids, rule, .. } => {
            json!({"guid": guid, "action": "conflict", "conflict": {"ids": ids, "rule": rule}})
        }
        Decision::Create => json!({"guid": guid, "action": "create"}),
    };
    if !m.other_guid.is_empty() {
        row["other_guid_ids"] = json!(m.other_guid);
    }
    row
}

/// The warnings of a match: entities left alone because they carry another GUID.
pub(crate) fn warnings_of(entity: Entity, guid: &str, m: &Matched) -> Vec<String> {
    if m.other_guid.is_empty() {
        return vec![];
    }
    vec![other_guid_warning(entity, guid, &m.other_guid)]
}
