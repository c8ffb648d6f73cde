//! Sync at scale against the emulator: idempotent upserts, multi-field replace, bulk upsert with
//! partial failures and lost answers, full export, files from disk.

mod common;

use b24_emulator::{Emulator, EmulatorConfig, EntityKind, Fault, FaultAction};
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const GUID_FIELD: &str = "UF_CRM_1723100443089";

/// An emulator and a client that agree on a 1 s cut-off, so a lost answer is looked up after
/// about 2 s instead of the cloud's 60 s.
fn quick_setup() -> (Emulator, bitrix24_1c::Client) {
    let emu = Emulator::start(EmulatorConfig {
        secret: SECRET.into(),
        bucket: None,
        execution_limit: Some(std::time::Duration::from_secs(1)),
        ..EmulatorConfig::default()
    })
    .expect("emulator starts");
    let c = client_with(&emu, json!({"execution_limit_secs": 1}));
    (emu, c)
}

fn contact(guid: &str, name: &str) -> String {
    json!({"NAME": name, GUID_FIELD: guid, "PHONE": [{"VALUE": "+37410000000", "VALUE_TYPE": "WORK"}]}).to_string()
}

#[test]
fn upsert_twice_gives_one_entity() {
    let (emu, c) = setup();
    let first = ok(api::upsert(&c, Entity::Contact, &contact("g-1", "Первый")));
    assert_eq!(first["created"], json!(true));
    let second = ok(api::upsert(&c, Entity::Contact, &contact("g-1", "Второй")));
    assert_eq!(
        (second["created"].clone(), second["id"].clone()),
        (json!(false), first["id"].clone())
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
    let id = first["id"].as_u64().unwrap();
    assert_eq!(
        emu.entity(EntityKind::Contact, id).unwrap()["NAME"],
        json!("Второй")
    );
    // Companies too, by their own GUID field.
    let body = json!({"TITLE": "ООО Ромашка", "UF_CRM_1723100288587": "co-1"}).to_string();
    assert_eq!(
        ok(api::upsert(&c, Entity::Company, &body))["created"],
        json!(true)
    );
    assert_eq!(
        ok(api::upsert(&c, Entity::Company, &body))["created"],
        json!(false)
    );
    assert_eq!(emu.entity_count(EntityKind::Company), 1);
}

#[test]
fn concurrent_upserts_of_one_guid_give_one_entity() {
    let (emu, c) = setup();
    std::thread::scope(|s| {
        for t in 0..8 {
            let c = c.clone();
            s.spawn(move || {
                ok(api::upsert(
                    &c,
                    Entity::Contact,
                    &contact("same-guid", &format!("T{t}")),
                ))
            });
        }
    });
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
}

#[test]
fn lost_add_answer_is_resolved_by_lookup_not_resent() {
    let (emu, c) = quick_setup();
    emu.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::ResetAfterExecute,
    });
    let r = ok(api::upsert(&c, Entity::Contact, &contact("lost-1", "A")));
    assert_eq!(r["created"], json!(true));
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
    assert_eq!(
        emu.stats().by_method.get("crm.contact.add"),
        Some(&1),
        "not re-sent"
    );

    // The add never ran: the lookup proves it, and only then is it sent again.
    emu.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::ResetBeforeExecute,
    });
    let r = ok(api::upsert(&c, Entity::Contact, &contact("lost-2", "B")));
    assert_eq!(r["created"], json!(true));
    assert_eq!(emu.entity_count(EntityKind::Contact), 2);
}

