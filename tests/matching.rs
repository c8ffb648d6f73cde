//! Matching without a GUID (first sync): match rules adopt the one entity managers entered by
//! hand, report several as MATCH_CONFLICT, leave entities of another GUID alone; the dry run
//! writes nothing. Single and bulk upserts, against the emulator over real sockets.

mod common;

use b24_emulator::{Emulator, EntityKind};
use bitrix24_1c::api::{self, Entity};
use bitrix24_1c::Client;
use common::*;
use serde_json::{json, Value};

const CO_GUID: &str = "UF_CRM_1723100288587";
const CT_GUID: &str = "UF_CRM_1723100443089";
const TAX: &str = "UF_CRM_1707823114526";

fn company(c: &Client, fields: Value) -> u64 {
    ok(api::create(c, Entity::Company, &fields.to_string()))
        .as_u64()
        .unwrap()
}

fn contact(c: &Client, fields: Value) -> u64 {
    ok(api::create(c, Entity::Contact, &fields.to_string()))
        .as_u64()
        .unwrap()
}

fn writes(emu: &Emulator) -> u64 {
    let s = emu.stats();
    ["add", "update"]
        .iter()
        .flat_map(|v| ["contact", "company"].map(|e| format!("crm.{e}.{v}")))
        .map(|m| s.by_method.get(&m).copied().unwrap_or(0))
        .sum()
}

fn field(emu: &Emulator, kind: EntityKind, id: u64, f: &str) -> Value {
    emu.entity(kind, id).unwrap()[f].clone()
}

fn by_tax() -> Value {
    json!([{"field": TAX}])
}

#[test]
fn single_tax_id_match_adopts_the_company() {
    let (emu, c) = setup();
    let id = company(&c, json!({"TITLE": "Manual", TAX: "02612345"}));
    let body = json!({"fields": {"TITLE": "From 1C", TAX: " 02612345 ", CO_GUID: "G-1"}, "match": by_tax()});
    let u = ok(api::upsert(&c, Entity::Company, &body.to_string()));
    assert_eq!(u, json!({"id": id, "created": false, "adopted": true}));
    assert_eq!(field(&emu, EntityKind::Company, id, CO_GUID), json!("g-1"));
    assert_eq!(
        field(&emu, EntityKind::Company, id, "TITLE"),
        json!("From 1C")
    );
    assert_eq!(emu.entity_count(EntityKind::Company), 1);
    // The GUID lookup now wins: a second upsert updates it without matching.
    let before = emu
        .stats()
        .by_method
        .get("crm.duplicate.findbycomm")
        .copied();
    let u = ok(api::upsert(&c, Entity::Company, &body.to_string()));
    assert_eq!(u, json!({"id": id, "created": false}));
    assert_eq!(
        emu.stats()
            .by_method
            .get("crm.duplicate.findbycomm")
            .copied(),
        before
    );
}

#[test]
fn single_phone_match_goes_through_findbycomm() {
    let (emu, c) = setup();
    let id = contact(
        &c,
        json!({"NAME": "Ann", "PHONE": [{"VALUE": "+374 (98) 88-88-88"}]}),
    );
    let rules = json!([{"field": "UF_CRM_1707822458574"}, {"comm": "PHONE"}]);
    let body = json!({"fields": {"NAME": "Ann", "PHONE": [{"VALUE": "0037498888888"}], CT_GUID: "p-1"}, "match": rules});
    let u = ok(api::upsert(&c, Entity::Contact, &body.to_string()));
    assert_eq!(u["id"], json!(id));
    assert_eq!(u["adopted"], json!(true));
    assert_eq!(field(&emu, EntityKind::Contact, id, CT_GUID), json!("p-1"));
    assert!(emu
        .stats()
        .by_method
        .contains_key("crm.duplicate.findbycomm"));
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
}

#[test]
fn single_two_candidates_are_a_conflict_and_nothing_is_written() {
    let (emu, c) = setup();
    let a = contact(&c, json!({"NAME": "Ann", "LAST_NAME": "Lee"}));
    let b = contact(&c, json!({"NAME": "ann", "LAST_NAME": "LEE"}));
    let before = writes(&emu);
    let body = json!({"fields": {"NAME": "Ann", "LAST_NAME": "Lee", CT_GUID: "n-1"}, "match": [{"fields": ["NAME", "LAST_NAME"]}]});
    let e = err(api::upsert(&c, Entity::Contact, &body.to_string()));
    assert_eq!(
        (e["code"].clone(), e["kind"].clone()),
        (json!("MATCH_CONFLICT"), json!("conflict"))
    );
    assert_eq!(
        e["details"],
        json!({"ids": [a, b], "rule": "NAME+LAST_NAME"})
    );
    assert_eq!(writes(&emu), before, "nothing written");
    assert_eq!(emu.entity_count(EntityKind::Contact), 2);
}

