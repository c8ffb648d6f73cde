//! Fields sent only when a record is added (`"create_only"`): an upsert that updates leaves
//! them as managers set them in Bitrix24.

mod common;

use b24_emulator::EntityKind;
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};

const GUID_FIELD: &str = "UF_CRM_1723100443089";

fn body(guid: &str, name: &str) -> Value {
    json!({
        "fields": {"NAME": name, "ASSIGNED_BY_ID": 1, "COMMENTS": "from 1C", GUID_FIELD: guid},
        "create_only": ["ASSIGNED_BY_ID", "COMMENTS"],
    })
}

#[test]
fn upsert_sends_create_only_fields_on_add_only() {
    let (emu, c) = setup();
    let made = ok(api::upsert(
        &c,
        Entity::Contact,
        &body("co-1", "A").to_string(),
    ));
    let id = made["id"].as_u64().unwrap();
    let e = emu.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(
        (e["ASSIGNED_BY_ID"].clone(), e["COMMENTS"].clone()),
        (json!("1"), json!("from 1C"))
    );
    // A manager reassigns the contact and edits the comment in Bitrix24.
    let edit = json!({"ASSIGNED_BY_ID": 2, "COMMENTS": "manager"}).to_string();
    ok(api::update(&c, Entity::Contact, id as i64, &edit));
    // The next sync updates the name and leaves the manager's values alone.
    let again = ok(api::upsert(
        &c,
        Entity::Contact,
        &body("co-1", "B").to_string(),
    ));
    assert_eq!(again["created"], json!(false));
    let e = emu.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(e["NAME"], json!("B"));
    assert_eq!(
        (e["ASSIGNED_BY_ID"].clone(), e["COMMENTS"].clone()),
        (json!("2"), json!("manager"))
    );
    // Not a list of names: refused before anything is sent.
    let bad = json!({"fields": {GUID_FIELD: "co-1"}, "create_only": "ASSIGNED_BY_ID"}).to_string();
    assert_eq!(
        err(api::upsert(&c, Entity::Contact, &bad))["code"],
        json!("INVALID_FIELDS")
    );
}

#[test]
fn bulk_upsert_takes_create_only_per_call_or_per_record() {
    let (emu, c) = setup();
    let records = |name: &str| {
        json!({
            "records": [
                {"NAME": name, "ASSIGNED_BY_ID": 1, GUID_FIELD: "cb-1"},
                // A record's own list wins over the call's: here nothing is create-only.
                {"fields": {"NAME": name, "ASSIGNED_BY_ID": 1, GUID_FIELD: "cb-2"}, "create_only": []},
            ],
            "create_only": ["ASSIGNED_BY_ID"],
        })
        .to_string()
    };
    let first = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records("A"),
        &mut |_| {},
    ));
    assert_eq!(first["summary"]["created"], json!(2), "{first}");
    let ids: Vec<i64> = (0..2)
        .map(|i| first["result"][i]["id"].as_i64().unwrap())
        .collect();
    for id in &ids {
        ok(api::update(
            &c,
            Entity::Contact,
            *id,
            &json!({"ASSIGNED_BY_ID": 2}).to_string(),
        ));
    }
    let second = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records("B"),
        &mut |_| {},
    ));
    assert_eq!(second["summary"]["updated"], json!(2), "{second}");
    let assigned =
        |id: i64| emu.entity(EntityKind::Contact, id as u64).unwrap()["ASSIGNED_BY_ID"].clone();
    assert_eq!(
        assigned(ids[0]),
        json!("2"),
        "create-only: kept the manager's value"
    );
    assert_eq!(
        assigned(ids[1]),
        json!("1"),
        "not create-only for this record: overwritten"
    );
    let bad = json!({"records": [], "other": 1}).to_string();
    assert_eq!(
        err(api::bulk_upsert(&c, Entity::Contact, &bad, &mut |_| {}))["code"],
        json!("INVALID_RECORDS")
    );
}
