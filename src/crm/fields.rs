//! The portal's field lists, and the keys it would drop without a word: in the fields of a
//! write, and in the filter of a list.

use super::references::map_request;
use super::{Entity, WriteRequest};
use crate::client::Client;
use crate::config::is_field_code;
use crate::error::{Error, ErrorKind};
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Field descriptions as a `*.fields` method gives them, cached per webhook: one extra request
/// per portal and method per ten minutes, not one per 1C object.
/// A `*.fields` answer, shared from the cache.
pub type FieldMap = Arc<Map<String, Value>>;
type FieldCache = HashMap<(String, String), (Instant, FieldMap)>;
static FIELDS_CACHE: Lazy<Mutex<FieldCache>> = Lazy::new(|| Mutex::new(HashMap::new()));
const FIELDS_TTL: Duration = Duration::from_secs(600);
/// Methods whose field lists are cached at most (a bound on the cache, whatever the caller
/// exports).
const FIELDS_CACHE_MAX: usize = 256;

/// The entity's field descriptions (cached).
pub fn field_list(client: &Client, entity: Entity) -> Result<FieldMap, Error> {
    fields_of(client, &entity.method("fields"))
}

/// The entity's field descriptions if the cache holds them: no request.
pub fn cached_field_list(client: &Client, entity: Entity) -> Option<FieldMap> {
    cached(&cache_key(client, &entity.method("fields")))
}

/// Caches a `*.fields` answer obtained some other way (inside a batch), as [`field_list`]
/// would have.
pub fn remember_field_list(
    client: &Client,
    entity: Entity,
    answer: Value,
) -> Result<FieldMap, Error> {
    let method = entity.method("fields");
    remember(cache_key(client, &method), &method, answer)
}

/// The field descriptions a `*.fields` method returns (cached).
fn fields_of(client: &Client, method: &str) -> Result<FieldMap, Error> {
    let key = cache_key(client, method);
    if let Some(f) = cached(&key) {
        return Ok(f);
    }
    let resp = client.call(method, &json!({}))?;
    remember(key, method, resp.value()?)
}

fn cache_key(client: &Client, method: &str) -> (String, String) {
    (
        client.config().webhook.cache_key().to_string(),
        method.to_string(),
    )
}

fn lock_cache() -> std::sync::MutexGuard<'static, FieldCache> {
    FIELDS_CACHE.lock().unwrap_or_else(|p| p.into_inner())
}

fn cached(key: &(String, String)) -> Option<FieldMap> {
    let held = lock_cache();
    let (at, f) = held.get(key)?;
    (at.elapsed() < FIELDS_TTL).then(|| f.clone())
}

fn remember(key: (String, String), method: &str, answer: Value) -> Result<FieldMap, Error> {
    let Value::Object(map) = answer else {
        return Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            format!("{method} did not return an object"),
        ));
    };
    let map = Arc::new(map);
    let mut held = lock_cache();
    if held.len() >= FIELDS_CACHE_MAX {
        held.retain(|_, (at, _)| at.elapsed() < FIELDS_TTL);
        if held.len() >= FIELDS_CACHE_MAX {
            held.clear();
        }
    }
    held.insert(key, (Instant::now(), map.clone()));
    Ok(map)
}

/// What a write is, for the field check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `*.add`; `import`: `params.IMPORT` is set, which lets the add write the system fields.
    Add {
        /// `params.IMPORT` is truthy (see [`WriteRequest::is_import`]).
        import: bool,
    },
    /// `*.update`: immutable fields are dropped too.
    Update,
}

/// The read-only fields an add in import mode may set (`CCrmRestProxyBase::add` takes the
/// read-only attribute off them when `params.IMPORT` is truthy; updates have no import mode).
const IMPORT_FIELDS: [&str; 4] = [
    "DATE_CREATE",
    "DATE_MODIFY",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
];

