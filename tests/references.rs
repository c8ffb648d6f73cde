//! Values given the way 1C holds them: a contact type by its name (TYPE_ID is a `crm_status`
//! field, its items from `crm.status.list`) and the responsible user by 1C GUID
//! (`"ASSIGNED_BY_ID": {"guid": "…"}`), mapped before anything is sent.

mod common;

use b24_emulator::{Emulator, EntityKind};
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};

const GUID_FIELD: &str = "UF_CRM_1723100443089";
const USER_GUID: &str = "UF_USR_1722587885970";

fn calls(emu: &Emulator, method: &str) -> u64 {
    emu.stats().by_method.get(method).copied().unwrap_or(0)
}

fn stored(emu: &Emulator, id: &Value, key: &str) -> Value {
    emu.entity(EntityKind::Contact, id.as_u64().unwrap())
        .unwrap()[key]
        .clone()
}

#[test]
fn type_id_by_name_in_create_update_and_upsert_with_one_list_fetch() {
    let (emu, c) = setup();
    let full = env(&api::create(
        &c,
        Entity::Contact,
        &json!({"NAME": "A", "TYPE_ID": " Դիմորդ "}).to_string(),
    ));
    assert!(full.get("warnings").is_none(), "{full}");
    let id = full["result"].clone();
    assert_eq!(stored(&emu, &id, "TYPE_ID"), json!("UC_DIUN9M"));
    let upd = json!({"TYPE_ID": "այլ"}).to_string(); // case ignored: the name is unique
    ok(api::update(&c, Entity::Contact, id.as_i64().unwrap(), &upd));
    assert_eq!(stored(&emu, &id, "TYPE_ID"), json!("UC_KKSTDO"));
    let up = json!({"NAME": "B", "TYPE_ID": "UC_JVEYP2", GUID_FIELD: "ref-1"}).to_string();
    let r = ok(api::upsert(&c, Entity::Contact, &up));
    assert_eq!(stored(&emu, &r["id"], "TYPE_ID"), json!("UC_JVEYP2"));
    let up = json!({"NAME": "B", "TYPE_ID": "Հաճախորդ", GUID_FIELD: "ref-1"}).to_string();
    assert_eq!(
        ok(api::upsert(&c, Entity::Contact, &up))["created"],
        json!(false)
    );
    assert_eq!(stored(&emu, &r["id"], "TYPE_ID"), json!("CLIENT"));
    assert_eq!(
        calls(&emu, "crm.status.list"),
        1,
        "cached per webhook and type"
    );
}

#[test]
fn an_unknown_name_warns_and_strict_refuses_before_anything_is_sent() {
    let (emu, c) = setup();
    let body = json!({"NAME": "A", "TYPE_ID": "Nobody"}).to_string();
    let full = env(&api::create(&c, Entity::Contact, &body));
    let w = full["warnings"].to_string();
    assert!(
        w.contains("CONTACT_TYPE") && w.contains("UC_DIUN9M Դիմորդ"),
        "{full}"
    );
    let strict = client_with(&emu, json!({"strict_fields": true}));
    let adds = calls(&emu, "crm.contact.add");
    let e = err(api::create(&strict, Entity::Contact, &body));
    assert_eq!(e["code"], json!("INVALID_VALUE"), "{e}");
    assert_eq!(e["kind"], json!("invalid_input"));
    assert_eq!(calls(&emu, "crm.contact.add"), adds, "nothing sent");
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
}

#[test]
fn names_that_differ_only_in_case_need_the_exact_one() {
    // A fresh portal: the list is cached for ten minutes, so rows added later are not seen.
    let emu = emulator(None);
    emu.add_status("CONTACT_TYPE", "UC_TWIN01", "Twin");
    emu.add_status("CONTACT_TYPE", "UC_TWIN02", "twin");
    let fresh = client_with(&emu, json!({"strict_fields": true}));
    let r = ok(api::create(
        &fresh,
        Entity::Contact,
        &json!({"NAME": "T", "TYPE_ID": "twin"}).to_string(),
    ));
    assert_eq!(stored(&emu, &r, "TYPE_ID"), json!("UC_TWIN02"));
    let e = err(api::create(
        &fresh,
        Entity::Contact,
        &json!({"NAME": "T", "TYPE_ID": "TWIN"}).to_string(),
    ));
    assert!(
        e["description"].as_str().unwrap().contains("several items"),
        "{e}"
    );
}

#[test]
fn no_list_or_user_request_without_such_a_value() {
    let (emu, c) = setup();
    let plain = json!({"NAME": "A", "TYPE_ID": "", "ASSIGNED_BY_ID": "1", "COMMENTS": "x"});
    ok(api::create(&c, Entity::Contact, &plain.to_string()));
    let records = json!([{"NAME": "B", GUID_FIELD: "n-1", "ASSIGNED_BY_ID": 1}]).to_string();
    env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records,
        &mut |_| {},
    ));
    assert_eq!(calls(&emu, "crm.status.list"), 0);
    assert_eq!(calls(&emu, "user.get"), 0);
}

