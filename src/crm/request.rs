//! A write request: the caller's fields and params, link aliases mapped, `null` made explicit.

use super::multi::{exact_values, multi_field_name, wanted_items, ExactField, MULTI_FIELDS};
use super::Entity;
use crate::error::Error;
use crate::files::{self, FileRef};
use serde_json::{json, Map, Value};

/// A write request split into Bitrix's `fields` and `params`, with the library's warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRequest {
    /// The entity's fields, link aliases already mapped.
    pub fields: Map<String, Value>,
    /// Bitrix's `params` (`REGISTER_SONET_EVENT`, ...), if given.
    pub params: Option<Value>,
    /// Files given by path (`{"filePath": ...}`), spliced into the body when it is sent.
    pub files: Vec<FileRef>,
    /// Keys sent only when the record is added, never on an update (`"create_only"` beside
    /// `"fields"`): a responsible person set at creation, say, that managers may change later.
    pub create_only: Vec<String>,
    /// Multi-fields made exactly their given lists (`"exact": ["PHONE", ...]` beside
    /// `"fields"`), taken out of `fields`: sent only through [`WriteRequest::resolve_exact`].
    pub exact: Vec<ExactField>,
    /// An exact field given an empty list deletes every item (`"exact_clears": true`); by
    /// default it is left as it is.
    pub exact_clears: bool,
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
        let mut exact_names = Vec::new();
        let mut exact_clears = false;
        let (mut fields, params, create_only) = match obj.remove("fields") {
            Some(Value::Object(f)) => {
                let params = obj.remove("params");
                let create_only = create_only_keys(entity, obj.remove("create_only"))?;
                exact_names = exact_keys(obj.remove("exact"))?;
                exact_clears = match obj.remove("exact_clears") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => b,
                    Some(_) => {
                        return Err(Error::invalid_input(
                            "INVALID_FIELDS",
                            "\"exact_clears\" must be true or false",
                        ))
                    }
                };
                if let Some(k) = obj.keys().next() {
                    return Err(Error::invalid_input(
                        "INVALID_FIELDS",
                        format!("unexpected key {k:?} next to \"fields\" (only \"fields\", \"params\", \"create_only\", \"exact\" and \"exact_clears\" are allowed there)"),
                    ));
                }
                if params.as_ref().is_some_and(|p| !p.is_object()) {
                    return Err(Error::invalid_input(
                        "INVALID_FIELDS",
                        "\"params\" must be a JSON object",
                    ));
                }
                (f, params, create_only)
            }
            Some(_) => {
                return Err(Error::invalid_input(
                    "INVALID_FIELDS",
                    "\"fields\" must be a JSON object",
                ))
            }
            None => (obj, None, Vec::new()),
        };
        let mut exact = Vec::with_capacity(exact_names.len());
        for name in exact_names {
            let given = fields.remove(&name).unwrap_or(Value::Null);
            let wanted = wanted_items(&name, &given)?;
            exact.push(ExactField { name, wanted });
        }
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
                let v = clearing_null(&k, v)?;
                out.insert(k, v);
            }
        }
        let files = files::extract(&mut out)?;
        Ok(WriteRequest {
            fields: out,
            params,
            files,
            create_only,
            exact,
            exact_clears,
        })
    }

    /// The request to send, its exact fields resolved against the entity as it is now
    /// (`current`, from a `get` or a list that selected them; `None` for an add).
    pub fn resolve_exact(&self, current: Option<&Value>) -> WriteRequest {
        let mut out = self.clone();
        out.fields
            .extend(exact_values(&self.exact, self.exact_clears, current));
        out.exact.clear();
        out
    }

    /// Takes the `ID` key out of the fields: in an upsert it is the Bitrix ID the record had at
    /// the last sync (the portal would drop it as read-only anyway). A value that is not a
    /// positive integer is `INVALID_FIELDS`.
    pub fn take_known_id(&mut self) -> Result<Option<i64>, Error> {
        let Some(v) = self.fields.remove("ID") else {
            return Ok(None);
        };
        let id = match &v {
            Value::Null => return Ok(None),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match id.filter(|id| *id > 0) {
            Some(id) => Ok(Some(id)),
            None => Err(Error::invalid_input(
                "INVALID_FIELDS",
                "ID (the Bitrix ID from the last sync) must be a positive integer",
            )),
        }
    }

    /// The JSON body for `add` (`id` = None) or `update`, files spliced in.
    pub fn to_body(&self, id: Option<i64>) -> Result<bytes::Bytes, Error> {
        Ok(files::serialize(&self.to_params(id), &self.files)?.into())
    }

    /// The Bitrix parameters for `add` (`id` = None) or `update` (file markers not expanded); an
    /// update leaves the create-only keys out.
    pub fn to_params(&self, id: Option<i64>) -> Value {
        let mut p = Map::new();
        let mut fields = self.fields.clone();
        if let Some(id) = id {
            p.insert("id".into(), json!(id));
            fields.retain(|k, _| !self.create_only.contains(k));
        }
        p.insert("fields".into(), Value::Object(fields));
        if let Some(params) = &self.params {
            p.insert("params".into(), params.clone());
        }
        Value::Object(p)
    }
}

