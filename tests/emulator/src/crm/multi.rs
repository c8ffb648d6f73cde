//! Multi-fields (PHONE, EMAIL, WEB, IM, LINK; §6.1).

use super::{Entity, MultiItem, Store};
use crate::api::ApiError;
use crate::php;
use serde_json::Value;

pub(crate) fn valid_email(s: &str) -> bool {
    let Some(at) = s.rfind('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty()
        || !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "=_.+~'!$&*^`|#%/?{}-".contains(c))
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let tld = labels[labels.len() - 1];
    labels[..labels.len() - 1].iter().all(|l| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) && (2..=20).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub(crate) fn multi_label(type_id: &str, vt: &str) -> String {
    let kind = match type_id {
        "PHONE" => "phone",
        "EMAIL" => "e-mail",
        "WEB" => "website",
        "IM" => "messenger",
        _ => "link",
    };
    let adj = match vt {
        "WORK" => "Work",
        "HOME" => "Personal",
        "MOBILE" => "Mobile",
        "FAX" => "Fax",
        "PAGER" => "Pager",
        "MAILING" => "Newsletter",
        _ => "Other",
    };
    format!("{adj} {kind}")
}

/// One item of a multi-field after `tryInternalizeMultiFields`: `id > 0` addresses a stored
/// value, an empty `value` deletes it (also `DELETE=Y`).
struct Change {
    id: u64,
    value_type: String,
    value: String,
}

fn change(type_id: &str, it: &Value) -> Option<Change> {
    if !php::is_array(it) {
        return None;
    }
    let id = php::get(it, "ID").map(php::intval).unwrap_or(0).max(0) as u64;
    let deleted = php::get(it, "DELETE").is_some_and(|d| php::strval(d).eq_ignore_ascii_case("Y"));
    let mut value = php::get(it, "VALUE")
        .map(|x| php::strval(x).trim().to_string())
        .unwrap_or_default();
    if id == 0 && value.is_empty() {
        return None;
    }
    if id > 0 && deleted {
        value.clear();
    }
    let mut value_type = php::get(it, "VALUE_TYPE")
        .map(|x| php::strval(x).trim().to_string())
        .unwrap_or_default();
    if value_type.is_empty() {
        // CCrmFieldMulti::GetDefaultValueType
        value_type = if type_id == "IM" { "OTHER" } else { "WORK" }.to_string();
    }
    Some(Change {
        id,
        value_type,
        value,
    })
}

fn check(type_id: &str, c: &Change) -> Result<(), ApiError> {
    if c.value.is_empty() {
        return Ok(());
    }
    if c.value.chars().count() > 250 {
        return Err(ApiError::core(&format!(
            "The field `{}` is too long (maximum 250 characters)",
            multi_label(type_id, &c.value_type)
        )));
    }
    if type_id == "EMAIL" && !valid_email(&c.value) {
        return Err(ApiError::core(&format!(
            "The field `{}` contains an invalid address",
            multi_label(type_id, &c.value_type)
        )));
    }
    Ok(())
}

impl Store {
    /// Apply one multi-field as `Multifield\Assembler::updateCollectionByArray` does: an empty
    /// value removes the item with that ID; an ID is looked up among all of the entity's items
    /// (`Collection::getById`, any type) and that item gets the new value and VALUE_TYPE but
    /// keeps its type; an unknown ID or none adds a new item unless an equal one exists
    /// (`Collection::add` / `Value::isEqualTo`: type, VALUE_TYPE and VALUE).
    pub(crate) fn apply_multi(
        &mut self,
        type_id: &'static str,
        v: &Value,
        e: &mut Entity,
    ) -> Result<(), ApiError> {
        let Some(list) = php::as_list(v) else {
            return Ok(()); // a non-array multi-field is ignored
        };
        let changes: Vec<Change> = list
            .into_iter()
            .filter_map(|it| change(type_id, it))
            .collect();
        for c in &changes {
            check(type_id, c)?;
        }
        for c in changes {
            self.apply_change(type_id, c, e);
        }
        Ok(())
    }

    fn apply_change(&mut self, type_id: &'static str, c: Change, e: &mut Entity) {
        let pos = (c.id > 0)
            .then(|| e.multi.iter().position(|m| m.id == c.id))
            .flatten();
        if c.value.is_empty() {
            if let Some(pos) = pos {
                e.multi.remove(pos);
            }
            return;
        }
        if let Some(pos) = pos {
            e.multi[pos].value = c.value;
            e.multi[pos].value_type = c.value_type;
            return;
        }
        let equal = e
            .multi
            .iter()
            .any(|m| m.type_id == type_id && m.value_type == c.value_type && m.value == c.value);
        if !equal {
            let id = self.next_multi;
            self.next_multi += 1;
            e.multi.push(MultiItem {
                id,
                type_id,
                value_type: c.value_type,
                value: c.value,
            });
        }
    }
}
