//! `crm.status.list` against the source (README "crm.status.list" citations).

mod common;

use common::*;
use serde_json::{json, Value};

fn status_ids(r: &Value) -> Vec<String> {
    r.as_array()
        .unwrap()
        .iter()
        .map(|s| s["STATUS_ID"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn contact_types_are_the_specs_in_sort_order_with_a_total() {
    let e = emu();
    let r = call(
        &e,
        "crm.status.list",
        json!({"filter": {"ENTITY_ID": "CONTACT_TYPE"}}),
    );
    let body = r.json();
    assert_eq!(
        status_ids(&body["result"]),
        ["CLIENT", "UC_JVEYP2", "UC_DIUN9M", "UC_KKSTDO"]
    );
    assert_eq!(body["total"], json!(4));
    assert!(body.get("next").is_none(), "every row in one answer");
    let first = &body["result"][0];
    assert_eq!(first["NAME"], json!("Հաճախորդ"));
    assert_eq!(first["SORT"], json!("10"));
    assert_eq!(first["SYSTEM"], json!("Y"));
    assert_eq!(first["NAME_INIT"], json!("Հաճախորդ"));
    assert_eq!(body["result"][2]["NAME_INIT"], json!(""));
    assert!(first["ID"].is_string() && first.get("EXTRA").is_none());
    // The contact's field list names the same list.
    let f = call(&e, "crm.contact.fields", json!({})).result();
    assert_eq!(f["TYPE_ID"]["type"], json!("crm_status"));
    assert_eq!(f["TYPE_ID"]["statusType"], json!("CONTACT_TYPE"));
}

#[test]
fn filter_keys_outside_the_field_list_are_dropped() {
    let e = emu();
    let all = call(&e, "crm.status.list", json!({})).result();
    // A lower-case key names no field (internalizeFilterFields drops it): every row comes back.
    let lower = call(
        &e,
        "crm.status.list",
        json!({"filter": {"entity_id": "CONTACT_TYPE"}}),
    )
    .result();
    assert_eq!(
        lower.as_array().unwrap().len(),
        all.as_array().unwrap().len()
    );
    // A key with an operator passes the field check but is none of GetList's cases.
    let op = call(
        &e,
        "crm.status.list",
        json!({"filter": {"=ENTITY_ID": "CONTACT_TYPE"}}),
    )
    .result();
    assert_eq!(op.as_array().unwrap().len(), all.as_array().unwrap().len());
    // The value compares like a MySQL `=` (case-insensitive collation).
    let ci = call(
        &e,
        "crm.status.list",
        json!({"filter": {"ENTITY_ID": "company_type", "STATUS_ID": "partner"}}),
    )
    .result();
    assert_eq!(status_ids(&ci), ["PARTNER"]);
    assert_eq!(ci[0]["ENTITY_ID"], json!("COMPANY_TYPE"));
}

#[test]
fn order_and_added_rows() {
    let e = emu();
    e.add_status("CONTACT_TYPE", "UC_NEW001", "Նոր");
    let r = call(
        &e,
        "crm.status.list",
        json!({"filter": {"ENTITY_ID": "CONTACT_TYPE"}, "order": {"SORT": "DESC"}}),
    )
    .result();
    assert_eq!(status_ids(&r)[0], "UC_NEW001");
    assert_eq!(r[0]["SYSTEM"], json!("N"));
    // In a batch too, and only with the crm scope.
    let b = call(
        &e,
        "batch",
        json!({"cmd": {"c": "crm.status.list?filter[ENTITY_ID]=SOURCE"}}),
    )
    .result();
    assert_eq!(status_ids(&b["result"]["c"])[0], "CALL");
    assert_eq!(b["result_total"]["c"], json!(6));
}
