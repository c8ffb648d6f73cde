//! CRM and user semantics: the customer's spec payloads, multi-fields, files, links, lists,
//! error texts, `user.get`.

mod common;

use b24_emulator::{Emulator, EmulatorConfig, EntityKind};
use common::*;
use serde_json::{json, Value};

/// The spec's "create contact" body, verbatim (§ Контакты / Создать контакт).
const SPEC_CONTACT_ADD: &str = r#"{
    "fields":{
        "NAME":"Անուն", 
        "LAST_NAME":"Ազգանուն", 
        "SECOND_NAME":"Հայրանուն",
        "PHONE" : [
            {"VALUE":"+37498888888"},
            {"VALUE":"+37498888888"}
            ], 
        "EMAIL":[
            {"VALUE":"test1@gmail.com"}, 
            {"VALUE":"test2@gmail.com"}
        ], 
        "UF_CRM_1721896329420":"Իրավաբանական հասցե", 
        "UF_CRM_1723108337023":"Գործունեության հասցե",  
        "UF_CRM_664DBFBD43D75":[
            "Կայանի տեղադրման հասցե 1",
            "Կայանի տեղադրման հասցե 2"
            ],  
        "UF_CRM_1707822379207":"Անձնագիր", 
        "UF_CRM_1707822426950":"2024-08-08T14:05:21+04:00", 
        "UF_CRM_1707822448806":"Ում կողմից", 
        "UF_CRM_1707822458574":"ՀԾՀ", 
        "UF_CRM_1707822731302":"464", 
        "UF_CRM_1707822585830":"Հ/Հ", 
        "COMPANY":["62"], 
        "TYPE_ID":"UC_DIUN9M",
        "COMMENTS":"Մեկնաբանություն", 
        "ASSIGNED_BY_ID":"16", 
        "UF_CRM_1707822691457":[
            {"fileData":["test1.txt", "AA=="]},
            {"fileData":["test2.txt", "AA=="]}
        ],
        "UF_CRM_1723100443089":"GUID ID Contact",
        "UF_CRM_1723100456115":"CODE Contact "
    }
}"#;

/// The spec's "update contact" multi-field part (IDs empty).
const SPEC_CONTACT_UPDATE_MULTI: &str = r#"{
    "fields": {
        "NAME": "Անուն",
        "PHONE": [
            {"ID":"", "VALUE": "+37498888888"},
            {"ID":"", "VALUE": "+37498888889"}
        ],
        "EMAIL": [
            {"ID":"", "VALUE": "test1@gmail.com"},
            {"ID":"", "VALUE": "test2@gmail.com"}
        ],
        "UF_CRM_1707822691457": [
            {"fileData": ["test1.txt", "AA=="]},
            {"fileData": ["test2.txt", "AA=="]}
        ]
    }
}"#;

/// The spec's "create company" body, verbatim.
const SPEC_COMPANY_ADD: &str = r#"{
    "fields":{
        "TITLE":"Կազմակերպության անվանում",
        "UF_CRM_1721909503670":"Աշխատանքային անվանում", 
        "PHONE" : [
            {"VALUE":"+37498888888"},
            {"VALUE":"+37498888889"}
            ], 
        "EMAIL":[
            {"VALUE":"test1@gmail.com"}, 
            {"VALUE":"test2@gmail.com"}
        ], 
        "UF_CRM_1721896430796": "Իրավաբանական հասցե", 
        "UF_CRM_1721896453819":"Գործունեության  հասցե", 
        "UF_CRM_1707823114526":"ՀՎՀՀ", 
        "UF_CRM_1707823136855":"259", 
        "UF_CRM_1707823142254":"Հ/Հ", 
        "UF_CRM_664DBFBD53217":["Կայանի տեղադրման հասցե 1", "Կայանի տեղադրման հասցե 2"],  
        "CONTACT":["720"], 
        "COMMENTS":"COMMENTS", 
        "ASSIGNED_BY_ID":"16", 
        "UF_CRM_1707823223708":[
            {"fileData":["test1.txt", "AA=="]},
            {"fileData":["test2.txt", "AA=="]}
        ],
        "UF_CRM_1723100322669":"CODE Company",
        "UF_CRM_1723100288587":"GUID ID Company"
    }
}"#;

