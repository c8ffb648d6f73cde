//! `crm.duplicate.findbycomm` and the list filters the library's match rules use.

mod common;

use common::*;
use serde_json::{json, Value};

fn company(emu: &b24_emulator::Emulator, fields: Value) -> u64 {
    let r = call(emu, "crm.company.add", json!({ "fields": fields }));
    r.result()
        .as_u64()
        .unwrap_or_else(|| panic!("{}", r.text()))
}

#[test]
fn findbycomm_matches_normalised_phones_and_lowercased_emails() {
    let emu = emu();
    let a = add_contact(
        &emu,
        json!({"NAME": "A", "PHONE": [{"VALUE": "+374 (98) 88-88-88"}]}),
    );
    let b = add_contact(
        &emu,
        json!({"NAME": "B", "EMAIL": [{"VALUE": "Ann@Example.com"}]}),
    );
    let co = company(
        &emu,
        json!({"TITLE": "C", "PHONE": [{"VALUE": "37498888888"}]}),
    );
    let body = json!({"type": "PHONE", "values": ["0037498888888#12"]});
    let r = call(&emu, "crm.duplicate.findbycomm", body).result();
    assert_eq!(r, json!({"CONTACT": [a], "COMPANY": [co]}));
    let body = json!({"entity_type": "CONTACT", "type": "phone", "values": ["37498888888"]});
    assert_eq!(
        call(&emu, "crm.duplicate.findbycomm", body).result(),
        json!({"CONTACT": [a]})
    );
    let body = json!({"entity_type": "CONTACT", "type": "EMAIL", "values": [" ann@example.COM "]});
    assert_eq!(
        call(&emu, "crm.duplicate.findbycomm", body).result(),
        json!({"CONTACT": [b]})
    );
    let body = json!({"entity_type": "COMPANY", "type": "EMAIL", "values": ["ann@example.com"]});
    assert_eq!(
        call(&emu, "crm.duplicate.findbycomm", body).result(),
        json!([])
    );
}

#[test]
fn findbycomm_searches_only_the_first_twenty_distinct_values() {
    let emu = emu();
    let last = add_contact(&emu, json!({"PHONE": [{"VALUE": "+37477000021"}]}));
    let mut values: Vec<Value> = (1..=20)
        .map(|n| json!(format!("+374770000{n:02}")))
        .collect();
    // A repeated value (normalised alike) and an empty one do not count towards the 20.
    values.insert(3, json!("+374 77 000 001"));
    values.insert(4, json!(""));
    values.push(json!("+37477000021"));
    let body = json!({"entity_type": "CONTACT", "type": "PHONE", "values": values.clone()});
    assert_eq!(
        call(&emu, "crm.duplicate.findbycomm", body).result(),
        json!([])
    );
    // Without 001 (and its repeat), the 21st distinct value is searched.
    values.retain(|v| !v.as_str().unwrap().ends_with("001"));
    let body = json!({"entity_type": "CONTACT", "type": "PHONE", "values": values});
    assert_eq!(
        call(&emu, "crm.duplicate.findbycomm", body).result(),
        json!({"CONTACT": [last]})
    );
}

#[test]
fn findbycomm_errors_are_the_portals() {
    let emu = emu();
    let cases = [
        (
            json!({"values": ["1"]}),
            "Communication type is not defined.",
        ),
        (
            json!({"type": "WEB", "values": ["1"]}),
            "Communication type 'WEB' is not supported in current context.",
        ),
        (
            json!({"type": "PHONE"}),
            "Communication values is not defined.",
        ),
        (
            json!({"type": "PHONE", "values": []}),
            "Communication values is not defined.",
        ),
        (
            json!({"type": "PHONE", "values": ["1"], "entity_type": "DEAL"}),
            "Deal is not supported in current context.",
        ),
    ];
    for (body, desc) in cases {
        assert_err(&call(&emu, "crm.duplicate.findbycomm", body), 400, "", desc);
    }
}

#[test]
fn list_filters_used_by_match_rules() {
    let emu = emu();
    let tax = "UF_CRM_1707823114526";
    let a = company(&emu, json!({"TITLE": "A", tax: "02612345"}));
    company(&emu, json!({"TITLE": "B", tax: "99999999"}));
    let c = company(&emu, json!({"TITLE": "C", tax: "0261234X"}));
    let body = json!({"filter": {format!("@{tax}"): ["02612345", "0261234x"]}, "select": ["ID"]});
    let ids: Vec<Value> = call(&emu, "crm.company.list", body)
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ID"].clone())
        .collect();
    assert_eq!(ids, [json!(a.to_string()), json!(c.to_string())]);
    let p = add_contact(&emu, json!({"NAME": "Ann", "LAST_NAME": "Lee"}));
    add_contact(&emu, json!({"NAME": "Ann", "LAST_NAME": "Leeds"}));
    let body = json!({"filter": {"=NAME": "ann", "=LAST_NAME": "LEE"}, "select": ["ID"]});
    let rows = call(&emu, "crm.contact.list", body).result();
    assert_eq!(rows, json!([{"ID": p.to_string()}]));
}
