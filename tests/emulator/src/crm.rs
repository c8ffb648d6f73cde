//! Legacy `crm.contact.*` / `crm.company.*` semantics (reference §3.4, §6.1) over an in-memory
//! store. Values are kept in their output form (mostly strings) so `get` is a cheap copy.

use crate::api::{ApiError, CallResult, Success};
use crate::filter::{self, Kind, Op};
use crate::php;
use crate::time;
use crate::EntityKind;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// Legacy list page size (`IRestService::LIST_LIMIT`).
pub const PAGE: i64 = 50;

#[derive(Clone, Debug, PartialEq)]
pub enum FType {
    Integer,
    Str,
    Char,
    Date,
    DateTime,
    User,
    Status(&'static str),
    Double,
    Currency,
    Lead,
    File,
    Multi(&'static str),
    CompanyId,
    CompanyIds,
    ContactIds,
    UfString,
    UfEnum(Vec<(String, String)>),
    UfDateTime,
    UfFile,
}

#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: String,
    pub ty: FType,
    pub required: bool,
    pub ro: bool,
    pub multiple: bool,
    pub title: String,
    /// Human label of a user field (its `title` is the code itself, §6.1).
    pub label: String,
    pub uf_id: u64,
}

impl FieldDef {
    fn type_name(&self) -> &'static str {
        match &self.ty {
            FType::Integer => "integer",
            FType::Str => "string",
            FType::Char => "char",
            FType::Date => "date",
            FType::DateTime => "datetime",
            FType::User => "user",
            FType::Status(_) => "crm_status",
            FType::Double => "double",
            FType::Currency => "crm_currency",
            FType::Lead => "crm_lead",
            FType::File => "file",
            FType::Multi(_) => "crm_multifield",
            FType::CompanyId | FType::CompanyIds => "crm_company",
            FType::ContactIds => "crm_contact",
            FType::UfString => "string",
            FType::UfEnum(_) => "enumeration",
            FType::UfDateTime => "datetime",
            FType::UfFile => "file",
        }
    }
    fn dynamic(&self) -> bool {
        self.name.starts_with("UF_")
    }
    fn kind(&self) -> Kind {
        match self.ty {
            FType::Integer
            | FType::User
            | FType::Lead
            | FType::Double
            | FType::CompanyId
            | FType::CompanyIds
            | FType::ContactIds
            | FType::File
            | FType::UfFile => Kind::Num,
            FType::Date | FType::DateTime | FType::UfDateTime => Kind::Date,
            _ => Kind::Str,
        }
    }
    /// Link/multi fields are not plain columns of `get`.
    fn hidden_in_get(&self) -> bool {
        matches!(self.ty, FType::CompanyIds | FType::ContactIds)
    }
}

pub struct Schema {
    pub defs: Vec<FieldDef>,
    index: HashMap<String, usize>,
}

impl Schema {
    fn get(&self, name: &str) -> Option<&FieldDef> {
        self.index.get(name).map(|&i| &self.defs[i])
    }
}

fn std_def(name: &str, ty: FType, title: &str) -> FieldDef {
    FieldDef {
        name: name.into(),
        ty,
        required: false,
        ro: false,
        multiple: false,
        title: title.into(),
        label: String::new(),
        uf_id: 0,
    }
}

fn ro(mut d: FieldDef) -> FieldDef {
    d.ro = true;
    d
}
fn req(mut d: FieldDef) -> FieldDef {
    d.required = true;
    d
}
fn multi(mut d: FieldDef) -> FieldDef {
    d.multiple = true;
    d
}

fn uf(id: u64, name: &str, ty: FType, multiple: bool, label: &str) -> FieldDef {
    FieldDef {
        name: name.into(),
        ty,
        required: false,
        ro: false,
        multiple,
        title: name.into(),
        label: label.into(),
        uf_id: id,
    }
}