/// The `"exact"` list: multi-field names, upper-cased, each once.
fn exact_keys(v: Option<Value>) -> Result<Vec<String>, Error> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) if a.len() <= 16 => a,
        Some(_) => {
            return Err(Error::invalid_input(
                "INVALID_FIELDS",
                "\"exact\" must be a list of multi-field names (PHONE, EMAIL, WEB, IM, LINK)",
            ))
        }
    };
    let mut out: Vec<String> = Vec::new();
    for k in items {
        let name = multi_field_name(k.as_str().unwrap_or(""))?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The `"create_only"` list: field codes (the spec's link aliases mapped like the fields).
fn create_only_keys(entity: Entity, v: Option<Value>) -> Result<Vec<String>, Error> {
    let bad = || {
        Error::invalid_input(
            "INVALID_FIELDS",
            "\"create_only\" must be a list of field names",
        )
    };
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) if a.len() <= 1000 => a,
        Some(_) => return Err(bad()),
    };
    let (alias, real) = entity.link_alias();
    items
        .into_iter()
        .map(|k| match k {
            Value::String(k) if k == alias => Ok(real.to_string()),
            Value::String(k) if !k.is_empty() && k.len() <= 64 => Ok(k),
            _ => Err(bad()),
        })
        .collect()
}

/// `null` means "clear the field", whichever path sends it: it goes as `""`. The portal casts a
/// JSON `null` to `''` only for some field types (`CCrmRestProxyBase::internalizeFields`), and a
/// batch's query string cannot carry `null` at all (PHP drops it, so the field would stay as it
/// was); `""` clears in both. A multi-field item can only be removed by its ID, so `null` there
/// is refused rather than silently doing nothing.
fn clearing_null(key: &str, v: Value) -> Result<Value, Error> {
    match v {
        Value::Null if MULTI_FIELDS.contains(&key) => Err(Error::invalid_input(
            "INVALID_FIELDS",
            format!("{key}: null cannot clear a multi-field; set it to an empty list with b24_set_contact_multifield / b24_set_company_multifield"),
        )),
        Value::Null => Ok(Value::String(String::new())),
        v => Ok(v),
    }
}

/// PHP's truthiness, as `(bool)$params['IMPORT']` sees a decoded JSON value: `"N"` is true.
fn php_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty() && s != "0",
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

impl WriteRequest {
    /// `params.IMPORT` turns import mode on, as the portal reads it: any value PHP deems true,
    /// including `"N"`.
    pub fn is_import(&self) -> bool {
        self.params
            .as_ref()
            .and_then(|p| p.get("IMPORT"))
            .is_some_and(php_truthy)
    }

    /// A warning when `params.IMPORT` reads as "on" to the portal but looks like "off".
    pub(super) fn import_warning(&self) -> Option<String> {
        let v = self.params.as_ref()?.get("IMPORT")?;
        let looks_off = matches!(
            v.as_str().map(str::to_ascii_uppercase).as_deref(),
            Some("N" | "NO" | "FALSE")
        );
        (looks_off && php_truthy(v)).then(|| {
            format!("params.IMPORT = {v} turns import mode ON on the portal (only \"\", \"0\", 0 and false are off)")
        })
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
}