fn post_raw(e: &Emulator, method: &str, body: &str) -> Resp {
    raw(
        e,
        "POST",
        &format!("{}{method}", hook(e)),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap()
}

fn values(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["VALUE"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn spec_contact_create_get_update() {
    let e = emu();
    let r = post_raw(&e, "crm.contact.add", SPEC_CONTACT_ADD);
    assert!(
        r.text().starts_with(r#"{"result":1,"time":{"start":"#),
        "{}",
        r.text()
    );
    let c = get(&e, "crm.contact.get?ID=1").result();
    let spec: Value = serde_json::from_str(SPEC_CONTACT_ADD).unwrap();
    for k in [
        "NAME",
        "LAST_NAME",
        "SECOND_NAME",
        "UF_CRM_1721896329420",
        "UF_CRM_1723108337023",
        "UF_CRM_664DBFBD43D75",
        "UF_CRM_1707822379207",
        "UF_CRM_1707822426950",
        "UF_CRM_1707822448806",
        "UF_CRM_1707822458574",
        "UF_CRM_1707822731302",
        "UF_CRM_1707822585830",
        "TYPE_ID",
        "COMMENTS",
        "ASSIGNED_BY_ID",
        "UF_CRM_1723100443089",
        "UF_CRM_1723100456115",
    ] {
        assert_eq!(c[k], spec["fields"][k], "{k}");
    }
    assert!(c.get("COMPANY").is_none(), "unknown key dropped");
    assert_eq!(c["COMPANY_ID"], Value::Null);
    assert_eq!(
        values(&c["PHONE"]),
        ["+37498888888"],
        "equal values kept once on add (Collection::add)"
    );
    assert_eq!(c["PHONE"][0]["VALUE_TYPE"], json!("WORK"));
    assert_eq!(c["PHONE"][0]["TYPE_ID"], json!("PHONE"));
    assert!(c["PHONE"][0]["ID"].is_string());
    assert_eq!(
        (c["HAS_PHONE"].clone(), c["HAS_EMAIL"].clone()),
        (json!("Y"), json!("Y"))
    );
    assert!(c.get("WEB").is_none() && c.get("IM").is_none());
    assert_eq!(c["ID"], json!("1"));
    assert_eq!(
        c["SOURCE_ID"],
        json!("CALL"),
        "first SOURCE status by default"
    );

    // Files: stored, described with show/download URLs served by the emulator.
    let files = c["UF_CRM_1707822691457"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for f in files {
        let fid = f["id"].as_u64().unwrap();
        assert_eq!(e.file_bytes(fid).unwrap(), vec![0u8]);
        let show = f["showUrl"].as_str().unwrap();
        assert_eq!(
            show,
            format!("/bitrix/components/bitrix/crm.contact.show/show_file.php?ownerId=1&fieldName=UF_CRM_1707822691457&dynamic=Y&fileId={fid}")
        );
        for u in [show, f["downloadUrl"].as_str().unwrap()] {
            let d = raw(&e, "GET", u, &[], b"").unwrap();
            assert_eq!((d.status, d.body.clone()), (200, vec![0u8]));
            assert!(d.header("Content-Disposition").unwrap().contains("test"));
        }
    }

    // Update with the spec's ID-less items: equal values map onto existing entries.
    let r = post_raw(&e, "crm.contact.update?ID=1", SPEC_CONTACT_UPDATE_MULTI);
    assert_eq!(r.result(), json!(true));
    let u = e.entity(EntityKind::Contact, 1).unwrap();
    assert_eq!(values(&u["PHONE"]), ["+37498888888", "+37498888889"]);
    assert_eq!(values(&u["EMAIL"]), ["test1@gmail.com", "test2@gmail.com"]);
    // A multiple file field is replaced by the new uploads; old files are gone.
    let nf: Vec<u64> = u["UF_CRM_1707822691457"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert_eq!(nf.len(), 2);
    for f in files {
        assert!(e.file_bytes(f["id"].as_u64().unwrap()).is_none());
    }
}

#[test]
fn spec_company_create_and_update() {
    let e = emu();
    let contact = add_contact(&e, json!({"NAME": "C"}));
    let id = post_raw(&e, "crm.company.add", SPEC_COMPANY_ADD)
        .result()
        .as_u64()
        .unwrap();
    let c = get(&e, &format!("crm.company.get?id={id}")).result();
    assert_eq!(c["TITLE"], json!("Կազմակերպության անվանում"));
    assert_eq!(c["UF_CRM_1707823136855"], json!("259"));
    assert_eq!(
        c["UF_CRM_664DBFBD53217"],
        json!(["Կայանի տեղադրման հասցե 1", "Կայանի տեղադրման հասցե 2"])
    );
    assert_eq!(c["UF_CRM_1723100288587"], json!("GUID ID Company"));
    assert!(c.get("CONTACT").is_none() && c.get("CONTACT_ID").is_none());
    assert_eq!(
        c["UF_CRM_1707823223708"][0]["showUrl"]
            .as_str()
            .unwrap()
            .split('?')
            .next()
            .unwrap(),
        "/bitrix/components/bitrix/crm.company.show/show_file.php"
    );
    // The spec's update body names phone ID 9999, which is not this company's: added as a new
    // value (Assembler::updateCollectionByArray).
    let upd = SPEC_COMPANY_ADD.replace(
        r#"{"VALUE":"+37498888888"}"#,
        r#"{"ID":"9999","VALUE":"+111"}"#,
    );
    assert_eq!(
        post_raw(&e, &format!("crm.company.update?ID={id}"), &upd).result(),
        json!(true)
    );
    let c = e.entity(EntityKind::Company, id).unwrap();
    assert_eq!(
        values(&c["PHONE"]),
        ["+37498888888", "+37498888889", "+111"]
    );
    // CONTACT_ID links contacts (replace semantics).
    let r = call(
        &e,
        "crm.company.update",
        json!({"id": id, "fields": {"CONTACT_ID": [contact, 9999]}}),
    );
    assert_eq!(r.result(), json!(true));
    assert_eq!(
        e.entity(EntityKind::Company, id).unwrap()["CONTACT_ID"],
        json!([contact.to_string()])
    );
    assert_eq!(
        e.entity(EntityKind::Contact, contact).unwrap()["COMPANY_ID"],
        json!(id.to_string())
    );
    let items = get(&e, &format!("crm.company.contact.items.get?id={id}")).result();
    assert_eq!(items[0]["CONTACT_ID"], json!(contact));
}

#[test]
fn multi_field_rules() {
    let e = emu();
    let id = add_contact(
        &e,
        json!({"NAME": "M", "PHONE": [{"VALUE": "  +1 "}, {"VALUE": ""}, {"VALUE": "+2", "VALUE_TYPE": "MOBILE"}],
               "IM": [{"VALUE": "tg"}], "WEB": "not-an-array"}),
    );
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(values(&c["PHONE"]), ["+1", "+2"], "trimmed; empty skipped");
    assert_eq!(c["IM"][0]["VALUE_TYPE"], json!("OTHER"));
    assert!(c.get("WEB").is_none());
    let p1 = c["PHONE"][0]["ID"].clone();
    let p2 = c["PHONE"][1]["ID"].clone();
    // Overwrite by ID without VALUE_TYPE -> WORK; delete by empty VALUE.
    let upd = |f: Value| call(&e, "crm.contact.update", json!({"ID": id, "FIELDS": f}));
    upd(json!({"PHONE": [{"ID": p2, "VALUE": "+3"}]})).result();
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(
        c["PHONE"][1],
        json!({"ID": p2, "VALUE_TYPE": "WORK", "VALUE": "+3", "TYPE_ID": "PHONE"})
    );
    upd(json!({"PHONE": [{"ID": p1, "VALUE": ""}]})).result();
    upd(json!({"PHONE": [{"ID": p2, "VALUE": "+3", "DELETE": "Y"}]})).result();
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert!(c.get("PHONE").is_none(), "no phones -> no key: {c}");
    assert_eq!(c["HAS_PHONE"], json!("N"));
    // Validation.
    let long = "1".repeat(251);
    let r = upd(json!({"PHONE": [{"VALUE": long}]}));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (400, json!("ERROR_CORE"))
    );
    let r = upd(json!({"EMAIL": [{"VALUE": "not an email"}]}));
    assert_err(
        &r,
        400,
        "ERROR_CORE",
        "The field `Work e-mail` contains an invalid address",
    );
    let r = call(
        &e,
        "crm.contact.add",
        json!({"fields": {"NAME": "X", "EMAIL": [{"VALUE": "bad@", "VALUE_TYPE": "HOME"}]}}),
    );
    assert_err(
        &r,
        400,
        "ERROR_CORE",
        "The field `Personal e-mail` contains an invalid address",
    );
    // Same VALUE but another VALUE_TYPE is a new entry.
    upd(json!({"EMAIL": [{"VALUE": "a@b.cd"}]})).result();
    upd(json!({"EMAIL": [{"VALUE": "a@b.cd"}, {"VALUE": "a@b.cd", "VALUE_TYPE": "HOME"}]}))
        .result();
    assert_eq!(
        e.entity(EntityKind::Contact, id).unwrap()["EMAIL"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn crm_error_texts_and_dropping() {
    let e = emu();
    for q in [
        "crm.contact.get",
        "crm.contact.get?ID=0",
        "crm.contact.get?ID=-1",
        "crm.contact.get?ID=abc",
        "crm.company.delete",
        "crm.contact.update",
    ] {
        assert_err(&get(&e, q), 400, "", "ID is not defined or invalid.");
    }
    assert_err(&get(&e, "crm.contact.get?ID=77"), 400, "", "Not found");
    assert_err(
        &get(&e, "crm.contact.update?ID=77"),
        400,
        "",
        "Contact is not found",
    );
    assert_err(
        &get(&e, "crm.company.update?ID=77"),
        400,
        "",
        "Company is not found",
    );
    assert_err(
        &get(&e, "crm.contact.delete?ID=77"),
        400,
        "ERROR_CORE",
        "Element not found",
    );
    assert_err(
        &get(&e, "crm.contact.add?fields=x"),
        400,
        "",
        "Parameter 'fields' must be array.",
    );
    assert_err(
        &get(&e, "crm.contact.list?filter=x"),
        400,
        "",
        "Parameter 'filter' must be array.",
    );

    // Unknown, lower-case and read-only keys are dropped; all `fields` spellings work.
    for key in ["fields", "FIELDS", "Fields", "arFields"] {
        let r = call(
            &e,
            "crm.contact.add",
            json!({key: {"NAME": key, "name": "lower", "ID": 999, "DATE_CREATE": "2001-01-01", "HAS_PHONE": "Y", "NOPE": 1, "ASSIGNED_BY_ID": 16, "OPENED": "N", "BIRTHDATE": "11.11.2001", "UF_CRM_1707822426950": "garbage"}}),
        );
        let id = r.result().as_u64().unwrap();
        let c = e.entity(EntityKind::Contact, id).unwrap();
        assert_eq!(c["NAME"], json!(key));
        assert_eq!(c["ID"], json!(id.to_string()));
        assert_ne!(c["DATE_CREATE"], json!("2001-01-01"));
        assert_eq!(c["HAS_PHONE"], json!("N"));
        assert_eq!(
            c["ASSIGNED_BY_ID"],
            json!("16"),
            "numbers come back as strings"
        );
        assert_eq!(c["OPENED"], json!("N"));
        assert_eq!(c["BIRTHDATE"], json!("2001-11-11T04:00:00+04:00"));
        assert_eq!(
            c["UF_CRM_1707822426950"],
            json!(""),
            "unparseable date dropped: the field reads as never set"
        );
        assert!(c.get("NOPE").is_none() && c.get("name").is_none());
    }
    let ids: Vec<u64> = (1..=4).collect();
    assert_eq!(e.entity_count(EntityKind::Contact), ids.len());
    // IDs increase and are never reused.
    assert_eq!(get(&e, "crm.contact.delete?id=4").result(), json!(true));
    assert_eq!(add_contact(&e, json!({"LAST_NAME": "L"})), 5);
}

#[test]
fn company_links_and_files() {
    let e = emu();
    let c1 = call(&e, "crm.company.add", json!({"fields": {"TITLE": "One"}}))
        .result()
        .as_u64()
        .unwrap();
    let c2 = call(&e, "crm.company.add", json!({"fields": {"TITLE": "Two"}}))
        .result()
        .as_u64()
        .unwrap();
    let k = add_contact(&e, json!({"NAME": "K", "COMPANY_IDS": [c2, c1]}));
    let got = get(&e, &format!("crm.contact.get?ID={k}")).result();
    assert_eq!(got["COMPANY_ID"], json!(c2.to_string()), "first is primary");
    assert!(got.get("COMPANY_IDS").is_none());
    assert_eq!(
        e.entity(EntityKind::Contact, k).unwrap()["COMPANY_IDS"],
        json!([c2.to_string(), c1.to_string()])
    );
    assert_eq!(
        e.entity(EntityKind::Company, c1).unwrap()["CONTACT_ID"],
        json!([k.to_string()])
    );
    // COMPANY_ID already linked: nothing changes; a new one replaces the set.
    call(
        &e,
        "crm.contact.update",
        json!({"id": k, "fields": {"COMPANY_ID": c1}}),
    )
    .result();
    assert_eq!(
        e.entity(EntityKind::Contact, k).unwrap()["COMPANY_IDS"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let items = get(&e, &format!("crm.contact.company.items.get?id={k}")).result();
    assert_eq!(
        items[0],
        json!({"COMPANY_ID": c2, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"})
    );
    call(
        &e,
        "crm.contact.update",
        json!({"id": k, "fields": {"COMPANY_IDS": [c1]}}),
    )
    .result();
    assert_eq!(
        e.entity(EntityKind::Company, c2).unwrap()["CONTACT_ID"],
        json!([])
    );
    get(&e, &format!("crm.company.delete?id={c1}")).result();
    assert_eq!(
        e.entity(EntityKind::Contact, k).unwrap()["COMPANY_ID"],
        Value::Null
    );

    // Single file (PHOTO) with nameless fileData; remove; bad base64 dropped.
    call(
        &e,
        "crm.contact.update",
        json!({"id": k, "fields": {"PHOTO": {"fileData": "aGVsbG8="}}}),
    )
    .result();
    let p = e.entity(EntityKind::Contact, k).unwrap()["PHOTO"].clone();
    let fid = p["id"].as_u64().unwrap();
    assert_eq!(e.file_bytes(fid).unwrap(), b"hello");
    assert!(p["showUrl"]
        .as_str()
        .unwrap()
        .contains("fieldName=PHOTO&dynamic=N"));
    call(
        &e,
        "crm.contact.update",
        json!({"id": k, "fields": {"PHOTO": {"id": fid, "remove": "Y"}}}),
    )
    .result();
    assert_eq!(
        e.entity(EntityKind::Contact, k).unwrap()["PHOTO"],
        Value::Null
    );
    assert!(e.file_bytes(fid).is_none());
    call(
        &e,
        "crm.contact.update",
        json!({"id": k, "fields": {"UF_CRM_1707822691457": [{"fileData": ["x.bin", "!!!"]}]}}),
    )
    .result();
    assert_eq!(
        e.entity(EntityKind::Contact, k).unwrap()["UF_CRM_1707822691457"],
        json!(false)
    );
    // Multiple file field: keep by id, add, remove.
    call(&e, "crm.contact.update", json!({"id": k, "fields": {"UF_CRM_1707822691457": [{"fileData": ["a.txt", "YQ=="]}, {"fileData": ["b.txt", "Yg=="]}]}})).result();
    let fs = e.entity(EntityKind::Contact, k).unwrap()["UF_CRM_1707822691457"].clone();
    let (a, b) = (fs[0]["id"].as_u64().unwrap(), fs[1]["id"].as_u64().unwrap());
    // The new value is exactly this request's uploads: `{"id": a}` does not keep `a`.
    call(&e, "crm.contact.update", json!({"id": k, "fields": {"UF_CRM_1707822691457": [{"id": a}, {"id": b, "remove": "Y"}, {"fileData": ["c.txt", "Yw=="]}]}})).result();
    let fs = e.entity(EntityKind::Contact, k).unwrap()["UF_CRM_1707822691457"].clone();
    let ids: Vec<u64> = fs
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(e.file_bytes(ids[0]).unwrap(), b"c");
    assert!(e.file_bytes(a).is_none() && e.file_bytes(b).is_none());
    let missing = raw(
        &e,
        "GET",
        "/bitrix/components/bitrix/crm.contact.show/show_file.php?fileId=99999",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(missing.status, 404);
}

#[test]
fn list_paging_filters_order_select() {
    let e = emu();
    for i in 1..=120u64 {
        let phone = if i % 10 == 0 {
            json!([{"VALUE": format!("+{i}")}])
        } else {
            json!([])
        };
        add_contact(
            &e,
            json!({"NAME": format!("N{i:03}"), "LAST_NAME": if i % 2 == 0 {"Even"} else {"Odd"}, "PHONE": phone, "UF_CRM_1723100443089": format!("guid-{i}")}),
        );
    }
    let page = |q: &str| {
        let v = get(&e, &format!("crm.contact.list?{q}")).json();
        let ids: Vec<u64> = v["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ID"].as_str().unwrap().parse().unwrap())
            .collect();
        (ids, v.get("next").cloned(), v.get("total").cloned())
    };
    let (ids, next, total) = page("");
    assert_eq!(
        (ids.len(), ids[0], next, total),
        (50, 1, Some(json!(50)), Some(json!(120)))
    );
    let (ids, next, _) = page("start=50");
    assert_eq!((ids[0], next), (51, Some(json!(100))));
    let (ids, next, _) = page("start=73");
    assert_eq!(
        (ids[0], next),
        (51, Some(json!(100))),
        "start rounds down to a page"
    );
    let (ids, next, _) = page("start=100");
    assert_eq!((ids.len(), ids[0], next), (20, 101, None));
    let (ids, _, _) = page("start=500");
    assert_eq!(ids[0], 1, "out-of-range page falls back to page 1");
    let (ids, next, total) = page("start=-1&order[ID]=ASC&filter[>ID]=100");
    assert_eq!(
        (ids.len(), ids[0], next, total),
        (20, 101, None, Some(json!(0)))
    );
    let (ids, _, total) = page("filter[>%3DID]=10&filter[<ID]=13"); // a raw '=' would end the key, as in PHP
    assert_eq!((ids, total), (vec![10, 11, 12], Some(json!(3))));
    let (ids, _, _) = page("filter[@ID][]=5&filter[@ID][]=7&filter[!ID]=7");
    assert_eq!(ids, vec![5]);
    let (ids, _, total) = page("filter[LAST_NAME]=even&filter[%25NAME]=N01");
    assert_eq!(
        (ids, total),
        (vec![10, 12, 14, 16, 18], Some(json!(5))),
        "exact, case-insensitive"
    );
    let (ids, _, _) = page("filter[%3D%25NAME]=N11%25");
    assert_eq!(ids, (110..=119).collect::<Vec<_>>());
    let (ids, _, _) = page("filter[UF_CRM_1723100443089]=guid-77");
    assert_eq!(ids, vec![77]);
    let (ids, _, _) = page("filter[PHONE]=%2B30");
    assert_eq!(ids, vec![30]);
    let (ids, _, _) = page("filter[NOSUCH]=1&filter[ID]=3");
    assert_eq!(ids, vec![3], "unknown filter keys ignored");
    let (ids, _, _) = page("order[ID]=DESC");
    assert_eq!(ids[0], 120);
    let (ids, _, _) = page("order[LAST_NAME]=ASC&order[ID]=DESC");
    assert_eq!(ids[0], 120, "Even < Odd, then ID desc");
    // select: default has UF_* but no multi-fields; named multi-fields appear.
    let v = get(&e, "crm.contact.list?filter[ID]=10").result();
    assert!(
        v[0].get("PHONE").is_none()
            && v[0].get("UF_CRM_1723100443089").is_some()
            && v[0].get("NAME").is_some()
    );
    let v = get(
        &e,
        "crm.contact.list?filter[ID]=10&select[]=NAME&select[]=PHONE",
    )
    .result();
    let keys: Vec<&String> = v[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ID", "NAME", "PHONE"]);
    let v = get(&e, "crm.contact.list?filter[ID]=10&select[]=*").result();
    assert!(v[0].get("UF_CRM_1723100443089").is_none());
    // Empty result.
    let v = get(&e, "crm.contact.list?filter[ID]=9999").json();
    assert_eq!(
        (v["result"].clone(), v["total"].clone()),
        (json!([]), json!(0))
    );
}

#[test]
fn fields_describe_types() {
    let e = emu();
    let f = get(&e, "crm.contact.fields").result();
    assert_eq!(
        f["ID"],
        json!({"type":"integer","isRequired":false,"isReadOnly":true,"isImmutable":false,"isMultiple":false,"isDynamic":false,"title":"ID"})
    );
    assert_eq!(f["PHONE"]["type"], json!("crm_multifield"));
    assert_eq!(f["PHONE"]["isMultiple"], json!(true));
    assert_eq!(f["COMPANY_IDS"]["isMultiple"], json!(true));
    assert_eq!(f["TYPE_ID"]["statusType"], json!("CONTACT_TYPE"));
    assert_eq!(f["DATE_CREATE"]["isReadOnly"], json!(true));
    let bank = &f["UF_CRM_1707822731302"];
    assert_eq!(
        (
            bank["type"].clone(),
            bank["isDynamic"].clone(),
            bank["title"].clone()
        ),
        (
            json!("enumeration"),
            json!(true),
            json!("UF_CRM_1707822731302")
        )
    );
    assert!(bank["items"]
        .as_array()
        .unwrap()
        .contains(&json!({"ID": "464", "VALUE": "Inecobank"})));
    assert_eq!(f["UF_CRM_1707822691457"]["type"], json!("file"));
    assert_eq!(f["UF_CRM_1707822426950"]["type"], json!("datetime"));
    assert_eq!(f["UF_CRM_664DBFBD43D75"]["isMultiple"], json!(true));
    let f = get(&e, "crm.company.fields").result();
    assert_eq!(f["TITLE"]["isRequired"], json!(true));
    assert_eq!(f["CONTACT_ID"]["isMultiple"], json!(true));
    assert!(f["UF_CRM_1707823136855"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["ID"] == json!("259")));
    let uf = get(
        &e,
        "crm.contact.userfield.list?filter[FIELD_NAME]=UF_CRM_1707822731302",
    )
    .json();
    assert_eq!(uf["result"][0]["USER_TYPE_ID"], json!("enumeration"));
    assert_eq!(uf["result"][0]["LIST"].as_array().unwrap().len(), 4);
}

#[test]
fn user_get_filters_and_paging() {
    let e = emu();
    let guid = "5f0c1c8e-8a7b-11ee-b9d1-0242ac120002";
    let id = e.add_user(json!({"NAME": "Name", "LAST_NAME": "Last Name", "EMAIL": "email@gmail.com", "UF_USR_1722587885970": guid}));
    let fired =
        e.add_user(json!({"NAME": "Fired", "ACTIVE": false, "UF_USR_1722587885970": "g-fired"}));
    e.add_user(json!({"NAME": "Bot", "USER_TYPE": "bot"}));
    for q in [
        format!("user.get?filter[UF_USR_1722587885970]={guid}"),
        format!("user.get?FILTER[UF_USR_1722587885970]={guid}"),
        format!("user.get?UF_USR_1722587885970={guid}"),
        format!("user.get?uf_usr_1722587885970={guid}"),
    ] {
        let r = get(&e, &q).json();
        assert_eq!(r["result"].as_array().unwrap().len(), 1, "{q}");
        let u = &r["result"][0];
        assert_eq!(
            (u["ID"].clone(), u["ACTIVE"].clone(), u["NAME"].clone()),
            (json!(id), json!(true), json!("Name"))
        );
        assert_eq!(u["UF_USR_1722587885970"], json!(guid));
        assert_eq!(r["total"], json!(1));
    }
    let spec_keys: Vec<&str> = vec![
        "ID",
        "XML_ID",
        "ACTIVE",
        "NAME",
        "LAST_NAME",
        "SECOND_NAME",
        "TITLE",
        "EMAIL",
    ];
    let r = get(&e, &format!("user.get?filter[UF_USR_1722587885970]={guid}")).result();
    let keys: Vec<&String> = r[0].as_object().unwrap().keys().collect();
    assert_eq!(&keys[..8], &spec_keys[..]);
    // A misspelt key is dropped: everyone (real users only) comes back.
    let r = get(&e, "user.get?filter[UF_USR_MISSPELT]=x").json();
    assert_eq!(
        r["total"],
        json!(3),
        "admin, Name, Fired; the bot is not a real user"
    );
    // ACTIVE truthiness.
    let count = |q: &str| get(&e, q).json()["result"].as_array().unwrap().len();
    assert_eq!(
        count("user.get?ACTIVE=false"),
        2,
        "the string 'false' means active"
    );
    assert_eq!(count("user.get?ACTIVE=N"), 1);
    assert_eq!(count("user.get?ACTIVE=0"), 1);
    assert_eq!(
        call(&e, "user.get", json!({"ACTIVE": false})).result()[0]["ID"],
        json!(fired)
    );
    assert_eq!(
        call(
            &e,
            "user.get",
            json!({"FILTER": {"ACTIVE": true, "NAME": "Name"}})
        )
        .result()[0]["ID"],
        json!(id)
    );
    // Empty -> [] without total; start=-1 -> total 0.
    let r = get(&e, "user.get?filter[UF_USR_1722587885970]=none").json();
    assert_eq!(r["result"], json!([]));
    assert!(r.get("total").is_none());
    assert_eq!(get(&e, "user.get?start=-1").json()["total"], json!(0));
    // Exact offset paging.
    for i in 0..60 {
        e.add_user(json!({"NAME": format!("U{i}")}));
    }
    let r = get(&e, "user.get?start=7").json();
    assert_eq!(r["result"][0]["ID"], json!("9"), "the bot (4) is skipped");
    assert_eq!(
        (r["next"].clone(), r["total"].clone()),
        (json!(57), json!(63))
    );
    let r = get(&e, "user.get?start=57").json();
    assert_eq!(r["result"].as_array().unwrap().len(), 6);
    assert!(r.get("next").is_none());
    assert_eq!(
        get(&e, "user.get?SORT=NAME&ORDER=DESC").result()[0]["NAME"],
        json!("U9")
    );
    assert_eq!(get(&e, "user.current").result()["ID"], json!("1"));
}

#[test]
fn user_fields_need_the_user_scope() {
    let e = Emulator::start(EmulatorConfig {
        scopes: vec!["crm".into(), "user_basic".into()],
        bucket: None,
        ..Default::default()
    })
    .unwrap();
    e.add_user(json!({"NAME": "G", "UF_USR_1722587885970": "g"}));
    let r = get(&e, "user.get?filter[UF_USR_1722587885970]=g").json();
    assert_eq!(
        r["total"],
        json!(2),
        "the UF filter is dropped without scope user"
    );
    assert!(r["result"][1].get("UF_USR_1722587885970").is_none());
    let e2 = Emulator::start(EmulatorConfig {
        scopes: vec!["crm".into()],
        bucket: None,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(get(&e2, "user.get").status, 401);
}