#[test]
fn assigned_by_user_guid_found_unknown_and_ambiguous() {
    let (emu, c) = setup();
    let user = emu.add_user(json!({"NAME": "M", USER_GUID: "mgr-1"}));
    emu.add_user(json!({"NAME": "D1", USER_GUID: "dup"}));
    emu.add_user(json!({"NAME": "D2", USER_GUID: "dup"}));
    let with = |g: &str| json!({"NAME": "A", "ASSIGNED_BY_ID": {"guid": g}}).to_string();
    let full = env(&api::create(&c, Entity::Contact, &with("mgr-1")));
    assert!(full.get("warnings").is_none(), "{full}");
    assert_eq!(stored(&emu, &full["result"], "ASSIGNED_BY_ID"), json!(user));
    assert_eq!(calls(&emu, "user.get"), 1);
    // No such user: a warning, and the field is left out (the portal picks the webhook user).
    let full = env(&api::create(&c, Entity::Contact, &with("nobody")));
    assert!(
        full["warnings"]
            .to_string()
            .contains("no user has the 1C GUID"),
        "{full}"
    );
    assert_ne!(stored(&emu, &full["result"], "ASSIGNED_BY_ID"), json!(user));
    let adds = calls(&emu, "crm.contact.add");
    let strict = client_with(&emu, json!({"strict_fields": true}));
    let e = err(api::create(&strict, Entity::Contact, &with("nobody")));
    assert_eq!(e["code"], json!("INVALID_VALUE"), "{e}");
    // Several users: a conflict naming them, never a guess; nothing sent either way.
    let e = err(api::create(&c, Entity::Contact, &with("dup")));
    assert_eq!(
        (&e["code"], &e["kind"]),
        (&json!("AMBIGUOUS_GUID"), &json!("conflict"))
    );
    assert_eq!(e["details"]["ids"].as_array().map(Vec::len), Some(2), "{e}");
    assert_eq!(e["details"]["field"], json!("ASSIGNED_BY_ID"));
    assert_eq!(calls(&emu, "crm.contact.add"), adds);
}

#[test]
fn bulk_fetches_each_list_and_user_once_and_fails_only_the_bad_records() {
    let (emu, c) = setup();
    let m1 = emu.add_user(json!({"NAME": "M1", USER_GUID: "m-1"}));
    let m2 = emu.add_user(json!({"NAME": "M2", USER_GUID: "m-2"}));
    emu.add_user(json!({"NAME": "D1", USER_GUID: "dup"}));
    emu.add_user(json!({"NAME": "D2", USER_GUID: "dup"}));
    let rec = |n: u32, ty: &str, src: &str, user: &str| {
        json!({"NAME": format!("R{n}"), GUID_FIELD: format!("b-{n}"), "TYPE_ID": ty,
               "SOURCE_ID": src, "ASSIGNED_BY_ID": {"guid": user}})
    };
    let records = json!([
        rec(0, "Դիմորդ", "Call", "m-1"),
        rec(1, "CLIENT", "WEB", "m-2"),
        rec(2, "Այլ", "", "m-1"),
        rec(3, "Կոնտակտային անձ", "E-Mail", "dup"),
        rec(4, "Nobody", "CALL", "nobody"),
    ])
    .to_string();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &records,
        &mut |_| {},
    ));
    let rows = full["result"].as_array().unwrap();
    let id = |i: usize| rows[i]["id"].clone();
    assert_eq!(stored(&emu, &id(0), "TYPE_ID"), json!("UC_DIUN9M"));
    assert_eq!(stored(&emu, &id(0), "SOURCE_ID"), json!("CALL"));
    assert_eq!(stored(&emu, &id(0), "ASSIGNED_BY_ID"), json!(m1));
    assert_eq!(stored(&emu, &id(1), "ASSIGNED_BY_ID"), json!(m2));
    assert_eq!(stored(&emu, &id(2), "TYPE_ID"), json!("UC_KKSTDO"));
    assert_eq!(rows[3]["error"]["code"], json!("AMBIGUOUS_GUID"), "{full}");
    assert_eq!(rows[3]["guid"], json!("b-3"));
    assert_eq!(
        stored(&emu, &id(4), "TYPE_ID"),
        json!("Nobody"),
        "sent as given"
    );
    let w = full["warnings"].to_string();
    assert!(
        w.contains("\\\"Nobody\\\"") && w.contains("no user has"),
        "{full}"
    );
    assert_eq!(calls(&emu, "crm.status.list"), 2, "CONTACT_TYPE and SOURCE");
    assert_eq!(
        calls(&emu, "user.get"),
        4,
        "one per distinct GUID, in one batch"
    );
    // Strict: the record with an unknown name or user fails alone, nothing of it written.
    let strict = client_with(&emu, json!({"strict_fields": true}));
    let before = emu.entity_count(EntityKind::Contact);
    let records = json!([rec(5, "Այլ", "", "m-2"), rec(6, "Այլ", "", "nobody")]).to_string();
    let full = env(&api::bulk_upsert(
        &strict,
        Entity::Contact,
        &records,
        &mut |_| {},
    ));
    assert!(full["result"][0].get("error").is_none(), "{full}");
    assert_eq!(full["result"][1]["error"]["code"], json!("INVALID_VALUE"));
    assert_eq!(emu.entity_count(EntityKind::Contact), before + 1);
    assert_eq!(calls(&emu, "crm.status.list"), 2, "the lists are cached");
}

#[test]
fn company_type_by_name() {
    let (emu, c) = setup();
    let r = ok(api::create(
        &c,
        Entity::Company,
        &json!({"TITLE": "Co", "COMPANY_TYPE": "partner"}).to_string(),
    ));
    let co = emu
        .entity(EntityKind::Company, r.as_u64().unwrap())
        .unwrap();
    assert_eq!(co["COMPANY_TYPE"], json!("PARTNER"));
}
