//! Single-record operations: create, read, update, delete, upsert, multi-field replace.

use super::{masked, parse_json, single_operation, Entity, Reply, Success};
use crate::client::Client;
use crate::crm::{self, WriteRequest};
use crate::error::Error;
use crate::sync::{self, MatchOptions};
use serde_json::{json, Value};

/// The match options beside `"fields"` of an upsert body (`"match"`, `"dry_run"`); a bare fields
/// object has none, so the client's default rules apply.
fn upsert_options(
    client: &Client,
    entity: Entity,
    body: &mut Value,
) -> Result<MatchOptions, Error> {
    let rules = client.config().match_rules.of(entity);
    match body {
        Value::Object(o) if o.contains_key("fields") => {
            MatchOptions::take(o, guid_field_of(client, entity), rules)
        }
        _ => Ok(MatchOptions {
            rules: rules.to_vec(),
            dry_run: false,
        }),
    }
}

pub(super) fn guid_field_of(client: &Client, entity: Entity) -> &str {
    match entity {
        Entity::Contact => &client.config().guid_fields.contact,
        Entity::Company => &client.config().guid_fields.company,
    }
}

fn write_request(entity: Entity, fields_json: &str) -> Result<WriteRequest, Error> {
    WriteRequest::parse(entity, parse_json("fields", fields_json)?)
}

/// `crm.<entity>.add`; `result` is the new ID.
pub fn create(client: &Client, entity: Entity, fields_json: &str) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let req = write_request(entity, fields_json)?;
            let (id, warnings) = crm::create(client, entity, &req)?;
            Ok(Success {
                result: json!(id).into(),
                warnings,
                ..Success::default()
            })
        })(),
    )
}

/// `crm.<entity>.update`; `result` is `true`.
pub fn update(client: &Client, entity: Entity, id: i64, fields_json: &str) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            crm::check_id(id)?;
            let req = write_request(entity, fields_json)?;
            let (resp, warnings) = crm::update(client, entity, id, &req)?;
            Ok(Success {
                warnings,
                ..Success::from_response(resp)
            })
        })(),
    )
}

/// `crm.<entity>.delete`; `result` is `true`.
pub fn delete(client: &Client, entity: Entity, id: i64) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let warnings = crm::delete(client, entity, id)?;
            Ok(Success {
                result: json!(true).into(),
                warnings,
                ..Success::default()
            })
        })(),
    )
}

/// `crm.<entity>.get`; `result` is the entity object.
pub fn get(client: &Client, entity: Entity, id: i64) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            Ok(Success::from_response(crm::by_id(
                client, entity, "get", id,
            )?))
        })(),
    )
}

/// `crm.<entity>.fields`; `result` maps field codes to their descriptions.
pub fn fields(client: &Client, entity: Entity) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let f = crm::field_list(client, entity)?;
            Ok(Success {
                result: Value::Object((*f).clone()).into(),
                ..Success::default()
            })
        })(),
    )
}

/// Upserts by 1C GUID (the GUID field must be among the fields); `result` is
/// `{"id": N, "created": true|false}`.
pub fn upsert(client: &Client, entity: Entity, fields_json: &str) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let mut body = parse_json("fields", fields_json)?;
            let options = upsert_options(client, entity, &mut body)?;
            let req = WriteRequest::parse(entity, body)?;
            if options.dry_run {
                let plan = sync::plan_upsert(client, entity, &req, &options)?;
                return Ok(Success {
                    result: plan.into(),
                    ..Success::default()
                });
            }
            let (u, warnings) = sync::upsert_with(client, entity, &req, &options.rules)?;
            let mut result = json!({"id": u.id, "created": u.created});
            if u.adopted {
                result["adopted"] = json!(true);
            }
            Ok(Success {
                result: result.into(),
                warnings,
                ..Success::default()
            })
        })(),
    )
}

/// Makes a multi-field (PHONE, EMAIL, WEB, IM, LINK) exactly the given values (a JSON array
/// of strings or `{"VALUE","VALUE_TYPE"}`); `result` is `{"kept","changed","added","deleted"}`.
pub fn set_multifield(
    client: &Client,
    entity: Entity,
    id: i64,
    field: &str,
    values_json: &str,
) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            crm::check_id(id)?;
            let values = parse_json("values", values_json)?;
            let r = sync::replace_multifield(client, entity, id, field, &values)?;
            Ok(Success {
            result:
                json!({"kept": r.kept, "changed": r.changed, "added": r.added, "deleted": r.deleted})
                    .into(),
            ..Success::default()
        })
        })(),
    )
}
