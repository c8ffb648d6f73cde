//! CRM operations on contacts and companies, and the guard against fields the portal would
//! silently drop.

use crate::client::{Client, Repeat, Response};
use crate::config::is_field_code;
use crate::error::{Error, ErrorKind};
use crate::files::{self, FileRef};
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The CRM entity an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// `crm.contact.*`
    Contact,
    /// `crm.company.*`
    Company,
}

impl Entity {
    /// The method of this entity: `crm.contact.add` for `"add"`.
    pub fn method(self, verb: &str) -> String {
        format!("crm.{}.{verb}", self.name())
    }

    /// `contact` or `company`.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Contact => "contact",
            Entity::Company => "company",
        }
    }

    /// The key the customer's spec uses for links, and the real field it means. The spec writes
    /// `"COMPANY": ["62"]` on contacts and `"CONTACT": ["720"]` on companies; the portal knows
    /// neither and would drop them, losing the link.
    fn link_alias(self) -> (&'static str, &'static str) {
        match self {
            Entity::Contact => ("COMPANY", "COMPANY_IDS"),
            Entity::Company => ("CONTACT", "CONTACT_ID"),
        }
    }
}

/// A write request split into Bitrix's `fields` and `params`, with the library's warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRequest {
    /// The entity's fields, link aliases already mapped.
    pub fields: Map<String, Value>,
    /// Bitrix's `params` (`REGISTER_SONET_EVENT`, ...), if given.
    pub params: Option<Value>,
    /// Files given by path (`{"filePath": ...}`), spliced into the body when it is sent.
    pub files: Vec<FileRef>,
}

impl WriteRequest {
    /// Accepts either the spec's request body `{"fields": {...}, "params": {...}}` or the bare
    /// fields object (Bitrix field names are upper-case, so a `fields` key cannot clash).
    pub fn parse(entity: Entity, input: Value) -> Result<WriteRequest, Error> {
        let Value::Object(mut obj) = input else {
            return Err(Error::invalid_input(
                "INVALID_FIELDS",
                "fields must be a JSON object",
            ));
        };
        let (fields, params) = match obj.remove("fields") {
            Some(Value::Object(f)) => {
                let params = obj.remove("params");
                if let Some(k) = obj.keys().next() {
                    return Err(Error::invalid_input(
                        "INVALID_FIELDS",
                        format!("unexpected key {k:?} next to \"fields\" (only \"fields\" and \"params\" are allowed there)"),
                    ));
                }
                if params.as_ref().is_some_and(|p| !p.is_object()) {
                    return Err(Error::invalid_input(
                        "INVALID_FIELDS",
                        "\"params\" must be a JSON object",
                    ));
                }
                (f, params)
            }
            Some(_) => {
                return Err(Error::invalid_input(
                    "INVALID_FIELDS",
                    "\"fields\" must be a JSON object",
                ))
            }
            None => (obj, None),
        };
        let (alias, real) = entity.link_alias();
        let mut out = Map::with_capacity(fields.len());
        for (k, v) in fields {
            if k == alias {
                if out.contains_key(real) {
                    continue; // the real field given explicitly wins
                }
                let ids = match v {
                    Value::Array(a) => Value::Array(a),
                    Value::Null => Value::Array(vec![]),
                    scalar => Value::Array(vec![scalar]),
                };
                out.insert(real.to_string(), ids);
            } else {
                out.insert(k, v);
            }
        }
        let files = files::extract(&mut out)?;
        Ok(WriteRequest {
            fields: out,
            params,
            files,
        })
    }

    /// The JSON body for `add` (`id` = None) or `update`, files spliced in.
    pub fn to_body(&self, id: Option<i64>) -> Result<bytes::Bytes, Error> {
        Ok(files::serialize(&self.to_params(id), &self.files)?.into())
    }

