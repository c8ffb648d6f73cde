//! `crm.status.list`: the CRM reference lists (contact types, company types, sources...) that
//! `crm_status` fields (`statusType` in `crm.X.fields`) take their values from.
//!
//! Source: `crm/classes/general/restservice.php CCrmStatusRestProxy::innerGetList` (default
//! order `sort asc`, `CCrmStatus::GetList`, every row at once) and
//! `CCrmRestProxyBase::getList` → `prepareListFromArray` (`total` = the row count, no `next`);
//! `crm/classes/general/crm_status.php CCrmStatus::GetList` (the filter and order keys),
//! `GetFieldsInfo` (the fields), `Add` (`NAME_INIT` only for system rows).

use super::{array_param, to_map, Store};
use crate::api::{CallResult, Success};
use crate::php;
use serde_json::{json, Map, Value};

/// One row of `b_crm_status`.
#[derive(Clone, Debug)]
pub struct StatusRow {
    pub id: u64,
    pub entity_id: String,
    pub status_id: String,
    pub name: String,
    pub sort: i64,
    pub system: bool,
}

/// The fields `CCrmStatus::GetFieldsInfo` lists: a filter key naming none of them is dropped
/// before `GetList` sees it (`CCrmRestProxyBase::getList` → `internalizeFilterFields`).
const FIELDS: [&str; 11] = [
    "ID",
    "ENTITY_ID",
    "STATUS_ID",
    "SORT",
    "NAME",
    "NAME_INIT",
    "SYSTEM",
    "CATEGORY_ID",
    "COLOR",
    "SEMANTICS",
    "EXTRA",
];

/// The seeded lists: the spec's contact types (its `TYPE_ID` options), and for the other types
/// the defaults `CCrmStatus::GetDefault{CompanyTypes,Sources,Employees}` install. The default
/// names are lang strings the source mirror lacks; the English ones here are stand-ins.
pub fn default_statuses() -> Vec<StatusRow> {
    let lists: [(&str, &[(&str, &str)]); 4] = [
        (
            "CONTACT_TYPE",
            &[
                ("CLIENT", "Հաճախորդ"),
                ("UC_JVEYP2", "Կոնտակտային անձ"),
                ("UC_DIUN9M", "Դիմորդ"),
                ("UC_KKSTDO", "Այլ"),
            ],
        ),
        (
            "COMPANY_TYPE",
            &[
                ("CUSTOMER", "Client"),
                ("SUPPLIER", "Supplier"),
                ("COMPETITOR", "Competitor"),
                ("PARTNER", "Partner"),
                ("OTHER", "Other"),
            ],
        ),
        (
            "SOURCE",
            &[
                ("CALL", "Call"),
                ("EMAIL", "E-Mail"),
                ("WEB", "Website"),
                ("ADVERTISING", "Advertising"),
                ("PARTNER", "Existing client"),
                ("OTHER", "Other"),
            ],
        ),
        (
            "EMPLOYEES",
            &[
                ("EMPLOYEES_1", "less than 50"),
                ("EMPLOYEES_2", "50-250"),
                ("EMPLOYEES_3", "250-500"),
                ("EMPLOYEES_4", "over 500"),
            ],
        ),
    ];
    let mut rows = Vec::new();
    for (entity, items) in lists {
        for (i, (status, name)) in items.iter().enumerate() {
            rows.push(StatusRow {
                id: rows.len() as u64 + 1,
                entity_id: entity.to_string(),
                status_id: status.to_string(),
                name: name.to_string(),
                sort: (i as i64 + 1) * 10,
                // The first default of each list is the system one.
                system: i == 0,
            });
        }
    }
    rows
}

impl StatusRow {
    /// The row as the REST answer shows it: every column a string (`CATEGORY_ID`, `COLOR`,
    /// `SEMANTICS` unset → `null`, as in docs crm-status-list.md); `EXTRA` only for lead, quote
    /// and deal stages (`CCrmStatusRestProxy::prepareExtra`), none of which is seeded.
    fn to_json(&self) -> Value {
        json!({
            "ID": self.id.to_string(),
            "ENTITY_ID": self.entity_id,
            "STATUS_ID": self.status_id,
            "NAME": self.name,
            "NAME_INIT": if self.system { self.name.as_str() } else { "" },
            "SORT": self.sort.to_string(),
            "SYSTEM": if self.system { "Y" } else { "N" },
            "CATEGORY_ID": null,
            "COLOR": null,
            "SEMANTICS": null,
        })
    }

