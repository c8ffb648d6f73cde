//! Upsert of one record by its 1C GUID.

use super::guid::{ambiguous, find_by_guid, guid_field, guid_of, store_normalised, Claim};
use super::matching::single::{adopt, match_one, plan_one, warnings_of};
use super::matching::{conflict, Decision, MatchOptions, Rule};
use super::settle::{judge, outcome_unknown, settles_for, wait_until, Verdict, MARGIN};
use crate::client::{deadline, Client};
use crate::crm::{self, Entity, WriteRequest};
use crate::error::{Error, ErrorKind};
use std::time::Instant;

/// The outcome of an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// The entity's ID.
    pub id: i64,
    /// True when the entity was created, false when it was updated.
    pub created: bool,
    /// True when the entity had no GUID and a match rule found it: the GUID was written to it.
    pub adopted: bool,
}

/// Finds the entity by the GUID in `req`'s fields; updates it if found, adds it if not. The GUID
/// is written in its normal form (trimmed, lower-case), the form it is looked up by. An `ID`
/// among the fields is the Bitrix ID from the last sync: that entity is updated without a GUID
/// lookup if it still carries the GUID.
/// Concurrent upserts of one GUID in this process are serialised. An add that may have run
/// without an answer is never sent again blindly: the GUID is looked up once the add can no
/// longer be running on the portal, and the add is sent again only if the GUID is absent then.
/// Otherwise the error is OUTCOME_UNKNOWN. With the client's default match rules
/// (`"match"` in the configuration); see [`upsert_with`].
pub fn upsert(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
) -> Result<(Upserted, Vec<String>), Error> {
    let rules = client.config().match_rules.of(entity).to_vec();
    upsert_with(client, entity, req, &rules)
}

/// The record's GUID (normal form), the request with it stored so, and the ID of the last sync.
fn prepared(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
) -> Result<(String, WriteRequest, Option<i64>), Error> {
    let field = guid_field(client, entity).to_string();
    let guid = guid_of(req.fields.get(&field)).ok_or_else(|| {
        Error::invalid_input(
            "MISSING_GUID",
            format!("the fields must carry the 1C GUID in {field}"),
        )
    })?;
    let mut normalised = req.clone();
    store_normalised(&mut normalised.fields, &field, &guid);
    let known = normalised.take_known_id()?;
    Ok((guid, normalised, known))
}

/// [`upsert`] with these match `rules`: when the GUID is not found, the first rule that finds
/// exactly one entity without a GUID adopts it (updates it, writing the GUID); several give
/// `MATCH_CONFLICT`, and nothing is written.
pub fn upsert_with(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    rules: &[Rule],
) -> Result<(Upserted, Vec<String>), Error> {
    let field = guid_field(client, entity).to_string();
    let (guid, normalised, known) = prepared(client, entity, req)?;
    let req = &normalised;
    let _claim = Claim::take(client, entity, [&guid])?;
    if let Some(id) = known {
        if let Some(done) = update_known(client, entity, id, &guid, req)? {
            return Ok(done);
        }
    }
    let ids = find_by_guid(client, entity, &guid)?;
    match ids.as_slice() {
        [id] => {
            let (_, warnings) = crm::update(client, entity, *id, req)?;
            let u = Upserted {
                id: *id,
                created: false,
                adopted: false,
            };
            Ok((u, warnings))
        }
        [] if rules.is_empty() => add(client, entity, req, &guid, true),
        [] => adopt_or_add(client, entity, req, &guid, rules),
        many => Err(ambiguous(&field, &guid, many)),
    }
}

/// What an upsert would do, as [`upsert_with`] decides it, without writing anything (no claim
/// is taken either): see [`plan_one`]. `options.rules` are the match rules.
pub fn plan_upsert(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    options: &MatchOptions,
) -> Result<serde_json::Value, Error> {
    let (guid, req, known) = prepared(client, entity, req)?;
    plan_one(client, entity, &guid, known, &req, &options.rules)
}

