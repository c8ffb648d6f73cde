//! Client paths that depend on how the real portal treats a request, not on how our emulator
//! once did: GUIDs compared case-insensitively by the portal's filter, GUIDs with spaces, `null`
//! in fields, filter keys the portal would drop, `.json` batch commands, `params.IMPORT`.

mod common;

use b24_emulator::EntityKind;
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};

const GUID_FIELD: &str = "UF_CRM_1723100443089";

fn no_progress() -> impl FnMut(&api::Progress) {
    |_| {}
}

/// The portal's `=`/`@` filters compare text case-insensitively (MySQL `_ci` collation), so an
/// entity stored with an upper-case GUID is found by the lower-case one: that is the same entity,
/// not a misconfigured field.
#[test]
fn guid_differing_in_case_is_the_same_entity() {
    let (emu, c) = setup();
    let stored = "7B2D4C1E-0000-4000-8000-00000000ABCD";
    let id = ok(api::create(
        &c,
        Entity::Contact,
        &json!({"NAME": "Upper", GUID_FIELD: stored}).to_string(),
    ))
    .as_u64()
    .unwrap();
    let lower = stored.to_lowercase();
    let u = ok(api::upsert(
        &c,
        Entity::Contact,
        &json!({"NAME": "Single", GUID_FIELD: lower}).to_string(),
    ));
    assert_eq!(
        (u["id"].as_u64(), u["created"].clone()),
        (Some(id), json!(false))
    );
    // Bulk: the same GUID in another case, beside an unrelated new one.
    let records = json!([
        {"NAME": "Bulk", GUID_FIELD: stored},
        {"NAME": "New", GUID_FIELD: "new-guid-1"},
    ]);
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records.to_string(),
        &mut no_progress(),
    ));
    assert_eq!(
        full["summary"],
        json!({"created": 1, "updated": 1, "failed": 0, "unknown": 0}),
        "{full}"
    );
    assert_eq!(full["result"][0]["id"].as_u64(), Some(id));
    assert_eq!(emu.entity_count(EntityKind::Contact), 2);
}

/// The GUID is stored in the form it is looked up by: trimmed and lower-case. Repeated upserts of
/// a padded GUID find the first entity instead of creating one each time.
#[test]
fn guid_is_normalised_once_and_stored_as_looked_up() {
    let (emu, c) = setup();
    let body = json!({"NAME": "Pad", GUID_FIELD: "  Padded-GUID-1 "}).to_string();
    let ids: Vec<Value> = (0..3)
        .map(|_| ok(api::upsert(&c, Entity::Contact, &body))["id"].clone())
        .collect();
    assert_eq!(ids, vec![ids[0].clone(); 3]);
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
    let id = ids[0].as_u64().unwrap();
    let stored = emu.entity(EntityKind::Contact, id).unwrap()[GUID_FIELD].clone();
    assert_eq!(stored, json!("padded-guid-1"));
    // Bulk stores the same form, and finds the entity the single upsert made.
    let records = json!([{"NAME": "Pad2", GUID_FIELD: " PADDED-guid-1"}, {"NAME": "B", GUID_FIELD: " Bulk-2 "}]);
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records.to_string(),
        &mut no_progress(),
    ));
    assert_eq!(full["result"][0]["id"].as_u64(), Some(id), "{full}");
    assert_eq!(full["result"][0]["guid"], json!("padded-guid-1"));
    let new_id = full["result"][1]["id"].as_u64().unwrap();
    assert_eq!(
        emu.entity(EntityKind::Contact, new_id).unwrap()[GUID_FIELD],
        json!("bulk-2")
    );
    let again = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records.to_string(),
        &mut no_progress(),
    ));
    assert_eq!(again["summary"]["updated"], json!(2), "{again}");
    assert_eq!(emu.entity_count(EntityKind::Contact), 2);
}

/// `null` clears a field, in single writes and in bulk alike.
#[test]
fn null_clears_a_field_in_every_path() {
    let (emu, c) = setup();
    let seed = |guid: &str| {
        let body = json!({"NAME": "N", "SECOND_NAME": "Middle", "COMMENTS": "c", GUID_FIELD: guid});
        ok(api::upsert(&c, Entity::Contact, &body.to_string()))["id"]
            .as_u64()
            .unwrap()
    };
    let (a, b, d) = (seed("null-a"), seed("null-b"), seed("null-d"));
    let clear = |guid: &str| json!({GUID_FIELD: guid, "SECOND_NAME": null, "COMMENTS": null});
    ok(api::upsert(
        &c,
        Entity::Contact,
        &clear("null-a").to_string(),
    ));
    ok(api::update(
        &c,
        Entity::Contact,
        d as i64,
        &json!({"SECOND_NAME": null}).to_string(),
    ));
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &json!([clear("null-b")]).to_string(),
        &mut no_progress(),
    ));
    assert_eq!(full["summary"]["updated"], json!(1), "{full}");
    for id in [a, b, d] {
        let e = emu.entity(EntityKind::Contact, id).unwrap();
        assert_eq!(e["SECOND_NAME"], json!(""), "entity {id}: {e}");
        assert_eq!(e["NAME"], json!("N"));
    }
    // A multi-field cannot be cleared by null: that needs the item IDs (replace_multifield).
    let e = err(api::update(
        &c,
        Entity::Contact,
        a as i64,
        &json!({"PHONE": null}).to_string(),
    ));
    assert_eq!(e["code"], json!("INVALID_FIELDS"), "{e}");
}

