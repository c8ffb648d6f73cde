//! Field definitions of the legacy contact/company methods.

use crate::filter::Kind;
use std::collections::HashMap;
use std::sync::Arc;

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
    pub(crate) fn type_name(&self) -> &'static str {
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
    pub(crate) fn dynamic(&self) -> bool {
        self.name.starts_with("UF_")
    }
    pub(crate) fn kind(&self) -> Kind {
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
    pub(crate) fn hidden_in_get(&self) -> bool {
        matches!(self.ty, FType::CompanyIds | FType::ContactIds)
    }
}

pub struct Schema {
    pub defs: Vec<FieldDef>,
    index: HashMap<String, usize>,
}

impl Schema {
    pub(crate) fn get(&self, name: &str) -> Option<&FieldDef> {
        self.index.get(name).map(|&i| &self.defs[i])
    }
}

pub(crate) fn std_def(name: &str, ty: FType, title: &str) -> FieldDef {
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

pub(crate) fn ro(mut d: FieldDef) -> FieldDef {
    d.ro = true;
    d
}
pub(crate) fn req(mut d: FieldDef) -> FieldDef {
    d.required = true;
    d
}
pub(crate) fn multi(mut d: FieldDef) -> FieldDef {
    d.multiple = true;
    d
}

pub(crate) fn uf(id: u64, name: &str, ty: FType, multiple: bool, label: &str) -> FieldDef {
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

pub(crate) fn items(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The address block of `GetFieldsInfo` (`ADDRESS`, `ADDRESS_2`, … `ADDRESS_LOC_ADDR_ID`), or
/// the company's `REG_ADDRESS_*` block with `prefix = "REG_ADDRESS"`.
pub(crate) fn address_defs(prefix: &str, title: &str) -> Vec<FieldDef> {
    let mut v = vec![std_def(prefix, FType::Str, title)];
    for (suffix, t) in [
        ("_2", "(line 2)"),
        ("_CITY", "(city)"),
        ("_POSTAL_CODE", "(zip)"),
        ("_REGION", "(region)"),
        ("_PROVINCE", "(province)"),
        ("_COUNTRY", "(country)"),
        ("_COUNTRY_CODE", "(country code)"),
    ] {
        v.push(std_def(
            &format!("{prefix}{suffix}"),
            FType::Str,
            &format!("{title} {t}"),
        ));
    }
    v.push(std_def(
        &format!("{prefix}_LOC_ADDR_ID"),
        FType::Integer,
        &format!("{title} (location ID)"),
    ));
    v
}

/// Fields after the entity's own list, in `GetFieldsInfo` order: LEAD_ID, ORIGIN*, the UTM
/// block, the last-activity adapter, LAST_COMMUNICATION_TIME, then the multi-fields that
/// `prepareMultiFieldsInfo` appends.
pub(crate) fn common_tail(v: &mut Vec<FieldDef>) {
    use FType::*;
    v.push(ro(std_def("LEAD_ID", Lead, "Lead")));
    v.push(std_def("ORIGINATOR_ID", Str, "External source"));
    v.push(std_def("ORIGIN_ID", Str, "Item ID in data source"));
    v.push(std_def("ORIGIN_VERSION", Str, "Original version"));
    for (n, t) in [
        ("UTM_SOURCE", "Ad system"),
        ("UTM_MEDIUM", "Medium"),
        ("UTM_CAMPAIGN", "Ad campaign UTM"),
        ("UTM_CONTENT", "Campaign contents"),
        ("UTM_TERM", "Campaign search term"),
    ] {
        v.push(std_def(n, Str, t));
    }
    v.push(ro(std_def(
        "LAST_ACTIVITY_TIME",
        DateTime,
        "Last timeline activity",
    )));
    v.push(ro(std_def("LAST_ACTIVITY_BY", User, "Last activity by")));
    v.push(ro(std_def(
        "LAST_COMMUNICATION_TIME",
        Str,
        "Last communication",
    )));
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

pub(crate) fn finish(defs: Vec<FieldDef>) -> Arc<Schema> {
    let index = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.clone(), i))
        .collect();
    Arc::new(Schema { defs, index })
}