#[test]
fn ambiguous_and_missing_guids() {
    let (_emu, c) = setup();
    let a = ok(api::create(&c, Entity::Contact, &contact("twin", "A")));
    let b = ok(api::create(&c, Entity::Contact, &contact("twin", "B")));
    let e = err(api::upsert(&c, Entity::Contact, &contact("twin", "C")));
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("conflict"), Some("AMBIGUOUS_GUID"))
    );
    assert_eq!(e["details"]["ids"], json!([a, b]));
    let e = err(api::upsert(&c, Entity::Contact, r#"{"NAME":"no guid"}"#));
    assert_eq!(e["code"], json!("MISSING_GUID"));
}

#[test]
fn multifield_replace_makes_the_list_exact_in_one_get_and_one_update() {
    let (emu, c) = setup();
    let body = json!({"NAME": "M", "PHONE": [
        {"VALUE": "+1 111", "VALUE_TYPE": "WORK"}, {"VALUE": "+2 222", "VALUE_TYPE": "MOBILE"}, {"VALUE": "+3 333", "VALUE_TYPE": "HOME"}]});
    let id = ok(api::create(&c, Entity::Contact, &body.to_string()))
        .as_i64()
        .unwrap();
    emu.reset_stats();
    let r = ok(api::set_multifield(
        &c,
        Entity::Contact,
        id,
        "PHONE",
        r#"["+2 222", {"VALUE": "+4 444", "VALUE_TYPE": "MOBILE"}]"#,
    ));
    // "+2 222" as a plain string is WORK, so it replaces the MOBILE one.
    assert_eq!(
        r,
        json!({"kept": 0, "changed": 2, "added": 0, "deleted": 1})
    );
    let s = emu.stats();
    assert_eq!(
        (
            s.by_method.get("crm.contact.get"),
            s.by_method.get("crm.contact.update")
        ),
        (Some(&1), Some(&1))
    );
    let phones = ok(api::get(&c, Entity::Contact, id))["PHONE"].clone();
    let got: BTreeSet<(String, String)> = phones
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["VALUE"].as_str().unwrap().to_string(),
                p["VALUE_TYPE"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            ("+2 222".into(), "WORK".into()),
            ("+4 444".into(), "MOBILE".into())
        ])
    );
    // Setting the same list again changes nothing and sends no update.
    emu.reset_stats();
    let r = ok(api::set_multifield(
        &c,
        Entity::Contact,
        id,
        "phone",
        r#"[{"VALUE":"+2 222"}, {"VALUE": "+4 444", "VALUE_TYPE": "MOBILE"}]"#,
    ));
    assert_eq!(
        r,
        json!({"kept": 2, "changed": 0, "added": 0, "deleted": 0})
    );
    assert_eq!(emu.stats().by_method.get("crm.contact.update"), None);
    // E-mails can be emptied; bad fields are refused.
    ok(api::set_multifield(
        &c,
        Entity::Contact,
        id,
        "EMAIL",
        r#"["a@example.com"]"#,
    ));
    ok(api::set_multifield(&c, Entity::Contact, id, "EMAIL", "[]"));
    assert!(ok(api::get(&c, Entity::Contact, id)).get("EMAIL").is_none());
    assert_eq!(
        err(api::set_multifield(&c, Entity::Contact, id, "NAME", "[]"))["code"],
        json!("INVALID_FIELD")
    );
}

fn records(n: usize, tag: &str) -> Vec<Value> {
    (0..n).map(|i| json!({"NAME": format!("{tag} {i}"), GUID_FIELD: format!("bulk-{i}"), "EMAIL": [{"VALUE": format!("u{i}@example.com"), "VALUE_TYPE": "WORK"}]})).collect()
}

#[test]
fn bulk_upsert_in_order_idempotent_with_progress() {
    let (emu, c) = setup();
    let mut recs = records(230, "Первый");
    recs.push(json!({"NAME": "no guid"}));
    recs.push(json!({"NAME": "Повтор", GUID_FIELD: "bulk-3"})); // the same GUID again, later in the input
    let mut calls = Vec::new();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(recs.clone()).to_string(),
        &mut |p| calls.push((p.done, p.total)),
    ));
    let rows = full["result"].as_array().unwrap();
    assert_eq!(rows.len(), 232);
    assert_eq!(
        full["summary"],
        json!({"created": 230, "updated": 1, "failed": 1, "unknown": 0}),
        "{}",
        full["summary"]
    );
    for (i, r) in rows.iter().take(230).enumerate() {
        assert_eq!(r["guid"], json!(format!("bulk-{i}")), "input order");
    }
    assert_eq!(rows[230]["error"]["code"], json!("MISSING_GUID"));
    assert_eq!(
        (rows[232 - 1]["created"].clone(), rows[231]["id"].clone()),
        (json!(false), rows[3]["id"].clone())
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 230);
    assert_eq!(calls.last(), Some(&(232, 232)));
    assert!(
        calls.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress only grows"
    );
    let id3 = rows[3]["id"].as_u64().unwrap();
    assert_eq!(
        emu.entity(EntityKind::Contact, id3).unwrap()["NAME"],
        json!("Повтор")
    );

    // Again: every record is an update, nothing is created.
    emu.reset_stats();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(records(230, "Второй")).to_string(),
        &mut |_| {},
    ));
    assert_eq!(
        full["summary"],
        json!({"created": 0, "updated": 230, "failed": 0, "unknown": 0})
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 230);
    let batches = *emu.stats().by_method.get("batch").unwrap();
    assert!(
        batches <= 6,
        "lookups and writes are packed: {batches} batch requests for 230 records"
    );
}

