//! Stopping a bulk upsert from another thread (the add-in's `CancelJob`): nothing more is sent,
//! a record reported `CANCELLED` is not on the portal, and every record reported written is there
//! exactly once.

mod common;

use b24_emulator::EntityKind;
use bitrix24_1c::api::{self, Cancel, Entity};
use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;

const GUID_FIELD: &str = "UF_CRM_1723100443089";

#[test]
fn a_cancelled_bulk_upsert_reports_exactly_what_it_wrote() {
    let emu = emulator(None);
    // Paced (5 requests a second after a burst of 2), so the job is mid-way when cancelled.
    let c = client_with(
        &emu,
        json!({"rate_limit": {"burst": 2, "per_second": 5}, "bulk_concurrency": 1}),
    );
    let recs: Vec<Value> = (0..1000)
        .map(|i| json!({"NAME": format!("Отмена {i}"), GUID_FIELD: format!("cancel-{i}")}))
        .collect();
    let cancel = Cancel::new();
    let mut progress = |p: &api::Progress| {
        if p.done >= 150 {
            cancel.set();
        }
    };
    let body = Value::Array(recs).to_string();
    let out = env(&api::bulk_upsert_with(
        &c,
        Entity::Contact,
        &body,
        &mut progress,
        &cancel,
    ));
    let rows = out["result"].as_array().unwrap();
    let summary = &out["summary"];
    let written: HashSet<&str> = rows
        .iter()
        .filter(|r| r.get("id").is_some())
        .map(|r| r["guid"].as_str().unwrap())
        .collect();
    let cancelled = rows
        .iter()
        .filter(|r| r["error"]["code"] == json!("CANCELLED"))
        .count();
    println!("summary after the cancel: {summary}");
    assert!(cancelled > 0 && !written.is_empty(), "{summary}");
    assert_eq!(summary["cancelled"], json!(cancelled));
    assert_eq!(written.len() + cancelled, 1000, "{summary}");
    assert_eq!(summary["unknown"], json!(0));
    // On the portal: exactly the records reported written, once each.
    let on_portal = emu.entity_count(EntityKind::Contact);
    assert_eq!(on_portal, written.len(), "{summary}");
    let listed = env(&api::export(
        &c,
        "crm.contact.list",
        Some(&json!({"select": ["ID", GUID_FIELD]}).to_string()),
        None,
        1,
    ));
    let guids: HashSet<&str> = listed["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[GUID_FIELD].as_str().unwrap())
        .collect();
    assert_eq!(guids, written);
}

#[test]
fn a_cancel_before_the_start_sends_no_write() {
    let (emu, c) = setup();
    let cancel = Cancel::new();
    cancel.set();
    let body = json!([{"NAME": "x", GUID_FIELD: "never"}]).to_string();
    let out = env(&api::bulk_upsert_with(
        &c,
        Entity::Contact,
        &body,
        &mut |_| {},
        &cancel,
    ));
    assert_eq!(
        out["result"][0]["error"]["code"],
        json!("CANCELLED"),
        "{out}"
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 0);
    assert_eq!(emu.stats().by_method.get("crm.contact.add"), None);
    // An export stops too.
    let e = err(api::export_with(
        &c,
        "crm.contact.list",
        None,
        None,
        1,
        &cancel,
    ));
    assert_eq!(e["code"], json!("CANCELLED"));
}
