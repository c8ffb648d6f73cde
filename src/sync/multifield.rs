//! Multi-field replace: make PHONE, EMAIL, ... exactly a given list.

use crate::client::Client;
use crate::crm::{self, Entity};
use crate::error::Error;
use serde_json::{json, Value};

pub use crate::crm::MULTI_FIELDS;

/// What a replace did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replaced {
    /// Items kept as they were.
    pub kept: usize,
    /// Items overwritten in place (by ID).
    pub changed: usize,
    /// Items added.
    pub added: usize,
    /// Items deleted.
    pub deleted: usize,
}

/// A wanted item: (VALUE, VALUE_TYPE).
type Wanted = (String, String);

/// An item on the portal: (ID, VALUE, VALUE_TYPE).
type Current = (Value, String, String);

/// Makes `field` (PHONE, EMAIL, ...) of the entity exactly `values`: strings, or
/// `{"VALUE": ..., "VALUE_TYPE": ...}` objects (VALUE_TYPE defaults to WORK, OTHER for IM).
/// One get, then one update that overwrites, adds and deletes items by ID; none when nothing
/// changes. Duplicate values in `values` are collapsed (the portal would merge them anyway).
pub fn replace_multifield(
    client: &Client,
    entity: Entity,
    id: i64,
    field: &str,
    values: &Value,
) -> Result<Replaced, Error> {
    crm::check_id(id)?;
    let field = field.trim().to_ascii_uppercase();
    if !MULTI_FIELDS.contains(&field.as_str()) {
        return Err(Error::invalid_input(
            "INVALID_FIELD",
            format!(
                "{field:?} is not a multi-field ({})",
                MULTI_FIELDS.join(", ")
            ),
        ));
    }
    let default_type = if field == "IM" { "OTHER" } else { "WORK" };
    let desired = wanted_items(values, default_type)?;
    let entity_now = crm::by_id(client, entity, "get", id)?.value()?;
    let (ops, out) = plan_ops(&desired, &current_items(&entity_now, &field));
    if !ops.is_empty() {
        client.call(
            &entity.method("update"),
            &json!({"id": id, "fields": { field: ops }}),
        )?;
    }
    Ok(out)
}

/// The caller's list, validated, with default types and without duplicates.
fn wanted_items(values: &Value, default_type: &str) -> Result<Vec<Wanted>, Error> {
    let Value::Array(items) = values else {
        return Err(Error::invalid_input(
            "INVALID_VALUES",
            "values must be a JSON array",
        ));
    };
    let mut desired: Vec<Wanted> = Vec::new();
    for item in items {
        let (value, vtype) = match item {
            Value::String(s) => (s.trim().to_string(), default_type.to_string()),
            Value::Object(o) => (
                o.get("VALUE")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                o.get("VALUE_TYPE")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .unwrap_or(default_type)
                    .to_ascii_uppercase(),
            ),
            _ => {
                return Err(Error::invalid_input(
                    "INVALID_VALUES",
                    "each value must be a string or {\"VALUE\",\"VALUE_TYPE\"}",
                ))
            }
        };
        if value.is_empty() {
            return Err(Error::invalid_input(
                "INVALID_VALUES",
                "values must not be empty",
            ));
        }
        if !desired.contains(&(value.clone(), vtype.clone())) {
            desired.push((value, vtype));
        }
    }
    Ok(desired)
}

/// The items of `field` in a `get` answer.
fn current_items(entity: &Value, field: &str) -> Vec<Current> {
    let text = |it: &Value, k: &str| it.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    entity
        .get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|it| {
                    let id = it.get("ID").cloned().unwrap_or(Value::Null);
                    (id, text(it, "VALUE"), text(it, "VALUE_TYPE"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The update items that turn `current` into `desired`: equal items are kept, the others are
/// overwritten by ID, added, or deleted (empty VALUE).
fn plan_ops(desired: &[Wanted], current: &[Current]) -> (Vec<Value>, Replaced) {
    let mut used = vec![false; current.len()];
    let mut pending: Vec<&Wanted> = Vec::new();
    let mut out = Replaced::default();
    for d in desired {
        match current
            .iter()
            .enumerate()
            .position(|(i, c)| !used[i] && c.1 == d.0 && c.2.eq_ignore_ascii_case(&d.1))
        {
            Some(i) => {
                used[i] = true;
                out.kept += 1;
            }
            None => pending.push(d),
        }
    }
    let mut ops = Vec::new();
    let mut free = current
        .iter()
        .enumerate()
        .filter(|(i, _)| !used[*i])
        .map(|(_, c)| c);
    for d in pending {
        match free.next() {
            Some(c) => {
                ops.push(json!({"ID": c.0, "VALUE": d.0, "VALUE_TYPE": d.1}));
                out.changed += 1;
            }
            None => {
                ops.push(json!({"VALUE": d.0, "VALUE_TYPE": d.1}));
                out.added += 1;
            }
        }
    }
    for c in free {
        ops.push(json!({"ID": c.0, "VALUE": ""}));
        out.deleted += 1;
    }
    (ops, out)
}
