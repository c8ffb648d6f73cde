//! Values a write gives by name or by 1C GUID, mapped before anything is sent: list-field items
//! (`crm.*.fields`, see [`map_enumerations`]), reference-list items (`crm.status.list`, see
//! [`statuses`]) and users given as `{"guid": "…"}` (one `user.get` lookup for all the GUIDs of
//! a call). The portal itself checks none of them: it stores a list value it does not know, and
//! casts a non-scalar user value to an integer (`restservice.php internalizeFields`: `(int)` of
//! an array is 1, some other user), so an unresolved `{"guid"}` is never sent.

use super::fields::invalid_values;
use super::statuses::{self, StatusItems};
use super::user::user_ids_by_guids;
use super::values::map_enumerations;
use super::WriteRequest;
use crate::client::Client;
use crate::error::Error;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};

/// The one key of a value that names a user by 1C GUID: `"ASSIGNED_BY_ID": {"guid": "…"}`.
pub const USER_GUID_KEY: &str = "guid";

/// Field types whose values are user IDs.
const USER_TYPES: [&str; 2] = ["user", "employee"];

/// One record's outcome: the problems with its values (each a warning, or under
/// `strict_fields` its `INVALID_VALUE`), or the error that stops the record (a user GUID held
/// by several users, a failed lookup).
pub type Mapped = Result<Vec<String>, Error>;

/// Maps the values of every record in place; returns each record's outcome, in order, and the
/// notes for the whole call (a list that could not be fetched, when not strict). Lists are
/// fetched only for reference-list fields that hold a value, once per type for all records;
/// the user GUIDs of all records are looked up at once.
pub fn map_references(
    client: &Client,
    known: &Map<String, Value>,
    records: &mut [&mut Map<String, Value>],
) -> (Vec<Mapped>, Vec<String>) {
    let mut outcomes: Vec<Mapped> = records
        .iter_mut()
        .map(|f| Ok(map_enumerations(known, f)))
        .collect();
    let notes = map_status_values(client, known, records, &mut outcomes);
    map_user_guids(client, known, records, &mut outcomes);
    (outcomes, notes)
}

/// A single write's values mapped: its warnings, and the request when something changed. A
/// problem is `INVALID_VALUE` under `strict_fields`, nothing sent.
pub fn map_request(
    client: &Client,
    known: &Map<String, Value>,
    req: &WriteRequest,
) -> Result<(Vec<String>, Option<WriteRequest>), Error> {
    let mut mapped = req.clone();
    let (mut outcomes, notes) = map_references(client, known, &mut [&mut mapped.fields]);
    let problems = outcomes.pop().expect("one outcome per record")?;
    if client.config().strict_fields && !problems.is_empty() {
        return Err(invalid_values(problems));
    }
    let changed = mapped.fields != req.fields;
    let warnings = problems.into_iter().chain(notes).collect();
    Ok((warnings, changed.then_some(mapped)))
}

/// Reference-list values: names sent as STATUS_IDs. A list that could not be fetched is a
/// note (its values go as given), or under `strict_fields` the error of each record needing it.
fn map_status_values(
    client: &Client,
    known: &Map<String, Value>,
    records: &mut [&mut Map<String, Value>],
    outcomes: &mut [Mapped],
) -> Vec<String> {
    let types = statuses::needed_types(known, records.iter().map(|f| &**f));
    if types.is_empty() {
        return vec![];
    }
    let mut lists: HashMap<String, StatusItems> = HashMap::new();
    let mut failed: Vec<(String, Error)> = Vec::new();
    for (t, got) in statuses::status_lists(client, &types) {
        match got {
            Ok(items) => {
                lists.insert(t, items);
            }
            Err(e) => failed.push((t, e)),
        }
    }
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    let strict = client.config().strict_fields;
    for (fields, outcome) in records.iter_mut().zip(outcomes.iter_mut()) {
        let needs = statuses::needed_types(known, [&**fields]);
        let blocked = failed.iter().find(|(t, _)| needs.contains(t));
        match (outcome.as_mut(), blocked) {
            (Ok(_), Some((_, e))) if strict => *outcome = Err(e.clone()),
            (Ok(problems), _) => problems.extend(statuses::map_statuses(known, &lists, fields)),
            (Err(_), _) => {}
        }
    }
    if strict {
        return vec![];
    }
    failed
        .iter()
        .map(|(t, e)| {
            let why = e.last_error_text();
            format!("values of the {t} list were not checked (they go as given): {why}")
        })
        .collect()
}

