//! Changes since a cursor against the emulator: the first pull, updates coming back once, ties
//! at one second across page boundaries, deletions on reconcile, the file sink, bad cursors.

mod common;

use b24_emulator::EntityKind;
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// No settle margin: the emulator commits at once and shares this machine's clock.
const NOW: &str = r#"{"settle_secs": 0}"#;

/// Waits into the next wall-clock second, so writes made so far are before the next pull's
/// bound (DATE_MODIFY has whole seconds).
fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let left = 1_000 - u64::from(now.subsec_millis());
    std::thread::sleep(Duration::from_millis(left + 20));
}

/// One pull as the envelope: (rows, cursor, deleted).
fn pull(
    c: &bitrix24_1c::Client,
    cursor: Option<&str>,
    params: &str,
    reconcile: bool,
) -> (Vec<Value>, String, Vec<Value>) {
    let reply = api::pull(c, "crm.contact.list", cursor, Some(params), None, reconcile);
    let v = env(&reply);
    assert_eq!(v["ok"], json!(true), "{v}");
    let rows = v["result"].as_array().unwrap().clone();
    assert_eq!(v["total"], json!(rows.len()));
    let cursor = v["cursor"].as_str().unwrap().to_string();
    (rows, cursor, v["deleted"].as_array().unwrap().clone())
}

