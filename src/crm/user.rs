//! Finding users by the 1C GUID in a user field: one, or many at once.

use crate::batch::{self, Command};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Finds the one user whose GUID field equals `guid`, verifying the match itself: the portal
/// drops filter keys it does not know (a misspelt field, or a webhook without the `user` scope),
/// and would then return every user.
pub fn user_by_guid(client: &Client, guid: &str) -> Result<Value, Error> {
    let guid = checked_guid(guid)?;
    let field = &client.config().guid_fields.user;
    let resp = client.call("user.get", &guid_filter(field, guid))?;
    pick_user(field, guid, resp.value()?)
}

/// The user IDs of several 1C GUIDs, before a write names them: one `user.get` for one GUID,
/// one batch of `user.get` commands (50 per request) for more. Each GUID gets the ID of its one
/// user, or the error saying why not: `USER_NOT_FOUND`, `AMBIGUOUS_GUID` (conflict, with the
/// IDs), `INVALID_GUID`, `FIELD_NOT_VISIBLE`, or the lookup's own failure.
pub fn user_ids_by_guids(
    client: &Client,
    guids: &[String],
) -> HashMap<String, Result<String, Error>> {
    let id_of = |u: Value| user_id(&u);
    if let [guid] = guids {
        let got = user_by_guid(client, guid).and_then(id_of);
        return HashMap::from([(guid.clone(), got)]);
    }
    let field = &client.config().guid_fields.user;
    let mut out = HashMap::new();
    let mut cmds = Vec::new();
    for (n, guid) in guids.iter().enumerate() {
        match checked_guid(guid) {
            Ok(g) if batch::is_reference(g) => {
                let e = Error::invalid_input(
                    "INVALID_GUID",
                    "a GUID cannot hold $result[-like text in a batch",
                );
                out.insert(guid.clone(), Err(e));
            }
            Ok(g) => cmds.push(Command {
                name: format!("u{n}"),
                method: "user.get".into(),
                text: format!("user.get?{}", batch::php_query(&guid_filter(field, g))),
            }),
            Err(e) => {
                out.insert(guid.clone(), Err(e));
            }
        }
    }
    let answer = batch::run(client, &cmds, false);
    for (n, guid) in guids.iter().enumerate() {
        let name = format!("u{n}");
        if out.contains_key(guid) {
            continue;
        }
        let got = answer.as_ref().map_err(Clone::clone).and_then(|a| {
            if let Some(e) = a.error_of(&name) {
                return Err(e);
            }
            let found = a
                .results()
                .get(&name)
                .cloned()
                .unwrap_or(Value::Array(vec![]));
            pick_user(field, guid.trim(), found)
        });
        out.insert(guid.clone(), got.and_then(id_of));
    }
    out
}

fn guid_filter(field: &str, guid: &str) -> Value {
    json!({ "FILTER": { field: guid } })
}

/// The GUID trimmed, or `INVALID_GUID`.
fn checked_guid(guid: &str) -> Result<&str, Error> {
    let guid = guid.trim();
    if guid.is_empty() || guid.len() > 200 || guid.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "INVALID_GUID",
            "GUID must be a non-empty string without control characters",
        ));
    }
    Ok(guid)
}

/// A user's `ID` as text.
fn user_id(user: &Value) -> Result<String, Error> {
    match user.get("ID") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "user.get returned a user without an ID",
        )),
    }
}

/// The one user of a `user.get` answer whose GUID field really equals `guid`.
fn pick_user(field: &str, guid: &str, answer: Value) -> Result<Value, Error> {
    let users = match answer {
        Value::Array(a) => a,
        Value::Object(m) if m.is_empty() => vec![],
        _ => {
            return Err(Error::new(
                ErrorKind::Protocol,
                "INVALID_RESPONSE",
                "user.get did not return a list",
            ))
        }
    };
    if !users.is_empty() && users.iter().all(|u| u.get(field).is_none()) {
        return Err(Error::new(
            ErrorKind::Access,
            "FIELD_NOT_VISIBLE",
            format!("the portal returned users without field {field}: the webhook needs the `user` scope, or the field does not exist"),
        ));
    }
    let mut matches: Vec<Value> = users
        .into_iter()
        .filter(|u| value_equals(u.get(field), guid))
        .collect();
    match matches.len() {
        0 => Err(Error::new(
            ErrorKind::NotFound,
            "USER_NOT_FOUND",
            format!("no user has {field} = {guid:?}"),
        )),
        1 => Ok(matches.remove(0)),
        n => {
            let ids: Vec<Value> = matches
                .iter()
                .filter_map(|u| u.get("ID").cloned())
                .collect();
            Err(Error::new(
                ErrorKind::Conflict,
                "AMBIGUOUS_GUID",
                format!("{n} users have {field} = {guid:?}"),
            )
            .with_details(json!({ "ids": ids })))
        }
    }
}

fn value_equals(v: Option<&Value>, guid: &str) -> bool {
    match v {
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case(guid),
        Some(Value::Array(a)) => a.iter().any(|x| value_equals(Some(x), guid)),
        _ => false,
    }
}
