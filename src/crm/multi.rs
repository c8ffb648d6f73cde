//! Multi-field items (PHONE, EMAIL, WEB, IM, LINK): making a field exactly a given list.
//!
//! The portal keeps a multi-field's items by ID: an update's item without an ID is added, one
//! with an ID and an empty VALUE is deleted (`Multifield/Collection.php`), so "these phones
//! exactly" needs the current items first, then an update that overwrites, adds and deletes by
//! ID. An item that already holds a wanted value is kept as it is: a phone is the same phone
//! whatever its formatting (digits compared), an e-mail whatever its case.

use crate::error::Error;
use serde_json::{json, Map, Value};

/// The multi-fields whose items carry IDs.
pub const MULTI_FIELDS: [&str; 5] = ["PHONE", "EMAIL", "WEB", "IM", "LINK"];

/// A wanted item: (VALUE, VALUE_TYPE).
pub(crate) type Wanted = (String, String);

/// An item on the portal: (ID, VALUE, VALUE_TYPE).
type Current = (Value, String, String);

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

/// A multi-field whose list a write makes exact (`"exact": ["PHONE", ...]` beside `"fields"`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExactField {
    /// PHONE, EMAIL, ...
    pub name: String,
    /// The items it must hold, validated, duplicates collapsed.
    pub wanted: Vec<Wanted>,
}

/// The field's name, upper-cased, if it is a multi-field; else `INVALID_FIELD`.
pub(crate) fn multi_field_name(field: &str) -> Result<String, Error> {
    let field = field.trim().to_ascii_uppercase();
    if MULTI_FIELDS.contains(&field.as_str()) {
        return Ok(field);
    }
    Err(Error::invalid_input(
        "INVALID_FIELD",
        format!(
            "{field:?} is not a multi-field ({})",
            MULTI_FIELDS.join(", ")
        ),
    ))
}

/// The caller's list for `field`, validated, with default types (WORK, OTHER for IM) and
/// without duplicates. `null` is the empty list.
pub(crate) fn wanted_items(field: &str, values: &Value) -> Result<Vec<Wanted>, Error> {
    let default_type = if field == "IM" { "OTHER" } else { "WORK" };
    let items = match values {
        Value::Array(items) => items.as_slice(),
        Value::Null => &[],
        _ => {
            return Err(Error::invalid_input(
                "INVALID_VALUES",
                format!("{field}: values must be a JSON array"),
            ))
        }
    };
    let mut desired: Vec<Wanted> = Vec::new();
    for item in items {
        let (value, vtype) = wanted_item(field, item, default_type)?;
        if !desired
            .iter()
            .any(|d| same_value(field, &d.0, &value) && d.1 == vtype)
        {
            desired.push((value, vtype));
        }
    }
    Ok(desired)
}

fn wanted_item(field: &str, item: &Value, default_type: &str) -> Result<Wanted, Error> {
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
                format!("{field}: each value must be a string or {{\"VALUE\",\"VALUE_TYPE\"}}"),
            ))
        }
    };
    if value.is_empty() {
        return Err(Error::invalid_input(
            "INVALID_VALUES",
            format!("{field}: values must not be empty"),
        ));
    }
    Ok((value, vtype))
}

/// Whether two values are the same item's: phones by their digits (the portal stores a phone
/// as typed, so "+374 10 123456" and "+37410123456" are one number), e-mails ignoring case.
fn same_value(field: &str, a: &str, b: &str) -> bool {
    match field {
        "PHONE" => {
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
            let (da, db) = (digits(a), digits(b));
            if da.is_empty() {
                a == b
            } else {
                da == db
            }
        }
        "EMAIL" => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

/// The items of `field` in an entity as `get` or a list with it selected returns it.
pub(crate) fn current_items(entity: &Value, field: &str) -> Vec<Current> {
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
pub(crate) fn plan_ops(
    field: &str,
    desired: &[Wanted],
    current: &[Current],
) -> (Vec<Value>, Replaced) {
    let mut used = vec![false; current.len()];
    let mut pending: Vec<&Wanted> = Vec::new();
    let mut out = Replaced::default();
    for d in desired {
        let same = |(i, c): &(usize, &Current)| {
            !used[*i] && same_value(field, &c.1, &d.0) && c.2.eq_ignore_ascii_case(&d.1)
        };
        match current.iter().enumerate().find(same).map(|(i, _)| i) {
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

/// The fields that make each exact field hold its list: on an add (`current` = None) the list
/// itself; on an update the items that turn the entity's current ones into it (nothing when
/// they already match). An empty list deletes every item only when `clears` says so; else the
/// field is left as it is, so a 1C object without phones never wipes what managers entered.
pub(crate) fn exact_values(
    exact: &[ExactField],
    clears: bool,
    current: Option<&Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for f in exact {
        if f.wanted.is_empty() && !clears {
            continue;
        }
        let ops = match current {
            None => f
                .wanted
                .iter()
                .map(|(v, t)| json!({"VALUE": v, "VALUE_TYPE": t}))
                .collect(),
            Some(entity) => plan_ops(&f.name, &f.wanted, &current_items(entity, &f.name)).0,
        };
        if !ops.is_empty() {
            out.insert(f.name.clone(), Value::Array(ops));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_is_the_same_whatever_its_formatting() {
        let current = json!({"PHONE": [
            {"ID": "1", "VALUE": "+374 (10) 12-34-56", "VALUE_TYPE": "WORK"},
            {"ID": "2", "VALUE": "+37499000000", "VALUE_TYPE": "MOBILE"},
        ]});
        let exact = [ExactField {
            name: "PHONE".into(),
            wanted: wanted_items("PHONE", &json!(["+37410123456"])).unwrap(),
        }];
        let v = exact_values(&exact, false, Some(&current));
        // The formatted one is kept (no op), the other deleted.
        assert_eq!(v["PHONE"], json!([{"ID": "2", "VALUE": ""}]));
        // Already exact: nothing to send.
        let exact = [ExactField {
            name: "PHONE".into(),
            wanted: wanted_items(
                "PHONE",
                &json!(["+374 10 123456", {"VALUE": "+37499000000", "VALUE_TYPE": "mobile"}]),
            )
            .unwrap(),
        }];
        assert!(exact_values(&exact, false, Some(&current)).is_empty());
    }

    #[test]
    fn an_empty_list_deletes_only_when_asked() {
        let current = json!({"EMAIL": [{"ID": "7", "VALUE": "a@b.am", "VALUE_TYPE": "WORK"}]});
        let exact = [ExactField {
            name: "EMAIL".into(),
            wanted: vec![],
        }];
        assert!(exact_values(&exact, false, Some(&current)).is_empty());
        let v = exact_values(&exact, true, Some(&current));
        assert_eq!(v["EMAIL"], json!([{"ID": "7", "VALUE": ""}]));
        // Duplicates differing in case collapse.
        let w = wanted_items("EMAIL", &json!(["A@b.am", "a@B.am"])).unwrap();
        assert_eq!(w.len(), 1);
    }
}
