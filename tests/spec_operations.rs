//! Every operation of the customer's spec, with the spec's own payloads, against the emulator.

mod common;

use b24_emulator::EntityKind;
use base64::Engine;
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};

fn id_of(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an ID: {v}"))
}

#[test]
fn find_user_by_guid() {
    let (emu, c) = setup();
    let guid = "5f0c1c8e-8a7b-11ee-b9d1-0242ac120002";
    let id = emu.add_user(json!({"NAME": "Name", "LAST_NAME": "Last Name", "EMAIL": "email@gmail.com", "ACTIVE": true, "UF_USR_1722587885970": guid}));
    emu.add_user(json!({"NAME": "Other", "ACTIVE": true, "UF_USR_1722587885970": "another-guid"}));
    let user = ok(api::get_user_by_guid(&c, guid));
    assert_eq!(user["ID"], json!(id));
    assert_eq!(user["NAME"], json!("Name"));
    let e = err(api::get_user_by_guid(&c, "no-such-guid"));
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("not_found"), Some("USER_NOT_FOUND"))
    );
}

#[test]
fn guid_shared_by_two_users_is_a_conflict_naming_both() {
    let (emu, c) = setup();
    let a = emu.add_user(json!({"NAME": "A", "UF_USR_1722587885970": "dup"}));
    let b = emu.add_user(json!({"NAME": "B", "UF_USR_1722587885970": "dup"}));
    let e = err(api::get_user_by_guid(&c, "dup"));
    assert_eq!(e["kind"], json!("conflict"));
    assert_eq!(e["details"]["ids"], json!([a, b]));
}

#[test]
fn misspelt_guid_field_is_not_everyone() {
    // The portal drops unknown filter keys and returns all users; the library must not pick one.
    let emu = emulator(None);
    emu.add_user(json!({"NAME": "A", "UF_USR_1722587885970": "g1"}));
    let c = client_with(&emu, json!({"guid_fields": {"user": "UF_USR_MISSPELT"}}));
    let e = err(api::get_user_by_guid(&c, "g1"));
    assert_eq!(e["kind"], json!("access"), "{e}");
}