    /// The Bitrix parameters for `add` (`id` = None) or `update` (file markers not expanded).
    pub fn to_params(&self, id: Option<i64>) -> Value {
        let mut p = Map::new();
        if let Some(id) = id {
            p.insert("id".into(), json!(id));
        }
        p.insert("fields".into(), Value::Object(self.fields.clone()));
        if let Some(params) = &self.params {
            p.insert("params".into(), params.clone());
        }
        Value::Object(p)
    }
}

/// Field descriptions of an entity as `crm.*.fields` gives them, cached per webhook: one extra
/// request per portal and entity per ten minutes, not one per 1C object.
type FieldMap = Arc<Map<String, Value>>;
type FieldCache = HashMap<(String, Entity), (Instant, FieldMap)>;
static FIELDS_CACHE: Lazy<Mutex<FieldCache>> = Lazy::new(|| Mutex::new(HashMap::new()));
const FIELDS_TTL: Duration = Duration::from_secs(600);

/// The entity's field descriptions (cached).
pub fn field_list(client: &Client, entity: Entity) -> Result<FieldMap, Error> {
    let key = (client.config().webhook.cache_key().to_string(), entity);
    if let Some((at, f)) = FIELDS_CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        if at.elapsed() < FIELDS_TTL {
            return Ok(f.clone());
        }
    }
    let resp = client.call(&entity.method("fields"), &json!({}))?;
    let Value::Object(map) = resp.value()? else {
        return Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            format!("{} did not return an object", entity.method("fields")),
        ));
    };
    let map = Arc::new(map);
    FIELDS_CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (Instant::now(), map.clone()));
    Ok(map)
}