/// `Some(guid)` when `v` names a user by 1C GUID (`{"guid": …}`, that key only); a GUID that is
/// not a string is `""`, which the lookup refuses as `INVALID_GUID`.
fn user_guid(v: &Value) -> Option<String> {
    let o = v.as_object().filter(|o| o.len() == 1)?;
    let g = o.get(USER_GUID_KEY)?;
    Some(g.as_str().map(str::trim).unwrap_or("").to_string())
}

/// Users given by GUID: every distinct GUID of the records looked up at once, then each value
/// replaced by the user's ID.
fn map_user_guids(
    client: &Client,
    known: &Map<String, Value>,
    records: &mut [&mut Map<String, Value>],
    outcomes: &mut [Mapped],
) {
    let guids: BTreeSet<String> = records
        .iter()
        .zip(outcomes.iter())
        .filter(|(_, o)| o.is_ok())
        .flat_map(|(f, _)| f.values().filter_map(user_guid).collect::<Vec<_>>())
        .collect();
    if guids.is_empty() {
        return;
    }
    let found = user_ids_by_guids(client, &guids.into_iter().collect::<Vec<_>>());
    for (fields, outcome) in records.iter_mut().zip(outcomes.iter_mut()) {
        if let Ok(problems) = outcome {
            match apply_users(known, fields, &found) {
                Ok(more) => problems.extend(more),
                Err(e) => *outcome = Err(e),
            }
        }
    }
}

/// Replaces one record's user GUIDs by the users' IDs. A GUID no user holds is a problem and the
/// field is left out (sent, it would not name the user meant); any other failure (several
/// users: a conflict, never a guess) stops the record.
fn apply_users(
    known: &Map<String, Value>,
    fields: &mut Map<String, Value>,
    found: &HashMap<String, Result<String, Error>>,
) -> Result<Vec<String>, Error> {
    let refs: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| user_guid(v).map(|g| (k.clone(), g)))
        .collect();
    let mut problems = Vec::new();
    for (key, guid) in refs {
        let ty = known
            .get(&key)
            .and_then(|d| d.get("type"))
            .and_then(Value::as_str);
        if let Some(t) = ty.filter(|t| !USER_TYPES.contains(t)) {
            problems.push(format!(
                "{key}: a user is given by GUID, but {key} is a {t} field; the field is left out"
            ));
            fields.remove(&key);
            continue;
        }
        match found.get(&guid) {
            Some(Ok(id)) => {
                fields.insert(key, Value::String(id.clone()));
            }
            Some(Err(e)) if e.code == "USER_NOT_FOUND" => {
                problems.push(format!(
                    "{key}: no user has the 1C GUID {guid:?}; the field is left out"
                ));
                fields.remove(&key);
            }
            Some(Err(e)) => return Err(e.clone().with_detail("field", json!(key))),
            None => unreachable!("every GUID of the records was looked up"),
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_values_and_their_users() {
        assert_eq!(user_guid(&json!({"guid": " G-1 "})).as_deref(), Some("G-1"));
        assert_eq!(user_guid(&json!({"guid": 7})).as_deref(), Some(""));
        assert_eq!(user_guid(&json!({"guid": "g", "x": 1})), None);
        assert_eq!(user_guid(&json!("16")), None);
        let known = json!({"ASSIGNED_BY_ID": {"type": "user"}, "COMMENTS": {"type": "string"}});
        let known = known.as_object().unwrap();
        let found = HashMap::from([
            ("G-1".to_string(), Ok("16".to_string())),
            (
                "G-0".to_string(),
                Err(Error::new(
                    crate::error::ErrorKind::NotFound,
                    "USER_NOT_FOUND",
                    "none",
                )),
            ),
        ]);
        let mut f = json!({"ASSIGNED_BY_ID": {"guid": "G-1"}, "COMMENTS": {"guid": "G-1"}})
            .as_object()
            .unwrap()
            .clone();
        let p = apply_users(known, &mut f, &found).unwrap();
        assert_eq!(f, *json!({"ASSIGNED_BY_ID": "16"}).as_object().unwrap());
        assert!(
            p[0].contains("COMMENTS") && p[0].contains("string field"),
            "{p:?}"
        );
        let mut f = json!({"ASSIGNED_BY_ID": {"guid": "G-0"}})
            .as_object()
            .unwrap()
            .clone();
        let p = apply_users(known, &mut f, &found).unwrap();
        assert!(f.is_empty() && p[0].contains("no user"), "{p:?}");
    }
}