#[test]
fn contact_lifecycle_with_spec_payloads() {
    let (emu, c) = setup();
    let company = id_of(&ok(api::create(
        &c,
        Entity::Company,
        &spec_company().to_string(),
    )));
    let body = spec_contact(&company.to_string());
    let reply = api::create(&c, Entity::Contact, &body.to_string());
    let full = env(&reply);
    assert_eq!(full["ok"], json!(true), "{full}");
    assert!(
        full.get("warnings").is_none(),
        "the spec body must not lose fields: {full}"
    );
    let id = id_of(&full["result"]);
    assert!(full["result"].is_number(), "add returns a JSON number");

    let got = ok(api::get(&c, Entity::Contact, id));
    // Armenian text round-trips byte-exact.
    for key in [
        "NAME",
        "LAST_NAME",
        "SECOND_NAME",
        "COMMENTS",
        "UF_CRM_1721896329420",
        "UF_CRM_1707822448806",
    ] {
        assert_eq!(got[key], body["fields"][key], "{key}");
    }
    assert_eq!(
        got["UF_CRM_664DBFBD43D75"],
        body["fields"]["UF_CRM_664DBFBD43D75"]
    );
    assert_eq!(got["UF_CRM_1707822731302"], json!("464"));
    assert_eq!(got["TYPE_ID"], json!("UC_DIUN9M"));
    assert_eq!(got["UF_CRM_1723100443089"], json!("GUID ID Contact"));
    // The spec's "COMPANY" key reached the real link field.
    assert_eq!(got["COMPANY_ID"], json!(company.to_string()), "{got}");
    // The spec sends one number twice; the portal's multi-field collection keeps equal values
    // once, also on add (crm/lib/Multifield/Collection.php `add`, `Value::isEqualTo`).
    let phones = got["PHONE"].as_array().expect("phones");
    assert_eq!(phones.len(), 1, "{got}");
    assert!(phones
        .iter()
        .all(|p| p["VALUE"] == json!("+37498888888") && p["ID"].is_string()));
    // Files arrived intact.
    let files = got["UF_CRM_1707822691457"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    for f in files {
        let fid = f["id"].as_u64().expect("file id");
        assert_eq!(emu.file_bytes(fid).expect("stored"), vec![0u8]);
    }

    // Update with the spec's update body (items without IDs are added).
    let mut upd = spec_contact(&company.to_string());
    upd["fields"]["NAME"] = json!("Փոփոխված Имя");
    upd["fields"]["PHONE"] =
        json!([{"ID": "", "VALUE": "+37498888888"}, {"ID": "", "VALUE": "+37498888889"}]);
    assert_eq!(
        ok(api::update(&c, Entity::Contact, id, &upd.to_string())),
        json!(true)
    );
    let got = ok(api::get(&c, Entity::Contact, id));
    assert_eq!(got["NAME"], json!("Փոփոխված Имя"));

    // Change one phone by its ID: get → edit → update; the other phone stays.
    let phones = got["PHONE"].as_array().unwrap().clone();
    let (first, rest) = (phones[0].clone(), phones[1..].to_vec());
    let change = json!({"PHONE": [{"ID": first["ID"], "VALUE": "+37477000000", "VALUE_TYPE": first["VALUE_TYPE"]}]});
    ok(api::update(&c, Entity::Contact, id, &change.to_string()));
    let after = ok(api::get(&c, Entity::Contact, id));
    let after_phones = after["PHONE"].as_array().unwrap();
    assert_eq!(after_phones.len(), phones.len());
    assert!(after_phones
        .iter()
        .any(|p| p["ID"] == first["ID"] && p["VALUE"] == json!("+37477000000")));
    for p in rest {
        assert!(after_phones.contains(&p), "untouched phone {p} kept");
    }

    assert_eq!(ok(api::delete(&c, Entity::Contact, id)), json!(true));
    let e = err(api::get(&c, Entity::Contact, id));
    assert_eq!(e["kind"], json!("not_found"), "{e}");
    assert_eq!(e["http_status"], json!(400));
    assert!(emu.entity(EntityKind::Contact, id as u64).is_none());
}

#[test]
fn company_lifecycle_with_spec_payloads() {
    let (emu, c) = setup();
    let contact = id_of(&ok(api::create(
        &c,
        Entity::Contact,
        r#"{"NAME":"Контакт"}"#,
    )));
    let mut body = spec_company();
    body["fields"]["CONTACT"] = json!([contact.to_string()]);
    let id = id_of(&ok(api::create(&c, Entity::Company, &body.to_string())));
    let got = ok(api::get(&c, Entity::Company, id));
    assert_eq!(got["TITLE"], json!("Կազմակերպության անվանում"));
    assert_eq!(got["UF_CRM_1721896453819"], json!("Գործունեության  հասցե"));
    assert_eq!(got["UF_CRM_1707823136855"], json!("259"));
    // The spec's CONTACT key linked the contact (links are two-way: the contact sees its company).
    let linked = ok(api::get(&c, Entity::Contact, contact));
    assert_eq!(linked["COMPANY_ID"], json!(id.to_string()), "{linked}");
    assert!(emu.entity(EntityKind::Company, id as u64).is_some());

    // The spec's update body for companies.
    let mut upd = spec_company();
    upd["fields"]["TITLE"] = json!("Новое имя");
    assert_eq!(
        ok(api::update(&c, Entity::Company, id, &upd.to_string())),
        json!(true)
    );
    assert_eq!(
        ok(api::get(&c, Entity::Company, id))["TITLE"],
        json!("Новое имя")
    );
    assert_eq!(ok(api::delete(&c, Entity::Company, id)), json!(true));
    let e = err(api::delete(&c, Entity::Company, id));
    assert_eq!(e["kind"], json!("not_found"), "{e}");
}

#[test]
fn field_descriptions_list_bank_options() {
    let (_emu, c) = setup();
    let f = ok(api::fields(&c, Entity::Contact));
    let bank = &f["UF_CRM_1707822731302"];
    assert_eq!(bank["type"], json!("enumeration"));
    assert!(bank["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["ID"] == json!("464")));
    let f = ok(api::fields(&c, Entity::Company));
    assert!(f["TITLE"].is_object());
}

#[test]
fn dropped_fields_are_named_and_strict_mode_refuses() {
    let (emu, c) = setup();
    let full = env(&api::create(
        &c,
        Entity::Contact,
        r#"{"NAME":"A","name":"b","UF_CRM_NOPE":"x","ID":"5"}"#,
    ));
    assert_eq!(full["ok"], json!(true));
    let w: Vec<String> = serde_json::from_value(full["warnings"].clone()).unwrap();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w.iter().any(|s| s.contains("\"name\""))
            && w.iter().any(|s| s.contains("UF_CRM_NOPE"))
            && w.iter().any(|s| s.contains("read-only"))
    );

    let strict = client_with(&emu, json!({"strict_fields": true}));
    let before = emu.entity_count(EntityKind::Contact);
    let e = err(api::create(
        &strict,
        Entity::Contact,
        r#"{"NAME":"A","UF_CRM_NOPE":"x"}"#,
    ));
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("invalid_input"), Some("UNKNOWN_FIELDS"))
    );
    assert_eq!(
        emu.entity_count(EntityKind::Contact),
        before,
        "nothing was sent"
    );
}

