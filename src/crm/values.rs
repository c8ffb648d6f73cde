//! Values of list (enumeration) fields. The portal stores whatever a write gives a list field:
//! `main/lib/userfield/types/enumtype.php` `checkFields` does not check the value against the
//! field's items, so a wrong ID, or a bank given by its name as 1C holds it, is stored silently
//! and shows as nothing in Bitrix24. The field list (`crm.*.fields`, cached) carries each list
//! field's `items` (`{"ID","VALUE"}`), so a label is sent as its item's ID and a value the items
//! do not hold is reported before anything is sent.

use serde_json::{Map, Value};

/// How many items a warning lists.
const SHOWN_ITEMS: usize = 8;

/// Replaces the labels given to list fields by their item IDs; returns a problem per value the
/// items do not hold (or that names several items). `""` (clear) and non-list fields are left
/// alone.
pub fn map_enumerations(
    known: &Map<String, Value>,
    fields: &mut Map<String, Value>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, value) in fields.iter_mut() {
        let Some(items) = enumeration_items(known, key) else {
            continue;
        };
        match value {
            Value::Array(list) => {
                for v in list.iter_mut() {
                    map_one(key, items, v, &mut problems);
                }
            }
            v => map_one(key, items, v, &mut problems),
        }
    }
    problems
}

/// The `items` of a list field, if `key` is one.
fn enumeration_items<'a>(known: &'a Map<String, Value>, key: &str) -> Option<&'a [Value]> {
    let info = known.get(key)?;
    if info.get("type").and_then(Value::as_str) != Some("enumeration") {
        return None;
    }
    info.get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
}

fn map_one(key: &str, items: &[Value], v: &mut Value, problems: &mut Vec<String>) {
    let given = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return,
    };
    if given.is_empty() {
        return;
    }
    let text = |it: &Value, k: &str| match it.get(k) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if items.iter().any(|it| text(it, "ID") == given) {
        return;
    }
    let wanted = given.to_lowercase();
    let by_label: Vec<String> = items
        .iter()
        .filter(|it| text(it, "VALUE").to_lowercase() == wanted)
        .map(|it| text(it, "ID"))
        .collect();
    match by_label.as_slice() {
        [id] => *v = Value::String(id.clone()),
        [] => problems.push(format!(
            "{key}: {given:?} is neither an item ID nor an item name of the list ({}); the portal \
             would store it without a word and show nothing",
            shown(items)
        )),
        many => problems.push(format!(
            "{key}: the name {given:?} belongs to several items ({}); give the ID",
            many.join(", ")
        )),
    }
}

/// The first items as `ID name`, for a message.
fn shown(items: &[Value]) -> String {
    let parts = items.iter().map(|it| {
        let id = it.get("ID").map(Value::to_string).unwrap_or_default();
        let name = it.get("VALUE").and_then(Value::as_str).unwrap_or("");
        format!("{} {name}", id.trim_matches('"'))
    });
    shown_items(parts, items.len())
}

/// The first items of a list (`ID name` each), for a warning: "it has no items" when empty, an
/// "… N in all" tail when there are more than [`SHOWN_ITEMS`].
pub(super) fn shown_items(parts: impl Iterator<Item = String>, count: usize) -> String {
    let mut parts: Vec<String> = parts.take(SHOWN_ITEMS).collect();
    if count > SHOWN_ITEMS {
        parts.push(format!("… {count} in all"));
    }
    if parts.is_empty() {
        return "it has no items".into();
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_become_ids_and_strangers_are_named() {
        let known = json!({
            "UF_BANK": {"type": "enumeration", "items": [
                {"ID": "460", "VALUE": "Ameriabank"}, {"ID": "464", "VALUE": "Inecobank"},
                {"ID": "470", "VALUE": "Twin"}, {"ID": "471", "VALUE": "twin"}]},
            "UF_MANY": {"type": "enumeration", "isMultiple": true, "items": [
                {"ID": "1", "VALUE": "A"}, {"ID": "2", "VALUE": "B"}]},
            "NAME": {"type": "string"},
        });
        let known = known.as_object().unwrap();
        let mut f =
            json!({"UF_BANK": " inecobank ", "UF_MANY": ["B", 1, "Z"], "NAME": "Inecobank"})
                .as_object()
                .unwrap()
                .clone();
        let problems = map_enumerations(known, &mut f);
        assert_eq!(f["UF_BANK"], json!("464"));
        assert_eq!(f["UF_MANY"], json!(["2", 1, "Z"]));
        assert_eq!(f["NAME"], json!("Inecobank"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("UF_MANY") && problems[0].contains("\"Z\""));
        let mut f = json!({"UF_BANK": "twin"}).as_object().unwrap().clone();
        assert!(map_enumerations(known, &mut f)[0].contains("several items"));
        let mut f = json!({"UF_BANK": 999, "UF_MANY": ""})
            .as_object()
            .unwrap()
            .clone();
        let p = map_enumerations(known, &mut f);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("460 Ameriabank"), "{p:?}");
    }
}