#[test]
fn single_entity_of_another_guid_is_not_adopted() {
    let (emu, c) = setup();
    let other = company(
        &c,
        json!({"TITLE": "Other", TAX: "111", CO_GUID: "someone-else"}),
    );
    let body = json!({"fields": {"TITLE": "Mine", TAX: "111", CO_GUID: "mine"}, "match": by_tax()});
    let v = env(&api::upsert(&c, Entity::Company, &body.to_string()));
    assert_eq!(v["result"]["created"], json!(true));
    assert_ne!(v["result"]["id"], json!(other));
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains(&format!("[{other}]")),
        "{v}"
    );
    assert_eq!(
        field(&emu, EntityKind::Company, other, "TITLE"),
        json!("Other")
    );
}

#[test]
fn single_dry_run_writes_nothing_and_says_what_it_would_do() {
    let (emu, c) = setup();
    let id = company(&c, json!({"TITLE": "Manual", TAX: "555"}));
    let known = company(&c, json!({"TITLE": "Synced", CO_GUID: "known"}));
    let before = writes(&emu);
    let plan = |fields: Value| {
        let body = json!({"fields": fields, "match": by_tax(), "dry_run": true});
        ok(api::upsert(&c, Entity::Company, &body.to_string()))
    };
    let adopt = plan(json!({TAX: "555", CO_GUID: "new-guid"}));
    assert_eq!(
        adopt,
        json!({"guid": "new-guid", "action": "adopt", "id": id, "rule": TAX})
    );
    let update = plan(json!({TAX: "555", CO_GUID: "KNOWN"}));
    assert_eq!(
        update,
        json!({"guid": "known", "action": "update", "id": known})
    );
    let create = plan(json!({TAX: "999", CO_GUID: "fresh"}));
    assert_eq!(create, json!({"guid": "fresh", "action": "create"}));
    assert_eq!(writes(&emu), before);
    assert_eq!(field(&emu, EntityKind::Company, id, CO_GUID), json!(""));
}

/// A portal with hand-entered companies, and the bulk records for them (see each one's note).
fn bulk_setup(c: &Client) -> (Vec<u64>, Value) {
    let ids = vec![
        company(c, json!({"TITLE": "tax match", TAX: "100"})),
        company(
            c,
            json!({"TITLE": "phone match", "PHONE": [{"VALUE": "+374 10 000001"}]}),
        ),
        company(c, json!({"TITLE": "twin a", TAX: "300"})),
        company(c, json!({"TITLE": "twin b", TAX: "300"})),
        company(
            c,
            json!({"TITLE": "taken", TAX: "400", CO_GUID: "other-object"}),
        ),
        company(
            c,
            json!({"TITLE": "synced", TAX: "100", CO_GUID: "b-synced"}),
        ),
    ];
    let records = json!([
        {"TITLE": "R0", TAX: "100", CO_GUID: "b-0"},
        {"TITLE": "R1", "PHONE": [{"VALUE": "37410000001"}], CO_GUID: "b-1"},
        {"TITLE": "R2", TAX: "300", CO_GUID: "b-2"},
        {"TITLE": "R3", TAX: "400", CO_GUID: "b-3"},
        {"TITLE": "R4", TAX: "100", CO_GUID: "b-synced"},
        {"TITLE": "R5", TAX: "777", CO_GUID: "b-5"},
        {"TITLE": "R6", TAX: "100", CO_GUID: "b-6"},
    ]);
    (ids, records)
}

fn bulk(c: &Client, body: Value) -> Value {
    env(&api::bulk_upsert(
        c,
        Entity::Company,
        &body.to_string(),
        &mut |_| {},
    ))
}

