//! Upsert of one record by its 1C GUID.

use super::guid::{ambiguous, find_by_guid, guid_field, guid_of, Claim};
use crate::client::Client;
use crate::crm::{self, Entity, WriteRequest};
use crate::error::Error;
use std::time::Duration;

/// The outcome of an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// The entity's ID.
    pub id: i64,
    /// True when the entity was created, false when it was updated.
    pub created: bool,
}

/// Finds the entity by the GUID in `req`'s fields; updates it if found, adds it if not.
/// Concurrent upserts of one GUID in this process are serialised. An add whose outcome is
/// unknown is resolved by looking the GUID up again, not by sending it again blindly.
pub fn upsert(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
) -> Result<(Upserted, Vec<String>), Error> {
    let field = guid_field(client, entity).to_string();
    let guid = guid_of(req.fields.get(&field)).ok_or_else(|| {
        Error::invalid_input(
            "MISSING_GUID",
            format!("the fields must carry the 1C GUID in {field}"),
        )
    })?;
    let _claim = Claim::take(client, entity, [&guid])?;
    let ids = find_by_guid(client, entity, &guid)?;
    match ids.as_slice() {
        [id] => {
            let (_, warnings) = crm::update(client, entity, *id, req)?;
            let u = Upserted {
                id: *id,
                created: false,
            };
            Ok((u, warnings))
        }
        [] => match crm::create(client, entity, req) {
            Ok((id, warnings)) => Ok((Upserted { id, created: true }, warnings)),
            Err(e) if e.code == "OUTCOME_UNKNOWN" => {
                let id = resolve_unknown_add(client, entity, req, &guid)?;
                Ok((Upserted { id, created: true }, vec![]))
            }
            Err(e) => Err(e),
        },
        many => Err(ambiguous(&field, &guid, many)),
    }
}

/// After an add whose answer was lost: look the GUID up a few times (the add may still be
/// running); only when it is surely absent, add again.
fn resolve_unknown_add(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    guid: &str,
) -> Result<i64, Error> {
    for attempt in 0..3u32 {
        std::thread::sleep(Duration::from_millis(200 << attempt));
        let ids = find_by_guid(client, entity, guid)?;
        match ids.as_slice() {
            [id] => return Ok(*id),
            [] => continue,
            many => return Err(ambiguous(guid_field(client, entity), guid, many)),
        }
    }
    Ok(crm::create(client, entity, req)?.0)
}
