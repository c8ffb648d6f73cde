//! Contact–company links.

use super::{entity_id, Store};
use crate::api::{ApiError, CallResult, Success};
use crate::php;
use crate::EntityKind;
use serde_json::{json, Map, Value};

impl Store {
    pub(crate) fn existing_ids(&self, kind: EntityKind, v: &Value) -> Vec<u64> {
        let list: Vec<&Value> = php::as_list(v).unwrap_or_else(|| vec![v]);
        let map = self.map(kind);
        let mut out: Vec<u64> = Vec::new();
        for x in list {
            let n = php::intval(x);
            if n > 0 && map.contains_key(&(n as u64)) && !out.contains(&(n as u64)) {
                out.push(n as u64);
            }
        }
        out
    }

    /// `crm.contact.company.items.get` / `crm.company.contact.items.get`.
    pub fn link_items(&self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let id = entity_id(params)?;
        let Some(e) = self.map(kind).get(&id) else {
            return Err(ApiError::crm("Not found"));
        };
        let key = match kind {
            EntityKind::Contact => "COMPANY_ID",
            EntityKind::Company => "CONTACT_ID",
        };
        let l: Vec<Value> = e
            .links
            .iter()
            .enumerate()
            .map(|(i, o)| {
                json!({key: o, "SORT": (i + 1) * 10, "ROLE_ID": 0, "IS_PRIMARY": if i == 0 {"Y"} else {"N"}})
            })
            .collect();
        Ok(Success::plain(Value::Array(l)))
    }
}