    /// A column by its `GetList` name; `None` for the ones the emulator does not filter on.
    fn column(&self, key: &str) -> Option<String> {
        Some(match key {
            "ID" => self.id.to_string(),
            "ENTITY_ID" => self.entity_id.clone(),
            "STATUS_ID" => self.status_id.clone(),
            "NAME" => self.name.clone(),
            "SORT" => self.sort.to_string(),
            "SYSTEM" => (if self.system { "Y" } else { "N" }).to_string(),
            _ => return None,
        })
    }
}

impl Store {
    /// `crm.status.list`: every matching row in one answer, `total` = their count.
    pub fn status_list(&self, params: &Map<String, Value>) -> CallResult {
        let filter = array_param(params, "filter")?
            .map(to_map)
            .unwrap_or_default();
        let order = array_param(params, "order")?
            .map(to_map)
            .unwrap_or_default();
        let conds = conditions(&filter);
        let mut rows: Vec<&StatusRow> = self
            .statuses
            .iter()
            .filter(|r| conds.iter().all(|(k, v)| matches(r, k, v)))
            .collect();
        sort_rows(&mut rows, &order);
        let out: Vec<Value> = rows.iter().map(|r| r.to_json()).collect();
        let n = out.len() as i64;
        Ok(Success {
            result: Value::Array(out),
            next: None,
            total: Some(n),
        })
    }

    /// Adds a row (a test knob: a portal's own list entries).
    pub fn add_status(&mut self, entity_id: &str, status_id: &str, name: &str) {
        let sort = 10
            * (1 + self
                .statuses
                .iter()
                .filter(|r| r.entity_id == entity_id)
                .count());
        self.statuses.push(StatusRow {
            id: self.statuses.iter().map(|r| r.id).max().unwrap_or(0) + 1,
            entity_id: entity_id.to_string(),
            status_id: status_id.to_string(),
            name: name.to_string(),
            sort: sort as i64,
            system: false,
        });
    }
}

/// The filter conditions `GetList` applies: the key must name a field exactly (after an
/// optional operator, else `internalizeFilterFields` drops it) and, upper-cased, be one of
/// `GetList`'s cases (a key with an operator is none of them, so it is ignored); an empty value
/// (`(string)$val == ''`) is skipped.
fn conditions(filter: &Map<String, Value>) -> Vec<(String, String)> {
    filter
        .iter()
        .filter(|(k, _)| FIELDS.contains(&k.trim_start_matches(['!', '=', '%', '<', '>', '@'])))
        .map(|(k, v)| (k.to_uppercase(), php::strval(v)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// One condition. `=` on a MySQL column with the default case-insensitive collation; `NAME`
/// goes through `GetFilterQuery`, reduced here to a case-insensitive substring; `SYSTEM` is
/// `'Y'` or else `'N'`.
fn matches(row: &StatusRow, key: &str, value: &str) -> bool {
    if key == "SYSTEM" {
        let want = if value == "Y" { "Y" } else { "N" };
        return row.column(key).as_deref() == Some(want);
    }
    let Some(have) = row.column(key) else {
        return true;
    };
    if key == "NAME" {
        return have.to_lowercase().contains(&value.to_lowercase());
    }
    have.to_lowercase() == value.to_lowercase()
}

/// `order`: keys case-insensitive, `ASC` ascending and anything else descending; none →
/// `sort asc` (`innerGetList`); ties in `ID` order (MySQL leaves them unordered).
fn sort_rows(rows: &mut [&StatusRow], order: &Map<String, Value>) {
    let mut keys: Vec<(String, bool)> = order
        .iter()
        .map(|(k, v)| {
            (
                k.to_uppercase(),
                !php::strval(v).eq_ignore_ascii_case("ASC"),
            )
        })
        .filter(|(k, _)| {
            ["ID", "ENTITY_ID", "STATUS_ID", "NAME", "SORT", "SYSTEM"].contains(&k.as_str())
        })
        .collect();
    if order.is_empty() {
        keys.push(("SORT".into(), false));
    } else if keys.is_empty() {
        // No key `GetList` knows: its own default, `CS.ID DESC`.
        keys.push(("ID".into(), true));
    }
    rows.sort_by(|a, b| {
        for (k, desc) in &keys {
            let ord = if k == "SORT" || k == "ID" {
                let n = |r: &StatusRow| r.column(k).map(|s| php::intval_str(&s)).unwrap_or(0);
                n(a).cmp(&n(b))
            } else {
                a.column(k).cmp(&b.column(k))
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    });
}