fn items(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn common_tail(v: &mut Vec<FieldDef>) {
    use FType::*;
    v.push(ro(std_def("LEAD_ID", Lead, "Lead")));
    v.push(std_def("ORIGINATOR_ID", Str, "External source"));
    v.push(std_def("ORIGIN_ID", Str, "Item ID in data source"));
    v.push(std_def("ORIGIN_VERSION", Str, "Original version"));
    v.push(ro(std_def(
        "LAST_ACTIVITY_TIME",
        DateTime,
        "Last timeline activity",
    )));
    v.push(ro(std_def("LAST_ACTIVITY_BY", User, "Last activity by")));
    for (n, t) in [
        ("UTM_SOURCE", "Ad system"),
        ("UTM_MEDIUM", "Medium"),
        ("UTM_CAMPAIGN", "Ad campaign UTM"),
        ("UTM_CONTENT", "Campaign contents"),
        ("UTM_TERM", "Campaign search term"),
    ] {
        v.push(std_def(n, Str, t));
    }
    for (n, t) in [
        ("PHONE", "Phone"),
        ("EMAIL", "E-mail"),
        ("WEB", "Website"),
        ("IM", "Messenger"),
        ("LINK", "Link"),
    ] {
        let tid: &'static str = match n {
            "PHONE" => "PHONE",
            "EMAIL" => "EMAIL",
            "WEB" => "WEB",
            "IM" => "IM",
            _ => "LINK",
        };
        v.push(multi(std_def(n, Multi(tid), t)));
    }
}

fn finish(defs: Vec<FieldDef>) -> Arc<Schema> {
    let index = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.clone(), i))
        .collect();
    Arc::new(Schema { defs, index })
}

/// Contact fields: the real standard list plus the customer's custom fields (spec).
pub fn contact_schema() -> Arc<Schema> {
    use FType::*;
    let mut v = vec![
        ro(std_def("ID", Integer, "ID")),
        std_def("HONORIFIC", Status("HONORIFIC"), "Salutation"),
        req(std_def("NAME", Str, "First name")),
        req(std_def("SECOND_NAME", Str, "Second name")),
        req(std_def("LAST_NAME", Str, "Last name")),
        std_def("PHOTO", File, "Photo"),
        std_def("BIRTHDATE", Date, "Date of birth"),
        std_def("TYPE_ID", Status("CONTACT_TYPE"), "Contact type"),
        std_def("SOURCE_ID", Status("SOURCE"), "Source"),
        std_def("SOURCE_DESCRIPTION", Str, "Source information"),
        std_def("POST", Str, "Position"),
        std_def("ADDRESS", Str, "Address"),
        std_def("COMMENTS", Str, "Comment"),
        std_def("OPENED", Char, "Available to everyone"),
        std_def("EXPORT", Char, "Included in export"),
        ro(std_def("HAS_PHONE", Char, "Has phone")),
        ro(std_def("HAS_EMAIL", Char, "Has email")),
        ro(std_def("HAS_IMOL", Char, "Has Open Channel")),
        std_def("ASSIGNED_BY_ID", User, "Responsible person"),
        ro(std_def("CREATED_BY_ID", User, "Created by")),
        ro(std_def("MODIFY_BY_ID", User, "Modified by")),
        ro(std_def("DATE_CREATE", DateTime, "Created on")),
        ro(std_def("DATE_MODIFY", DateTime, "Modified on")),
        std_def("COMPANY_ID", CompanyId, "Company"),
        multi(std_def("COMPANY_IDS", CompanyIds, "Company")),
    ];
    common_tail(&mut v);
    let mut id = 100;
    let mut next = || {
        id += 1;
        id
    };
    v.extend([
        uf(
            next(),
            "UF_CRM_1721896329420",
            UfString,
            false,
            "Իրավաբանական հասցե",
        ),
        uf(
            next(),
            "UF_CRM_1723108337023",
            UfString,
            false,
            "Գործունեության հասցե",
        ),
        uf(
            next(),
            "UF_CRM_664DBFBD43D75",
            UfString,
            true,
            "Կայանի տեղադրման հասցե",
        ),
        uf(next(), "UF_CRM_1707822379207", UfString, false, "Անձնագիր"),
        uf(
            next(),
            "UF_CRM_1707822426950",
            UfDateTime,
            false,
            "Երբ է տրվել",
        ),
        uf(
            next(),
            "UF_CRM_1707822448806",
            UfString,
            false,
            "Ում կողմից",
        ),
        uf(next(), "UF_CRM_1707822458574", UfString, false, "ՀԾՀ"),
        uf(
            next(),
            "UF_CRM_1707822731302",
            UfEnum(items(&[
                ("460", "Ameriabank"),
                ("462", "Ardshinbank"),
                ("464", "Inecobank"),
                ("466", "ACBA Bank"),
            ])),
            false,
            "Բանկ",
        ),
        uf(next(), "UF_CRM_1707822585830", UfString, false, "Հ/Հ"),
        uf(next(), "UF_CRM_1707822691457", UfFile, true, "Files"),
        uf(
            next(),
            "UF_CRM_1723100443089",
            UfString,
            false,
            "GUID ID Contact",
        ),
        uf(
            next(),
            "UF_CRM_1723100456115",
            UfString,
            false,
            "CODE Contact",
        ),
    ]);
    finish(v)
}

