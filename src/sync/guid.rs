//! GUID claims and lookups by GUID.

use crate::client::Client;
use crate::crm::Entity;
use crate::error::{Error, ErrorKind};
use crate::host::claims::{self, HostClaim, Taken};
use once_cell::sync::Lazy;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

// Two upserts of one GUID must not both decide "absent, add": not in one process (the claim
// set below) and not in two processes of the host (a host-wide claim, `crate::host::claims`).

type ClaimKey = (String, Entity, String);

static CLAIMS: Lazy<(Mutex<HashSet<ClaimKey>>, Condvar)> =
    Lazy::new(|| (Mutex::new(HashSet::new()), Condvar::new()));
const CLAIM_WAIT: Duration = Duration::from_secs(300);

/// GUIDs this thread is working on; released on drop.
pub(crate) struct Claim {
    keys: Vec<ClaimKey>,
    /// The same GUIDs claimed host-wide; `None` when sharing is off or the files are unusable
    /// (then only this process's claims order the upserts, as before).
    _host: Option<HostClaim>,
}

impl Claim {
    /// Waits until none of `guids` is claimed elsewhere, then claims them all at once (all at
    /// once, so two claimers of overlapping sets cannot deadlock); then claims them host-wide
    /// (in a fixed order, for the same reason), within the same [`CLAIM_WAIT`].
    pub(crate) fn take<'a>(
        client: &Client,
        entity: Entity,
        guids: impl IntoIterator<Item = &'a String>,
    ) -> Result<Claim, Error> {
        Claim::take_within(client, entity, guids, CLAIM_WAIT)
    }

    /// [`Claim::take`], waiting at most `wait` (bulk matching claims the entities it adopts
    /// with a short wait: it holds other claims meanwhile).
    pub(crate) fn take_within<'a>(
        client: &Client,
        entity: Entity,
        guids: impl IntoIterator<Item = &'a String>,
        wait: Duration,
    ) -> Result<Claim, Error> {
        let origin = &client.config().webhook.origin;
        let keys: Vec<ClaimKey> = guids
            .into_iter()
            .map(|g| (origin.clone(), entity, g.clone()))
            .collect();
        let (lock, cv) = &*CLAIMS;
        let deadline = Instant::now() + wait;
        let mut held = lock.lock().unwrap_or_else(|p| p.into_inner());
        while keys.iter().any(|k| held.contains(k)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(busy());
            }
            held = cv
                .wait_timeout(held, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        held.extend(keys.iter().cloned());
        drop(held);
        let mut claim = Claim { keys, _host: None };
        if client.config().share_across_processes {
            let host_keys = claim.keys.iter().map(|(_, e, g)| (e.name(), g.as_str()));
            match claims::take(origin, host_keys, deadline) {
                Taken::Held(h) => claim._host = Some(h),
                // Dropping `claim` releases the process-local claims too.
                Taken::Busy => return Err(busy()),
                Taken::Unusable => {}
            }
        }
        Ok(claim)
    }
}

fn busy() -> Error {
    Error::new(
        ErrorKind::Timeout,
        "GUID_BUSY",
        "another upsert of the same GUID did not finish in time",
    )
}

impl Drop for Claim {
    fn drop(&mut self) {
        let (lock, cv) = &*CLAIMS;
        let mut held = lock.lock().unwrap_or_else(|p| p.into_inner());
        for k in &self.keys {
            held.remove(k);
        }
        cv.notify_all();
    }
}

/// The configured GUID field of the entity.
pub(crate) fn guid_field(client: &Client, entity: Entity) -> &str {
    match entity {
        Entity::Contact => &client.config().guid_fields.contact,
        Entity::Company => &client.config().guid_fields.company,
    }
}

/// A GUID in its one normal form: trimmed, lower-case text (a number becomes its text). The
/// portal's `=`/`@` filters compare case-insensitively (MySQL `_ci` collations) and ignore
/// trailing spaces, so "ABC", "abc " and "abc" are one entity to it; the library looks GUIDs up,
/// verifies the rows and stores the GUID in this form, so every path agrees and a stored GUID is
/// found again by the same text. 1C writes GUIDs in lower case.
pub(crate) fn guid_of(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_lowercase()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Puts the GUID's normal form into the fields, so it is stored as it will be looked up.
pub(crate) fn store_normalised(
    fields: &mut serde_json::Map<String, Value>,
    field: &str,
    guid: &str,
) {
    if fields.get(field).and_then(Value::as_str) != Some(guid) {
        fields.insert(field.to_string(), Value::String(guid.to_string()));
    }
}

/// A positive entity ID, given as a number or as text.
pub(crate) fn id_of(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|id| *id > 0)
}

/// A listed row's ID; a row without one is an answer the library cannot trust.
pub(crate) fn row_id(row: &Value) -> Result<i64, Error> {
    row.get("ID").and_then(id_of).ok_or_else(|| {
        Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "a listed row has no ID",
        )
    })
}

/// The rows of a list answer: an array, or the empty object PHP's `json_encode` makes of an
/// empty array in some paths; anything else is `INVALID_RESPONSE`.
pub(crate) fn list_rows(result: &Value) -> Result<&[Value], Error> {
    match result {
        Value::Array(a) => Ok(a.as_slice()),
        Value::Object(m) if m.is_empty() => Ok(&[]),
        _ => Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "a list method did not return a list",
        )),
    }
}

/// Rows of a GUID lookup → GUID → IDs, verifying each row really carries one of the GUIDs
/// asked for (the portal ignores filters on fields it does not know and returns everything).
pub(crate) fn collect_matches(
    rows: &Value,
    field: &str,
    asked: &HashSet<String>,
    out: &mut HashMap<String, Vec<i64>>,
) -> Result<usize, Error> {
    let rows = list_rows(rows)?;
    for row in rows {
        let g = guid_of(row.get(field));
        match g {
            Some(g) if asked.contains(&g) => {
                let id = row_id(row)?;
                out.entry(g).or_default().push(id);
            }
            _ => {
                return Err(Error::invalid_input(
                    "GUID_FIELD_NOT_FILTERABLE",
                    format!("the portal ignored the filter on {field} (is the field code right?), so entities cannot be found by GUID"),
                ))
            }
        }
    }
    Ok(rows.len())
}

/// The IDs of the entities whose GUID field holds `guid` (compared in its normal form: trimmed,
/// case-insensitive, as the portal's filter compares).
pub fn find_by_guid(client: &Client, entity: Entity, guid: &str) -> Result<Vec<i64>, Error> {
    let field = guid_field(client, entity);
    let Some(guid) = guid_of(Some(&Value::String(guid.to_string()))) else {
        return Ok(vec![]);
    };
    let guid = guid.as_str();
    let params = json!({
        "filter": { format!("={field}"): guid },
        "select": ["ID", field],
        "order": { "ID": "ASC" },
        "start": -1,
    });
    let resp = client.call(&entity.method("list"), &params)?;
    let mut out = HashMap::new();
    collect_matches(
        &resp.value()?,
        field,
        &HashSet::from([guid.to_string()]),
        &mut out,
    )?;
    Ok(out.remove(guid).unwrap_or_default())
}

/// More than one entity holds the GUID.
pub(crate) fn ambiguous(field: &str, guid: &str, ids: &[i64]) -> Error {
    Error::new(
        ErrorKind::Conflict,
        "AMBIGUOUS_GUID",
        format!("{} entities have {field} = {guid:?}: {ids:?}", ids.len()),
    )
    .with_details(json!({ "ids": ids }))
}