/// Requests by method, from the emulator's counters.
fn count(emu: &Emulator, method: &str) -> u64 {
    emu.stats().by_method.get(method).copied().unwrap_or(0)
}

#[test]
fn bulk_upsert_sends_the_field_list_with_its_first_lookup() {
    // No request of the bucket is spent on the field check: it travels in the first lookup batch.
    let (emu, c) = setup();
    let mut recs = records(120, "Поля");
    recs[7]["nmae"] = json!("typo");
    let body = Value::Array(recs).to_string();
    let full = env(&api::bulk_upsert(&c, Entity::Contact, &body, &mut |_| {}));
    assert_eq!(full["summary"]["created"], json!(120), "{full}");
    let warned = full["warnings"].to_string();
    assert!(warned.contains("nmae"), "still checked: {warned}");
    assert_eq!(count(&emu, "crm.contact.fields"), 1);
    assert_eq!(
        emu.stats().requests,
        4,
        "1 lookup (with the fields) + 3 writes"
    );
    // Cached now: the next job asks for nothing more.
    emu.reset_stats();
    env(&api::bulk_upsert(&c, Entity::Contact, &body, &mut |_| {}));
    assert_eq!(count(&emu, "crm.contact.fields"), 0);
    assert_eq!(emu.stats().requests, 4);

    // Under strict_fields the same problem stops the job after that one request.
    let emu = emulator(None);
    let c = client_with(&emu, json!({"strict_fields": true}));
    let e = err(api::bulk_upsert(&c, Entity::Contact, &body, &mut |_| {}));
    assert_eq!(e["code"], json!("UNKNOWN_FIELDS"), "{e}");
    assert_eq!(emu.entity_count(EntityKind::Contact), 0);
    assert_eq!(emu.stats().requests, 1);
}

#[test]
fn partial_batch_failure_is_reported_not_resent() {
    let (emu, c) = setup();
    let mut recs = records(60, "P");
    recs[10]["EMAIL"] = json!([{"VALUE": "not an e-mail", "VALUE_TYPE": "WORK"}]);
    recs[55]["EMAIL"] = json!([{"VALUE": "also@@bad", "VALUE_TYPE": "WORK"}]);
    emu.reset_stats();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(recs).to_string(),
        &mut |_| {},
    ));
    assert_eq!(
        full["summary"],
        json!({"created": 58, "updated": 0, "failed": 2, "unknown": 0})
    );
    let rows = full["result"].as_array().unwrap();
    for i in [10, 55] {
        assert_eq!(
            rows[i]["error"]["kind"],
            json!("invalid_input"),
            "{}",
            rows[i]
        );
        assert!(!rows[i]["error"]["description"].as_str().unwrap().is_empty());
    }
    assert_eq!(emu.entity_count(EntityKind::Contact), 58);
    // 1 lookup batch + 2 write batches: the partly failed batch was not sent again.
    assert_eq!(emu.stats().by_method.get("batch"), Some(&3));
}

#[test]
fn bulk_write_batch_with_lost_answer_creates_no_duplicates() {
    let (emu, c) = quick_setup();
    // The first batch request is the lookup; the second, the first write batch: it commits, then
    // the connection breaks.
    let recs = Value::Array(records(120, "L")).to_string();
    emu.inject(Fault {
        method: Some("batch".into()),
        times: 1,
        action: FaultAction::Delay(std::time::Duration::ZERO),
    });
    emu.inject(Fault {
        method: Some("batch".into()),
        times: 1,
        action: FaultAction::ResetAfterExecute,
    });
    let full = env(&api::bulk_upsert(&c, Entity::Contact, &recs, &mut |_| {}));
    assert_eq!(full["summary"]["failed"], json!(0), "{}", full["summary"]);
    assert_eq!(full["summary"]["created"], json!(120));
    assert_eq!(
        emu.entity_count(EntityKind::Contact),
        120,
        "no duplicates after the lost answer"
    );
}

