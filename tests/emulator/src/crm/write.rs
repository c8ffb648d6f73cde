//! add / update / delete and the conversion of `fields` into stored values.

use super::{array_param, entity_id, ki, other, to_map, values, Entity, Pending, Store};
use crate::api::{ApiError, CallResult, Success};
use crate::php;
use crate::time;
use crate::EntityKind;
use serde_json::{json, Map, Value};

impl Store {
    /// `update` error when a write empties the required names (code `""`, RestException).
    /// Contact: `Field\LastName::processLogic` (factory path) — NAME and LAST_NAME both empty
    /// after an update that touched one of them. Company: `CCrmCompany::CheckFields` — TITLE
    /// given and empty.
    fn check_update_names(
        kind: EntityKind,
        fields: &Map<String, Value>,
        e: &Entity,
    ) -> Result<(), ApiError> {
        let filled = |k: &str| {
            e.vals
                .get(k)
                .is_some_and(|v| !php::strval(v).trim().is_empty())
        };
        match kind {
            EntityKind::Contact
                if (fields.contains_key("NAME") || fields.contains_key("LAST_NAME"))
                    && !filled("NAME")
                    && !filled("LAST_NAME") =>
            {
                Err(ApiError::crm(
                    "The field \"First name\" or \"Last name\" is required.",
                ))
            }
            EntityKind::Company if fields.contains_key("TITLE") && !filled("TITLE") => {
                Err(ApiError::crm("The field \"Company name\" is required."))
            }
            _ => Ok(()),
        }
    }

    /// `add` without names: `CCrmContact::Add` sets LAST_NAME to `GetDefaultTitle($ID)`
    /// ("Contact #ID"), `CCrmCompany::Add` sets TITLE to `GetAutoTitle($ID)` ("Company #ID").
    fn default_names(kind: EntityKind, e: &mut Entity) {
        let filled = |e: &Entity, k: &str| {
            e.vals
                .get(k)
                .is_some_and(|v| !php::strval(v).trim().is_empty())
        };
        match kind {
            EntityKind::Contact if !filled(e, "NAME") && !filled(e, "LAST_NAME") => {
                e.vals
                    .insert("LAST_NAME".into(), json!(format!("Contact #{}", e.id)));
            }
            EntityKind::Company if !filled(e, "TITLE") => {
                e.vals
                    .insert("TITLE".into(), json!(format!("Company #{}", e.id)));
            }
            _ => {}
        }
    }

    /// Status fields with `CCrmFieldInfoAttr::HasDefaultValue` get the first status of their
    /// list when empty on add (`Field::processLogic`, `FieldRepository::getDefaultStatusIdResolver`;
    /// the first factory statuses of `CCrmStatus::GetDefault*`).
    fn status_defaults(kind: EntityKind, e: &mut Entity) {
        let defaults: &[(&str, &str)] = match kind {
            EntityKind::Contact => &[("TYPE_ID", "CLIENT"), ("SOURCE_ID", "CALL")],
            EntityKind::Company => &[
                ("COMPANY_TYPE", "CUSTOMER"),
                ("INDUSTRY", "IT"),
                ("EMPLOYEES", "EMPLOYEES_1"),
            ],
        };
        for (k, d) in defaults {
            if e.vals.get(*k).is_none_or(|v| php::strval(v).is_empty()) {
                e.vals.insert((*k).into(), json!(d));
            }
        }
    }

    /// Entity defaults before `fields` apply (`CCrmContact::Add` / `CCrmCompany::Add`).
    fn new_entity(&self, kind: EntityKind, id: u64) -> Entity {
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
        e
    }

    /// User IDs ≤ 0 fall back to the current user (`CCrmContact::Add`: "isset && > 0").
    fn fix_user_ids(&self, e: &mut Entity) {
        for k in ["CREATED_BY_ID", "MODIFY_BY_ID", "ASSIGNED_BY_ID"] {
            if e.vals.get(k).is_none_or(|v| php::intval(v) <= 0) {
                e.vals.insert(k.into(), json!(self.webhook_user));
            }
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
        let (fields, mparams) = write_params(params)?;
        let id = self.next_entity[ki(kind)];
        let mut e = self.new_entity(kind, id);
        let mut p = Pending::default();
        let import = values::import_mode(mparams.as_ref());
        self.internalize(kind, &fields, &mut e, import, &mut p)?;
        self.fix_user_ids(&mut e);
        Self::status_defaults(kind, &mut e);
        Self::default_names(kind, &mut e);
        self.next_entity[ki(kind)] += 1;
        self.commit(kind, e, p);
        Ok(Success::plain(json!(id)))
    }

    pub fn update(&mut self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let id = entity_id(params)?;
        let (fields, _) = write_params(params)?;
        let Some(cur) = self.map(kind).get(&id) else {
            return Err(ApiError::crm(match kind {
                EntityKind::Contact => "Contact is not found",
                EntityKind::Company => "Company is not found",
            }));
        };
        let mut e = cur.clone();
        let mut p = Pending::default();
        self.internalize(kind, &fields, &mut e, false, &mut p)?;
        Self::check_update_names(kind, &fields, &e)?;
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

/// `fields` and `params` of add/update: both must be arrays when given
/// (`CCrmRestProxyBase::processMethodRequest`, "Parameter 'params' must be array."); `fields`
/// defaults to `{}`.
fn write_params(
    params: &Map<String, Value>,
) -> Result<(Map<String, Value>, Option<Value>), ApiError> {
    let fields = array_param(params, "fields")?
        .map(to_map)
        .unwrap_or_default();
    let mparams = array_param(params, "params")?.cloned();
    Ok((fields, mparams))
}