fn ids(rows: &[Value]) -> Vec<u64> {
    rows.iter()
        .map(|r| r["ID"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn add(c: &bitrix24_1c::Client, name: &str) -> i64 {
    ok(api::create(
        c,
        Entity::Contact,
        &json!({"NAME": name}).to_string(),
    ))
    .as_i64()
    .unwrap()
}

#[test]
fn first_pull_then_only_the_changes_once() {
    let (_emu, c) = setup();
    let a = add(&c, "A");
    let b = add(&c, "B");
    let body = json!({"NAME": "C", "BIRTHDATE": "2001-11-11"}).to_string();
    let cid = ok(api::create(&c, Entity::Contact, &body))
        .as_i64()
        .unwrap();
    next_second();
    let (rows, c1, deleted) = pull(&c, None, NOW, false);
    assert_eq!(ids(&rows), [a as u64, b as u64, cid as u64]);
    assert!(deleted.is_empty());
    let birth = rows.iter().find(|r| r["NAME"] == json!("C")).unwrap();
    assert_eq!(
        birth["BIRTHDATE"],
        json!("2001-11-11"),
        "date fields as YYYY-MM-DD"
    );
    let modified = birth["DATE_MODIFY"].as_str().unwrap();
    assert!(
        modified.ends_with("+04:00") && modified.len() == 25,
        "{modified}"
    );

    // Nothing changed: nothing comes back.
    let (rows, c2, _) = pull(&c, Some(&c1), NOW, false);
    assert!(rows.is_empty(), "{rows:?}");

    ok(api::update(&c, Entity::Contact, b, r#"{"NAME":"B2"}"#));
    next_second();
    let (rows, c3, _) = pull(&c, Some(&c2), NOW, false);
    assert_eq!(ids(&rows), [b as u64]);
    assert_eq!(rows[0]["NAME"], json!("B2"));
    let (rows, _, _) = pull(&c, Some(&c3), NOW, false);
    assert!(rows.is_empty(), "an update comes back once: {rows:?}");
}

#[test]
fn changes_in_the_current_second_wait_for_the_next_pull() {
    let (_emu, c) = setup();
    next_second();
    let a = add(&c, "Fresh");
    // The settle margin holds back a row modified in the last seconds.
    let (rows, c1, _) = pull(&c, None, r#"{"settle_secs": 5}"#, false);
    assert!(rows.is_empty(), "{rows:?}");
    next_second();
    let (rows, _, _) = pull(&c, Some(&c1), NOW, false);
    assert_eq!(ids(&rows), [a as u64]);
}

#[test]
fn ties_at_one_second_across_pages_are_neither_lost_nor_doubled() {
    let (_emu, c) = setup();
    // An import writes DATE_MODIFY itself: 130 rows share one second, 120 another.
    let mut cmds = Vec::new();
    for i in 0..260 {
        let at = match i {
            0..=4 => "2026-01-01T09:00:00+04:00",
            5..=134 => "2026-01-01T10:00:00+04:00",
            135..=254 => "2026-01-01T10:00:01+04:00",
            _ => "2026-01-01T11:00:00+04:00",
        };
        cmds.push(json!(format!(
            "crm.contact.add?fields[NAME]=T{i}&fields[DATE_MODIFY]={}&params[IMPORT]=Y",
            at.replace('+', "%2B")
        )));
    }
    for chunk in cmds.chunks(50) {
        ok(api::batch(
            &c,
            &Value::Array(chunk.to_vec()).to_string(),
            true,
        ));
    }
    let (rows, c1, _) = pull(&c, None, r#"{"settle_secs": 0, "select": ["NAME"]}"#, false);
    let got = ids(&rows);
    assert_eq!(got.len(), 260, "every row once");
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>().len(),
        260,
        "no row twice"
    );
    let keys: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["DATE_MODIFY"].as_str().unwrap().to_string(),
                r["ID"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "in (DATE_MODIFY, ID) order");
    let (rows, _, _) = pull(&c, Some(&c1), NOW, false);
    assert!(rows.is_empty(), "{} rows again", rows.len());
}

#[test]
fn reconcile_reports_deleted_ids() {
    let (_emu, c) = setup();
    let all: Vec<i64> = (0..7).map(|i| add(&c, &format!("R{i}"))).collect();
    next_second();
    let (_, c1, deleted) = pull(&c, None, NOW, true);
    assert!(deleted.is_empty(), "a first pull knows nothing to miss");
    ok(api::delete(&c, Entity::Contact, all[1]));
    ok(api::delete(&c, Entity::Contact, all[5]));
    let late = add(&c, "Late");
    ok(api::delete(&c, Entity::Contact, late)); // never seen: not reported
    let (rows, c2, _) = pull(&c, Some(&c1), NOW, false);
    assert!(rows.is_empty());
    let (_, c3, deleted) = pull(&c, Some(&c2), NOW, true);
    assert_eq!(deleted, [json!(all[1]), json!(all[5])]);
    let (_, _, deleted) = pull(&c, Some(&c3), NOW, true);
    assert!(deleted.is_empty(), "reported once: {deleted:?}");
}

#[test]
fn file_sink_writes_the_rows() {
    let (_emu, c) = setup();
    let a = add(&c, "F1");
    let b = add(&c, "F2");
    next_second();
    let dir = std::env::temp_dir().join(format!("b24-pull-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("changes.json");
    let p = path.to_str().unwrap();
    let v = env(&api::pull(
        &c,
        "crm.contact.list",
        None,
        Some(NOW),
        Some(p),
        false,
    ));
    assert_eq!(v["result"], json!({"path": p, "count": 2}), "{v}");
    assert!(v["cursor"].as_str().is_some_and(|s| !s.is_empty()));
    let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(ids(&rows), [a as u64, b as u64]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn companies_too() {
    let (emu, c) = setup();
    let id = ok(api::create(&c, Entity::Company, r#"{"TITLE":"Co"}"#))
        .as_i64()
        .unwrap();
    next_second();
    let v = env(&api::pull(
        &c,
        "crm.company.list",
        None,
        Some(NOW),
        None,
        false,
    ));
    assert_eq!(v["result"][0]["ID"], json!(id.to_string()), "{v}");
    assert_eq!(emu.entity_count(EntityKind::Company), 1);
}

#[test]
fn bad_input_is_invalid_input_never_a_panic() {
    let (_emu, c) = setup();
    let cursor = {
        let (_, c1, _) = pull(&c, None, NOW, false);
        c1
    };
    for bad in [
        "garbage",
        "e30",
        "!!!!",
        &cursor[..cursor.len() / 2],
        "\u{0}",
    ] {
        let e = err(api::pull(
            &c,
            "crm.contact.list",
            Some(bad),
            None,
            None,
            false,
        ));
        assert_eq!(
            (e["kind"].as_str(), e["code"].as_str()),
            (Some("invalid_input"), Some("INVALID_CURSOR")),
            "{bad:?}: {e}"
        );
    }
    let e = err(api::pull(
        &c,
        "crm.company.list",
        Some(&cursor),
        None,
        None,
        false,
    ));
    assert_eq!(e["code"], json!("INVALID_CURSOR"), "another list's cursor");
    for (method, params) in [
        ("crm.item.list", "{}"),
        ("user.get", "{}"),
        ("crm.contact.list", r#"{"order":{"ID":"DESC"}}"#),
        (
            "crm.contact.list",
            r#"{"filter":{">DATE_MODIFY":"2026-01-01T00:00:00+04:00"}}"#,
        ),
        ("crm.contact.list", r#"{"settle_secs": -1}"#),
        ("crm.contact.list", "[1]"),
    ] {
        let e = err(api::pull(&c, method, None, Some(params), None, false));
        assert_eq!(e["kind"], json!("invalid_input"), "{method} {params}: {e}");
    }
}
