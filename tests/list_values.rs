//! List (enumeration) fields given by their item's name, as 1C holds a bank, and values the
//! field's items do not hold: the portal stores those silently (`enumtype.php` `checkFields`),
//! so the library maps names to IDs and reports strangers before anything is sent.

mod common;

use b24_emulator::EntityKind;
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};

const BANK: &str = "UF_CRM_1707822731302";
const GUID_FIELD: &str = "UF_CRM_1723100443089";

#[test]
fn a_bank_given_by_name_is_stored_as_its_item_id() {
    let (emu, c) = setup();
    let full = env(&api::create(
        &c,
        Entity::Contact,
        &json!({"NAME": "B", BANK: "inecobank"}).to_string(),
    ));
    let id = full["result"].as_u64().unwrap();
    assert!(full.get("warnings").is_none(), "{full}");
    assert_eq!(
        emu.entity(EntityKind::Contact, id).unwrap()[BANK],
        json!("464")
    );
    // An ID the list does not hold: sent (the portal would take it), with a warning naming the items.
    let full = env(&api::update(
        &c,
        Entity::Contact,
        id as i64,
        &json!({BANK: "999"}).to_string(),
    ));
    let w = full["warnings"].to_string();
    assert!(w.contains("999") && w.contains("464 Inecobank"), "{full}");
    // Strict: refused before anything is sent, and the stored value stays.
    let strict = client_with(&emu, json!({"strict_fields": true}));
    let e = err(api::update(
        &strict,
        Entity::Contact,
        id as i64,
        &json!({BANK: "Nobank"}).to_string(),
    ));
    assert_eq!(e["code"], json!("INVALID_VALUE"), "{e}");
    assert_eq!(
        emu.entity(EntityKind::Contact, id).unwrap()[BANK],
        json!("999")
    );
}

#[test]
fn bulk_maps_names_and_fails_only_the_strange_record_when_strict() {
    let (emu, c) = setup();
    let strict = client_with(&emu, json!({"strict_fields": true}));
    let records = json!([
        {"NAME": "One", BANK: "ACBA Bank", GUID_FIELD: "lv-1"},
        {"NAME": "Two", BANK: "Nobank", GUID_FIELD: "lv-2"},
    ])
    .to_string();
    let full = env(&api::bulk_upsert(
        &strict,
        Entity::Contact,
        &records,
        &mut |_| {},
    ));
    assert_eq!(full["summary"]["created"], json!(1), "{full}");
    assert_eq!(
        full["result"][1]["error"]["code"],
        json!("INVALID_VALUE"),
        "{full}"
    );
    assert_eq!(full["result"][1]["guid"], json!("lv-2"));
    let id = full["result"][0]["id"].as_u64().unwrap();
    assert_eq!(
        emu.entity(EntityKind::Contact, id).unwrap()[BANK],
        json!("466")
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
    // Not strict: both written, the stranger named once in the warnings.
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records,
        &mut |_| {},
    ));
    let rows: &Vec<Value> = full["result"].as_array().unwrap();
    assert!(rows.iter().all(|r| r.get("error").is_none()), "{full}");
    assert_eq!(full["warnings"].as_array().map(Vec::len), Some(1), "{full}");
}
