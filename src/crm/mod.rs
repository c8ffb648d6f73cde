//! CRM operations on contacts and companies.
//!
//! - [`request`]: a write request as the caller gives it, and what `null` and `params.IMPORT`
//!   mean;
//! - [`fields`]: the portal's field lists, and the keys (of fields and of filters) it would drop
//!   without a word;
//! - [`values`], [`statuses`], [`references`]: values given by name (list items, reference
//!   lists such as TYPE_ID) or by 1C GUID (users), mapped before a write;
//! - [`user`]: finding users by GUID.

mod fields;
pub mod multi;
mod references;
mod request;
mod statuses;
mod user;
mod values;

pub use fields::{
    cached_field_list, dropped_keys, field_list, filter_keys, invalid_values, list_fields,
    remember_field_list, split_operator, FieldMap, WriteKind,
};
pub use multi::MULTI_FIELDS;
pub use references::{map_references, Mapped, USER_GUID_KEY};
pub use request::WriteRequest;
pub use user::{user_by_guid, user_ids_by_guids};
pub use values::map_enumerations;

use crate::client::{Client, Repeat, Response};
use crate::error::{Error, ErrorKind};
use fields::check_fields;
use serde_json::{json, Value};

/// The CRM entity an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// `crm.contact.*`
    Contact,
    /// `crm.company.*`
    Company,
}

impl Entity {
    /// The method of this entity: `crm.contact.add` for `"add"`.
    pub fn method(self, verb: &str) -> String {
        format!("crm.{}.{verb}", self.name())
    }

    /// `contact` or `company`.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Contact => "contact",
            Entity::Company => "company",
        }
    }

    /// The key the customer's spec uses for links, and the real field it means. The spec writes
    /// `"COMPANY": ["62"]` on contacts and `"CONTACT": ["720"]` on companies; the portal knows
    /// neither and would drop them, losing the link.
    pub(crate) fn link_alias(self) -> (&'static str, &'static str) {
        match self {
            Entity::Contact => ("COMPANY", "COMPANY_IDS"),
            Entity::Company => ("CONTACT", "CONTACT_ID"),
        }
    }
}

/// `crm.<entity>.add`: the new ID, plus warnings. An answer without a positive ID (`true`,
/// `null`, a string) came after the add ran, so it is `OUTCOME_UNKNOWN`, not a success.
pub fn create(
    client: &Client,
    entity: Entity,
    req: &WriteRequest,
) -> Result<(i64, Vec<String>), Error> {
    let kind = WriteKind::Add {
        import: req.is_import(),
    };
    let (warnings, mapped) = check_fields(client, entity, req, kind)?;
    let req = mapped.as_ref().unwrap_or(req).resolve_exact(None);
    let resp = client.call_body(&entity.method("add"), req.to_body(None)?, Repeat::Unsafe)?;
    let id: Option<i64> = match serde_json::from_str::<Value>(resp.result.get()) {
        Ok(Value::Number(n)) => n.as_i64(),
        Ok(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    match id.filter(|id| *id > 0) {
        Some(id) => Ok((id, warnings)),
        None => {
            let shown: String = resp.result.get().chars().take(80).collect();
            Err(Error::outcome_unknown(Error::new(
                ErrorKind::Protocol,
                "INVALID_RESPONSE",
                format!(
                    "{} returned {shown} instead of the new ID",
                    entity.method("add")
                ),
            )))
        }
    }
}

/// `crm.<entity>.delete`, plus warnings. When an earlier attempt's answer was lost and the
/// retry finds the entity gone, the first attempt deleted it: that is a success.
pub fn delete(client: &Client, entity: Entity, id: i64) -> Result<Vec<String>, Error> {
    match by_id(client, entity, "delete", id) {
        Ok(_) => Ok(vec![]),
        Err(e) if e.kind == ErrorKind::NotFound && e.earlier_attempt_may_have_run() => Ok(vec![
            "the first delete's answer was lost; the retry found the entity already gone".into(),
        ]),
        Err(e) => Err(e),
    }
}

/// `crm.<entity>.update`: `true` in `result`, plus warnings.
pub fn update(
    client: &Client,
    entity: Entity,
    id: i64,
    req: &WriteRequest,
) -> Result<(Response, Vec<String>), Error> {
    check_id(id)?;
    let (warnings, mapped) = check_fields(client, entity, req, WriteKind::Update)?;
    let req = mapped.as_ref().unwrap_or(req);
    // Exact multi-fields need the items as they are now (one get).
    let resolved = match req.exact.is_empty() {
        true => None,
        false => Some(req.resolve_exact(Some(&by_id(client, entity, "get", id)?.value()?))),
    };
    let req = resolved.as_ref().unwrap_or(req);
    let resp = client.call_body(
        &entity.method("update"),
        req.to_body(Some(id))?,
        Repeat::Safe,
    )?;
    Ok((resp, warnings))
}

/// `crm.<entity>.get`, `crm.<entity>.delete`: by ID.
pub fn by_id(client: &Client, entity: Entity, verb: &str, id: i64) -> Result<Response, Error> {
    check_id(id)?;
    client.call(&entity.method(verb), &json!({ "id": id }))
}

/// IDs are positive integers; Bitrix itself would answer 0 or a negative one with a vague error.
pub fn check_id(id: i64) -> Result<(), Error> {
    if id > 0 {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "INVALID_ID",
            format!("ID must be a positive integer, got {id}"),
        ))
    }
}
