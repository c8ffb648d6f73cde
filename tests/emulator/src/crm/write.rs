//! add / update / delete and the conversion of `fields` into stored values.

use super::schema::FType;
use super::{array_param, entity_id, ki, other, to_map, Entity, Pending, Store};
use crate::api::{ApiError, CallResult, Success};
use crate::php;
use crate::time;
use crate::EntityKind;
use serde_json::{json, Map, Value};

impl Store {
    /// Turn `fields` into entity changes (§3.4 "wrong type" handling: unknown, read-only and
    /// unparseable values are dropped silently).
    pub(crate) fn internalize(
        &mut self,
        kind: EntityKind,
        fields: &Map<String, Value>,
        e: &mut Entity,
        is_add: bool,
        p: &mut Pending,
    ) -> Result<(), ApiError> {
        let schema = self.schema(kind);
        for (key, v) in fields {
            let Some(def) = schema.get(key) else { continue };
            if def.ro || v.is_null() {
                continue;
            }
            let name = def.name.clone();
            match &def.ty {
                FType::Integer | FType::User | FType::Lead => {
                    e.vals
                        .insert(name, Value::String(php::intval(v).to_string()));
                }
                FType::Str | FType::Status(_) | FType::Currency => {
                    e.vals.insert(name, Value::String(php::strval(v)));
                }
                FType::Char => {
                    let y =
                        matches!(v, Value::Bool(true)) || php::strval(v).eq_ignore_ascii_case("Y");
                    e.vals.insert(name, json!(if y { "Y" } else { "N" }));
                }
                FType::Double => {
                    let f = php::strval(v).trim().parse::<f64>().unwrap_or(0.0);
                    e.vals.insert(name, Value::String(format!("{f:.2}")));
                }
                FType::Date => {
                    let s = php::strval(v);
                    if s.is_empty() {
                        e.vals.insert(name, json!(""));
                    } else if let Some(d) = time::parse_date_days(&s) {
                        e.vals.insert(name, Value::String(time::iso_date(d)));
                    }
                }
                FType::UfDateTime | FType::DateTime => {
                    let s = php::strval(v);
                    if s.is_empty() {
                        e.vals.insert(name, json!(""));
                    } else if let Some(t) = time::parse_datetime(&s) {
                        e.vals.insert(name, Value::String(time::iso(t)));
                    }
                }
                FType::File | FType::UfFile => self.apply_file(def, v, e, p),
                FType::Multi(t) => self.apply_multi(t, v, e, is_add)?,
                FType::CompanyIds | FType::ContactIds => {
                    p.links = Some(self.existing_ids(other(kind), v));
                }
                FType::CompanyId => {
                    if fields.contains_key("COMPANY_IDS") {
                        continue; // the full set wins
                    }
                    let n = php::intval(v);
                    if n <= 0 {
                        p.links = Some(vec![]);
                    } else if !e.links.contains(&(n as u64)) {
                        p.links = Some(self.existing_ids(EntityKind::Company, v));
                    }
                }
                FType::UfString => {
                    let val = if def.multiple {
                        let l: Vec<Value> = php::as_list(v)
                            .unwrap_or_else(|| vec![v])
                            .into_iter()
                            .map(php::strval)
                            .filter(|s| !s.is_empty())
                            .map(Value::String)
                            .collect();
                        Value::Array(l)
                    } else {
                        Value::String(php::strval(v))
                    };
                    e.vals.insert(name, val);
                }
                FType::UfEnum(items) => {
                    let check = |s: &str| -> Result<(), ApiError> {
                        if s.is_empty() || items.iter().any(|(id, _)| id == s) {
                            Ok(())
                        } else {
                            Err(ApiError::core(&format!(
                                "Invalid value \"{s}\" of the field \"{}\"",
                                def.name
                            )))
                        }
                    };
                    let val = if def.multiple {
                        let mut l = Vec::new();
                        for x in php::as_list(v).unwrap_or_else(|| vec![v]) {
                            let s = php::strval(x);
                            check(&s)?;
                            if !s.is_empty() {
                                l.push(Value::String(s));
                            }
                        }
                        Value::Array(l)
                    } else {
                        let s = php::strval(v);
                        check(&s)?;
                        Value::String(s)
                    };
                    e.vals.insert(name, val);
                }
            }
        }
        Ok(())
    }