/// Names every key of `fields` the portal would drop without a word: unknown (including
/// lower-case) keys, read-only fields, and on update immutable ones.
pub fn dropped_keys(
    known: &Map<String, Value>,
    fields: &Map<String, Value>,
    is_update: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for key in fields.keys() {
        let flag = |name: &str| {
            known
                .get(key)
                .and_then(|d| d.get(name))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        if !known.contains_key(key) {
            let hint = if !is_field_code(key) && known.contains_key(&key.to_ascii_uppercase()) {
                format!(
                    " (field names are case-sensitive: did you mean {:?}?)",
                    key.to_ascii_uppercase()
                )
            } else {
                String::new()
            };
            out.push(format!(
                "field {key:?} is unknown to the portal, which would drop it{hint}"
            ));
        } else if flag("isReadOnly") {
            out.push(format!(
                "field {key:?} is read-only; the portal would drop it"
            ));
        } else if is_update && flag("isImmutable") {
            out.push(format!(
                "field {key:?} can be set only on creation; the portal would drop it"
            ));
        }
    }
    out
}

/// Checks a write against the portal's field list. Returns the warnings; in strict mode a
/// dropped key is an error before anything is sent.
fn check_fields(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    is_update: bool,
) -> Result<Vec<String>, Error> {
    let known = match field_list(client, entity) {
        Ok(k) => k,
        Err(e) if client.config().strict_fields => return Err(e),
        Err(e) => {
            return Ok(vec![format!(
                "field names were not checked: {}",
                e.last_error_text()
            )])
        }
    };
    let dropped = dropped_keys(&known, &req.fields, is_update);
    if client.config().strict_fields && !dropped.is_empty() {
        return Err(Error::invalid_input("UNKNOWN_FIELDS", dropped.join("; "))
            .with_details(json!({ "fields": dropped })));
    }
    Ok(dropped)
}

/// `crm.<entity>.add`: the new ID, plus warnings. An answer without a positive ID (`true`,
/// `null`, a string) came after the add ran, so it is `OUTCOME_UNKNOWN`, not a success.
pub fn create(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
) -> Result<(i64, Vec<String>), Error> {
    let warnings = check_fields(client, entity, req, false)?;
    let resp = client.call_body(&entity.method("add"), req.to_body(None)?, Repeat::Unsafe)?;
    let id: Option<i64> = match serde_json::from_str::<Value>(resp.result.get()) {
        Ok(Value::Number(n)) => n.as_i64(),
        Ok(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    match id.filter(|id| *id > 0) {
        Some(id) => Ok((id, warnings)),
        None => {
            let shown: String = resp.result.get().chars().take(80).collect();
            Err(Error::outcome_unknown(Error::new(
                ErrorKind::Protocol,
                "INVALID_RESPONSE",
                format!(
                    "{} returned {shown} instead of the new ID",
                    entity.method("add")
                ),
            )))
        }
    }
}

/// `crm.<entity>.delete`, plus warnings. When an earlier attempt's answer was lost and the
/// retry finds the entity gone, the first attempt deleted it: that is a success.
pub fn delete(client: &Client, entity: Entity, id: i64) -> Result<Vec<String>, Error> {
    match by_id(client, entity, "delete", id) {
        Ok(_) => Ok(vec![]),
        Err(e) if e.kind == ErrorKind::NotFound && e.earlier_attempt_may_have_run() => Ok(vec![
            "the first delete's answer was lost; the retry found the entity already gone".into(),
        ]),
        Err(e) => Err(e),
    }
}

/// `crm.<entity>.update`: `true` in `result`, plus warnings.
pub fn update(
    client: &Client,
    entity: Entity,
    id: i64,
    req: &WriteRequest,
) -> Result<(Response, Vec<String>), Error> {
    check_id(id)?;
    let warnings = check_fields(client, entity, req, true)?;
    let resp = client.call_body(
        &entity.method("update"),
        req.to_body(Some(id))?,
        Repeat::Safe,
    )?;
    Ok((resp, warnings))
}

/// `crm.<entity>.get`, `crm.<entity>.delete`: by ID.
pub fn by_id(client: &Client, entity: Entity, verb: &str, id: i64) -> Result<Response, Error> {
    check_id(id)?;
    client.call(&entity.method(verb), &json!({ "id": id }))
}

/// IDs are positive integers; Bitrix itself would answer 0 or a negative one with a vague error.
pub fn check_id(id: i64) -> Result<(), Error> {
    if id > 0 {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "INVALID_ID",
            format!("ID must be a positive integer, got {id}"),
        ))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_body_and_bare_fields() {
        let r = WriteRequest::parse(
            Entity::Contact,
            json!({"fields":{"NAME":"A","COMPANY":["62"]},"params":{"REGISTER_SONET_EVENT":"N"}}),
        )
        .unwrap();
        assert_eq!(r.fields["COMPANY_IDS"], json!(["62"]));
        assert!(!r.fields.contains_key("COMPANY"));
        assert_eq!(r.params, Some(json!({"REGISTER_SONET_EVENT":"N"})));
        let r = WriteRequest::parse(Entity::Company, json!({"TITLE":"T","CONTACT":"720"})).unwrap();
        assert_eq!(r.fields["CONTACT_ID"], json!(["720"]));
        let r = WriteRequest::parse(
            Entity::Contact,
            json!({"COMPANY_IDS":["1"],"COMPANY":["2"]}),
        )
        .unwrap();
        assert_eq!(r.fields["COMPANY_IDS"], json!(["1"]));
        assert!(WriteRequest::parse(Entity::Contact, json!([1])).is_err());
        assert!(WriteRequest::parse(Entity::Contact, json!({"fields":{}, "x":1})).is_err());
        assert!(WriteRequest::parse(Entity::Contact, json!({"fields":[]})).is_err());
    }

    #[test]
    fn dropped() {
        let known = json!({"NAME":{"isReadOnly":false},"ID":{"isReadOnly":true},"TYPE_ID":{"isImmutable":true}});
        let known = known.as_object().unwrap();
        let f = json!({"NAME":1,"name":2,"ID":3,"BOGUS":4,"TYPE_ID":5});
        let w = dropped_keys(known, f.as_object().unwrap(), true);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().any(|s| s.contains("did you mean \"NAME\"")));
        assert_eq!(dropped_keys(known, f.as_object().unwrap(), false).len(), 3);
    }
}