#[test]
fn export_by_id_cursor_has_no_duplicates_or_holes() {
    let (_emu, c) = setup();
    let made = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(records(237, "E")).to_string(),
        &mut |_| {},
    ));
    let expected: BTreeSet<i64> = made["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    // Delete a few in the middle: holes in the IDs must not stop the cursor.
    for id in expected.iter().skip(40).take(5) {
        ok(api::delete(&c, Entity::Contact, *id));
    }
    let expected: BTreeSet<i64> = expected
        .iter()
        .enumerate()
        .filter(|(i, _)| !(40..45).contains(i))
        .map(|(_, id)| *id)
        .collect();
    for pages in [1usize, 3, 50] {
        let full = env(&api::export(
            &c,
            "crm.contact.list",
            Some(r#"{"select":["NAME"]}"#),
            None,
            pages,
        ));
        let ids: Vec<i64> = full["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ID"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ids.len(), expected.len(), "pages_per_batch {pages}");
        assert_eq!(
            ids.iter().copied().collect::<BTreeSet<_>>(),
            expected,
            "pages_per_batch {pages}"
        );
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(full["total"], json!(expected.len()));
    }
    // With a filter, and to a file.
    let path = std::env::temp_dir().join(format!("b24-export-{}.json", std::process::id()));
    let full = env(&api::export(
        &c,
        "crm.contact.list",
        Some(r#"{"filter":{"%NAME":"E 1"}}"#),
        Some(path.to_str().unwrap()),
        2,
    ));
    let written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        full["result"]["count"],
        json!(written.as_array().unwrap().len())
    );
    assert!(written
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["NAME"].as_str().unwrap().contains("E 1")));
    std::fs::remove_file(&path).ok();
    assert_eq!(
        err(api::export(&c, "crm.contact.get", None, None, 1))["code"],
        json!("INVALID_METHOD")
    );
}

#[test]
fn file_from_disk_arrives_intact() {
    let (emu, c) = setup();
    let path = std::env::temp_dir().join(format!("b24-upload-{}.bin", std::process::id()));
    let data: Vec<u8> = (0..3_000_001u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    let body = json!({"NAME": "С файлом", "UF_CRM_1707822691457": [{"filePath": path.to_str().unwrap(), "fileName": "паспорт.pdf"}]});
    let id = ok(api::create(&c, Entity::Contact, &body.to_string()))
        .as_i64()
        .unwrap();
    let f = &ok(api::get(&c, Entity::Contact, id))["UF_CRM_1707822691457"][0];
    assert_eq!(emu.file_bytes(f["id"].as_u64().unwrap()).unwrap(), data);
    std::fs::remove_file(&path).ok();
    let e = err(api::create(
        &c,
        Entity::Contact,
        r#"{"NAME":"x","UF_CRM_1707822691457":[{"filePath":"/no/such/file"}]}"#,
    ));
    assert_eq!(e["code"], json!("INVALID_FILE"));
}

#[test]
fn bulk_lookup_pages_past_a_full_page_of_duplicates() {
    let (_emu, c) = setup();
    // 50 GUIDs in one lookup command; one of them is held by three contacts, so the command has
    // 52 rows and its first page cannot show them all.
    for i in 0..50 {
        ok(api::create(
            &c,
            Entity::Contact,
            &contact(&format!("page-{i}"), "X"),
        ));
    }
    let twins: Vec<Value> = (0..2)
        .map(|_| {
            ok(api::create(
                &c,
                Entity::Contact,
                &contact("page-49", "Twin"),
            ))
        })
        .collect();
    let recs: Vec<Value> = (0..50)
        .map(|i| json!({"NAME": "Y", GUID_FIELD: format!("page-{i}")}))
        .collect();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(recs).to_string(),
        &mut |_| {},
    ));
    assert_eq!(
        full["summary"],
        json!({"created": 0, "updated": 49, "failed": 1, "unknown": 0}),
        "{}",
        full["summary"]
    );
    let e = &full["result"][49]["error"];
    assert_eq!(e["code"], json!("AMBIGUOUS_GUID"));
    assert_eq!(e["details"]["ids"].as_array().unwrap().len(), 3);
    assert!(e["details"]["ids"].as_array().unwrap().contains(&twins[1]));
}

#[test]
fn export_filter_that_looks_like_a_batch_reference_is_not_rewritten() {
    let (_emu, c) = setup();
    // Inside a chained batch the portal would turn "$total[p0]" in the filter of page 2 into
    // page 1's total ("0"), and page 2 would list the "x 0" contacts instead.
    for i in 0..70 {
        let name = if i < 60 { "x $total[p0]" } else { "x 0" };
        ok(api::create(
            &c,
            Entity::Contact,
            &json!({"NAME": name, "LAST_NAME": i.to_string()}).to_string(),
        ));
    }
    let full = env(&api::export(
        &c,
        "crm.contact.list",
        Some(r#"{"filter":{"%NAME":"$total[p0]"},"select":["NAME"]}"#),
        None,
        5,
    ));
    let rows = full["result"].as_array().unwrap();
    assert_eq!(rows.len(), 60);
    assert!(rows.iter().all(|r| r["NAME"] == json!("x $total[p0]")));
}