/// Company fields: the real standard list plus the customer's custom fields (spec).
pub fn company_schema() -> Arc<Schema> {
    use FType::*;
    let mut v = vec![
        ro(std_def("ID", Integer, "ID")),
        req(std_def("TITLE", Str, "Company name")),
        std_def("COMPANY_TYPE", Status("COMPANY_TYPE"), "Company type"),
        std_def("LOGO", File, "Logo"),
        std_def("ADDRESS", Str, "Address"),
        std_def("ADDRESS_LEGAL", Str, "Legal address"),
        std_def("BANKING_DETAILS", Str, "Payment details"),
        std_def("INDUSTRY", Status("INDUSTRY"), "Industry"),
        std_def("EMPLOYEES", Status("EMPLOYEES"), "Employees"),
        std_def("CURRENCY_ID", Currency, "Currency"),
        std_def("REVENUE", Double, "Annual revenue"),
        std_def("OPENED", Char, "Available to everyone"),
        std_def("COMMENTS", Str, "Comment"),
        ro(std_def("HAS_PHONE", Char, "Has phone")),
        ro(std_def("HAS_EMAIL", Char, "Has email")),
        ro(std_def("HAS_IMOL", Char, "Has Open Channel")),
        std_def("IS_MY_COMPANY", Char, "My Company"),
        std_def("ASSIGNED_BY_ID", User, "Responsible person"),
        ro(std_def("CREATED_BY_ID", User, "Created by")),
        ro(std_def("MODIFY_BY_ID", User, "Modified by")),
        ro(std_def("DATE_CREATE", DateTime, "Created on")),
        ro(std_def("DATE_MODIFY", DateTime, "Modified on")),
        multi(std_def("CONTACT_ID", ContactIds, "Contact")),
    ];
    common_tail(&mut v);
    let mut id = 200;
    let mut next = || {
        id += 1;
        id
    };
    v.extend([
        uf(
            next(),
            "UF_CRM_1721909503670",
            UfString,
            false,
            "Աշխատանքային անվանում",
        ),
        uf(
            next(),
            "UF_CRM_1721896430796",
            UfString,
            false,
            "Իրավաբանական հասցե",
        ),
        uf(
            next(),
            "UF_CRM_1721896453819",
            UfString,
            false,
            "Գործունեության հասցե",
        ),
        uf(next(), "UF_CRM_1707823114526", UfString, false, "ՀՎՀՀ"),
        uf(
            next(),
            "UF_CRM_1707823136855",
            UfEnum(items(&[
                ("255", "Ameriabank"),
                ("257", "Ardshinbank"),
                ("259", "Inecobank"),
                ("261", "ACBA Bank"),
            ])),
            false,
            "Բանկ",
        ),
        uf(next(), "UF_CRM_1707823142254", UfString, false, "Հ/Հ"),
        uf(
            next(),
            "UF_CRM_664DBFBD53217",
            UfString,
            true,
            "Կայանի տեղադրման հասցե",
        ),
        uf(next(), "UF_CRM_1707823223708", UfFile, true, "Files"),
        uf(
            next(),
            "UF_CRM_1723100322669",
            UfString,
            false,
            "CODE Company",
        ),
        uf(
            next(),
            "UF_CRM_1723100288587",
            UfString,
            false,
            "GUID ID Company",
        ),
    ]);
    finish(v)
}

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

