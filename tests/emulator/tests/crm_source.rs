//! CRM behaviours checked against the Bitrix server source (see README "CRM" citations).

mod common;

use b24_emulator::EntityKind;
use common::*;
use serde_json::{json, Value};

fn ids(r: &Value) -> Vec<u64> {
    r.as_array()
        .unwrap()
        .iter()
        .map(|c| c["ID"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn list(e: &b24_emulator::Emulator, method: &str, body: Value) -> Vec<u64> {
    ids(&call(e, method, body).result())
}

#[test]
fn field_lists_follow_get_fields_info() {
    let e = emu();
    let c = call(&e, "crm.contact.fields", json!({})).result();
    for k in [
        "ADDRESS",
        "ADDRESS_2",
        "ADDRESS_CITY",
        "ADDRESS_POSTAL_CODE",
        "ADDRESS_REGION",
        "ADDRESS_PROVINCE",
        "ADDRESS_COUNTRY",
        "ADDRESS_COUNTRY_CODE",
    ] {
        assert_eq!(c[k]["type"], json!("string"), "{k}");
    }
    assert_eq!(c["ADDRESS_LOC_ADDR_ID"]["type"], json!("integer"));
    assert_eq!(c["LAST_COMMUNICATION_TIME"]["isReadOnly"], json!(true));
    assert_eq!(c["COMPANY_ID"]["isDeprecated"], json!(true));
    assert!(c.get("FULL_NAME").is_none(), "hidden fields are not listed");
    let co = call(&e, "crm.company.fields", json!({})).result();
    for k in [
        "REG_ADDRESS",
        "REG_ADDRESS_CITY",
        "REG_ADDRESS_COUNTRY_CODE",
    ] {
        assert_eq!(co[k]["type"], json!("string"), "{k}");
    }
    assert_eq!(co["REG_ADDRESS_LOC_ADDR_ID"]["type"], json!("integer"));
}

#[test]
fn add_defaults_names_and_statuses() {
    let e = emu();
    let id = call(
        &e,
        "crm.contact.add",
        json!({"fields": {"SECOND_NAME": "x"}}),
    )
    .result()
    .as_u64()
    .unwrap();
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(c["LAST_NAME"], json!(format!("Contact #{id}")));
    assert_eq!(
        (c["TYPE_ID"].clone(), c["SOURCE_ID"].clone()),
        (json!("CLIENT"), json!("CALL"))
    );
    assert_eq!(c["UF_CRM_1723100443089"], json!(""), "never-set single UF");
    let co = call(&e, "crm.company.add", json!({}))
        .result()
        .as_u64()
        .unwrap();
    let c = e.entity(EntityKind::Company, co).unwrap();
    assert_eq!(c["TITLE"], json!(format!("Company #{co}")));
    assert_eq!(c["COMPANY_TYPE"], json!("CUSTOMER"));
    assert_eq!(c["INDUSTRY"], json!("IT"));
    assert_eq!(c["EMPLOYEES"], json!("EMPLOYEES_1"));
    // An update that empties both names is refused; TITLE "" likewise.
    let r = call(
        &e,
        "crm.contact.update",
        json!({"id": id, "fields": {"LAST_NAME": "", "NAME": ""}}),
    );
    assert_eq!((r.status, r.json()["error"].clone()), (400, json!("")));
    let r = call(
        &e,
        "crm.company.update",
        json!({"id": co, "fields": {"TITLE": " "}}),
    );
    assert_eq!((r.status, r.json()["error"].clone()), (400, json!("")));
}

#[test]
fn params_import_null_and_enumerations() {
    let e = emu();
    assert_err(
        &call(
            &e,
            "crm.contact.add",
            json!({"fields": {"NAME": "a"}, "params": "x"}),
        ),
        400,
        "",
        "Parameter 'params' must be array.",
    );
    assert_err(
        &call(&e, "crm.contact.update", json!({"id": 1, "fields": 5})),
        400,
        "",
        "Parameter 'fields' must be array.",
    );
    let body = json!({"fields": {"NAME": "i", "DATE_CREATE": "2020-01-02T03:04:05+04:00",
        "CREATED_BY_ID": 7}, "params": {"IMPORT": "Y"}});
    let id = call(&e, "crm.contact.add", body).result().as_u64().unwrap();
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(c["DATE_CREATE"], json!("2020-01-02T03:04:05+04:00"));
    assert_eq!(c["CREATED_BY_ID"], json!("7"));
    let body = json!({"fields": {"NAME": "n", "DATE_CREATE": "2020-01-02", "CREATED_BY_ID": 7}});
    let id = call(&e, "crm.contact.add", body).result().as_u64().unwrap();
    assert_eq!(
        e.entity(EntityKind::Contact, id).unwrap()["CREATED_BY_ID"],
        json!("1")
    );
    // null clears a string field; an enumeration takes any value.
    call(
        &e,
        "crm.contact.update",
        json!({"id": id, "fields": {"POST": "p"}}),
    )
    .result();
    call(
        &e,
        "crm.contact.update",
        json!({"id": id, "fields": {"POST": null, "UF_CRM_1707822731302": "999"}}),
    )
    .result();
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(c["POST"], json!(""));
    assert_eq!(c["UF_CRM_1707822731302"], json!("999"));
}

#[test]
fn multi_fields_follow_the_assembler() {
    let e = emu();
    let id = add_contact(
        &e,
        json!({"NAME": "m", "PHONE": [{"VALUE": "1"}, {"VALUE": "1"}], "EMAIL": [{"VALUE": "a@b.cd"}]}),
    );
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(c["PHONE"].as_array().unwrap().len(), 1, "equal values once");
    let email_id = c["EMAIL"][0]["ID"].as_str().unwrap().to_string();
    // Unknown ID → new value; an EMAIL item's ID inside PHONE updates that EMAIL item.
    call(
        &e,
        "crm.contact.update",
        json!({"id": id, "fields": {"PHONE": [
        {"ID": "9999", "VALUE": "2"}, {"ID": email_id, "VALUE": "x@y.zz"}]}}),
    )
    .result();
    let c = e.entity(EntityKind::Contact, id).unwrap();
    let phones: Vec<&str> = c["PHONE"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["VALUE"].as_str().unwrap())
        .collect();
    assert_eq!(phones, ["1", "2"]);
    assert_eq!(c["EMAIL"][0]["VALUE"], json!("x@y.zz"));
    assert_eq!(c["EMAIL"][0]["ID"], json!(email_id));
    // Filters: the plain key is a prefix match; operator keys are dropped.
    add_contact(&e, json!({"NAME": "o", "PHONE": [{"VALUE": "12"}]}));
    let all = list(&e, "crm.contact.list", json!({}));
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"PHONE": "1"}})),
        all
    );
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"PHONE": "12"}})),
        vec![all[1]]
    );
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"%PHONE": "zzz"}})),
        all
    );
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"=PHONE": "zzz"}})),
        all
    );
}