/// Filter keys are matched case-sensitively by the portal, which drops unknown ones and then
/// lists every row. The library upper-cases keys it knows and warns about (or, strict, refuses)
/// the rest.
#[test]
fn export_filter_keys_are_upper_cased_or_reported() {
    let (_emu, c) = setup();
    for name in ["Ann", "Bob", "Cid"] {
        ok(api::create(
            &c,
            Entity::Contact,
            &json!({"NAME": name}).to_string(),
        ));
    }
    let full = env(&api::export(
        &c,
        "crm.contact.list",
        Some(r#"{"filter": {"name": "Bob"}, "select": ["ID", "NAME"]}"#),
        None,
        1,
    ));
    assert_eq!(full["result"].as_array().map(Vec::len), Some(1), "{full}");
    assert_eq!(full["result"][0]["NAME"], json!("Bob"));
    // `>id` is the cursor's key in lower case: the export starts after it.
    let full = env(&api::export(
        &c,
        "crm.contact.list",
        Some(r#"{"filter": {">id": 2}}"#),
        None,
        1,
    ));
    assert_eq!(full["total"], json!(1), "{full}");
    // A key the portal does not know at all: every row comes back, with a warning.
    let full = env(&api::export(
        &c,
        "crm.contact.list",
        Some(r#"{"filter": {"BOGUS": 1}}"#),
        None,
        1,
    ));
    assert_eq!(full["total"], json!(3), "{full}");
    let w = full["warnings"].to_string();
    assert!(w.contains("BOGUS"), "{full}");
    let strict = client_with(&_emu, json!({"strict_fields": true}));
    let e = err(api::export(
        &strict,
        "crm.contact.list",
        Some(r#"{"filter": {"!%BOGUS": 1}}"#),
        None,
        1,
    ));
    assert_eq!(e["code"], json!("UNKNOWN_FIELDS"), "{e}");
}

/// Batch sub-commands are not suffix-stripped by the portal: `method.json` would be an unknown
/// method there. The library sends the plain name.
#[test]
fn batch_command_with_json_suffix_is_sent_without_it() {
    let (_emu, c) = setup();
    let id = ok(api::create(
        &c,
        Entity::Contact,
        &json!({"NAME": "J"}).to_string(),
    ));
    let cmds = json!({
        "a": format!("crm.contact.get.json?id={id}"),
        "b": {"method": "crm.contact.get.json", "params": {"id": id}},
    });
    let full = env(&api::batch(&c, &cmds.to_string(), false));
    assert_eq!(full["result"]["result"]["a"]["NAME"], json!("J"), "{full}");
    assert_eq!(full["result"]["result"]["b"]["NAME"], json!("J"), "{full}");
}

/// With `params.IMPORT` the portal writes DATE_CREATE, DATE_MODIFY, CREATED_BY_ID and
/// MODIFY_BY_ID on add (`CCrmRestProxyBase::add`): no warning, and strict mode lets it through.
#[test]
fn import_mode_system_fields_are_not_reported_as_dropped() {
    let (emu, _c) = setup();
    let strict = client_with(&emu, json!({"strict_fields": true}));
    let body = json!({
        "fields": {"NAME": "Imported", "DATE_CREATE": "2020-01-02T03:04:05+04:00", "CREATED_BY_ID": 1},
        "params": {"IMPORT": "Y"},
    });
    let full = env(&api::create(&strict, Entity::Contact, &body.to_string()));
    assert_eq!(full["ok"], json!(true), "{full}");
    assert!(full.get("warnings").is_none(), "{full}");
    // PHP reads "N" as true: import mode is on, and the library says so.
    let body = json!({"fields": {"NAME": "N-mode"}, "params": {"IMPORT": "N"}});
    let full = env(&api::create(&strict, Entity::Contact, &body.to_string()));
    assert!(
        full["warnings"].to_string().contains("import mode ON"),
        "{full}"
    );
    // Without IMPORT they are still read-only, and reported.
    let body = json!({"NAME": "Plain", "DATE_CREATE": "2020-01-02T03:04:05+04:00"});
    assert_eq!(
        err(api::create(&strict, Entity::Contact, &body.to_string()))["code"],
        json!("UNKNOWN_FIELDS")
    );
    // On update IMPORT changes nothing (the portal honours it on add only).
    let body =
        json!({"fields": {"DATE_CREATE": "2020-01-02T03:04:05+04:00"}, "params": {"IMPORT": "Y"}});
    assert_eq!(
        err(api::update(&strict, Entity::Contact, 1, &body.to_string()))["code"],
        json!("UNKNOWN_FIELDS")
    );
}