/// Resolve `fields`/`FIELDS`/`Fields`/`arFields` (§1.4). `Err` when present but not an array.
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
        if let Some(v) = params.get(&key) {
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

fn lenient_b64(s: &str) -> Option<Vec<u8>> {
    // PHP's non-strict base64_decode skips characters outside the alphabet.
    let mut clean: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(clean.as_bytes())
        .ok()
        .filter(|b| !b.is_empty())
}

fn valid_email(s: &str) -> bool {
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

fn multi_label(type_id: &str, vt: &str) -> String {
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

/// What a write collects besides the entity's own values.
#[derive(Default)]
struct Pending {
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

    fn upload(&mut self, item: &Value, p: &mut Pending) -> Option<u64> {
        let fd = php::get(item, "fileData")?;
        let (name, data) = if php::is_array(fd) {
            (
                php::get(fd, "0").map(php::strval).unwrap_or_default(),
                php::get(fd, "1").map(php::strval).unwrap_or_default(),
            )
        } else {
            (String::new(), php::strval(fd))
        };
        let bytes = lenient_b64(&data)?;
        let id = self.next_file;
        self.next_file += 1;
        let name = if name.is_empty() {
            format!("file{id}.bin")
        } else {
            name
        };
        p.new_files.push((id, StoredFile { name, bytes }));
        Some(id)
    }

    /// Apply a file field value (§6.1 Files). Multiple fields are replaced by the kept and new
    /// files; unmentioned old files are dropped (the legacy methods cannot keep them reliably).
    fn apply_file(&mut self, def: &FieldDef, v: &Value, e: &mut Entity, p: &mut Pending) {
        let old: Vec<u64> = match e.vals.get(&def.name) {
            Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_u64()).collect(),
            Some(Value::Number(n)) => n.as_u64().into_iter().collect(),
            _ => vec![],
        };
        let single_obj = php::get(v, "fileData").is_some() || php::get(v, "id").is_some();
        let items: Vec<&Value> = if single_obj || !php::is_array(v) {
            vec![v]
        } else {
            php::as_list(v).unwrap_or_default()
        };
        let mut keep: Vec<u64> = Vec::new();
        let mut touched = false;
        for it in items {
            if !php::is_array(it) {
                // `""` clears the field.
                if php::strval(it).is_empty() {
                    touched = true;
                }
                continue;
            }
            if php::get(it, "fileData").is_some() {
                if let Some(id) = self.upload(it, p) {
                    keep.push(id);
                    touched = true;
                }
            } else if let Some(idv) = php::get(it, "id") {
                let id = php::intval(idv).max(0) as u64;
                let remove = php::get(it, "remove")
                    .map(|r| php::strval(r).eq_ignore_ascii_case("Y"))
                    .unwrap_or(false);
                touched = true;
                if !remove && old.contains(&id) {
                    keep.push(id);
                }
            }
        }
        if !touched {
            return;
        }
        if !def.multiple {
            // A single field keeps the newest upload.
            if keep.len() > 1 {
                keep.drain(..keep.len() - 1);
            }
        }
        for o in &old {
            if !keep.contains(o) {
                p.removed_files.push(*o);
            }
        }
        let val = if def.multiple {
            Value::Array(keep.into_iter().map(Value::from).collect())
        } else {
            keep.first().map(|&i| Value::from(i)).unwrap_or(Value::Null)
        };
        e.vals.insert(def.name.clone(), val);
    }

    fn apply_multi(
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

    fn existing_ids(&self, kind: EntityKind, v: &Value) -> Vec<u64> {
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

    /// Turn `fields` into entity changes (§3.4 "wrong type" handling: unknown, read-only and
    /// unparseable values are dropped silently).
    fn internalize(
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

    fn check_required(&self, kind: EntityKind, e: &Entity) -> Result<(), ApiError> {
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

    fn commit(&mut self, kind: EntityKind, mut e: Entity, p: Pending) {
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

    pub fn get(&self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let id = entity_id(params)?;
        match self.map(kind).get(&id) {
            Some(e) => Ok(Success::plain(self.externalize(kind, e, None))),
            None => Err(ApiError::crm("Not found")),
        }
    }

    /// `crm.X.get` output read directly.
    /// Also carries the full link set (`COMPANY_IDS` / `CONTACT_ID`, strings) for inspection,
    /// which the HTTP `get` leaves to `*.items.get`.
    pub fn get_value(&self, kind: EntityKind, id: u64) -> Option<Value> {
        let e = self.map(kind).get(&id)?;
        let mut v = self.externalize(kind, e, None);
        let key = match kind {
            EntityKind::Contact => "COMPANY_IDS",
            EntityKind::Company => "CONTACT_ID",
        };
        let links: Vec<Value> = e
            .links
            .iter()
            .map(|l| Value::String(l.to_string()))
            .collect();
        if let Value::Object(m) = &mut v {
            m.insert(key.into(), Value::Array(links));
        }
        Some(v)
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

    pub fn fields(&self, kind: EntityKind) -> CallResult {
        let schema = self.schema(kind);
        let mut out = Map::new();
        for d in &schema.defs {
            let mut f = Map::new();
            f.insert("type".into(), json!(d.type_name()));
            f.insert("isRequired".into(), json!(d.required));
            f.insert("isReadOnly".into(), json!(d.ro));
            f.insert("isImmutable".into(), json!(false));
            f.insert("isMultiple".into(), json!(d.multiple));
            f.insert("isDynamic".into(), json!(d.dynamic()));
            f.insert("title".into(), json!(d.title));
            if let FType::Status(st) = d.ty {
                f.insert("statusType".into(), json!(st));
            }
            if let FType::UfEnum(items) = &d.ty {
                let l: Vec<Value> = items
                    .iter()
                    .map(|(id, v)| json!({"ID": id, "VALUE": v}))
                    .collect();
                f.insert("items".into(), Value::Array(l));
            }
            if d.dynamic() {
                f.insert("listLabel".into(), json!(d.label));
                f.insert("formLabel".into(), json!(d.label));
                f.insert("filterLabel".into(), json!(d.label));
            }
            out.insert(d.name.clone(), Value::Object(f));
        }
        Ok(Success::plain(Value::Object(out)))
    }

    pub fn userfield_list(&self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let filter = array_param(params, "filter")?
            .map(to_map)
            .unwrap_or_default();
        let schema = self.schema(kind);
        let entity_id = match kind {
            EntityKind::Contact => "CRM_CONTACT",
            EntityKind::Company => "CRM_COMPANY",
        };
        let mut out = Vec::new();
        for d in schema.defs.iter().filter(|d| d.dynamic()) {
            let mut m = Map::new();
            m.insert("ID".into(), json!(d.uf_id.to_string()));
            m.insert("ENTITY_ID".into(), json!(entity_id));
            m.insert("FIELD_NAME".into(), json!(d.name));
            m.insert("USER_TYPE_ID".into(), json!(d.type_name()));
            m.insert("XML_ID".into(), Value::Null);
            m.insert("SORT".into(), json!("100"));
            m.insert("MULTIPLE".into(), json!(if d.multiple { "Y" } else { "N" }));
            m.insert("MANDATORY".into(), json!("N"));
            m.insert("SHOW_FILTER".into(), json!("E"));
            m.insert("SHOW_IN_LIST".into(), json!("Y"));
            m.insert("EDIT_IN_LIST".into(), json!("Y"));
            m.insert("IS_SEARCHABLE".into(), json!("N"));
            m.insert("SETTINGS".into(), json!({}));
            if let FType::UfEnum(items) = &d.ty {
                let l: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, (id, v))| {
                        json!({"ID": id, "SORT": ((i + 1) * 10).to_string(), "VALUE": v, "DEF": "N", "XML_ID": format!("X{id}")})
                    })
                    .collect();
                m.insert("LIST".into(), Value::Array(l));
            }
            let pass = filter.iter().all(|(k, v)| {
                m.get(&k.to_uppercase())
                    .map(|x| php::strval(x) == php::strval(v))
                    .unwrap_or(true)
            });
            if pass {
                out.push(Value::Object(m));
            }
        }
        let n = out.len() as i64;
        Ok(Success {
            result: Value::Array(out),
            next: None,
            total: Some(n),
        })
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

    fn file_obj(&self, kind: EntityKind, owner: u64, field: &str, fid: u64) -> Value {
        let comp = match kind {
            EntityKind::Contact => "crm.contact.show",
            EntityKind::Company => "crm.company.show",
        };
        let dynamic = if field.starts_with("UF_") { "Y" } else { "N" };
        let q = format!("ownerId={owner}&fieldName={field}&dynamic={dynamic}&fileId={fid}");
        json!({
            "id": fid,
            "showUrl": format!("/bitrix/components/bitrix/{comp}/show_file.php?{q}"),
            "downloadUrl": format!("/bitrix/components/bitrix/{comp}/show_file.php?auth=&{q}"),
        })
    }

    fn field_out(&self, kind: EntityKind, e: &Entity, d: &FieldDef) -> Option<Value> {
        let v = e.vals.get(&d.name);
        Some(match &d.ty {
            FType::Multi(t) => {
                let l: Vec<Value> = e
                    .multi
                    .iter()
                    .filter(|m| m.type_id == *t)
                    .map(|m| {
                        json!({"ID": m.id.to_string(), "VALUE_TYPE": m.value_type, "VALUE": m.value, "TYPE_ID": m.type_id})
                    })
                    .collect();
                if l.is_empty() {
                    return None;
                }
                Value::Array(l)
            }
            FType::Char if d.name.starts_with("HAS_") => {
                let t = match d.name.as_str() {
                    "HAS_PHONE" => "PHONE",
                    "HAS_EMAIL" => "EMAIL",
                    _ => "IM",
                };
                let has = e.multi.iter().any(|m| {
                    m.type_id == t
                        && (t != "IM" || m.value_type == "OPENLINE" || m.value_type == "IMOL")
                });
                json!(if has { "Y" } else { "N" })
            }
            FType::CompanyId => match e.links.first() {
                Some(c) => Value::String(c.to_string()),
                None => Value::Null,
            },
            FType::CompanyIds | FType::ContactIds => return None,
            FType::File | FType::UfFile => match v {
                Some(Value::Number(n)) => {
                    self.file_obj(kind, e.id, &d.name, n.as_u64().unwrap_or(0))
                }
                Some(Value::Array(a)) if !a.is_empty() => Value::Array(
                    a.iter()
                        .filter_map(|x| x.as_u64())
                        .map(|f| self.file_obj(kind, e.id, &d.name, f))
                        .collect(),
                ),
                // Empty multiple user fields read back as `false` (§6.1).
                _ if d.multiple => json!(false),
                _ => Value::Null,
            },
            FType::Date => v.cloned().unwrap_or(json!("")),
            _ if d.multiple => match v {
                Some(Value::Array(a)) if !a.is_empty() => Value::Array(a.clone()),
                _ => json!(false),
            },
            _ => v.cloned().unwrap_or(Value::Null),
        })
    }

    fn externalize(&self, kind: EntityKind, e: &Entity, sel: Option<&Selection>) -> Value {
        let schema = self.schema(kind);
        let mut out = Map::new();
        for d in &schema.defs {
            if let Some(sel) = sel {
                if !sel.wants(d) {
                    continue;
                }
            } else if d.hidden_in_get() {
                continue;
            }
            if let Some(v) = self.field_out(kind, e, d) {
                out.insert(d.name.clone(), v);
            }
        }
        Value::Object(out)
    }

    /// Values of a field as strings for filtering/sorting (empty = NULL).
    fn field_vals(&self, e: &Entity, d: &FieldDef) -> Vec<String> {
        match &d.ty {
            FType::Multi(t) => e
                .multi
                .iter()
                .filter(|m| m.type_id == *t)
                .map(|m| m.value.clone())
                .collect(),
            FType::CompanyId | FType::CompanyIds | FType::ContactIds => {
                e.links.iter().map(|x| x.to_string()).collect()
            }
            FType::Char if d.name.starts_with("HAS_") => {
                let v = self.field_out(EntityKind::Contact, e, d);
                vec![v.map(|x| php::strval(&x)).unwrap_or_default()]
            }
            _ => match e.vals.get(&d.name) {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a.iter().map(php::strval).collect(),
                Some(v) => vec![php::strval(v)],
            },
        }
    }

    /// `crm.X.list` with legacy paging (§2.2): page = floor(start/50)+1, out-of-range -> page 1.
    pub fn list(
        &self,
        kind: EntityKind,
        params: &Map<String, Value>,
        start: Option<&Value>,
    ) -> CallResult {
        let filter = array_param(params, "filter")?
            .map(to_map)
            .unwrap_or_default();
        let order = array_param(params, "order")?
            .map(to_map)
            .unwrap_or_default();
        let select = array_param(params, "select")?;
        let schema = self.schema(kind);
        let sel = Selection::new(select);

        let mut preds: Vec<(Op, &FieldDef, &Value)> = Vec::new();
        for (k, v) in &filter {
            let (op, name) = filter::split_op(k);
            if let Some(d) = schema.get(&name.to_uppercase()) {
                preds.push((op, d, v));
            }
        }
        let mut ord: Vec<(&FieldDef, bool)> = Vec::new();
        for (k, v) in &order {
            if let Some(d) = schema.get(&k.to_uppercase()) {
                ord.push((d, php::strval(v).eq_ignore_ascii_case("DESC")));
            }
        }
        let id_asc = ord.is_empty() || (ord.len() == 1 && ord[0].0.name == "ID" && !ord[0].1);

        // Narrow the ID range from `>ID`/`>=ID`/`<ID`/`<=ID` so cursor exports stay cheap.
        let (mut lo, mut hi) = (0u64, u64::MAX);
        for (op, d, v) in &preds {
            if d.name != "ID" || php::is_array(v) {
                continue;
            }
            let n = php::strval(v).trim().parse::<f64>().unwrap_or(0.0).floor();
            let n = if n < 0.0 { 0 } else { n as u64 };
            match op {
                Op::Gt => lo = lo.max(n.saturating_add(1)),
                Op::Ge => lo = lo.max(n),
                Op::Lt => hi = hi.min(n.saturating_sub(1)),
                Op::Le => hi = hi.min(n),
                _ => {}
            }
        }
        let start_n = start.map(php::intval).unwrap_or(0);
        let no_count = start_n == -1;
        let prepared: Vec<(filter::Prepared, &FieldDef)> = preds
            .iter()
            .map(|(op, d, v)| (filter::Prepared::new(*op, d.kind(), v), *d))
            .collect();
        let pass = |e: &Entity| prepared.iter().all(|(p, d)| p.test(&self.field_vals(e, d)));
        let map = self.map(kind);
        let iter = if lo > hi {
            map.range(1..1)
        } else {
            map.range(lo..=hi)
        };
        let (rows, total, next): (Vec<&Entity>, i64, Option<i64>) = if no_count && id_asc {
            let rows: Vec<&Entity> = iter
                .map(|(_, e)| e)
                .filter(|e| pass(e))
                .take(PAGE as usize)
                .collect();
            (rows, 0, None)
        } else {
            let mut all: Vec<&Entity> = iter.map(|(_, e)| e).filter(|e| pass(e)).collect();
            if !id_asc {
                let keyed: Vec<(Vec<Option<String>>, &Entity)> = all
                    .into_iter()
                    .map(|e| {
                        let k = ord
                            .iter()
                            .map(|(d, _)| self.field_vals(e, d).into_iter().next())
                            .collect();
                        (k, e)
                    })
                    .collect();
                let mut keyed = keyed;
                keyed.sort_by(|a, b| {
                    for (i, (d, desc)) in ord.iter().enumerate() {
                        let o = filter::order_cmp(d.kind(), a.0[i].as_deref(), b.0[i].as_deref());
                        let o = if *desc { o.reverse() } else { o };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    a.1.id.cmp(&b.1.id)
                });
                all = keyed.into_iter().map(|(_, e)| e).collect();
            }
            if no_count {
                all.truncate(PAGE as usize);
                (all, 0, None)
            } else {
                let total = all.len() as i64;
                let mut page = start_n.max(0) / PAGE + 1;
                if (page - 1) * PAGE >= total {
                    page = 1; // Bitrix paging falls back to the first page
                }
                let from = ((page - 1) * PAGE) as usize;
                let rows: Vec<&Entity> = all.into_iter().skip(from).take(PAGE as usize).collect();
                let next = if page * PAGE < total {
                    Some(page * PAGE)
                } else {
                    None
                };
                (rows, total, next)
            }
        };
        let out: Vec<Value> = rows
            .into_iter()
            .map(|e| self.externalize(kind, e, Some(&sel)))
            .collect();
        Ok(Success {
            result: Value::Array(out),
            next,
            total: Some(total),
        })
    }

    pub fn file(&self, id: u64) -> Option<&StoredFile> {
        self.files.get(&id)
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

/// `select` of a list call: default `*` + `UF_*`; multi-fields only when named (§6.1).
struct Selection {
    all_std: bool,
    all_uf: bool,
    names: HashSet<String>,
}

impl Selection {
    fn new(select: Option<&Value>) -> Selection {
        let names: Vec<String> = select
            .and_then(php::as_list)
            .unwrap_or_default()
            .into_iter()
            .map(|v| php::strval(v).trim().to_uppercase())
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            return Selection {
                all_std: true,
                all_uf: true,
                names: HashSet::new(),
            };
        }
        Selection {
            all_std: names.iter().any(|n| n == "*"),
            all_uf: names.iter().any(|n| n == "UF_*"),
            names: names.into_iter().collect(),
        }
    }
    fn wants(&self, d: &FieldDef) -> bool {
        if d.name == "ID" || self.names.contains(&d.name) {
            return !d.hidden_in_get();
        }
        match d.ty {
            FType::Multi(_) | FType::CompanyIds | FType::ContactIds => false,
            _ if d.dynamic() => self.all_uf,
            _ => self.all_std,
        }
    }
}
