//! Exact phones and e-mails: a write's `"exact": ["PHONE", ...]` makes those multi-fields hold
//! exactly the given lists, in single writes and inside bulk upsert (current items read in
//! batches, writes batched). An empty list deletes only with `"exact_clears": true`.

mod common;

use b24_emulator::{Emulator, EntityKind};
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};

const GUID_FIELD: &str = "UF_CRM_1723100443089";

/// A contact as managers left it: a formatted work phone, a mobile, an e-mail.
fn seed(c: &bitrix24_1c::Client, guid: &str) -> i64 {
    let body = json!({"NAME": "Seed", GUID_FIELD: guid,
        "PHONE": [{"VALUE": "+374 (10) 12-34-56", "VALUE_TYPE": "WORK"},
                  {"VALUE": "+37499000000", "VALUE_TYPE": "MOBILE"}],
        "EMAIL": [{"VALUE": "Manager@Example.am", "VALUE_TYPE": "WORK"}]})
    .to_string();
    ok(api::create(c, Entity::Contact, &body)).as_i64().unwrap()
}

/// (VALUE, VALUE_TYPE) of a contact's multi-field, as the portal holds it.
fn items(emu: &Emulator, id: i64, field: &str) -> Vec<(String, String)> {
    let e = emu.entity(EntityKind::Contact, id as u64).unwrap();
    e[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|it| {
                    let s = |k: &str| it[k].as_str().unwrap_or("").to_string();
                    (s("VALUE"), s("VALUE_TYPE"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pair(v: &str, t: &str) -> (String, String) {
    (v.to_string(), t.to_string())
}

#[test]
fn bulk_upsert_makes_phones_exact_and_keeps_e_mails_given_none() {
    let (emu, c) = setup();
    let ids: Vec<i64> = (0..120).map(|i| seed(&c, &format!("ex-{i}"))).collect();
    let records: Vec<Value> = (0..120)
        .map(|i| {
            json!({"NAME": "Synced", GUID_FIELD: format!("ex-{i}"),
                   "PHONE": ["+37410123456", "+37455111111"], "EMAIL": []})
        })
        .collect();
    let mut body = json!({"records": records, "exact": ["PHONE", "EMAIL"]});
    // One new record: its lists are added as given, duplicates collapsed.
    body["records"].as_array_mut().unwrap().push(
        json!({"NAME": "New", GUID_FIELD: "ex-new", "PHONE": ["+37477000000", "+374 77 000000"]}),
    );
    emu.reset_stats();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &body.to_string(),
        &mut |_| {},
    ));
    assert_eq!(
        full["summary"],
        json!({"created": 1, "updated": 120, "failed": 0, "unknown": 0}),
        "{full}"
    );
    for id in [ids[0], ids[119]] {
        // The formatted work phone is the same number: kept as managers typed it; the mobile
        // is overwritten in place by the other wanted number.
        assert_eq!(
            items(&emu, id, "PHONE"),
            [
                pair("+374 (10) 12-34-56", "WORK"),
                pair("+37455111111", "WORK")
            ]
        );
        // No e-mails in 1C: the manager's e-mail stays.
        assert_eq!(
            items(&emu, id, "EMAIL"),
            [pair("Manager@Example.am", "WORK")]
        );
    }
    let new_id = full["result"][120]["id"].as_i64().unwrap();
    assert_eq!(items(&emu, new_id, "PHONE"), [pair("+37477000000", "WORK")]);
    // Batched: one lookup, one read of the current items, three write batches.
    let stats = emu.stats();
    assert_eq!(stats.requests, 5, "{:?}", stats.by_method);
    assert_eq!(
        stats.by_method.get("crm.contact.get"),
        None,
        "no get per record"
    );

    // Again: already exact, so the updates send no PHONE items (the NAME still goes).
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &body.to_string(),
        &mut |_| {},
    ));
    assert_eq!(full["summary"]["failed"], json!(0));
    assert_eq!(items(&emu, ids[5], "PHONE").len(), 2);
}

#[test]
fn an_empty_list_clears_only_when_asked() {
    let (emu, c) = setup();
    let id = seed(&c, "clear-1");
    let rec = json!({"fields": {GUID_FIELD: "clear-1", "EMAIL": []},
                     "exact": ["EMAIL"], "exact_clears": true});
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &json!([rec]).to_string(),
        &mut |_| {},
    ));
    assert_eq!(full["summary"]["updated"], json!(1), "{full}");
    assert!(items(&emu, id, "EMAIL").is_empty());
    assert_eq!(items(&emu, id, "PHONE").len(), 2, "PHONE was not named");
}

#[test]
fn single_writes_make_lists_exact_too() {
    let (emu, c) = setup();
    let id = seed(&c, "single-1");
    let body = json!({"fields": {"PHONE": [{"VALUE": "+37499000000", "VALUE_TYPE": "MOBILE"}],
                                 "EMAIL": ["manager@example.am", "second@example.am"]},
                      "exact": ["phone", "EMAIL"]})
    .to_string();
    ok(api::update(&c, Entity::Contact, id, &body));
    assert_eq!(items(&emu, id, "PHONE"), [pair("+37499000000", "MOBILE")]);
    // The same address in another case is the same e-mail: kept, the second added.
    assert_eq!(
        items(&emu, id, "EMAIL"),
        [
            pair("Manager@Example.am", "WORK"),
            pair("second@example.am", "WORK")
        ]
    );
    // Upsert (an update here) goes the same way.
    let body = json!({"fields": {GUID_FIELD: "single-1", "PHONE": ["+37410123456"]},
                      "exact": ["PHONE"]})
    .to_string();
    ok(api::upsert(&c, Entity::Contact, &body));
    assert_eq!(items(&emu, id, "PHONE"), [pair("+37410123456", "WORK")]);
    // Only multi-fields can be exact.
    let body = json!({"fields": {"NAME": "x"}, "exact": ["NAME"]}).to_string();
    assert_eq!(
        err(api::update(&c, Entity::Contact, id, &body))["code"],
        json!("INVALID_FIELD")
    );
}