/// The GUID was not found: the rules decide between adopting an entity, a conflict and an add.
fn adopt_or_add(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    guid: &str,
    rules: &[Rule],
) -> Result<(Upserted, Vec<String>), Error> {
    let m = match_one(client, entity, guid, req, rules)?;
    let mut notes = warnings_of(entity, guid, &m);
    match m.decision {
        Decision::Adopt { id, .. } => match adopt(client, entity, id, guid, req)? {
            Some(w) => {
                notes.extend(w);
                let u = Upserted {
                    id,
                    created: false,
                    adopted: true,
                };
                return Ok((u, notes));
            }
            None => notes.push(format!(
                "{} {id} matched but was given another GUID meanwhile: not adopted",
                entity.name()
            )),
        },
        Decision::Conflict { ids, rule, why } => return Err(conflict(&ids, &rule, &why)),
        Decision::Create => {}
    }
    let (u, w) = add(client, entity, req, guid, true)?;
    notes.extend(w);
    Ok((u, notes))
}

/// With the ID the record had at the last sync: reads that entity by ID (an indexed read, where
/// a GUID lookup filters an unindexed user field) and updates it if it still carries the GUID.
/// `None` when it is gone or carries another GUID: then the GUID lookup decides.
fn update_known(
    client: &Client,
    entity: Entity,
    id: i64,
    guid: &str,
    req: &WriteRequest,
) -> Result<Option<(Upserted, Vec<String>)>, Error> {
    let field = guid_field(client, entity);
    let current = match crm::by_id(client, entity, "get", id) {
        Ok(resp) => resp.value()?,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if guid_of(current.get(field)).as_deref() != Some(guid) {
        return Ok(None);
    }
    let (_, warnings) = crm::update(client, entity, id, req)?;
    let u = Upserted {
        id,
        created: false,
        adopted: false,
    };
    Ok(Some((u, warnings)))
}

/// Sends the add; one that may have run is resolved by a late lookup, and sent once more only
/// if `again` and the lookup proves it absent.
fn add(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    guid: &str,
    again: bool,
) -> Result<(Upserted, Vec<String>), Error> {
    let (settles, cause) = match crm::create(client, entity, req) {
        Ok((id, warnings)) => {
            let u = Upserted {
                id,
                created: true,
                adopted: false,
            };
            return Ok((u, warnings));
        }
        Err(e) if judge(&e) == Verdict::MayHaveRun => (settles_for(client, &e), e),
        Err(e) => return Err(e),
    };
    if !again {
        // One resolution per upsert: its wait is bounded by one execution limit.
        return Err(outcome_unknown(&cause, "it was the second attempt"));
    }
    let u = resolve_unknown_add(client, entity, req, guid, settles, &cause)?;
    Ok((u, vec![]))
}

/// After an add that may have run: waits until it can no longer be running (bounded by the
/// execution limit), then looks the GUID up. Found: that is the add. Absent: it did not run,
/// so it is sent once more. Anything else is OUTCOME_UNKNOWN.
fn resolve_unknown_add(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    guid: &str,
    settles: Instant,
    cause: &Error,
) -> Result<Upserted, Error> {
    // Within the operation's deadline too: past it, the answer is OUTCOME_UNKNOWN, not a wait.
    let allowance = client.config().execution_limit + MARGIN;
    let allowance = deadline::current().map_or(allowance, |d| {
        allowance.min(d.saturating_duration_since(Instant::now()))
    });
    if !wait_until(settles, allowance) {
        return Err(outcome_unknown(cause, "it could still be running"));
    }
    let ids = find_by_guid(client, entity, guid).map_err(|e| {
        let why = format!("the lookup that would tell failed: {}", e.last_error_text());
        outcome_unknown(cause, &why)
    })?;
    match ids.as_slice() {
        [id] => Ok(Upserted {
            id: *id,
            created: true,
            adopted: false,
        }),
        [] => Ok(add(client, entity, req, guid, false)?.0),
        many => {
            let field = guid_field(client, entity);
            let why = ambiguous(field, guid, many).description;
            Err(outcome_unknown(cause, &why))
        }
    }
}