/// Names every key of `fields` the portal would drop without a word: unknown (including
/// lower-case) keys, read-only fields (except the system fields of an import add), and on update
/// immutable ones.
pub fn dropped_keys(
    known: &Map<String, Value>,
    fields: &Map<String, Value>,
    kind: WriteKind,
) -> Vec<String> {
    let is_update = kind == WriteKind::Update;
    let import = kind == WriteKind::Add { import: true };
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
        } else if flag("isReadOnly") && !(import && IMPORT_FIELDS.contains(&key.as_str())) {
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

/// Checks a write against the portal's field list and maps its values given by name or by
/// user GUID (see `references`). Returns the warnings and the mapped request; in strict mode a
/// dropped key or a value no item holds is an error before anything is sent.
pub(super) fn check_fields(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
    kind: WriteKind,
) -> Result<(Vec<String>, Option<WriteRequest>), Error> {
    let known = match field_list(client, entity) {
        Ok(k) => k,
        Err(e) if client.config().strict_fields => return Err(e),
        Err(e) => {
            let w = format!("field names were not checked: {}", e.last_error_text());
            // Users given by GUID are still resolved: such a value cannot go as it is.
            let (notes, mapped) = map_request(client, &Map::new(), req)?;
            return Ok((std::iter::once(w).chain(notes).collect(), mapped));
        }
    };
    let strict = client.config().strict_fields;
    let dropped = dropped_keys(&known, &req.fields, kind);
    if strict && !dropped.is_empty() {
        return Err(Error::invalid_input("UNKNOWN_FIELDS", dropped.join("; "))
            .with_details(json!({ "fields": dropped })));
    }
    let (notes, mapped) = map_request(client, &known, req)?;
    let warnings = dropped.into_iter().chain(notes).chain(req.import_warning());
    Ok((warnings.collect(), mapped))
}

/// Values the field's items or list do not hold (or a user GUID no user holds), under
/// `strict_fields`.
pub fn invalid_values(problems: Vec<String>) -> Error {
    Error::invalid_input("INVALID_VALUE", problems.join("; "))
        .with_details(json!({ "values": problems }))
}

/// The filter of a list as the portal will apply it, plus warnings. The portal looks each key's
/// field (after its operator, see [`split_operator`]) up case-sensitively in the entity's field
/// list and drops the keys it does not find (`CCrmRestProxyBase::internalizeFilterFields`), so a
/// lower-case or misspelt key silently widens the list, up to every row. Keys whose field the
/// list knows in upper case are upper-cased; the others are named in the warnings, or refused
/// under `strict_fields`. Only the legacy CRM lists (`crm.<entity>.list`, upper-case field
/// codes) are checked; other methods' filters go as given.
pub fn filter_keys(
    client: &Client,
    list_method: &str,
    filter: Map<String, Value>,
) -> Result<(Map<String, Value>, Vec<String>), Error> {
    let Some(fields_method) = legacy_fields_method(list_method) else {
        return Ok((filter, vec![]));
    };
    if filter.is_empty() {
        return Ok((filter, vec![]));
    }
    let strict = client.config().strict_fields;
    let known = match fields_of(client, &fields_method) {
        Ok(k) => k,
        Err(e) if strict => return Err(e),
        Err(e) => {
            let w = format!("filter keys were not checked: {}", e.last_error_text());
            return Ok((filter, vec![w]));
        }
    };
    let (out, warnings) = normalise_filter(&known, filter);
    if strict && !warnings.is_empty() {
        return Err(Error::invalid_input("UNKNOWN_FIELDS", warnings.join("; "))
            .with_details(json!({ "fields": warnings })));
    }
    Ok((out, warnings))
}

/// The field descriptions of a legacy `crm.<entity>.list`'s entity (cached, as
/// [`field_list`]); `None` for the lists [`filter_keys`] does not check either.
pub fn list_fields(client: &Client, list_method: &str) -> Result<Option<FieldMap>, Error> {
    match legacy_fields_method(list_method) {
        Some(m) => fields_of(client, &m).map(Some),
        None => Ok(None),
    }
}

/// `crm.contact.list` → `crm.contact.fields`; `None` for lists whose filters are not checked
/// (`crm.item.list` and other newer methods use camelCase fields and another filter path).
fn legacy_fields_method(list_method: &str) -> Option<String> {
    let lower = list_method.to_ascii_lowercase();
    let entity = lower.strip_prefix("crm.")?.strip_suffix(".list")?;
    let plain = !entity.is_empty() && entity.chars().all(|c| c.is_ascii_alphanumeric());
    (plain && entity != "item").then(|| format!("crm.{entity}.fields"))
}

/// Upper-cases the keys the field list knows in upper case; names the ones it does not know.
fn normalise_filter(
    known: &Map<String, Value>,
    filter: Map<String, Value>,
) -> (Map<String, Value>, Vec<String>) {
    let mut out = Map::with_capacity(filter.len());
    let mut warnings = Vec::new();
    let mut renamed = Vec::new();
    for (key, v) in filter {
        let (op, field) = split_operator(&key);
        if known.contains_key(field) {
            out.insert(key, v);
        } else if known.contains_key(&field.to_ascii_uppercase()) {
            renamed.push((format!("{op}{}", field.to_ascii_uppercase()), key, v));
        } else {
            warnings.push(format!(
                "filter key {key:?}: the portal knows no field {field:?} and would drop the condition"
            ));
            out.insert(key, v);
        }
    }
    // A key given in upper case wins over the same key in another case.
    for (upper, key, v) in renamed {
        if out.contains_key(&upper) {
            warnings.push(format!(
                "filter key {key:?} repeats {upper:?} in another case; only {upper:?} is sent"
            ));
        } else {
            out.insert(upper, v);
        }
    }
    (out, warnings)
}

/// A filter key's operator and field, as `CSqlUtil::GetFilterOperation` (main/classes/general/
/// sql_util.php) splits them: an optional `!`, an optional `+`, then one of `>=` `>` `<=` `<`
/// `@` `=%` `%=` `%` `?` `*=` `*%` `*` `=`.
pub fn split_operator(key: &str) -> (&str, &str) {
    let mut rest = key;
    for prefix in ["!", "+"] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    const OPS: [&str; 13] = [
        ">=", ">", "<=", "<", "@", "=%", "%=", "%", "?", "*=", "*%", "*", "=",
    ];
    if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
        rest = &rest[op.len()..];
    }
    key.split_at(key.len() - rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped() {
        let known = json!({"NAME":{"isReadOnly":false},"ID":{"isReadOnly":true},"TYPE_ID":{"isImmutable":true}});
        let known = known.as_object().unwrap();
        let f = json!({"NAME":1,"name":2,"ID":3,"BOGUS":4,"TYPE_ID":5});
        let w = dropped_keys(known, f.as_object().unwrap(), WriteKind::Update);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().any(|s| s.contains("did you mean \"NAME\"")));
        let add = WriteKind::Add { import: false };
        assert_eq!(dropped_keys(known, f.as_object().unwrap(), add).len(), 3);
    }

    #[test]
    fn filter_operators_and_case() {
        assert_eq!(split_operator("!>=ID"), ("!>=", "ID"));
        assert_eq!(split_operator("!+%=NAME"), ("!+%=", "NAME"));
        assert_eq!(split_operator("=%name"), ("=%", "name"));
        assert_eq!(split_operator("NAME"), ("", "NAME"));
        assert_eq!(split_operator("!"), ("!", ""));
        let known = json!({"NAME": {}, "ID": {}, "UF_CRM_1": {}});
        let f =
            json!({"name": "A", ">id": 3, "NAME": "B", "uf_crm_1": 1, "bogus": 2, "%TITLE": "x"});
        let (out, w) = normalise_filter(known.as_object().unwrap(), f.as_object().unwrap().clone());
        let mut keys: Vec<&str> = out.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["%TITLE", ">ID", "NAME", "UF_CRM_1", "bogus"]);
        assert_eq!(out["NAME"], json!("B"));
        assert_eq!(w.len(), 3, "{w:?}"); // bogus, %TITLE, the repeated name
        assert_eq!(
            legacy_fields_method("crm.contact.list").as_deref(),
            Some("crm.contact.fields")
        );
        assert_eq!(legacy_fields_method("crm.item.list"), None);
        assert_eq!(legacy_fields_method("tasks.task.list"), None);
    }
}