    pub(crate) fn check_required(&self, kind: EntityKind, e: &Entity) -> Result<(), ApiError> {
        let filled = |k: &str| {
            e.vals
                .get(k)
                .map(|v| !php::strval(v).trim().is_empty())
                .unwrap_or(false)
        };
        match kind {
            EntityKind::Contact if !filled("NAME") && !filled("LAST_NAME") => Err(ApiError::core(
                "The field \"First name\" or \"Last name\" is required.",
            )),
            EntityKind::Company if !filled("TITLE") => {
                Err(ApiError::core("The field \"Company name\" is required."))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn commit(&mut self, kind: EntityKind, mut e: Entity, p: Pending) {
        for (id, f) in p.new_files {
            self.files.insert(id, f);
        }
        for id in p.removed_files {
            self.files.remove(&id);
        }
        let id = e.id;
        if let Some(new_links) = p.links {
            let ok = other(kind);
            for o in &e.links {
                if !new_links.contains(o) {
                    if let Some(oe) = self.map_mut(ok).get_mut(o) {
                        oe.links.retain(|x| *x != id);
                    }
                }
            }
            for o in &new_links {
                if let Some(oe) = self.map_mut(ok).get_mut(o) {
                    if !oe.links.contains(&id) {
                        oe.links.push(id);
                    }
                }
            }
            e.links = new_links;
        }
        self.map_mut(kind).insert(id, e);
    }

    pub fn add(&mut self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let empty = Value::Object(Map::new());
        let fields = array_param(params, "fields")?.unwrap_or(&empty);
        let fields = to_map(fields);
        let id = self.next_entity[ki(kind)];
        let now = Value::String(time::iso(time::now_secs()));
        let user = Value::String(self.webhook_user.clone());
        let mut e = Entity {
            id,
            ..Default::default()
        };
        e.vals.insert("ID".into(), Value::String(id.to_string()));
        for (k, v) in [
            ("OPENED", json!("Y")),
            ("ASSIGNED_BY_ID", user.clone()),
            ("CREATED_BY_ID", user.clone()),
            ("MODIFY_BY_ID", user.clone()),
            ("DATE_CREATE", now.clone()),
            ("DATE_MODIFY", now.clone()),
            ("LAST_ACTIVITY_TIME", now),
            ("LAST_ACTIVITY_BY", user),
        ] {
            e.vals.insert(k.into(), v);
        }
        match kind {
            EntityKind::Contact => {
                e.vals.insert("EXPORT".into(), json!("Y"));
            }
            EntityKind::Company => {
                e.vals.insert("IS_MY_COMPANY".into(), json!("N"));
                e.vals.insert("CURRENCY_ID".into(), json!("USD"));
                e.vals.insert("REVENUE".into(), json!("0.00"));
            }
        }
        let mut p = Pending::default();
        self.internalize(kind, &fields, &mut e, true, &mut p)?;
        self.check_required(kind, &e)?;
        self.next_entity[ki(kind)] += 1;
        self.commit(kind, e, p);
        Ok(Success::plain(json!(id)))
    }

    pub fn update(&mut self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let id = entity_id(params)?;
        let empty = Value::Object(Map::new());
        let fields = to_map(array_param(params, "fields")?.unwrap_or(&empty));
        let Some(cur) = self.map(kind).get(&id) else {
            return Err(ApiError::crm(match kind {
                EntityKind::Contact => "Contact is not found",
                EntityKind::Company => "Company is not found",
            }));
        };
        let mut e = cur.clone();
        let mut p = Pending::default();
        self.internalize(kind, &fields, &mut e, false, &mut p)?;
        let touched_required = match kind {
            EntityKind::Contact => fields.contains_key("NAME") || fields.contains_key("LAST_NAME"),
            EntityKind::Company => fields.contains_key("TITLE"),
        };
        if touched_required {
            self.check_required(kind, &e)?;
        }
        e.vals.insert(
            "DATE_MODIFY".into(),
            Value::String(time::iso(time::now_secs())),
        );
        e.vals.insert(
            "MODIFY_BY_ID".into(),
            Value::String(self.webhook_user.clone()),
        );
        self.commit(kind, e, p);
        Ok(Success::plain(json!(true)))
    }

    pub fn delete(&mut self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let id = entity_id(params)?;
        let Some(e) = self.map_mut(kind).remove(&id) else {
            return Err(ApiError::core("Element not found"));
        };
        for o in &e.links {
            if let Some(oe) = self.map_mut(other(kind)).get_mut(o) {
                oe.links.retain(|x| *x != id);
            }
        }
        for v in e.vals.values() {
            // File fields hold numbers; other values are strings or string arrays.
            match v {
                Value::Number(n) => {
                    if let Some(f) = n.as_u64() {
                        self.files.remove(&f);
                    }
                }
                Value::Array(a) => {
                    for f in a.iter().filter_map(|x| x.as_u64()) {
                        self.files.remove(&f);
                    }
                }
                _ => {}
            }
        }
        Ok(Success::plain(json!(true)))
    }
}
