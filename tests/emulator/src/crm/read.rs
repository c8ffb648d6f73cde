//! Output of stored entities (`get`, list rows).

use super::list::Selection;
use super::schema::{FType, FieldDef};
use super::{entity_id, Entity, Store};
use crate::api::{ApiError, CallResult, Success};
use crate::php;
use crate::EntityKind;
use serde_json::{json, Map, Value};

impl Store {
    pub fn get(&self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let id = entity_id(params)?;
        match self.map(kind).get(&id) {
            Some(e) => Ok(Success::plain(self.externalize(kind, e, None))),
            None => Err(ApiError::crm("Not found")),
        }
    }

    /// `crm.X.get` output read directly.
    /// Also carries the full link set (`COMPANY_IDS` / `CONTACT_ID`, strings) for inspection,
    /// which the HTTP `get` leaves to `*.items.get`.
    pub fn get_value(&self, kind: EntityKind, id: u64) -> Option<Value> {
        let e = self.map(kind).get(&id)?;
        let mut v = self.externalize(kind, e, None);
        let key = match kind {
            EntityKind::Contact => "COMPANY_IDS",
            EntityKind::Company => "CONTACT_ID",
        };
        let links: Vec<Value> = e
            .links
            .iter()
            .map(|l| Value::String(l.to_string()))
            .collect();
        if let Value::Object(m) = &mut v {
            m.insert(key.into(), Value::Array(links));
        }
        Some(v)
    }

    pub(crate) fn field_out(&self, kind: EntityKind, e: &Entity, d: &FieldDef) -> Option<Value> {
        let v = e.vals.get(&d.name);
        Some(match &d.ty {
            FType::Multi(t) => {
                let l: Vec<Value> = e
                    .multi
                    .iter()
                    .filter(|m| m.type_id == *t)
                    .map(|m| {
                        json!({"ID": m.id.to_string(), "VALUE_TYPE": m.value_type, "VALUE": m.value, "TYPE_ID": m.type_id})
                    })
                    .collect();
                if l.is_empty() {
                    return None;
                }
                Value::Array(l)
            }
            FType::Char if d.name.starts_with("HAS_") => {
                let t = match d.name.as_str() {
                    "HAS_PHONE" => "PHONE",
                    "HAS_EMAIL" => "EMAIL",
                    _ => "IM",
                };
                let has = e.multi.iter().any(|m| {
                    m.type_id == t
                        && (t != "IM" || m.value_type == "OPENLINE" || m.value_type == "IMOL")
                });
                json!(if has { "Y" } else { "N" })
            }
            FType::CompanyId => match e.links.first() {
                Some(c) => Value::String(c.to_string()),
                None => Value::Null,
            },
            FType::CompanyIds | FType::ContactIds => return None,
            FType::File | FType::UfFile => match v {
                Some(Value::Number(n)) => {
                    self.file_obj(kind, e.id, &d.name, n.as_u64().unwrap_or(0))
                }
                Some(Value::Array(a)) if !a.is_empty() => Value::Array(
                    a.iter()
                        .filter_map(|x| x.as_u64())
                        .map(|f| self.file_obj(kind, e.id, &d.name, f))
                        .collect(),
                ),
                // Empty multiple user fields read back as `false` (§6.1).
                _ if d.multiple => json!(false),
                _ if d.dynamic() => json!(""),
                _ => Value::Null,
            },
            FType::Date => v.cloned().unwrap_or(json!("")),
            _ if d.multiple => match v {
                Some(Value::Array(a)) if !a.is_empty() => Value::Array(a.clone()),
                _ => json!(false),
            },
            // A never-set single user field reads `""` (the UF value is absent, not NULL).
            _ if d.dynamic() => v.cloned().unwrap_or(json!("")),
            _ => v.cloned().unwrap_or(Value::Null),
        })
    }

    pub(crate) fn externalize(
        &self,
        kind: EntityKind,
        e: &Entity,
        sel: Option<&Selection>,
    ) -> Value {
        let schema = self.schema(kind);
        let mut out = Map::new();
        for d in &schema.defs {
            if let Some(sel) = sel {
                if !sel.wants(d) {
                    continue;
                }
            } else if d.hidden_in_get() {
                continue;
            }
            if let Some(v) = self.field_out(kind, e, d) {
                out.insert(d.name.clone(), v);
            }
        }
        Value::Object(out)
    }

    /// Values of a field as strings for filtering/sorting (empty = NULL).
    pub(crate) fn field_vals(&self, e: &Entity, d: &FieldDef) -> Vec<String> {
        match &d.ty {
            FType::Multi(t) => e
                .multi
                .iter()
                .filter(|m| m.type_id == *t)
                .map(|m| m.value.clone())
                .collect(),
            // `COMPANY_ID` is the contact's primary-company column (`CCrmContact::GetFields`
            // maps it to `L.COMPANY_ID`).
            FType::CompanyId => e.links.first().map(|x| x.to_string()).into_iter().collect(),
            FType::CompanyIds | FType::ContactIds => {
                e.links.iter().map(|x| x.to_string()).collect()
            }
            FType::Char if d.name.starts_with("HAS_") => {
                let v = self.field_out(EntityKind::Contact, e, d);
                vec![v.map(|x| php::strval(&x)).unwrap_or_default()]
            }
            _ => match e.vals.get(&d.name) {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a.iter().map(php::strval).collect(),
                Some(v) => vec![php::strval(v)],
            },
        }
    }
}
