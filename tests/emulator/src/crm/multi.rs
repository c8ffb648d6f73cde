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

impl Store {
    pub(crate) fn apply_multi(
        &mut self,
        type_id: &'static str,
        v: &Value,
        e: &mut Entity,
        is_add: bool,
    ) -> Result<(), ApiError> {
        let Some(list) = php::as_list(v) else {
            return Ok(()); // a non-array multi-field is ignored
        };
        for it in list {
            if !php::is_array(it) {
                continue;
            }
            let id = php::get(it, "ID").map(php::intval).unwrap_or(0);
            let delete = php::get(it, "DELETE")
                .map(|d| php::strval(d).eq_ignore_ascii_case("Y"))
                .unwrap_or(false);
            let value = if delete {
                String::new()
            } else {
                php::get(it, "VALUE")
                    .map(|x| php::strval(x).trim().to_string())
                    .unwrap_or_default()
            };
            let mut vt = php::get(it, "VALUE_TYPE")
                .map(|x| php::strval(x).trim().to_string())
                .unwrap_or_default();
            if vt.is_empty() {
                vt = if type_id == "IM" { "OTHER" } else { "WORK" }.to_string();
            }
            if !value.is_empty() {
                if value.chars().count() > 250 {
                    return Err(ApiError::core(&format!(
                        "The field `{}` is too long (maximum 250 characters)",
                        multi_label(type_id, &vt)
                    )));
                }
                if type_id == "EMAIL" && !valid_email(&value) {
                    return Err(ApiError::core(&format!(
                        "The field `{}` contains an invalid address",
                        multi_label(type_id, &vt)
                    )));
                }
            }
            if id > 0 && !is_add {
                let pos = e
                    .multi
                    .iter()
                    .position(|m| m.id == id as u64 && m.type_id == type_id);
                // An ID that is not this entity's entry of this type is ignored.
                if let Some(pos) = pos {
                    if value.is_empty() {
                        e.multi.remove(pos);
                    } else {
                        e.multi[pos].value = value;
                        e.multi[pos].value_type = vt;
                    }
                }
                continue;
            }
            if value.is_empty() {
                continue;
            }
            if !is_add
                && e.multi
                    .iter()
                    .any(|m| m.type_id == type_id && m.value_type == vt && m.value == value)
            {
                continue; // the same value already exists: mapped onto it (CompareValuesFields)
            }
            let mid = self.next_multi;
            self.next_multi += 1;
            e.multi.push(MultiItem {
                id: mid,
                type_id,
                value_type: vt,
                value,
            });
        }
        Ok(())
    }
}