#[test]
fn generic_call_list_and_paging() {
    let (_emu, c) = setup();
    for i in 0..55 {
        ok(api::create(
            &c,
            Entity::Contact,
            &json!({"NAME": format!("N{i}")}).to_string(),
        ));
    }
    let full = env(&api::call(
        &c,
        "crm.contact.list",
        Some(r#"{"order":{"ID":"ASC"},"select":["ID","NAME"]}"#),
    ));
    assert_eq!(full["result"].as_array().unwrap().len(), 50);
    assert_eq!(
        (full["total"].as_u64(), full["next"].as_u64()),
        (Some(55), Some(50))
    );
    let page2 = env(&api::call(
        &c,
        "crm.contact.list",
        Some(r#"{"order":{"ID":"ASC"},"start":50}"#),
    ));
    assert_eq!(page2["result"].as_array().unwrap().len(), 5);
    assert!(page2.get("next").is_none());
    let e = err(api::call(&c, "crm.nothing.here", None));
    assert_eq!(
        (e["code"].as_str(), e["http_status"].as_u64()),
        (Some("ERROR_METHOD_NOT_FOUND"), Some(404))
    );
}

#[test]
fn batch_of_120_with_per_command_errors() {
    let (emu, c) = setup();
    let mut cmds = serde_json::Map::new();
    for i in 0..120 {
        let cmd = if i % 40 == 7 {
            json!("crm.contact.get?id=999999") // fails: not found
        } else {
            json!({"method": "crm.contact.add", "params": {"fields": {"NAME": format!("Пакет {i}"), "PHONE": [{"VALUE": "+374 10 00 00"}]}}})
        };
        cmds.insert(format!("c{i}"), cmd);
    }
    let full = env(&api::batch(&c, &Value::Object(cmds).to_string(), false));
    assert_eq!(full["ok"], json!(true), "{full}");
    let res = full["result"]["result"].as_object().unwrap();
    let errs = full["result"]["result_error"].as_object().unwrap();
    assert_eq!(res.len(), 117);
    assert_eq!(errs.len(), 3);
    assert_eq!(full["failed"], json!(3));
    assert_eq!(full["not_executed"], json!([]));
    for name in ["c7", "c47", "c87"] {
        assert_eq!(errs[name]["kind"], json!("not_found"), "{}", errs[name]);
        assert!(errs[name]["error_description"].is_string());
    }
    assert_eq!(emu.entity_count(EntityKind::Contact), 117);
    assert_eq!(
        emu.stats().by_method.get("batch"),
        Some(&3),
        "120 commands go in 3 requests"
    );
    // "+" in a phone survived the query-string encoding.
    let some_id = id_of(&res["c0"]);
    assert_eq!(
        ok(api::get(&c, Entity::Contact, some_id))["PHONE"][0]["VALUE"],
        json!("+374 10 00 00")
    );
}

#[test]
fn batch_halt_reports_what_did_not_run() {
    let (_emu, c) = setup();
    let cmds = json!({"a": "scope", "b": "crm.contact.get?id=424242", "c": "scope"});
    let full = env(&api::batch(&c, &cmds.to_string(), true));
    assert_eq!(full["failed"], json!(1));
    assert_eq!(full["not_executed"], json!(["c"]));
    let mut many = serde_json::Map::new();
    many.insert("bad".into(), json!("crm.contact.get?id=424242"));
    for i in 0..60 {
        many.insert(format!("x{i}"), json!("scope"));
    }
    let full = env(&api::batch(&c, &Value::Object(many).to_string(), true));
    assert_eq!(full["not_executed"].as_array().unwrap().len(), 60, "{full}");
}

#[test]
fn check_connection_reports_scopes() {
    let (_emu, c) = setup();
    let r = ok(api::check_connection(&c));
    assert_eq!(
        (r["crm"].as_bool(), r["user"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(r["webhook_url"].as_str().unwrap().ends_with("/rest/1/***/"));
}

#[test]
fn larger_file_arrives_intact() {
    let (emu, c) = setup();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    let body = json!({"NAME": "Файл", "UF_CRM_1707822691457": [{"fileData": ["scan.bin", b64]}]});
    let id = id_of(&ok(api::create(&c, Entity::Contact, &body.to_string())));
    let got = ok(api::get(&c, Entity::Contact, id));
    let fid = got["UF_CRM_1707822691457"][0]["id"].as_u64().unwrap();
    assert_eq!(emu.file_bytes(fid).unwrap(), data);
}
