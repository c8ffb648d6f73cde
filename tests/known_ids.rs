//! Upserts with the Bitrix ID of the last sync (`ID` among the fields): the entity is confirmed
//! by an indexed read instead of a GUID lookup, and a stale ID falls back to the lookup.

mod common;

use b24_emulator::EntityKind;
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};

const GUID_FIELD: &str = "UF_CRM_1723100443089";

fn make(c: &bitrix24_1c::Client, guid: &str) -> u64 {
    let body = json!({"NAME": "Old", GUID_FIELD: guid}).to_string();
    ok(api::create(c, Entity::Contact, &body)).as_u64().unwrap()
}

fn lists(emu: &b24_emulator::Emulator) -> u64 {
    emu.stats()
        .by_method
        .get("crm.contact.list")
        .copied()
        .unwrap_or(0)
}

#[test]
fn single_upsert_with_a_known_id_skips_the_guid_lookup() {
    let (emu, c) = setup();
    let id = make(&c, "known-1");
    let other = make(&c, "known-2");
    let before = lists(&emu);
    let body = json!({"ID": id, "NAME": "New", GUID_FIELD: "known-1"}).to_string();
    let u = ok(api::upsert(&c, Entity::Contact, &body));
    assert_eq!(
        (u["id"].as_u64(), u["created"].clone()),
        (Some(id), json!(false))
    );
    assert_eq!(lists(&emu), before, "no GUID lookup");
    assert_eq!(
        emu.entity(EntityKind::Contact, id).unwrap()["NAME"],
        json!("New")
    );
    // A stale ID (deleted in Bitrix) and an ID that now holds another GUID both fall back to
    // the GUID lookup; the entity of the other GUID is left alone.
    for stale in [json!(9999), json!(other.to_string())] {
        let body = json!({"ID": stale, "NAME": "Again", GUID_FIELD: "known-1"}).to_string();
        let u = ok(api::upsert(&c, Entity::Contact, &body));
        assert_eq!(u["id"].as_u64(), Some(id), "{stale}");
    }
    assert_eq!(
        emu.entity(EntityKind::Contact, other).unwrap()["NAME"],
        json!("Old")
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 2);
    // Not a positive integer: refused before anything is sent.
    let body = json!({"ID": "abc", GUID_FIELD: "known-1"}).to_string();
    assert_eq!(
        err(api::upsert(&c, Entity::Contact, &body))["code"],
        json!("INVALID_FIELDS")
    );
}

#[test]
fn bulk_upsert_confirms_known_ids_and_falls_back_for_stale_ones() {
    let (emu, c) = setup();
    let ids: Vec<u64> = (0..120).map(|i| make(&c, &format!("bk-{i}"))).collect();
    let mut records: Vec<Value> = (0..120)
        .map(|i| json!({"ID": ids[i], "NAME": format!("N{i}"), GUID_FIELD: format!("bk-{i}")}))
        .collect();
    // A deleted ID, an ID of another record's entity, and a brand-new record with a bogus ID.
    records[5]["ID"] = json!(99_999);
    records[6]["ID"] = json!(ids[7]);
    records.push(json!({"ID": 88_888, "NAME": "Fresh", GUID_FIELD: "bk-new"}));
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(records).to_string(),
        &mut |_| {},
    ));
    assert_eq!(
        full["summary"],
        json!({"created": 1, "updated": 120, "failed": 0, "unknown": 0}),
        "{full}"
    );
    for i in 0..120 {
        assert_eq!(full["result"][i]["id"].as_u64(), Some(ids[i]), "record {i}");
        let e = emu.entity(EntityKind::Contact, ids[i]).unwrap();
        assert_eq!(e["NAME"], json!(format!("N{i}")), "record {i}");
    }
    assert_eq!(emu.entity_count(EntityKind::Contact), 121);
}
