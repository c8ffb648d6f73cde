//! Legacy `crm.contact.*` / `crm.company.*` semantics (reference §3.4, §6.1) over an in-memory
//! store. Values are kept in their output form (mostly strings) so `get` is a cheap copy.

mod company_fields;
mod contact_fields;
mod describe;
mod duplicate;
mod files;
mod links;
mod list;
mod multi;
mod predicate;
mod read;
mod schema;
mod statuses;
mod values;
mod write;

pub use company_fields::company_schema;
pub use contact_fields::contact_schema;
pub use schema::Schema;
pub use statuses::StatusRow;

use crate::api::ApiError;
use crate::php;
use crate::EntityKind;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Legacy list page size (`IRestService::LIST_LIMIT`).
pub const PAGE: i64 = 50;

#[derive(Clone, Debug)]
pub struct MultiItem {
    pub id: u64,
    pub type_id: &'static str,
    pub value_type: String,
    pub value: String,
}

#[derive(Clone, Debug, Default)]
pub struct Entity {
    pub id: u64,
    pub vals: HashMap<String, Value>,
    pub multi: Vec<MultiItem>,
    /// Contact: linked company IDs, first = primary. Company: linked contact IDs.
    pub links: Vec<u64>,
}

pub struct StoredFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// All emulated data. One mutex guards it; methods are short.
pub struct Store {
    contacts: BTreeMap<u64, Entity>,
    companies: BTreeMap<u64, Entity>,
    next_entity: [u64; 2],
    next_multi: u64,
    next_file: u64,
    pub files: HashMap<u64, StoredFile>,
    schemas: [Arc<Schema>; 2],
    pub users: BTreeMap<u64, Map<String, Value>>,
    pub next_user: u64,
    /// Known user fields (`UF_USR_*`); others are unknown filter keys.
    pub user_ufs: BTreeSet<String>,
    pub webhook_user: String,
    /// `b_crm_status`: the rows `crm.status.list` answers.
    pub statuses: Vec<StatusRow>,
}

fn ki(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Contact => 0,
        EntityKind::Company => 1,
    }
}

fn other(kind: EntityKind) -> EntityKind {
    match kind {
        EntityKind::Contact => EntityKind::Company,
        EntityKind::Company => EntityKind::Contact,
    }
}

/// Resolve `fields`/`FIELDS`/`Fields`/`arFields` (`CCrmRestHelper::resolveArrayParam`: PHP
/// `isset`, so a `null` counts as absent). `Err` when present but not an array
/// (`CCrmRestProxyBase::processMethodRequest`: "Parameter 'X' must be array.").
pub fn array_param<'a>(
    params: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Value>, ApiError> {
    let mut cap = name.to_string();
    cap[..1].make_ascii_uppercase();
    for key in [
        name.to_string(),
        name.to_uppercase(),
        cap.clone(),
        format!("ar{cap}"),
    ] {
        if let Some(v) = params.get(&key).filter(|v| !v.is_null()) {
            if !php::is_array(v) {
                return Err(ApiError::crm(&format!("Parameter '{name}' must be array.")));
            }
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Resolve `ID`/`id` as a positive integer (§1.4, §3.4).
pub fn entity_id(params: &Map<String, Value>) -> Result<u64, ApiError> {
    let v = params.get("ID").or_else(|| params.get("id"));
    let n = v.map(php::intval).unwrap_or(0);
    if n <= 0 {
        return Err(ApiError::crm("ID is not defined or invalid."));
    }
    Ok(n as u64)
}

/// What a write collects besides the entity's own values.
#[derive(Default)]
pub(crate) struct Pending {
    new_files: Vec<(u64, StoredFile)>,
    removed_files: Vec<u64>,
    links: Option<Vec<u64>>,
}

impl Store {
    pub fn new(webhook_user: &str) -> Store {
        let mut s = Store {
            contacts: BTreeMap::new(),
            companies: BTreeMap::new(),
            next_entity: [1, 1],
            next_multi: 1,
            next_file: 1,
            files: HashMap::new(),
            schemas: [contact_schema(), company_schema()],
            users: BTreeMap::new(),
            next_user: 1,
            user_ufs: BTreeSet::new(),
            webhook_user: webhook_user.to_string(),
            statuses: statuses::default_statuses(),
        };
        s.user_ufs.insert("UF_USR_1722587885970".into());
        s
    }

    fn map(&self, kind: EntityKind) -> &BTreeMap<u64, Entity> {
        match kind {
            EntityKind::Contact => &self.contacts,
            EntityKind::Company => &self.companies,
        }
    }
    fn map_mut(&mut self, kind: EntityKind) -> &mut BTreeMap<u64, Entity> {
        match kind {
            EntityKind::Contact => &mut self.contacts,
            EntityKind::Company => &mut self.companies,
        }
    }

    pub fn schema(&self, kind: EntityKind) -> Arc<Schema> {
        self.schemas[ki(kind)].clone()
    }

    pub fn count(&self, kind: EntityKind) -> usize {
        self.map(kind).len()
    }
}

/// A PHP array as a map (lists get index keys).
pub fn to_map(v: &Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.clone(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| (i.to_string(), x.clone()))
            .collect(),
        _ => Map::new(),
    }
}
