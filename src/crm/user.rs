//! Finding a user by the 1C GUID in a user field.

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use serde_json::{json, Value};

/// Finds the one user whose GUID field equals `guid`, verifying the match itself: the portal
/// drops filter keys it does not know (a misspelt field, or a webhook without the `user` scope),
/// and would then return every user.
pub fn user_by_guid(client: &Client, guid: &str) -> Result<Value, Error> {
    let guid = guid.trim();
    if guid.is_empty() || guid.len() > 200 || guid.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "INVALID_GUID",
            "GUID must be a non-empty string without control characters",
        ));
    }
    let field = &client.config().guid_fields.user;
    let resp = client.call("user.get", &json!({ "FILTER": { field.as_str(): guid } }))?;
    let users = match resp.value()? {
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
    if !users.is_empty() && users.iter().all(|u| u.get(field.as_str()).is_none()) {
        return Err(Error::new(
            ErrorKind::Access,
            "FIELD_NOT_VISIBLE",
            format!("the portal returned users without field {field}: the webhook needs the `user` scope, or the field does not exist"),
        ));
    }
    let mut matches: Vec<Value> = users
        .into_iter()
        .filter(|u| value_equals(u.get(field.as_str()), guid))
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