#[test]
fn bulk_matching_adopts_conflicts_and_adds() {
    let (emu, c) = setup();
    let (ids, records) = bulk_setup(&c);
    let rules = json!([{"field": TAX}, {"comm": "PHONE"}]);
    let v = bulk(&c, json!({"records": records, "match": rules}));
    let r = &v["result"];
    // The synced company shares the tax ID, but its GUID is another record's: named, left alone.
    let adopted = json!({"guid": "b-0", "id": ids[0], "created": false, "adopted": true, "rule": TAX, "other_guid_ids": [ids[5]]});
    assert_eq!(r[0], adopted);
    assert_eq!(r[1]["id"], json!(ids[1]));
    assert_eq!(r[1]["rule"], json!("PHONE"));
    assert_eq!(r[2]["error"]["code"], json!("MATCH_CONFLICT"));
    assert_eq!(r[2]["error"]["details"]["ids"], json!([ids[2], ids[3]]));
    // Another GUID's entity is left alone: the record is added, and the entity named.
    assert_eq!(r[3]["created"], json!(true));
    assert_eq!(r[3]["other_guid_ids"], json!([ids[4]]));
    // The GUID lookup wins over the rules.
    assert_eq!(
        r[4],
        json!({"guid": "b-synced", "id": ids[5], "created": false})
    );
    assert_eq!(r[5]["created"], json!(true));
    // The entity R0 adopted matches R6 too: only the first adopts.
    assert_eq!(r[6]["error"]["code"], json!("MATCH_CONFLICT"));
    assert_eq!(r[6]["error"]["details"]["ids"], json!([ids[0]]));
    assert_eq!(v["summary"]["adopted"], json!(2));
    assert_eq!(v["summary"]["failed"], json!(2));
    assert_eq!(
        field(&emu, EntityKind::Company, ids[0], CO_GUID),
        json!("b-0")
    );
    assert_eq!(
        field(&emu, EntityKind::Company, ids[1], CO_GUID),
        json!("b-1")
    );
    for twin in &ids[2..4] {
        assert_eq!(field(&emu, EntityKind::Company, *twin, CO_GUID), json!(""));
    }
    assert_eq!(
        field(&emu, EntityKind::Company, ids[4], "TITLE"),
        json!("taken")
    );
    assert_eq!(
        emu.entity_count(EntityKind::Company),
        8,
        "two added: R3, R5"
    );
}

#[test]
fn bulk_dry_run_reports_and_writes_nothing() {
    let (emu, c) = setup();
    let (ids, records) = bulk_setup(&c);
    let before = writes(&emu);
    let v = bulk(
        &c,
        json!({"records": records, "match": [{"field": TAX}, {"comm": "PHONE"}], "dry_run": true}),
    );
    let r = &v["result"];
    let actions: Vec<&str> = (0..7).map(|i| r[i]["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["adopt", "adopt", "conflict", "create", "update", "create", "conflict"]
    );
    assert_eq!(r[0]["id"], json!(ids[0]));
    assert_eq!(
        r[2]["conflict"],
        json!({"ids": [ids[2], ids[3]], "rule": TAX})
    );
    assert_eq!(r[3]["other_guid_ids"], json!([ids[4]]));
    assert_eq!(r[4]["id"], json!(ids[5]));
    assert_eq!(
        v["summary"],
        json!({"create": 2, "update": 1, "adopt": 2, "conflict": 2, "failed": 0})
    );
    assert_eq!(writes(&emu), before, "no add or update ran");
    assert_eq!(emu.entity_count(EntityKind::Company), 6);
    assert_eq!(field(&emu, EntityKind::Company, ids[0], CO_GUID), json!(""));
}

#[test]
fn config_default_rules_apply_and_bad_rules_are_refused() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"match": {"company": [{"field": TAX}]}}));
    let id = company(&c, json!({"TITLE": "Manual", TAX: "42"}));
    let u = ok(api::upsert(
        &c,
        Entity::Company,
        &json!({TAX: "42", CO_GUID: "cfg"}).to_string(),
    ));
    assert_eq!(u["id"], json!(id));
    // `"match": []` turns the default off for one call.
    let body = json!({"fields": {TAX: "42", CO_GUID: "cfg-2"}, "match": []});
    assert_eq!(
        ok(api::upsert(&c, Entity::Company, &body.to_string()))["created"],
        json!(true)
    );
    for bad in [
        json!({"field": "PHONE"}),
        json!({"comm": "WEB"}),
        json!({"field": CO_GUID}),
    ] {
        let body = json!({"fields": {CO_GUID: "x"}, "match": [bad]});
        let e = err(api::upsert(&c, Entity::Company, &body.to_string()));
        assert_eq!(e["code"], json!("INVALID_MATCH"), "{bad}");
    }
    let cfg = json!({"webhook_url": emu.webhook_url(), "match": {"contact": [{"comm": "FAX"}]}});
    let e = api::new_client(&cfg.to_string()).err().unwrap();
    assert_eq!(e.code, "INVALID_CONFIG");
}