#[test]
fn file_fields_follow_try_internalize_file_field() {
    let e = emu();
    let f = "UF_CRM_1707822691457";
    let id = add_contact(
        &e,
        json!({"NAME": "f", f: [{"fileData": ["a.txt", "YQ=="]}]}),
    );
    // `[]` clears a multiple field.
    call(
        &e,
        "crm.contact.update",
        json!({"id": id, "fields": {f: []}}),
    )
    .result();
    assert_eq!(e.entity(EntityKind::Contact, id).unwrap()[f], json!(false));
    // A single file field given as a list is ignored; an object uploads.
    call(
        &e,
        "crm.contact.update",
        json!({"id": id, "fields": {"PHOTO": [{"fileData": ["p.png", "cA=="]}]}}),
    )
    .result();
    assert_eq!(
        e.entity(EntityKind::Contact, id).unwrap()["PHOTO"],
        Value::Null
    );
    call(
        &e,
        "crm.contact.update",
        json!({"id": id, "fields": {"PHOTO": {"fileData": ["p.png", "cA=="]}}}),
    )
    .result();
    let p = e.entity(EntityKind::Contact, id).unwrap()["PHOTO"]["id"]
        .as_u64()
        .unwrap();
    assert_eq!(e.file_bytes(p).unwrap(), b"p");
}

#[test]
fn list_keys_are_case_sensitive_and_company_id_is_primary() {
    let e = emu();
    let a = call(&e, "crm.company.add", json!({"fields": {"TITLE": "A"}}))
        .result()
        .as_u64()
        .unwrap();
    let b = call(&e, "crm.company.add", json!({"fields": {"TITLE": "B"}}))
        .result()
        .as_u64()
        .unwrap();
    let c1 = add_contact(&e, json!({"NAME": "x", "COMPANY_IDS": [a, b]}));
    let c2 = add_contact(&e, json!({"NAME": "y", "COMPANY_IDS": [b]}));
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"COMPANY_ID": b}})),
        vec![c2]
    );
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"name": "x"}})),
        vec![c1, c2]
    );
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"NOPE": 1}})),
        vec![c1, c2]
    );
    assert_eq!(
        list(&e, "crm.contact.list", json!({"filter": {"!NAME": "x"}})),
        vec![c2]
    );
    // LIKE on a crm_company field is exact.
    assert_eq!(
        list(
            &e,
            "crm.contact.list",
            json!({"filter": {"%COMPANY_ID": a}})
        ),
        vec![c1]
    );
    // select: standard names in any case, multi-fields only as written.
    let r = call(&e, "crm.contact.list", json!({"select": ["name", "phone"]})).result();
    assert!(r[0].get("NAME").is_some() && r[0].get("PHONE").is_none());
}
