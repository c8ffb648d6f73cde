//! Multi-field replace: make PHONE, EMAIL, ... exactly a given list.

use crate::client::Client;
use crate::crm::multi::{current_items, multi_field_name, plan_ops, wanted_items};
use crate::crm::{self, Entity};
use crate::error::Error;
use serde_json::{json, Value};

pub use crate::crm::multi::Replaced;
pub use crate::crm::MULTI_FIELDS;

/// Makes `field` (PHONE, EMAIL, ...) of the entity exactly `values`: strings, or
/// `{"VALUE": ..., "VALUE_TYPE": ...}` objects (VALUE_TYPE defaults to WORK, OTHER for IM).
/// One get, then one update that overwrites, adds and deletes items by ID; none when nothing
/// changes. Duplicate values in `values` are collapsed (the portal would merge them anyway); an
/// item already holding a wanted value is kept (phones compared by digits, e-mails by case).
pub fn replace_multifield(
    client: &Client,
    entity: Entity,
    id: i64,
    field: &str,
    values: &Value,
) -> Result<Replaced, Error> {
    crm::check_id(id)?;
    let field = multi_field_name(field)?;
    if !values.is_array() {
        return Err(Error::invalid_input(
            "INVALID_VALUES",
            "values must be a JSON array",
        ));
    }
    let desired = wanted_items(&field, values)?;
    let entity_now = crm::by_id(client, entity, "get", id)?.value()?;
    let (ops, out) = plan_ops(&field, &desired, &current_items(&entity_now, &field));
    if !ops.is_empty() {
        client.call(
            &entity.method("update"),
            &json!({"id": id, "fields": { field: ops }}),
        )?;
    }
    Ok(out)
}
